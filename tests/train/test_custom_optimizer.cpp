// A user's optimiser and learning-rate schedule in place of the built-in ones
// (TrainerOptions::custom_optimizer, custom_schedule): used, scheduled, recorded and checked.
#include "../support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

using selfsup::test::throws_with;
namespace ss = selfsup;

namespace {
using Recipe = ss::recipes::SimCLR::with_views<ss::views::CropFlip>;
Recipe small_recipe() { return Recipe{.views = ss::views::CropFlip({.size = 16})}; }
ss::models::SmallCNNEncoder small_encoder() {
  torch::manual_seed(2);
  return ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
}
}  // namespace

BOOST_AUTO_TEST_SUITE(train_tests)

// Adam from the user with a halving schedule: made once, every step at the schedule's rate, the
// first group's weight decay on its cosine to the final value, both labels in the record.
BOOST_AUTO_TEST_CASE(custom_optimizer_and_schedule_are_used) {
  const auto data = ss::data::make_synthetic({.classes = 2, .per_class = 16, .size = 16});
  int made = 0;
  ss::TrainerOptions o{.epochs = 1, .batch_size = 8, .learning_rate = 0.01, .weight_decay = 0.1,
                       .final_weight_decay = 0.5, .log_every = 1};
  o.custom_optimizer = [&](const std::vector<torch::Tensor>& params, const ss::TrainerOptions& t) {
    ++made;
    return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(t.learning_rate).weight_decay(t.weight_decay));
  };
  o.optimizer_label = "adam";
  o.custom_schedule = [](double base, int64_t step, int64_t) { return base * std::pow(0.5, static_cast<double>(step)); };
  o.schedule_label = "halving";
  ss::Trainer trainer(small_recipe(), small_encoder(), o);
  BOOST_TEST(made == 1);
  BOOST_TEST(dynamic_cast<torch::optim::Adam*>(&trainer.optimizer()) != nullptr);
  const auto result = trainer.fit(data);
  BOOST_REQUIRE_EQUAL(result.log.size(), 4u);  // 32 images, batches of 8
  for (size_t i = 0; i < result.log.size(); ++i) {
    BOOST_TEST(result.log[i].learning_rate == 0.01 * std::pow(0.5, static_cast<double>(i)));
  }
  // The last of 4 steps is the cosine's end: the final weight decay.
  const auto& adam = static_cast<const torch::optim::AdamOptions&>(trainer.optimizer().param_groups().front().options());
  BOOST_TEST(std::abs(adam.weight_decay() - 0.5) < 1e-12);
  const auto [lo, hi] = selfsup::test::cosine_softmax_range(15, 0.5);  // NT-Xent: 2N − 1 candidates, τ = 0.5
  BOOST_TEST(selfsup::test::logged_losses_problem(result.log, 4, lo, hi) == "");
  const auto record = ss::checkpoint::record(o);
  BOOST_TEST(record.at("optimizer") == "adam");
  BOOST_TEST(record.at("schedule") == "halving");
  // A built-in schedule records its fields only, as every checkpoint before has it.
  BOOST_TEST(ss::checkpoint::record(ss::TrainerOptions{}).count("schedule") == 0);
  BOOST_TEST(ss::checkpoint::record(ss::TrainerOptions{}).at("optimizer") == "sgd");
}

// What a user's optimiser or schedule gets wrong is named, before training or at the step.
BOOST_AUTO_TEST_CASE(custom_optimizer_and_schedule_are_checked) {
  const auto data = ss::data::make_synthetic({.classes = 2, .per_class = 8, .size = 16});
  ss::TrainerOptions none{.batch_size = 8};
  none.custom_optimizer = [](const auto&, const auto&) -> std::unique_ptr<torch::optim::Optimizer> { return nullptr; };
  BOOST_TEST(throws_with([&] { ss::Trainer t(small_recipe(), small_encoder(), none); },
                         "TrainerOptions::custom_optimizer ('custom') returned no optimiser"));
  // L-BFGS has no weight decay for the schedule to set.
  ss::TrainerOptions lbfgs{.batch_size = 8, .final_weight_decay = 0.1};
  lbfgs.custom_optimizer = [](const std::vector<torch::Tensor>& params, const ss::TrainerOptions&) {
    return std::make_unique<torch::optim::LBFGS>(params, torch::optim::LBFGSOptions(0.1));
  };
  lbfgs.optimizer_label = "lbfgs";
  BOOST_TEST(throws_with([&] { ss::Trainer t(small_recipe(), small_encoder(), lbfgs); },
                         "TrainerOptions::final_weight_decay schedules the weight decay of the first parameter group, "
                         "and the options of 'lbfgs'"));
  ss::TrainerOptions nan_rate{.batch_size = 8};
  nan_rate.custom_schedule = [](double, int64_t, int64_t) { return std::numeric_limits<double>::quiet_NaN(); };
  nan_rate.schedule_label = "broken";
  ss::Trainer t(small_recipe(), small_encoder(), nan_rate);
  BOOST_TEST(throws_with([&] { t.fit(data); }, "TrainerOptions::custom_schedule ('broken') gave the learning rate nan for step 0"));
}

BOOST_AUTO_TEST_SUITE_END()
