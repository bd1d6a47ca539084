#include "../support.hpp"

#include <selfsup/data/in_memory.hpp>
#include <selfsup/data/sampler.hpp>
#include <selfsup/data/synthetic.hpp>

#include <boost/test/unit_test.hpp>

using selfsup::test::throws_with;
namespace data = selfsup::data;

BOOST_AUTO_TEST_SUITE(data_tests)

BOOST_AUTO_TEST_CASE(synthetic_shapes_labels_and_determinism) {
  const data::SyntheticOptions opt{.classes = 7, .per_class = 9, .size = 24, .seed = 5};
  auto a = data::make_synthetic(opt);
  auto b = data::make_synthetic(opt);
  BOOST_TEST(a.size() == 63);
  BOOST_TEST(a.all_images().sizes() == torch::IntArrayRef({63, 3, 24, 24}));
  BOOST_TEST(a.all_images().scalar_type() == torch::kByte);
  BOOST_TEST(torch::equal(a.all_images(), b.all_images()));
  BOOST_TEST(torch::equal(a.all_labels().bincount(), torch::full({7}, 9, torch::kLong)));
  auto other_seed = data::make_synthetic({.classes = 7, .per_class = 9, .size = 24, .seed = 6});
  BOOST_TEST(!torch::equal(a.all_images(), other_seed.all_images()));
  auto test = data::make_synthetic(opt, data::SyntheticSplit::test);
  auto shifted = data::make_synthetic(opt, data::SyntheticSplit::shifted);
  BOOST_TEST(!torch::equal(a.all_images(), test.all_images()));
  BOOST_TEST(!torch::equal(test.all_images(), shifted.all_images()));
  // Images use the range: not blank, not saturated.
  auto pixels = a.all_images().to(torch::kFloat32);
  BOOST_TEST(pixels.std().item<float>() > 30.0f);
  for (const auto& device : selfsup::test::devices()) {
    BOOST_TEST(torch::equal(data::make_synthetic(opt, data::SyntheticSplit::train, device).all_images().cpu(),
                            a.all_images()));
  }
}

// Two instances of one class differ in rotation, deformation, background and clutter: same-class
// images are far apart in pixel space, not near-copies.
BOOST_AUTO_TEST_CASE(synthetic_instances_of_a_class_differ) {
  auto d = data::make_synthetic({.classes = 10, .per_class = 20, .size = 32, .seed = 1});
  auto x = d.all_images().to(torch::kFloat32).flatten(1);
  auto y = d.all_labels();
  auto dist = torch::cdist(x, x);
  auto same = y.unsqueeze(0).eq(y.unsqueeze(1)) & ~torch::eye(200, torch::kBool);
  BOOST_TEST(dist.masked_select(same).min().item<float>() > 500.0f);
}

// The two versions of the embedded dataset: the same labels, the same shifted split, and train
// images whose backgrounds are a smooth gradient (reachable) or stripes, texture and clutter
// (unreachable). A pixel whose second difference with its neighbours exceeds the rounding's
// (|x[i+1] - 2 x[i] + x[i-1]| > 2) sits on structure finer than a gradient: on a reachable
// image only at the object's edge, while stripes, texture and the clutter discs' edges add more.
BOOST_AUTO_TEST_CASE(synthetic_nuisance_versions) {
  const data::SyntheticOptions reachable{.classes = 10, .per_class = 30, .size = 32, .seed = 4};
  data::SyntheticOptions unreachable = reachable;
  unreachable.nuisance = data::SyntheticNuisance::unreachable;
  BOOST_TEST((data::SyntheticOptions{}.nuisance == data::SyntheticNuisance::reachable));
  const auto r = data::make_synthetic(reachable);
  const auto u = data::make_synthetic(unreachable);
  BOOST_TEST(torch::equal(r.all_labels(), u.all_labels()));
  BOOST_TEST(!torch::equal(r.all_images(), u.all_images()));
  BOOST_TEST(torch::equal(data::make_synthetic(reachable, data::SyntheticSplit::shifted).all_images(),
                          data::make_synthetic(unreachable, data::SyntheticSplit::shifted).all_images()));
  auto roughness = [](const torch::Tensor& images) {
    const auto x = images.to(torch::kFloat32);
    const int64_t w = x.size(3);
    return (x.narrow(3, 2, w - 2) - 2 * x.narrow(3, 1, w - 2) + x.narrow(3, 0, w - 2))
        .abs().gt(2.0).to(torch::kFloat32).mean().item<double>();
  };
  BOOST_TEST_MESSAGE("roughness: reachable " << roughness(r.all_images()) << ", unreachable "
                                             << roughness(u.all_images()));
  BOOST_TEST(roughness(r.all_images()) < 0.8 * roughness(u.all_images()));
  // A corner pixel of a reachable image lies on its gradient: the four corners of the background
  // are all different colours unless the object covers them (it does not, at these radii).
  const auto corners = r.all_images().index({torch::indexing::Slice(), 0, 0, 0}).to(torch::kFloat32) -
                       r.all_images().index({torch::indexing::Slice(), 0, 31, 31}).to(torch::kFloat32);
  BOOST_TEST(corners.abs().mean().item<double>() > 1.0);
}

BOOST_AUTO_TEST_CASE(synthetic_bad_options) {
  BOOST_TEST(throws_with([] { data::make_synthetic({.classes = 1}); }, "make_synthetic: classes must be in [2, 20]"));
  BOOST_TEST(throws_with([] { data::make_synthetic({.per_class = 0}); }, "per_class must be positive"));
  BOOST_TEST(throws_with([] { data::make_synthetic({.size = 8}); }, "size must be at least 16"));
}

BOOST_AUTO_TEST_CASE(in_memory_dataset) {
  auto images = torch::randint(0, 256, {6, 3, 4, 4}, torch::kByte);
  auto labels = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong);
  data::InMemoryDataset d(images, labels);
  auto idx = torch::tensor({5, 0, 3}, torch::kLong);
  BOOST_TEST(torch::equal(d.images(idx), images.index_select(0, idx)));
  BOOST_TEST(torch::equal(d.labels(idx), torch::tensor({2, 0, 0}, torch::kLong)));
  BOOST_TEST(!data::InMemoryDataset(images).labels(idx).defined());
  BOOST_TEST(throws_with([&] { data::InMemoryDataset(images.to(torch::kFloat32)); }, "InMemoryDataset: images must be uint8"));
  BOOST_TEST(throws_with([&] { data::InMemoryDataset(images, labels.narrow(0, 0, 5)); }, "6 images but 5 labels"));
  BOOST_TEST(throws_with([&] { data::InMemoryDataset(images.narrow(0, 0, 0)); }, "the dataset is empty"));
}

BOOST_AUTO_TEST_CASE(sampler_epochs_are_seeded_permutations) {
  data::EpochSampler s(103, {.batch_size = 10, .drop_last = true, .seed = 4}, torch::kCPU);
  BOOST_TEST(s.batches_per_epoch() == 10);
  auto e0 = s.epoch(0), e0_again = s.epoch(0), e1 = s.epoch(1);
  BOOST_TEST(e0.size() == 10u);
  auto all0 = torch::cat(e0);
  auto sorted = std::get<0>(all0.sort());
  BOOST_TEST(all0.size(0) == 100);
  BOOST_TEST(sorted.slice(0, 1).ne(sorted.slice(0, 0, -1)).all().item<bool>());  // no repeats
  BOOST_TEST(torch::equal(all0, torch::cat(e0_again)));
  BOOST_TEST(!torch::equal(all0, torch::cat(e1)));
  data::EpochSampler keep(103, {.batch_size = 10, .drop_last = false}, torch::kCPU);
  auto batches = keep.epoch(0);
  BOOST_TEST(batches.size() == 11u);
  BOOST_TEST(batches.back().size(0) == 3);
  BOOST_TEST(torch::equal(std::get<0>(torch::cat(batches).sort()), torch::arange(103)));
  BOOST_TEST(throws_with([] { data::EpochSampler(50, {.batch_size = 64}, torch::kCPU); }, "batch_size 64 is larger than the dataset (50 images)"));
  auto subset = torch::tensor({4, 9, 2, 30, 31}, torch::kLong);
  data::EpochSampler some(103, {.batch_size = 2, .drop_last = false, .seed = 1}, torch::kCPU, subset);
  BOOST_TEST(some.batches_per_epoch() == 3);
  BOOST_TEST(torch::equal(std::get<0>(torch::cat(some.epoch(0)).sort()), std::get<0>(subset.sort())));
  BOOST_TEST(throws_with([&] { data::EpochSampler(103, {.batch_size = 8}, torch::kCPU, subset); }, "larger than the dataset (5 anchors)"));
  BOOST_TEST(throws_with([] { data::EpochSampler(103, {}, torch::kCPU, torch::empty({0}, torch::kLong)); }, "the subset of anchors is empty"));
}

BOOST_AUTO_TEST_SUITE_END()
