// DINO, SwAV and MoCo v3 through the trainer: their state (DINO's centre, SwAV's queue, the
// teacher, the frozen last layer) survives a checkpoint exactly; multi-crop with semantic pairs
// draws the second global crop from the partner; the weight-decay schedule.
#include "../support.hpp"
#include "stop_support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace ss = selfsup;

namespace {


ss::views::MultiCrop small_crops(uint64_t seed) {
  return ss::views::MultiCrop({.global_size = 16, .local_size = 8, .local_views = 2, .blur_probability = 0, .seed = seed});
}

using DINORecipe = ss::Recipe<ss::views::MultiCrop, ss::pairs::SameLabel, ss::negatives::None, ss::losses::DINO>;
using SwAVRecipe = ss::Recipe<ss::views::MultiCrop, ss::pairs::Augmented, ss::negatives::None, ss::losses::SwAV>;

auto make_dino() {
  torch::manual_seed(21);
  auto encoder = ss::models::make_small_cnn_encoder(
      {.width = 4}, ss::models::EncoderOptions{.projector = {.hidden_dim = 16, .out_dim = 8, .layers = 3,
                                                             .batch_norm = false, .gelu = true,
                                                             .normalized_out_dim = 12},
                                               .momentum_target = true, .momentum = 0.9,
                                               .freeze_last_layer_steps = 2});
  return ss::Trainer(DINORecipe{.views = small_crops(1), .pairs = ss::pairs::SameLabel({.seed = 2}),
                                .loss = ss::losses::DINO{.options = {.teacher_temperature = 0.07,
                                                                     .warmup_steps = 4}}},
                     encoder,
                     {.epochs = 3, .batch_size = 8, .optimizer = ss::OptimizerKind::adamw, .learning_rate = 1e-3,
                      .weight_decay = 0.04, .final_weight_decay = 0.4, .clip_grad_norm = 3.0, .log_every = 1});
}

auto make_swav() {
  torch::manual_seed(22);
  auto encoder = ss::models::make_small_cnn_encoder(
      {.width = 4}, ss::models::EncoderOptions{.projector = {.hidden_dim = 16, .out_dim = 8}, .prototypes = 6,
                                               .freeze_last_layer_steps = 3});
  return ss::Trainer(SwAVRecipe{.views = small_crops(3),
                                .loss = ss::losses::SwAV{.options = {.queue_size = 16, .queue_start_step = 1}}},
                     encoder, {.epochs = 3, .batch_size = 8, .learning_rate = 0.05, .log_every = 1});
}

template <class Make>
void check_resume(Make make, const std::string& name) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 7});
  auto straight = make();
  straight.fit(data);
  const auto path = selfsup::test::temp_path("resume-" + name + ".pt").string();
  auto first = make();
  selfsup::test::StopAfter stop{5, path};
  first.fit(data, stop);
  auto resumed = make();
  resumed.load_checkpoint(path);
  BOOST_TEST(resumed.steps_done() == 5);
  BOOST_TEST(resumed.fit(data).steps == 12 - 5);
  auto a = straight.encoder()->parameters(), b = resumed.encoder()->parameters();
  BOOST_TEST_REQUIRE(a.size() == b.size());
  bool identical = true;
  for (size_t i = 0; i < a.size(); ++i) identical = identical && torch::equal(a[i], b[i]);
  BOOST_TEST(identical, name << ": the resumed run's parameters equal the uninterrupted run's");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_tests)

BOOST_AUTO_TEST_CASE(dino_trains_and_resumes_exactly) {
  check_resume(make_dino, "dino");
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 7});
  auto trainer = make_dino();
  auto last = trainer.encoder()->projector->last_layer->weight_v.clone();
  trainer.fit(data);  // 12 steps
  auto& dino = trainer.recipe().loss;
  BOOST_TEST(dino.steps == 12);
  BOOST_TEST(dino.center.defined());
  BOOST_TEST(dino.center.abs().sum().item<double>() > 0);
  BOOST_TEST(!torch::equal(last, trainer.encoder()->projector->last_layer->weight_v));
  // The teacher follows the student by EMA, and took no gradient.
  auto target = trainer.encoder()->target_projector->parameters();
  for (const auto& p : target) BOOST_TEST(!p.grad().defined());
  // The weight decay ended at the schedule's final value.
  BOOST_TEST(std::abs(ss::optim::weight_decay_at(trainer.options(), 11, 12) - 0.4) < 1e-12);
  BOOST_TEST(std::abs(ss::optim::weight_decay_at(trainer.options(), 0, 12) - 0.04) < 1e-12);
}

BOOST_AUTO_TEST_CASE(frozen_last_layer_takes_no_step) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 7});
  auto trainer = make_dino();  // last layer frozen for 2 steps
  auto v = trainer.encoder()->projector->last_layer->weight_v.clone();
  auto first = trainer.encoder()->projector->parameters().front().clone();
  auto all = torch::arange(8, torch::kLong);
  selfsup::test::StopAfter stop{2, selfsup::test::temp_path("frozen.pt").string()};
  trainer.fit(data, stop);
  BOOST_TEST(torch::equal(v, trainer.encoder()->projector->last_layer->weight_v));
  BOOST_TEST(!torch::equal(first, trainer.encoder()->projector->parameters().front()));
  trainer.step(data, all);  // step 3: no longer frozen
  BOOST_TEST(!torch::equal(v, trainer.encoder()->projector->last_layer->weight_v));
}

BOOST_AUTO_TEST_CASE(swav_trains_queues_and_resumes_exactly) {
  check_resume(make_swav, "swav");
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 7});
  auto trainer = make_swav();
  trainer.fit(data);
  const auto& swav = trainer.recipe().loss;
  BOOST_TEST(swav.queue_in_use());
  BOOST_TEST(swav.steps == 12);
  // The prototypes are unit rows before every step (normalised before the last one, then one step).
  auto norms = trainer.encoder()->prototypes().norm(2, {1});
  BOOST_TEST((norms - 1).abs().max().item<double>() < 0.5);
}

BOOST_AUTO_TEST_CASE(moco_v3_trains) {
  using R = ss::Recipe<ss::views::CropFlip, ss::pairs::Augmented, ss::negatives::InBatch, ss::losses::MoCoV3>;
  torch::manual_seed(23);
  auto encoder = ss::models::make_small_cnn_encoder(
      {.width = 4}, ss::models::EncoderOptions{.projector = {.hidden_dim = 16, .out_dim = 8, .layers = 3,
                                                             .last_batch_norm = true},
                                               .predictor = ss::models::ProjectorOptions{.hidden_dim = 16, .out_dim = 8},
                                               .momentum_target = true});
  ss::Trainer trainer(R{}, encoder, {.epochs = 2, .batch_size = 8, .learning_rate = 0.05, .log_every = 1});
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 7});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 8);
  // Two directions, each 2 tau times a cross-entropy over the batch's 8 keys (tau 0.2).
  const auto [lo, hi] = selfsup::test::cosine_softmax_range(8, 0.2);
  BOOST_TEST(selfsup::test::logged_losses_problem(result.log, 8, 0.8 * lo, 0.8 * hi) == "");
}

// Semantic pairs with multi-crop: global view 0 from the anchor, view 1 from the partner, local
// views alternating; with partners equal to the anchors, ordinary multi-crop.
BOOST_AUTO_TEST_CASE(multi_crop_of_pairs_draws_from_both_sides) {
  // Each image one flat colour: every view of it keeps that colour whatever the crop.
  auto anchors = torch::zeros({3, 3, 16, 16}, torch::kUInt8);
  auto partners = torch::full({3, 3, 16, 16}, 200, torch::kUInt8);
  ss::views::MultiCrop crops({.global_size = 8, .local_size = 4, .local_views = 3, .brightness = 0, .contrast = 0,
                              .saturation = 0, .hue = 0, .grayscale_probability = 0, .blur_probability = 0});
  auto v = crops.crops(anchors, partners);
  BOOST_TEST(v.global.sizes() == torch::IntArrayRef({2, 3, 3, 8, 8}));
  BOOST_TEST(v.local.sizes() == torch::IntArrayRef({3, 3, 3, 4, 4}));
  BOOST_TEST(v.global[0].max().item<double>() < 0.01);
  BOOST_TEST(v.global[1].min().item<double>() > 0.7);
  BOOST_TEST(v.local[0].max().item<double>() < 0.01);
  BOOST_TEST(v.local[1].min().item<double>() > 0.7);
  BOOST_TEST(v.local[2].max().item<double>() < 0.01);
  auto same = crops.crops(anchors, anchors);
  BOOST_TEST(same.global.max().item<double>() < 0.01);
  BOOST_TEST(selfsup::test::throws_with([&] { crops.crops(anchors, partners.narrow(0, 0, 2)); },
                                        "selfsup::views::MultiCrop::crops: anchors and partners must have the same shape"));
}

BOOST_AUTO_TEST_SUITE_END()
