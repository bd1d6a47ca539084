#include "../support.hpp"
#include "stop_support.hpp"

#include <selfsup/report/json.hpp>
#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

using selfsup::test::throws_with;
namespace ss = selfsup;

BOOST_AUTO_TEST_SUITE(train_tests)

// The vertical slice: SimCLR on the embedded dataset, a few dozen steps on the CPU. The loss of
// the last steps is clearly below that of the first ones.
BOOST_AUTO_TEST_CASE(simclr_loss_falls) {
  torch::manual_seed(0);  // the encoder's initial weights
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 32, .size = 32, .seed = 1});
  ss::recipes::SimCLR::with_views<ss::views::CropFlip> recipe{.views = ss::views::CropFlip({.size = 32, .scale = {0.2, 1.0}, .seed = 1}),
                             .loss = {{.temperature = 0.2}}};
  auto encoder = ss::models::make_small_cnn_encoder({.width = 8}, {.hidden_dim = 64, .out_dim = 32});
  ss::Trainer trainer(std::move(recipe), encoder,
                      {.epochs = 8, .batch_size = 64, .learning_rate = 0.1, .log_every = 1});
  auto result = trainer.fit(data);
  BOOST_TEST_REQUIRE(result.log.size() == 40u);
  auto mean = [&](size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += result.log[i].loss;
    return s / static_cast<double>(to - from);
  };
  const double first = mean(0, 5), last = mean(35, 40);
  BOOST_TEST_MESSAGE("SimCLR loss: first 5 steps " << first << ", last 5 steps " << last);
  BOOST_TEST(last < first - 0.3);
  BOOST_TEST(result.images == 40 * 64);
  BOOST_TEST(result.images_per_second() > 0.0);
}

BOOST_AUTO_TEST_CASE(max_steps_and_log_every) {
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  ss::Trainer trainer(ss::recipes::SimCLR::with_views<ss::views::CropFlip>{.views = ss::views::CropFlip({.size = 16})}, encoder,
                      {.epochs = 10, .batch_size = 8, .log_every = 2, .max_steps = 7});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 7);
  BOOST_TEST(result.log.size() == 3u);
  BOOST_TEST(result.log[2].step == 6);
}

// A recipe whose loss turns non-finite stops with the step named instead of training on NaNs.
struct ExplodingLoss {
  static constexpr bool contrastive = true;
  int64_t calls = 0;
  torch::Tensor operator()(const ss::LossInput& in) {
    auto loss = ss::functional::nt_xent(in.z0, in.z1);
    return ++calls < 3 ? loss : loss * std::numeric_limits<double>::infinity();
  }
};

BOOST_AUTO_TEST_CASE(non_finite_loss_stops_training) {
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  using Recipe = ss::recipes::SimCLR::with_views<ss::views::CropFlip>::with_loss<ExplodingLoss>;
  ss::Trainer trainer(Recipe{.views = ss::views::CropFlip({.size = 16})}, encoder,
                      {.epochs = 3, .batch_size = 8, .log_every = 1});
  BOOST_TEST(throws_with([&] { trainer.fit(data); }, "the loss became inf at step 3"));
}

BOOST_AUTO_TEST_CASE(bad_options) {
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  BOOST_TEST(throws_with([&] { ss::Trainer t(ss::recipes::SimCLR{}, encoder, {.learning_rate = 0}); }, "learning_rate must be positive"));
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 4, .size = 16});
  ss::Trainer t(ss::recipes::SimCLR{}, encoder, {.batch_size = 64});
  BOOST_TEST(throws_with([&] { t.fit(data); }, "batch_size 64 is larger than the dataset (8 images)"));
  // BYOL reads predictions: an encoder made without a predictor is refused before training.
  using BYOL = ss::Recipe<ss::views::CropFlip, ss::pairs::Augmented, ss::negatives::None, ss::losses::BYOL>;
  BOOST_TEST(throws_with([&] { ss::Trainer b(BYOL{}, encoder, {}); }, "this encoder was made without a predictor"));
}


// ---- optimisers, schedule, momentum target, checkpoints ---------------------------------------

BOOST_AUTO_TEST_CASE(schedule_warms_up_then_follows_a_cosine) {
  const ss::ScheduleOptions s{.warmup_steps = 4, .final_fraction = 0.1};
  BOOST_TEST(ss::learning_rate_at(2.0, 0, 20, s) == 0.5);   // 2 · 1/4
  BOOST_TEST(ss::learning_rate_at(2.0, 3, 20, s) == 2.0);
  BOOST_TEST(std::abs(ss::learning_rate_at(2.0, 12, 20, s) - (0.2 + 1.8 * 0.5 * (1 + std::cos(M_PI * 0.5)))) < 1e-12);
  BOOST_TEST(std::abs(ss::learning_rate_at(2.0, 20, 20, s) - 0.2) < 1e-12);
  BOOST_TEST(ss::learning_rate_at(2.0, 12, 20, {.cosine = false}) == 2.0);
}

BOOST_AUTO_TEST_CASE(every_optimiser_trains_and_logs_its_rate) {
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  for (auto kind : {ss::OptimizerKind::sgd, ss::OptimizerKind::lars, ss::OptimizerKind::adamw}) {
    BOOST_TEST_CONTEXT("optimiser " << static_cast<int>(kind)) {
      auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
      auto before = encoder->backbone->parameters().front().clone();
      ss::Trainer trainer(ss::recipes::SimCLR::with_views<ss::views::CropFlip>{.views = ss::views::CropFlip({.size = 16})}, encoder,
                          {.epochs = 2, .batch_size = 8, .optimizer = kind, .learning_rate = 0.1,
                           .schedule = {.warmup_steps = 2}, .clip_grad_norm = 1.0, .log_every = 1});
      auto result = trainer.fit(data);
      BOOST_TEST(result.log.size() == 8u);
      BOOST_TEST(std::abs(result.log[0].learning_rate - 0.05) < 1e-12);  // warm-up: 1/2 of the rate
      BOOST_TEST(result.log[7].learning_rate < result.log[2].learning_rate);  // cosine decay
      // NT-Xent (tau 0.5) over 2 x 8 views: 15 candidates per anchor.
      const auto [lo, hi] = selfsup::test::cosine_softmax_range(15, 0.5);
      BOOST_TEST(selfsup::test::logged_losses_problem(result.log, 8, lo, hi) == "");
      BOOST_TEST(!torch::equal(before, encoder->backbone->parameters().front()));
    }
  }
}

// BYOL end to end: the loss depends on the predictor and on the momentum target, the predictor
// gets gradients, the target none (it moves by EMA only).
BOOST_AUTO_TEST_CASE(byol_recipe_with_predictor_and_target_trains) {
  // Identity views, so that the first step's loss is a function of the weights alone.
  using BYOL = ss::Recipe<ss::views::Identity, ss::pairs::Augmented, ss::negatives::None, ss::losses::BYOL>;
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  // `change`: 0 none, 1 the target projector's weights, 2 the predictor's, before the first step.
  auto make = [](int change) {
    torch::manual_seed(31);
    auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, ss::models::EncoderOptions{
        .projector = {.hidden_dim = 16, .out_dim = 8}, .predictor = ss::models::ProjectorOptions{.hidden_dim = 16, .out_dim = 8},
        .momentum_target = true, .momentum = 0.9});
    torch::NoGradGuard no_grad;
    auto changed = change == 1 ? encoder->target_projector->parameters() : change == 2 ? encoder->predictor->parameters()
                                                                                       : std::vector<torch::Tensor>{};
    for (auto& p : changed) p.add_(torch::randn_like(p), 0.5);
    return encoder;
  };
  const auto first_loss = [&](int change) {
    ss::Trainer trainer(BYOL{}, make(change), {.epochs = 1, .batch_size = 8});
    return trainer.step(data, torch::arange(8)).item<double>();
  };
  const double same = first_loss(0);
  BOOST_TEST(first_loss(0) == same);  // deterministic, so the two differences below are the changes'
  BOOST_TEST(std::abs(first_loss(1) - same) > 1e-3);  // the target reaches the loss
  BOOST_TEST(std::abs(first_loss(2) - same) > 1e-3);  // and so does the predictor

  auto encoder = make(0);
  auto target_before = encoder->target_backbone->parameters().front().clone();
  ss::Trainer trainer(BYOL{}, encoder, {.epochs = 2, .batch_size = 8, .log_every = 1});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 8);
  // 2 - 2 cos per direction, summed over the two: within [0, 8].
  BOOST_TEST(selfsup::test::logged_losses_problem(result.log, 8, 0.0, 8.0) == "");
  bool predictor_has_gradients = true;
  for (const auto& p : encoder->predictor->parameters()) {
    predictor_has_gradients = predictor_has_gradients && p.grad().defined() && p.grad().abs().sum().item<double>() > 0;
  }
  BOOST_TEST(predictor_has_gradients);
  bool target_has_none = true;
  auto target = encoder->target_backbone->parameters();
  for (const auto& p : encoder->target_projector->parameters()) target.push_back(p);
  for (const auto& p : target) target_has_none = target_has_none && !p.requires_grad() && !p.grad().defined();
  BOOST_TEST(target_has_none);
  BOOST_TEST(!torch::equal(target_before, encoder->target_backbone->parameters().front()));
  BOOST_TEST(!torch::equal(encoder->backbone->parameters().front(), encoder->target_backbone->parameters().front()));
}

namespace {

// Views with seeded noise, so that an exact resume also needs the policy's generator state.
struct NoisyViews {
  selfsup::detail::DeviceGenerators generators{7};
  torch::Tensor operator()(const torch::Tensor& images) {
    auto x = images.to(torch::kFloat32) / 255.0;
    return x + 0.05 * torch::randn(x.sizes(), generators.on(x.device()), x.options());
  }
  void save(torch::serialize::OutputArchive& a) const { generators.save(a); }
  void load(torch::serialize::InputArchive& a) { generators.load(a); }
};

using Resumable = ss::Recipe<NoisyViews, ss::pairs::Augmented, ss::negatives::Queue, ss::losses::InfoNCE>;

auto make_resumable(int64_t width = 4) {
  torch::manual_seed(11);
  auto encoder = ss::models::make_small_cnn_encoder({.width = width}, ss::models::EncoderOptions{
      .projector = {.hidden_dim = 16, .out_dim = 8}, .momentum_target = true, .momentum = 0.9});
  return ss::Trainer(Resumable{.negatives = ss::negatives::Queue({.size = 24})}, encoder,
                     {.epochs = 3, .batch_size = 8, .learning_rate = 0.1, .schedule = {.warmup_steps = 3},
                      .log_every = 1});
}

using selfsup::test::StopAfter;
using selfsup::test::temp_path;

}  // namespace

// Resuming from step k reproduces the uninterrupted run exactly: online and target weights,
// optimiser state, queue, the views' generator, epoch and position in the epoch.
BOOST_AUTO_TEST_CASE(resume_reproduces_an_uninterrupted_run) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 5});
  auto straight = make_resumable();
  straight.fit(data);
  for (int64_t stop_at : {2, 4, 9}) {  // inside the first epoch, at its end, inside the third
    BOOST_TEST_CONTEXT("stopped at step " << stop_at) {
      const auto path = temp_path("resume-" + std::to_string(stop_at) + ".pt").string();
      auto first = make_resumable();
      StopAfter stop{stop_at, path};
      BOOST_TEST(first.fit(data, stop).steps == stop_at);
      auto resumed = make_resumable();
      resumed.load_checkpoint(path);
      BOOST_TEST(resumed.steps_done() == stop_at);
      BOOST_TEST(resumed.fit(data).steps == 12 - stop_at);
      auto a = straight.encoder()->parameters(), b = resumed.encoder()->parameters();
      BOOST_TEST_REQUIRE(a.size() == b.size());
      bool identical = true;
      for (size_t i = 0; i < a.size(); ++i) identical = identical && torch::equal(a[i], b[i]);
      BOOST_TEST(identical);
      BOOST_TEST(torch::equal(straight.recipe().negatives.keys(), resumed.recipe().negatives.keys()));
    }
  }
}

// The same with the library's own random policies: SimCLR's views and same-label pairs.
BOOST_AUTO_TEST_CASE(resume_with_library_views_and_pairs) {
  using Recipe = ss::Recipe<ss::views::SimCLRViews, ss::pairs::SameLabel, ss::negatives::InBatchMasked, ss::losses::NTXent>;
  auto make = [] {
    torch::manual_seed(12);
    auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
    return ss::Trainer(Recipe{.views = ss::views::SimCLRViews({.size = 16, .seed = 3}), .pairs = ss::pairs::SameLabel({.seed = 4})},
                       encoder, {.epochs = 2, .batch_size = 8, .log_every = 1});
  };
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 6});
  auto straight = make();
  straight.fit(data);
  const auto path = temp_path("resume-library.pt").string();
  auto first = make();
  StopAfter stop{3, path};
  first.fit(data, stop);
  auto resumed = make();
  resumed.load_checkpoint(path);
  resumed.fit(data);
  auto a = straight.encoder()->parameters(), b = resumed.encoder()->parameters();
  bool identical = true;
  for (size_t i = 0; i < a.size(); ++i) identical = identical && torch::equal(a[i], b[i]);
  BOOST_TEST(identical);
}

BOOST_AUTO_TEST_CASE(checkpoints_refuse_other_recipes_models_and_broken_files) {
  using selfsup::test::throws_with;
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 5});
  const auto path = temp_path("checkpoint.pt").string();
  auto trainer = make_resumable();
  trainer.fit(data);
  trainer.save_checkpoint(path);
  BOOST_TEST(std::filesystem::exists(path));
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    BOOST_TEST(entry.path().filename().string().rfind("checkpoint.pt.tmp", 0) != 0, "left behind: " << entry.path());
  }
  BOOST_TEST(trainer.last_checkpoint() == path);

  auto wider = make_resumable(8);
  BOOST_TEST(throws_with([&] { wider.load_checkpoint(path); }, "holds another model:\n  checkpoint only: backbone.layers.0.weight [4, 3, 3, 3]"));
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
  ss::Trainer other(ss::recipes::SimCLR{}, encoder, {});
  BOOST_TEST(throws_with([&] { other.load_checkpoint(path); }, "was written by another recipe"));

  // A truncated file, and a missing one.
  const auto truncated = temp_path("truncated.pt").string();
  std::filesystem::copy_file(path, truncated, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(truncated, std::filesystem::file_size(truncated) / 2);
  auto fresh = make_resumable();
  auto before = fresh.encoder()->parameters().front().clone();
  BOOST_TEST(throws_with([&] { fresh.load_checkpoint(truncated); }, "refusing '" + truncated + "': truncated"));
  BOOST_TEST(torch::equal(before, fresh.encoder()->parameters().front()));  // nothing half-loaded
  BOOST_TEST(fresh.steps_done() == 0);
  BOOST_TEST(throws_with([&] { fresh.load_checkpoint(path + ".missing"); }, "no checkpoint at"));
}

// A checkpoint that cannot be written (here: the file-size limit, as a full disk) is an error that
// names the file; the previous checkpoint and the run survive, and no temporary file is left.
BOOST_AUTO_TEST_CASE(a_failed_checkpoint_write_keeps_the_previous_one) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 5});
  const auto dir = temp_path("full-disk");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = (dir / "run.pt").string();
  auto trainer = make_resumable();
  trainer.fit(data);
  trainer.save_checkpoint(path);
  const auto good_size = std::filesystem::file_size(path);
  rlimit before{};
  BOOST_TEST_REQUIRE(getrlimit(RLIMIT_FSIZE, &before) == 0);
  auto* previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = before;
  small.rlim_cur = 4096;
  BOOST_TEST_REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const bool refused = throws_with([&] { trainer.save_checkpoint(path); }, "writing '" + path + ".tmp");
  setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, previous_handler);
  BOOST_TEST(refused);
  BOOST_TEST(std::filesystem::file_size(path) == good_size);
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  BOOST_TEST(files == 1u);  // no temporary file left behind
  auto resumed = make_resumable();
  resumed.load_checkpoint(path);
  BOOST_TEST(resumed.steps_done() == trainer.steps_done());
}

BOOST_AUTO_TEST_CASE(non_finite_loss_names_the_last_checkpoint) {
  using selfsup::test::throws_with;
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  using Recipe = ss::recipes::SimCLR::with_views<ss::views::CropFlip>::with_loss<ExplodingLoss>;
  ss::Trainer trainer(Recipe{.views = ss::views::CropFlip({.size = 16})}, encoder, {.epochs = 3, .batch_size = 8, .log_every = 1});
  const auto path = temp_path("before-nan.pt").string();
  trainer.save_checkpoint(path);
  BOOST_TEST(throws_with([&] { trainer.fit(data); }, "The last good checkpoint is '" + path + "'"));
}

BOOST_AUTO_TEST_CASE(hooks_write_logs_checkpoints_and_knn) {
  auto train = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  auto test = ss::data::make_synthetic({.classes = 2, .per_class = 8, .size = 16}, ss::data::SyntheticSplit::test);
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  ss::Trainer trainer(ss::recipes::SimCLR::with_views<ss::views::CropFlip>{.views = ss::views::CropFlip({.size = 16})}, encoder,
                      {.epochs = 2, .batch_size = 8, .log_every = 2});
  const auto log_path = temp_path("metrics.jsonl").string();
  std::filesystem::remove(log_path);
  const auto checkpoint = temp_path("hook.pt").string();
  std::filesystem::remove(checkpoint);
  ss::hooks::JsonLines log(log_path);
  ss::hooks::KNNMonitor knn(train, test, 1, {.k = 5}, &log);
  ss::hooks::Checkpoint save{checkpoint, 2};
  std::FILE* sink = std::tmpfile();
  ss::hooks::Progress progress(sink);
  trainer.fit(train, knn, log, save, progress);
  BOOST_TEST(knn.history().size() == 2u);
  BOOST_TEST(std::filesystem::exists(checkpoint));
  std::ifstream in(log_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  BOOST_TEST_REQUIRE(lines.size() == 6u);  // 4 logging steps + 2 epochs
  BOOST_TEST(lines[0].rfind(R"({"event":"step","epoch":0,"step":2,"loss":)", 0) == 0);
  BOOST_TEST(lines[2].find(R"("knn_top1":)") != std::string::npos);
  std::rewind(sink);
  char buffer[256] = {};
  BOOST_TEST(std::fgets(buffer, sizeof buffer, sink) != nullptr);
  BOOST_TEST_INFO("progress line: " << buffer);
  BOOST_TEST(std::string(buffer).rfind("epoch 1/2  step      2/8  loss ", 0) == 0);
  std::fclose(sink);
}

BOOST_AUTO_TEST_SUITE_END()
