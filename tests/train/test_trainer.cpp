#include "../support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <numeric>

using selfsup::test::throws_with;
namespace ss = selfsup;

BOOST_AUTO_TEST_SUITE(train_tests)

// The vertical slice: SimCLR on the embedded dataset, a few dozen steps on the CPU. The loss of
// the last steps is clearly below that of the first ones.
BOOST_AUTO_TEST_CASE(simclr_loss_falls) {
  torch::manual_seed(0);  // the encoder's initial weights
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 32, .size = 32, .seed = 1});
  ss::recipes::SimCLR recipe{.views = ss::views::CropFlip({.size = 32, .scale = {0.2, 1.0}, .seed = 1}),
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
  ss::Trainer trainer(ss::recipes::SimCLR{.views = ss::views::CropFlip({.size = 16})}, encoder,
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
  using Recipe = ss::recipes::SimCLR::with_loss<ExplodingLoss>;
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
}

BOOST_AUTO_TEST_SUITE_END()
