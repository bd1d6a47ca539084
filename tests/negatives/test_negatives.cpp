#include "../support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>

using selfsup::test::max_abs_diff;
using selfsup::test::throws_with;
namespace ss = selfsup;

static_assert(ss::NegativeStrategy<ss::negatives::Queue> && ss::negatives::Queue::provides_bank);
static_assert(ss::NegativeStrategy<ss::negatives::InBatchMasked> && ss::negatives::InBatchMasked::needs_groups);
static_assert(ss::recipes::InfoNCEQueue::valid);
static_assert(!ss::recipes::SimCLR::with_negatives<ss::negatives::Queue>::valid);
static_assert(!ss::recipes::InfoNCEQueue::with_negatives<ss::negatives::InBatch>::valid);
static_assert(!ss::recipes::SimCLR::with_negatives<ss::negatives::InBatchMasked>::valid);  // Augmented has no groups

BOOST_AUTO_TEST_SUITE(negatives_tests)

BOOST_AUTO_TEST_CASE(in_batch_masked_passes_the_group_ids) {
  ss::PairBatch pairs;
  pairs.groups = torch::tensor({3, 1, 3}, torch::kLong);
  auto set = ss::negatives::InBatchMasked{}.negatives({}, pairs);
  BOOST_TEST(set.in_batch);
  BOOST_TEST(torch::equal(set.groups, pairs.groups));
  BOOST_TEST(throws_with([] { ss::negatives::InBatchMasked{}.negatives({}, {}); }, "InBatchMasked: the pair batch carries no group ids"));
}

// A FIFO of K keys: after enqueuing batches of 3 into K = 7, the buffer holds the newest keys at
// the positions the ring order gives, normalised.
BOOST_AUTO_TEST_CASE(queue_is_a_ring_of_normalised_keys) {
  for (const auto& device : selfsup::test::devices()) {
    ss::negatives::Queue queue({.size = 7, .seed = 1});
    auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    ss::LossInput in;
    in.z0 = torch::randn({3, 4}, opts);
    auto bank = queue.negatives(in, {}).bank;
    BOOST_TEST(bank.sizes() == torch::IntArrayRef({7, 4}));
    BOOST_TEST(bank.device() == device);
    BOOST_TEST(max_abs_diff(bank.norm(2, 1), torch::ones({7})) < 1e-5);
    std::vector<torch::Tensor> batches;
    for (int step = 0; step < 3; ++step) {
      in.z1 = torch::randn({3, 4}, opts) * (step + 2);
      batches.push_back(in.z1 / in.z1.norm(2, 1, true));
      queue.after_step(in);
    }
    BOOST_TEST(queue.position() == 2);  // 9 keys written into 7 slots
    auto keys = queue.keys();
    // Batch 0 went to slots 0-2, batch 1 to 3-5, batch 2 to slot 6 and, wrapping, to slots 0-1.
    BOOST_TEST(max_abs_diff(keys.narrow(0, 6, 1), batches[2].narrow(0, 0, 1)) < 1e-6);
    BOOST_TEST(max_abs_diff(keys.narrow(0, 0, 2), batches[2].narrow(0, 1, 2)) < 1e-6);
    BOOST_TEST(max_abs_diff(keys.narrow(0, 3, 3), batches[1]) < 1e-6);
    BOOST_TEST(max_abs_diff(keys.narrow(0, 2, 1), batches[0].narrow(0, 2, 1)) < 1e-6);
    // The momentum target's projection is the key when there is one.
    in.t1 = torch::ones({3, 4}, opts);
    queue.after_step(in);
    BOOST_TEST(max_abs_diff(queue.keys().narrow(0, 2, 3), torch::full({3, 4}, 0.5)) < 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(queue_checks_sizes) {
  ss::negatives::Queue queue({.size = 4});
  ss::LossInput in;
  in.z0 = torch::randn({5, 3});
  BOOST_TEST(throws_with([&] { queue.negatives(in, {}); }, "Queue: the batch (5 keys) is larger than the queue (size 4)"));
  in.z0 = torch::randn({2, 3});
  queue.negatives(in, {});
  BOOST_TEST(throws_with([&] { queue.enqueue(torch::randn({2, 5})); }, "Queue: keys have 5 dimensions, the queue holds 3"));
  BOOST_TEST(throws_with([] { ss::negatives::Queue({.size = 0}); }, "Queue: size must be >= 1"));
}

BOOST_AUTO_TEST_CASE(queue_state_round_trips_through_an_archive) {
  ss::negatives::Queue a({.size = 6, .seed = 2});
  a.enqueue(torch::randn({4, 3}));
  std::stringstream stream;
  {
    torch::serialize::OutputArchive out;
    a.save(out);
    out.save_to(stream);
  }
  ss::negatives::Queue b({.size = 6, .seed = 99});
  torch::serialize::InputArchive in;
  in.load_from(stream);
  b.load(in);
  BOOST_TEST(torch::equal(a.keys(), b.keys()));
  BOOST_TEST(b.position() == 4);
  ss::negatives::Queue wrong({.size = 5});
  std::stringstream again;
  {
    torch::serialize::OutputArchive out;
    a.save(out);
    out.save_to(again);
  }
  torch::serialize::InputArchive in2;
  in2.load_from(again);
  BOOST_TEST(throws_with([&] { wrong.load(in2); }, "Queue::load: the checkpoint holds a queue of shape [6, 3], this queue has size 5"));
}

// An InfoNCE recipe against the queue trains: the keys of every step enter the queue.
BOOST_AUTO_TEST_CASE(info_nce_queue_recipe_trains) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 16, .size = 16, .seed = 2});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
  ss::recipes::InfoNCEQueue::with_views<ss::views::CropFlip> recipe{.views = ss::views::CropFlip({.size = 16}), .negatives = ss::negatives::Queue({.size = 40})};
  ss::Trainer trainer(std::move(recipe), encoder, {.epochs = 2, .batch_size = 16, .log_every = 1});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 8);
  BOOST_TEST(trainer.recipe().negatives.position() == (8 * 16) % 40);
  // A cross-entropy over the key and at most the 40 queued negatives (tau 0.2); the least it
  // can be is 0, with an empty queue.
  BOOST_TEST(selfsup::test::logged_losses_problem(result.log, 8, 0.0, selfsup::test::cosine_softmax_range(41, 0.2).second) == "");
}

// The pair's partner is the image `classes` further on, the same label; its group is the label.
struct SameLabelNext {
  static constexpr bool provides_groups = true;
  int64_t classes = 4;
  torch::Tensor labels;
  void bind(const ss::DatasetInfo& info) { labels = info.labels; }
  ss::PairBatch sample(const torch::Tensor& anchors) const {
    auto partners = (anchors + classes).remainder(labels.size(0));
    return {.anchors = anchors, .partners = partners, .groups = labels.index_select(0, anchors), .sources = {}};
  }
};

// Semantic false-negative masking in a recipe: the pair source's groups reach the loss, which
// then differs from the unmasked loss on the same embeddings.
BOOST_AUTO_TEST_CASE(masked_recipe_trains_and_masks) {
  using Masked = ss::Recipe<ss::views::CropFlip, SameLabelNext, ss::negatives::InBatchMasked, ss::losses::NTXent>;
  static_assert(Masked::valid);
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 16, .size = 16, .seed = 3});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
  ss::Trainer trainer(Masked{.views = ss::views::CropFlip({.size = 16})}, encoder, {.epochs = 2, .batch_size = 16, .log_every = 1});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 8);
  for (const auto& entry : result.log) BOOST_TEST(std::isfinite(entry.loss));

  auto anchors = torch::arange(16, torch::kLong);
  auto pairs = trainer.recipe().pairs.sample(anchors);
  ss::LossInput in;
  in.z0 = torch::randn({16, 8});
  in.z1 = torch::randn({16, 8});
  in.negatives = trainer.recipe().negatives.negatives(in, pairs);
  BOOST_TEST(torch::equal(in.negatives.groups, data.labels(anchors)));
  auto masked = ss::losses::NTXent{}(in);
  in.negatives.groups = torch::Tensor();
  BOOST_TEST(masked.item<double>() < ss::losses::NTXent{}(in).item<double>());  // fewer negatives
}

BOOST_AUTO_TEST_SUITE_END()
