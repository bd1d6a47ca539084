// Budgets on a dataset: class-balanced subsets, the dataset and pair table restricted to them, and
// CIFAR records read by index after their labels (on small files written here).
#include "../support.hpp"

#include <selfsup/data/cifar.hpp>
#include <selfsup/data/subset.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using selfsup::test::throws_with;
namespace data = selfsup::data;
namespace fs = std::filesystem;

namespace {

// Labels 0..C-1 with class c holding 5 + c images, interleaved.
torch::Tensor uneven_labels(int64_t classes) {
  std::vector<int64_t> y;
  for (int64_t round = 0; round < 5 + classes; ++round)
    for (int64_t c = 0; c < classes; ++c)
      if (round < 5 + c) y.push_back(c);
  return torch::tensor(y, torch::kLong);
}

// CIFAR-10 records whose label is i % 10 and whose pixels all equal i % 256.
void write_cifar10(const fs::path& file, int64_t first, int64_t n) {
  std::ofstream out(file, std::ios::binary);
  for (int64_t i = first; i < first + n; ++i) {
    out.put(static_cast<char>(i % 10));
    const std::string pixels(3072, static_cast<char>(i % 256));
    out.write(pixels.data(), static_cast<std::streamsize>(pixels.size()));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_tests)

BOOST_AUTO_TEST_CASE(class_balanced_subset_takes_k_of_every_class) {
  const auto labels = uneven_labels(4);  // 5, 6, 7, 8 images
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto subset = data::class_balanced_subset(labels, 5, seed);
    BOOST_TEST_REQUIRE(subset.numel() == 20);
    BOOST_TEST(torch::equal(labels.index_select(0, subset).bincount(), torch::full({4}, 5, torch::kLong)));
    BOOST_TEST(std::get<0>(torch::unique_dim(subset, 0)).numel() == 20);  // no index twice
    BOOST_TEST(torch::equal(subset, std::get<0>(torch::sort(subset))));    // ascending
  }
  // Class 0 has exactly 5 images: all of them, whatever the seed.
  const auto all_of_class0 = torch::nonzero(labels == 0).flatten();
  const auto subset = data::class_balanced_subset(labels, 5, 3);
  BOOST_TEST(torch::equal(subset.masked_select(labels.index_select(0, subset) == 0), all_of_class0));
  // Unlabeled images (label -1) are never chosen.
  const auto with_unlabeled = torch::cat({labels, torch::full({10}, -1, torch::kLong)});
  const auto s = data::class_balanced_subset(with_unlabeled, 2, 1);
  BOOST_TEST(s.numel() == 8);
  BOOST_TEST(s.max().item<int64_t>() < labels.numel());
}

BOOST_AUTO_TEST_CASE(class_balanced_subset_is_deterministic_by_seed) {
  const auto labels = torch::arange(1000, torch::kLong).remainder(10);
  const auto a = data::class_balanced_subset(labels, 30, 7);
  BOOST_TEST(torch::equal(a, data::class_balanced_subset(labels, 30, 7)));
  std::set<std::vector<int64_t>> distinct;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const auto s = data::class_balanced_subset(labels, 30, seed);
    distinct.insert(std::vector<int64_t>(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel()));
  }
  BOOST_TEST(distinct.size() == 10u);  // each seed draws its own subset
}

BOOST_AUTO_TEST_CASE(class_balanced_subset_refuses_more_than_a_class_has) {
  const auto labels = uneven_labels(4);
  BOOST_TEST(throws_with([&] { data::class_balanced_subset(labels, 6, 0, "--per-class"); },
                         "--per-class 6 exceeds the 5 images of class 0 (the smallest of the 4 classes"));
  BOOST_TEST(throws_with([&] { data::class_balanced_subset(labels, 0, 0, "--per-class"); },
                         "--per-class must be at least 1, got 0"));
}

BOOST_AUTO_TEST_CASE(subset_keeps_images_and_labels_in_order) {
  auto images = torch::arange(6, torch::kLong).to(torch::kByte).view({6, 1, 1, 1}).expand({6, 3, 2, 2}).contiguous();
  data::InMemoryDataset d(images, torch::tensor({0, 1, 0, 1, 0, 1}, torch::kLong));
  auto s = data::subset(d, torch::tensor({1, 4, 5}, torch::kLong));
  BOOST_TEST(s.size() == 3);
  BOOST_TEST(torch::equal(s.all_images().select(1, 0).flatten(1).select(1, 0),
                          torch::tensor({1, 4, 5}, torch::kByte)));
  BOOST_TEST(torch::equal(s.all_labels(), torch::tensor({1, 0, 1}, torch::kLong)));
}

BOOST_AUTO_TEST_CASE(remap_pairs_keeps_pairs_inside_the_subset) {
  const auto table = data::make_pair_table(torch::tensor({0, 2, 4, 6, 8}, torch::kLong),
                                           torch::tensor({2, 3, 8, 7, 0}, torch::kLong),
                                           torch::tensor({10, 11, 12, 13, 14}, torch::kLong));
  const auto kept = torch::tensor({0, 2, 4, 8}, torch::kLong);  // positions 0, 1, 2, 3
  const auto r = data::remap_pairs(table, kept, 10);
  BOOST_TEST(r.dropped == 2);  // (2, 3) and (6, 7) each have an image outside
  BOOST_TEST(torch::equal(r.table.first, torch::tensor({0, 2, 3}, torch::kLong)));
  BOOST_TEST(torch::equal(r.table.second, torch::tensor({1, 3, 0}, torch::kLong)));
  BOOST_TEST(torch::equal(r.table.classes, torch::tensor({10, 12, 14}, torch::kLong)));
  BOOST_TEST(throws_with([&] { data::remap_pairs(table, torch::tensor({10}, torch::kLong), 10); },
                         "indices must lie in [0, 10)"));
}

BOOST_AUTO_TEST_CASE(cifar_labels_first_then_the_chosen_records) {
  const auto dir = fs::temp_directory_path() / "selfsup_subset_tests" / "cifar-10-batches-bin";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int b = 0; b < 5; ++b) write_cifar10(dir / ("data_batch_" + std::to_string(b + 1) + ".bin"), b * 30, 30);
  const auto labels = data::read_cifar10_labels(dir.parent_path());
  BOOST_TEST_REQUIRE(labels.numel() == 150);
  BOOST_TEST(torch::equal(labels, torch::arange(150, torch::kLong).remainder(10)));
  const auto chosen = data::class_balanced_subset(labels, 4, 11);
  const auto d = data::read_cifar10(dir.parent_path(), data::CifarSplit::train, torch::kCPU, chosen);
  BOOST_TEST_REQUIRE(d.size() == 40);
  BOOST_TEST(torch::equal(d.all_labels(), chosen.remainder(10)));
  // Record i's pixels are all i % 256: the images are those of the chosen records.
  BOOST_TEST(torch::equal(d.all_images().flatten(1).select(1, 3071).to(torch::kLong), chosen.remainder(256)));
  BOOST_TEST(torch::equal(d.all_images().amin({1, 2, 3}), d.all_images().amax({1, 2, 3})));
}

BOOST_AUTO_TEST_SUITE_END()
