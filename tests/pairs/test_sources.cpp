// Positive-pair sources: Semantic, SameLabel, Mixed, SemanticSet, Mined, NearestNeighbour.
// Random draws are checked by properties over many seeds and draws; expected values of small
// cases are worked out by hand in the comments.
#include "../support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <numbers>
#include <sstream>
#include <set>
#include <utility>
#include <vector>

using selfsup::test::throws_with;
namespace ss = selfsup;
namespace data = selfsup::data;
namespace pairs = selfsup::pairs;

static_assert(ss::PairSource<pairs::Semantic>);
static_assert(ss::PairSource<pairs::SameLabel>);
static_assert(ss::PairSource<pairs::Mixed<pairs::Semantic, pairs::Augmented>>);
static_assert(ss::PairSource<pairs::SemanticSet>);
static_assert(ss::PairSource<pairs::Mined>);
static_assert(ss::PairSource<pairs::NearestNeighbour>);
static_assert(pairs::Mixed<pairs::Semantic, pairs::Augmented>::provides_groups);
static_assert(pairs::Mixed<pairs::Augmented, pairs::SameLabel>::provides_groups);
static_assert(!pairs::Mixed<pairs::Augmented, pairs::Augmented>::provides_groups);
// Semantic pairs with false-negative masking: the composition rule accepts group-providing sources.
static_assert(ss::recipes::SimCLR::with_pairs<pairs::Semantic>::with_negatives<ss::negatives::InBatchMasked>::valid);
static_assert(!ss::recipes::SimCLR::with_pairs<pairs::NearestNeighbour>::with_negatives<ss::negatives::InBatchMasked>::valid);

namespace {

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.cpu().contiguous().to(torch::kLong);
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

torch::Tensor longs(std::vector<int64_t> v, const torch::Device& device = torch::kCPU) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

ss::DatasetInfo info(int64_t n, torch::Tensor labels, const torch::Device& device) {
  return {.size = n, .labels = labels.defined() ? labels.to(device) : labels, .device = device};
}

// The unordered pairs of a table as a host set, built independently of the adjacency.
std::set<std::pair<int64_t, int64_t>> pair_set(const data::PairTable& t) {
  std::set<std::pair<int64_t, int64_t>> s;
  auto a = to_vector(t.first), b = to_vector(t.second);
  for (size_t i = 0; i < a.size(); ++i) {
    s.emplace(a[i], b[i]);
    s.emplace(b[i], a[i]);
  }
  return s;
}

constexpr auto kAugmented = static_cast<int64_t>(ss::PairKind::augmented);
constexpr auto kSemantic = static_cast<int64_t>(ss::PairKind::semantic);

}  // namespace

BOOST_AUTO_TEST_SUITE(pairs_tests)

BOOST_AUTO_TEST_CASE(semantic_draws_listed_partners_on_every_device) {
  const data::SyntheticOptions opt{.classes = 4, .per_class = 25, .size = 16, .seed = 3};
  auto table = data::make_synthetic_pairs(opt, {.partners = 2, .coverage = 0.6});
  const auto allowed = pair_set(table);
  std::set<int64_t> covered;
  for (const auto& [a, b] : allowed) covered.insert(a);
  for (const auto& device : ss::test::devices()) {
    for (std::uint64_t seed : {0u, 1u, 2u, 3u, 4u}) {
      pairs::Semantic s(table, {.seed = seed});
      s.bind(info(100, {}, device));
      BOOST_TEST(!s.eligible_anchors().defined());
      auto anchors = torch::arange(100, torch::TensorOptions().dtype(torch::kLong).device(device)).repeat({20});
      auto batch = s.sample(anchors);
      BOOST_TEST(batch.partners.device() == device);
      auto a = to_vector(batch.anchors), p = to_vector(batch.partners), k = to_vector(batch.sources);
      int bad = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        const bool has = covered.count(a[i]) > 0;
        if (has && (!allowed.count({a[i], p[i]}) || k[i] != kSemantic)) ++bad;
        if (!has && (p[i] != a[i] || k[i] != kAugmented)) ++bad;
      }
      BOOST_TEST(bad == 0);
      // Groups: the class column, which is the label i % 4 for covered images.
      auto g = batch.groups.cpu();
      auto cov = torch::zeros({100}, torch::kBool);
      for (auto c : covered) cov[c] = true;
      auto cov_rows = cov.index_select(0, batch.anchors.cpu());
      BOOST_TEST(torch::equal(g.masked_select(cov_rows), batch.anchors.cpu().remainder(4).masked_select(cov_rows)));
      BOOST_TEST(g.masked_select(~cov_rows).ge(4).all().item<bool>());  // ids of their own
    }
  }
}

BOOST_AUTO_TEST_CASE(semantic_is_reproducible_per_seed_and_uniform) {
  // Image 0 has partners {1, 2, 3}.
  data::PairTable t{longs({0, 0, 0}), longs({1, 2, 3}), {}, {}};
  auto draw = [&](std::uint64_t seed) {
    pairs::Semantic s(t, {.seed = seed});
    s.bind(info(4, {}, torch::kCPU));
    return s.sample(torch::zeros({3000}, torch::kLong)).partners;
  };
  BOOST_TEST(torch::equal(draw(7), draw(7)));
  BOOST_TEST(!torch::equal(draw(7), draw(8)));
  auto counts = torch::bincount(draw(7), {}, 4);
  BOOST_TEST(counts[0].item<int64_t>() == 0);
  for (int j = 1; j <= 3; ++j) BOOST_TEST(std::abs(counts[j].item<double>() - 1000.0) < 120.0);  // sd ~26
}

BOOST_AUTO_TEST_CASE(semantic_leave_out_and_groups_by_component) {
  // Pairs 0-1, 1-2, 4-5 over 7 images: components {0, 1, 2}, {3}, {4, 5}, {6}.
  data::PairTable t{longs({0, 1, 4}), longs({1, 2, 5}), {}, {}};
  for (const auto& device : ss::test::devices()) {
    pairs::Semantic s(t, {.missing = pairs::MissingPartner::leave_out});
    s.bind(info(7, {}, device));
    BOOST_TEST(to_vector(s.eligible_anchors()) == std::vector<int64_t>({0, 1, 2, 4, 5}));
    BOOST_TEST(to_vector(s.group_ids()) == std::vector<int64_t>({0, 0, 0, 3, 4, 4, 6}));
    // The epoch sampler draws only eligible anchors.
    data::EpochSampler sampler(7, {.batch_size = 5, .seed = 1}, device, s.eligible_anchors());
    auto epoch = torch::cat(sampler.epoch(0));
    BOOST_TEST(to_vector(std::get<0>(epoch.sort())) == std::vector<int64_t>({0, 1, 2, 4, 5}));
    BOOST_TEST(s.sample(epoch).sources.eq(kSemantic).all().item<bool>());
    // Groups from dataset labels on request.
    pairs::Semantic by_label(t, {.groups = pairs::SemanticGroups::label});
    by_label.bind(info(7, longs({9, 9, 8, 8, 7, 7, 6}), device));
    BOOST_TEST(to_vector(by_label.sample(longs({0, 3, 6}, device)).groups) == std::vector<int64_t>({9, 8, 6}));
  }
}

BOOST_AUTO_TEST_CASE(semantic_bad_input) {
  auto anchors = longs({0, 1});
  BOOST_TEST(throws_with([&] { pairs::Semantic s; s.bind(info(5, {}, torch::kCPU)); },
                         "Semantic::bind: the pair table covers no anchor"));
  data::PairTable t{longs({0, 3}), longs({1, 9}), {}, {}};
  BOOST_TEST(throws_with([&] { pairs::Semantic s(t); s.bind(info(5, {}, torch::kCPU)); },
                         "Semantic::bind: the pair table names image 9, out of range for a dataset of 5 images"));
  BOOST_TEST(throws_with([&] { pairs::Semantic s(t); s.sample(anchors); }, "Semantic::sample: the source is not bound"));
  pairs::Semantic s(t);
  s.bind(info(10, {}, torch::kCPU));
  BOOST_TEST(throws_with([&] { s.sample(anchors.to(torch::kInt)); }, "Semantic::sample: anchors must be int64"));
  BOOST_TEST(throws_with([&] { pairs::Semantic c(t, {.groups = pairs::SemanticGroups::table_class}); c.bind(info(10, {}, torch::kCPU)); },
                         "groups = table_class, but the pair table has no class column"));
  BOOST_TEST(throws_with([&] { pairs::Semantic c(t, {.groups = pairs::SemanticGroups::label}); c.bind(info(10, {}, torch::kCPU)); },
                         "groups = label, but the dataset has no labels"));
}

BOOST_AUTO_TEST_CASE(semantic_save_load_resumes_the_draws) {
  data::PairTable t{longs({0, 0, 0, 0}), longs({1, 2, 3, 4}), {}, {}};
  pairs::Semantic s(t, {.seed = 11});
  s.bind(info(5, {}, torch::kCPU));
  auto anchors = torch::zeros({64}, torch::kLong);
  s.sample(anchors);
  torch::serialize::OutputArchive out;
  s.save(out);
  auto expected = s.sample(anchors).partners;
  std::stringstream buffer;
  out.save_to(buffer);
  pairs::Semantic restored(t, {.seed = 11});
  restored.bind(info(5, {}, torch::kCPU));
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  restored.load(in);
  BOOST_TEST(torch::equal(restored.sample(anchors).partners, expected));
}

BOOST_AUTO_TEST_CASE(same_label_partners_share_the_label_and_are_never_the_anchor) {
  // 3 labels with 5, 4 and 1 images, and 2 unlabelled (-1) images.
  auto labels = longs({0, 1, 0, 2, 1, 0, 1, 0, -1, 1, 0, -1});
  for (const auto& device : ss::test::devices()) {
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      pairs::SameLabel s({.seed = seed});
      s.bind(info(12, labels, device));
      auto anchors = torch::arange(12, torch::TensorOptions().dtype(torch::kLong).device(device)).repeat({500});
      auto b = s.sample(anchors);
      auto a = b.anchors.cpu(), p = b.partners.cpu(), y = labels;
      auto has = y.index_select(0, a).ge(0) & a.ne(3);  // image 3 is alone in label 2
      BOOST_TEST(y.index_select(0, p).masked_select(has).eq(y.index_select(0, a).masked_select(has)).all().item<bool>());
      BOOST_TEST(p.masked_select(has).ne(a.masked_select(has)).all().item<bool>());
      BOOST_TEST(torch::equal(p.masked_select(~has), a.masked_select(~has)));
      BOOST_TEST(torch::equal(b.sources.cpu().to(torch::kLong), torch::where(has, torch::full({}, 2L), torch::full({}, 0L))));
      // Groups: the label; unlabelled images get ids of their own past the largest label.
      BOOST_TEST(to_vector(b.groups.narrow(0, 0, 12)) == std::vector<int64_t>({0, 1, 0, 2, 1, 0, 1, 0, 11, 1, 0, 14}));
      // Every other member of label 0 ({0, 2, 5, 7, 10}) is drawn for anchor 0, about 125 times each.
      auto of0 = p.masked_select(a.eq(0));
      auto c = torch::bincount(of0, {}, 12);
      for (int64_t j : {2, 5, 7, 10}) BOOST_TEST(std::abs(c[j].item<double>() - 125.0) < 50.0);
    }
  }
  pairs::SameLabel leave({.missing = pairs::MissingPartner::leave_out});
  leave.bind(info(12, labels, torch::kCPU));
  BOOST_TEST(to_vector(leave.eligible_anchors()) == std::vector<int64_t>({0, 1, 2, 4, 5, 6, 7, 9, 10}));
  BOOST_TEST(throws_with([] { pairs::SameLabel s; s.bind(info(4, {}, torch::kCPU)); }, "SameLabel::bind: the dataset has no labels"));
  BOOST_TEST(throws_with([] { pairs::SameLabel s; s.bind(info(3, longs({0, 1, 2}), torch::kCPU)); }, "no label has two images"));
}

BOOST_AUTO_TEST_CASE(mixed_takes_a_with_probability_p) {
  auto labels = torch::arange(1000, torch::kLong).remainder(10);
  auto anchors = torch::arange(1000, torch::kLong).repeat({4});
  for (double p : {0.0, 0.3, 0.75, 1.0}) {
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
      pairs::Mixed<pairs::SameLabel, pairs::Augmented> m({}, {}, {.p = p, .seed = seed});
      m.bind(info(1000, labels, torch::kCPU));
      auto b = m.sample(anchors);
      const double from_a = b.sources.eq(static_cast<int64_t>(ss::PairKind::same_label)).to(torch::kFloat64).mean().item<double>();
      BOOST_TEST(std::abs(from_a - p) < 0.03);  // 4000 draws: sd <= 0.008
      auto same = b.partners.eq(b.anchors);
      BOOST_TEST(torch::equal(same, b.sources.eq(kAugmented)));
      BOOST_TEST(torch::equal(b.groups, labels.index_select(0, anchors)));  // SameLabel's groups
    }
  }
  auto run = [&](std::uint64_t seed) {
    pairs::Mixed<pairs::SameLabel, pairs::Augmented> m({}, {}, {.p = 0.5, .seed = seed});
    m.bind(info(1000, labels, torch::kCPU));
    return m.sample(anchors).sources;
  };
  BOOST_TEST(torch::equal(run(1), run(1)));
  BOOST_TEST(!torch::equal(run(1), run(2)));
  BOOST_TEST(throws_with([] { pairs::Mixed<pairs::Augmented, pairs::Augmented>({.p = 1.5}); }, "Mixed: p must be in [0, 1], got 1.5"));
  // Eligible anchors: the union of both sources' (here both leave anchors out).
  data::PairTable t{longs({0}), longs({1}), {}, {}};
  data::PairTable u{longs({4}), longs({1}), {}, {}};
  pairs::Mixed<pairs::Semantic, pairs::Semantic> both(pairs::Semantic(t, {.missing = pairs::MissingPartner::leave_out}),
                                                      pairs::Semantic(u, {.missing = pairs::MissingPartner::leave_out}));
  both.bind(info(6, {}, torch::kCPU));
  BOOST_TEST(to_vector(both.eligible_anchors()) == std::vector<int64_t>({0, 1, 4}));
}

BOOST_AUTO_TEST_CASE(semantic_set_makes_partners_positives_of_the_anchor) {
  // Partners: 0 -> {1, 2}, 3 -> {4}; image 5 has none. Groups by component: {0,1,2} -> 0, {3,4} -> 3.
  data::PairTable t{longs({0, 0, 3}), longs({1, 2, 4}), {}, {}};
  pairs::SemanticSet s(t, {.partners = 2, .semantic = {.seed = 5}});
  s.bind(info(6, {}, torch::kCPU));
  auto b = s.sample(longs({0, 3, 5}));
  BOOST_TEST(b.anchors.size(0) == 9);
  BOOST_TEST(b.partners.is_same(b.anchors));
  BOOST_TEST(to_vector(b.anchors.narrow(0, 0, 3)) == std::vector<int64_t>({0, 3, 5}));
  BOOST_TEST(to_vector(b.groups) == std::vector<int64_t>({0, 3, 5, 0, 3, 5, 0, 3, 5}));
  auto rows = to_vector(b.anchors);
  for (int j : {3, 6}) {
    BOOST_TEST((rows[j] == 1 || rows[j] == 2));
    BOOST_TEST(rows[j + 1] == 4);
    BOOST_TEST(rows[j + 2] == 5);  // no partner: the anchor again
  }
  BOOST_TEST(to_vector(b.sources) == std::vector<int64_t>({0, 0, 0, 1, 1, 0, 1, 1, 0}));
}

BOOST_AUTO_TEST_CASE(mined_pairs_by_cosine_knn) {
  // Directions (degrees): 0: 0°, 1: 10°, 2: 90°, 3: 100°, 4: 48°.
  // Nearest (k = 1): 0 -> 1, 1 -> 0, 2 -> 3, 3 -> 2, 4 -> 1. Lengths differ: cosine ignores them.
  auto deg = torch::tensor({0.0, 10.0, 90.0, 100.0, 48.0}, torch::kFloat64) * (std::numbers::pi / 180.0);
  auto f = torch::stack({torch::cos(deg), torch::sin(deg)}, 1) * torch::tensor({1.0, 3.0, 0.5, 2.0, 1.0}, torch::kFloat64).unsqueeze(1);
  auto labels = longs({0, 0, 1, 1, 1});
  // 4 at 48°: 38° from 1, 42° from 2, so its neighbour is 1: pairs {0,1}, {2,3}, {1,4}.
  auto m = pairs::mine_pairs(f, {.k = 1}, labels);
  BOOST_TEST(to_vector(m.table.first) == std::vector<int64_t>({0, 1, 2}));
  BOOST_TEST(to_vector(m.table.second) == std::vector<int64_t>({1, 4, 3}));
  BOOST_TEST(std::abs(m.precision - 2.0 / 3.0) < 1e-12);
  BOOST_TEST(std::abs(m.similarity[0].item<double>() - std::cos(10.0 * std::numbers::pi / 180.0)) < 1e-6);
  // Mutual: 1's nearest is 0, not 4, so {1,4} goes.
  auto mutual = pairs::mine_pairs(f, {.k = 1, .mutual = true}, labels);
  BOOST_TEST(mutual.table.size() == 2);
  BOOST_TEST(mutual.precision == 1.0);
  // Threshold cos 20° keeps the 10° pairs only.
  auto close = pairs::mine_pairs(f, {.k = 2, .threshold = std::cos(20.0 * std::numbers::pi / 180.0), .block = 2});
  BOOST_TEST(to_vector(close.table.first) == std::vector<int64_t>({0, 2}));
  BOOST_TEST(std::isnan(close.precision));
  BOOST_TEST(std::abs(pairs::pair_precision(m.table, labels) - 2.0 / 3.0) < 1e-12);
  BOOST_TEST(throws_with([&] { pairs::mine_pairs(f.narrow(0, 0, 1)); }, "mine_pairs: needs at least 2 images"));
  BOOST_TEST(throws_with([&] { pairs::mine_pairs(f, {.threshold = 2.0}); }, "threshold must be a cosine similarity in [-1, 1]"));
  // Constant (collapsed) features have no neighbours, only ties; non-finite ones no order at all.
  BOOST_TEST(throws_with([&] { pairs::mine_pairs(torch::ones({6, 3}) * 2); }, "point the same way"));
  auto nan = f.clone();
  nan[1][0] = std::nan("");
  BOOST_TEST(throws_with([&] { pairs::mine_pairs(nan); }, "NaN or infinite"));
  // The policy draws from the mined table and marks the pairs as mined.
  pairs::Mined source(m);
  source.bind(info(5, labels, torch::kCPU));
  auto b = source.sample(longs({0, 2, 3}));
  BOOST_TEST(to_vector(b.partners) == std::vector<int64_t>({1, 3, 2}));
  BOOST_TEST(b.sources.eq(static_cast<int64_t>(ss::PairKind::mined)).all().item<bool>());
  BOOST_TEST(std::abs(source.precision() - 2.0 / 3.0) < 1e-12);
}

BOOST_AUTO_TEST_CASE(mined_from_an_encoder_on_the_embedded_dataset) {
  torch::manual_seed(0);
  auto d = data::make_synthetic({.classes = 4, .per_class = 16, .size = 16, .seed = 1});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  auto m = pairs::mine_pairs(encoder, d, {.k = 3});
  BOOST_TEST(m.table.size() >= 64 * 3 / 2);
  BOOST_TEST(m.table.first.lt(m.table.second).all().item<bool>());
  BOOST_TEST(m.precision >= 0.0);
  BOOST_TEST(m.precision <= 1.0);
  BOOST_TEST(std::abs(m.precision - pairs::pair_precision(m.table, d.all_labels())) < 1e-12);
}

BOOST_AUTO_TEST_CASE(nearest_neighbour_swaps_in_the_support_set_neighbour) {
  pairs::NearestNeighbour nn({.support_size = 3});
  nn.bind(info(6, longs({0, 1, 2, 0, 1, 2}), torch::kCPU));
  auto anchors = longs({0, 1});
  auto b = nn.sample(anchors);
  BOOST_TEST(b.partners.is_same(anchors));
  ss::LossInput in;
  in.z0 = torch::tensor({{2.0f, 0.0f, 0.0f}, {0.0f, 3.0f, 0.0f}});  // anchors 0 and 1
  in.z1 = torch::tensor({{1.0f, 0.1f, 0.0f}, {0.0f, 1.0f, 0.0f}});
  auto z1 = in.z1.clone();
  nn.on_embeddings(in, b);
  BOOST_TEST(torch::equal(in.z1, z1));  // empty support set: unchanged
  nn.after_step(in);                     // enqueues normalised z0: e_x (label 0), e_y (label 1)
  BOOST_TEST(nn.filled() == 2);
  BOOST_TEST(torch::allclose(nn.support_set(), torch::tensor({{1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}})));

  // Next step, anchors 4 (label 1) and 3 (label 0): z1 rows nearest e_y and e_x.
  auto b2 = nn.sample(longs({4, 3}));
  in.z0 = torch::tensor({{0.0f, 0.0f, 1.0f}, {0.0f, 0.0f, -1.0f}});
  in.z1 = torch::tensor({{0.2f, 0.9f, 0.1f}, {0.7f, 0.3f, 0.0f}}).requires_grad_();
  nn.on_embeddings(in, b2);
  BOOST_TEST(torch::allclose(in.z1, torch::tensor({{0.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}})));
  BOOST_TEST(!in.z1.requires_grad());  // no gradient through the neighbour
  BOOST_TEST(nn.neighbour_label_agreement() == 1.0);  // 4 -> e_y (label 1), 3 -> e_x (label 0)
  nn.after_step(in);  // FIFO of 3: e_x, e_y, +z, then -z overwrites e_x
  BOOST_TEST(nn.filled() == 3);
  BOOST_TEST(torch::allclose(nn.support_set(), torch::tensor({{0.0f, 0.0f, -1.0f}, {0.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 1.0f}})));

  in.z1 = torch::tensor({{0.0f, 0.1f, -1.0f}, {0.0f, 0.1f, 1.0f}});
  nn.reset_agreement();
  nn.on_embeddings(in, nn.sample(longs({0, 2})));
  // 0 -> -z (enqueued from anchor 3, label 0): agree; 2 -> +z (anchor 4, label 1): disagree.
  BOOST_TEST(nn.neighbour_label_agreement() == 0.5);

  torch::serialize::OutputArchive out;
  nn.save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  pairs::NearestNeighbour restored({.support_size = 3});
  restored.bind(info(6, longs({0, 1, 2, 0, 1, 2}), torch::kCPU));
  torch::serialize::InputArchive arch;
  arch.load_from(buffer);
  restored.load(arch);
  BOOST_TEST(torch::equal(restored.support_set(), nn.support_set()));
  BOOST_TEST(throws_with([] { pairs::NearestNeighbour({.support_size = 0}); }, "support_size must be >= 1"));
}

// Every source plugs into a recipe and trains on the embedded dataset.
template <class P>
void train_a_few_steps(P pairs_source, int64_t min_steps) {
  auto d = data::make_synthetic({.classes = 4, .per_class = 16, .size = 16, .seed = 2});
  auto recipe = ss::recipes::SimCLR::with_views<ss::views::CropFlip>::with_pairs<P>{.views = ss::views::CropFlip({.size = 16}), .pairs = std::move(pairs_source)};
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  ss::Trainer trainer(std::move(recipe), encoder, {.epochs = 2, .batch_size = 8, .log_every = 1});
  auto r = trainer.fit(d);
  BOOST_TEST(r.steps >= min_steps);
  // NT-Xent (tau 0.5) over at most 2 x 8 views: at most 15 candidates per anchor.
  BOOST_TEST(selfsup::test::logged_losses_problem(r.log, static_cast<size_t>(r.steps), 0.0,
                                                  selfsup::test::cosine_softmax_range(15, 0.5).second) == "");
}

BOOST_AUTO_TEST_CASE(sources_train_in_a_recipe) {
  const data::SyntheticOptions opt{.classes = 4, .per_class = 16, .size = 16, .seed = 2};
  auto table = data::make_synthetic_pairs(opt, {.partners = 2, .coverage = 0.5});
  train_a_few_steps(pairs::Semantic(table, {.missing = pairs::MissingPartner::leave_out}), 8);  // 32 anchors
  train_a_few_steps(pairs::SameLabel{}, 16);
  train_a_few_steps(pairs::Mixed<pairs::Semantic, pairs::Augmented>(pairs::Semantic(table), {}, {.p = 0.5}), 16);
  train_a_few_steps(pairs::NearestNeighbour({.support_size = 32}), 16);
}

BOOST_AUTO_TEST_SUITE_END()
