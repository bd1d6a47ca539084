// The semantic pair table: CSV reading and validation, writing, statistics, the CSR adjacency,
// partner draws, and the embedded dataset's curated table.
#include "../support.hpp"

#include <selfsup/data/pair_table.hpp>
#include <selfsup/data/sampler.hpp>
#include <selfsup/data/synthetic.hpp>
#include <selfsup/detail/torch_compat.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

using selfsup::test::throws_with;
namespace data = selfsup::data;
namespace fs = std::filesystem;

namespace {

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.cpu().contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

fs::path temp_file(const std::string& name, const std::string& text) {
  auto dir = fs::temp_directory_path() / "selfsup_pair_table_tests";
  fs::create_directories(dir);
  auto path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_tests)

BOOST_AUTO_TEST_CASE(pair_table_parses_indices_and_class_names) {
  auto t = data::parse_pair_table("first,second,class\r\n"
                                  "# a comment\n"
                                  "3, 7 ,cat\n"
                                  "\n"
                                  "7,1,dog\r\n"
                                  "+2,0,cat\n",
                                  {.dataset_size = 8});
  BOOST_TEST(to_vector(t.first) == std::vector<int64_t>({3, 7, 2}));
  BOOST_TEST(to_vector(t.second) == std::vector<int64_t>({7, 1, 0}));
  BOOST_TEST(to_vector(t.classes) == std::vector<int64_t>({0, 1, 0}));
  BOOST_TEST(t.class_names == std::vector<std::string>({"cat", "dog"}));
  // Integer classes are kept as given; no class column: no classes.
  auto ints = data::parse_pair_table("first,second,class\n0,1,4\n1,2,9\n");
  BOOST_TEST(to_vector(ints.classes) == std::vector<int64_t>({4, 9}));
  BOOST_TEST(ints.class_names.empty());
  auto plain = data::parse_pair_table("\xEF\xBB\xBF" "first,second\n5,6");  // BOM, no final newline
  BOOST_TEST(!plain.has_classes());
  BOOST_TEST(to_vector(plain.first) == std::vector<int64_t>({5}));
  BOOST_TEST(data::parse_pair_table("first,second\n").size() == 0);
}

BOOST_AUTO_TEST_CASE(pair_table_resolves_relative_paths) {
  const std::vector<std::string> paths{"cat/a.jpg", "cat/b.jpg", "dog/c.png", "dog/d.png"};
  auto t = data::parse_pair_table("first,second\ncat/a.jpg,cat/b.jpg\n./dog/d.png,2\n",
                                  {.paths = paths});
  BOOST_TEST(to_vector(t.first) == std::vector<int64_t>({0, 3}));
  BOOST_TEST(to_vector(t.second) == std::vector<int64_t>({1, 2}));
  // The number of paths bounds the indices.
  BOOST_TEST(throws_with([&] { data::parse_pair_table("first,second\n0,4\n", {.paths = paths}); },
                         "<text>:2: index 4 is out of range for a dataset of 4 images"));
  BOOST_TEST(throws_with([&] { data::parse_pair_table("first,second\n\ncat/a.jpg,cat/x.jpg\n", {.paths = paths}); },
                         "<text>:3: unknown image path 'cat/x.jpg' (not among the dataset's 4 images)"));
  BOOST_TEST(throws_with([] { data::parse_pair_table("first,second\ncat/a.jpg,1\n"); },
                         "'cat/a.jpg' is not an index, and no image paths were given"));
}

BOOST_AUTO_TEST_CASE(pair_table_reports_bad_input_with_file_and_line) {
  const auto missing = fs::temp_directory_path() / "selfsup_no_such_dir" / "pairs.csv";
  BOOST_TEST(throws_with([&] { data::read_pair_table(missing); },
                         "read_pair_table: cannot open " + missing.string()));
  auto file = temp_file("bad_range.csv", "first,second\n0,1\n2,10\n");
  BOOST_TEST(throws_with([&] { data::read_pair_table(file, {.dataset_size = 10}); },
                         "read_pair_table: " + file.string() + ":3: index 10 is out of range for a dataset of 10 images"));
  // Loaded without a bound, the same file is fine.
  BOOST_TEST(data::read_pair_table(file).size() == 2);
  auto self = temp_file("self.csv", "first,second,class\n0,1,0\n4,4,1\n");
  BOOST_TEST(throws_with([&] { data::read_pair_table(self); }, self.string() + ":3: image 4 is paired with itself"));
  auto header = temp_file("header.csv", "a,b\n0,1\n");
  BOOST_TEST(throws_with([&] { data::read_pair_table(header); },
                         header.string() + ":1: expected the header 'first,second' or 'first,second,class', got 'a,b'"));
  auto fields = temp_file("fields.csv", "first,second,class\n0,1,2\n0,1\n");
  BOOST_TEST(throws_with([&] { data::read_pair_table(fields); }, fields.string() + ":3: expected 3 comma-separated fields, got 2"));
  auto empty = temp_file("empty.csv", "");
  BOOST_TEST(throws_with([&] { data::read_pair_table(empty); }, "no header line 'first,second[,class]'; the file is empty"));
  BOOST_TEST(throws_with([] { data::parse_pair_table("first,second\n-3,1\n"); }, "<text>:2: index -3 is negative"));
  BOOST_TEST(throws_with([] { data::parse_pair_table("first,second\n99999999999999999999,1\n"); }, "does not fit in 64 bits"));
  BOOST_TEST(throws_with([] { data::parse_pair_table("first,second\n,1\n"); }, "<text>:2: the first entry is empty"));
  BOOST_TEST(throws_with([] { data::parse_pair_table("first,second,class\n0,1,\n"); }, "<text>:2: the class entry is empty"));
}

BOOST_AUTO_TEST_CASE(pair_table_write_read_round_trip) {
  data::PairTable t{torch::tensor({0, 2, 3}, torch::kLong), torch::tensor({1, 0, 1}, torch::kLong),
                    torch::tensor({1, 0, 1}, torch::kLong), {"tench", "goldfish"}};
  auto dir = fs::temp_directory_path() / "selfsup_pair_table_tests";
  fs::create_directories(dir);
  data::write_pair_table(dir / "ids.csv", t);
  std::ifstream in(dir / "ids.csv");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(text == "first,second,class\n0,1,goldfish\n2,0,tench\n3,1,goldfish\n");
  const std::vector<std::string> paths{"x/0.png", "x/1.png", "y/2.png", "y/3.png"};
  data::write_pair_table(dir / "paths.csv", t, paths);
  auto back = data::read_pair_table(dir / "paths.csv", {.paths = paths});
  BOOST_TEST(torch::equal(back.first, t.first));
  BOOST_TEST(torch::equal(back.second, t.second));
  // Names get ids in order of first appearance: goldfish 0, tench 1.
  BOOST_TEST(to_vector(back.classes) == std::vector<int64_t>({0, 1, 0}));
  BOOST_TEST(back.class_names == std::vector<std::string>({"goldfish", "tench"}));
  const std::vector<std::string> bad{"a,b.png", "c.png", "d.png", "e.png"};
  BOOST_TEST(throws_with([&] { data::write_pair_table(dir / "bad.csv", t, bad); }, "write_pair_table: image path 'a,b.png' cannot be written"));
}

BOOST_AUTO_TEST_CASE(pair_table_statistics) {
  // Pairs {0,1} (listed twice, once reversed) and {2,3}; 6 images, so 4 and 5 have no partner.
  data::PairTable t{torch::tensor({0, 1, 2}, torch::kLong), torch::tensor({1, 0, 3}, torch::kLong),
                    torch::tensor({7, 7, 8}, torch::kLong), {}};
  auto s = data::pair_table_stats(t, 6);
  BOOST_TEST(s.pairs == 3);
  BOOST_TEST(s.distinct_pairs == 2);
  BOOST_TEST(s.classes == 2);
  BOOST_TEST(s.anchors_with_partner == 4);
  BOOST_TEST(s.anchors_without_partner == 2);
  BOOST_TEST(s.mean_partners == 1.0);
  // A star: 0 with 1, 2, 3.
  data::PairTable star{torch::tensor({0, 0, 3}, torch::kLong), torch::tensor({1, 2, 0}, torch::kLong), {}, {}};
  auto ss = data::pair_table_stats(star, 4);
  BOOST_TEST(ss.classes == 0);
  BOOST_TEST(ss.mean_partners == 6.0 / 4.0);
  BOOST_TEST(throws_with([&] { data::pair_table_stats(star, 3); }, "pair_table_stats: the table names index 3, out of range"));
}

BOOST_AUTO_TEST_CASE(adjacency_is_csr_of_unordered_pairs) {
  data::PairTable t{torch::tensor({0, 0, 2, 4}, torch::kLong), torch::tensor({2, 3, 0, 1}, torch::kLong),
                    torch::tensor({5, 6, 5, 7}, torch::kLong), {}};
  for (const auto& device : selfsup::test::devices()) {
    auto adj = data::make_adjacency(t, 5, device);
    BOOST_TEST(adj.offsets.device() == device);
    // Partners: 0 -> {2, 3}, 1 -> {4}, 2 -> {0}, 3 -> {0}, 4 -> {1}.
    BOOST_TEST(to_vector(adj.offsets) == std::vector<int64_t>({0, 2, 3, 4, 5, 6}));
    BOOST_TEST(to_vector(adj.partners) == std::vector<int64_t>({2, 3, 4, 0, 0, 1}));
    BOOST_TEST(to_vector(adj.classes) == std::vector<int64_t>({5, 6, 7, 5, 6, 7}));
    BOOST_TEST(to_vector(adj.degree()) == std::vector<int64_t>({2, 1, 1, 1, 1}));
    auto directed = data::make_adjacency(t, 6, device, /*symmetric=*/false);
    BOOST_TEST(to_vector(directed.offsets) == std::vector<int64_t>({0, 2, 2, 3, 3, 4, 4}));
    BOOST_TEST(to_vector(directed.partners) == std::vector<int64_t>({2, 3, 0, 1}));
  }
  BOOST_TEST(throws_with([&] { data::make_adjacency(t, 4, torch::kCPU); }, "make_adjacency: the pair table names index 4"));
}

BOOST_AUTO_TEST_CASE(draw_partners_is_uniform_over_each_row) {
  // Image 0 has partners {1, 2, 3, 4}; 5 has {6}; 7 has none.
  data::PairTable t{torch::tensor({0, 0, 0, 0, 5}, torch::kLong), torch::tensor({1, 2, 3, 4, 6}, torch::kLong), {}, {}};
  for (const auto& device : selfsup::test::devices()) {
    auto adj = data::make_adjacency(t, 8, device);
    auto gen = selfsup::detail::make_generator(device, 3);
    auto anchors = torch::tensor({0, 5, 7, 1}, torch::TensorOptions().dtype(torch::kLong).device(device))
                       .repeat({4000});
    auto d = data::draw_partners(adj, anchors, gen);
    auto p = d.partners.cpu().view({4000, 4});
    BOOST_TEST(to_vector(d.has_partner.cpu().view({4000, 4})[0].to(torch::kLong)) == std::vector<int64_t>({1, 1, 0, 1}));
    BOOST_TEST(p.select(1, 1).eq(6).all().item<bool>());
    BOOST_TEST(p.select(1, 2).eq(7).all().item<bool>());  // no partner: itself
    BOOST_TEST(p.select(1, 3).eq(0).all().item<bool>());  // 1's only partner is 0
    auto counts = torch::bincount(p.select(1, 0), {}, 8).to(torch::kFloat64);
    BOOST_TEST(counts[0].item<double>() == 0.0);
    for (int64_t j = 1; j <= 4; ++j) {  // 4000 draws, 1000 expected each, sd ~27
      BOOST_TEST(std::abs(counts[j].item<double>() - 1000.0) < 150.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(make_pair_table_checks_tensors) {
  auto t = data::make_pair_table(torch::tensor({0, 1}, torch::kLong), torch::tensor({2, 3}, torch::kLong));
  BOOST_TEST(t.size() == 2);
  BOOST_TEST(throws_with([] { data::make_pair_table(torch::tensor({0, 1}, torch::kLong), torch::tensor({2, 1}, torch::kLong)); },
                         "make_pair_table: pair 1 pairs image 1 with itself"));
  BOOST_TEST(throws_with([] { data::make_pair_table(torch::tensor({0}, torch::kLong), torch::tensor({5}, torch::kLong), {}, 5); },
                         "index 5 is out of range for a dataset of 5 images"));
  BOOST_TEST(throws_with([] { data::make_pair_table(torch::tensor({0}, torch::kInt), torch::tensor({5}, torch::kLong)); }, "must be int64"));
}

BOOST_AUTO_TEST_CASE(synthetic_pairs_are_curated_same_class_pairs) {
  const data::SyntheticOptions opt{.classes = 5, .per_class = 40, .size = 16, .seed = 2};
  auto t = data::make_synthetic_pairs(opt, {.partners = 3});
  const int64_t n = 200;
  auto label = [&](const torch::Tensor& i) { return i.remainder(opt.classes); };  // image i: i % classes
  BOOST_TEST(t.size() == 3 * n);
  BOOST_TEST(label(t.first).eq(label(t.second)).all().item<bool>());
  BOOST_TEST(t.first.ne(t.second).all().item<bool>());
  BOOST_TEST(torch::equal(t.classes, label(t.first)));
  auto s = data::pair_table_stats(t, n);
  BOOST_TEST(s.anchors_without_partner == 0);
  BOOST_TEST(s.mean_partners > 4.0);  // about 2 · 3 distinct partners each, few repeats
  BOOST_TEST(torch::equal(t.second, data::make_synthetic_pairs(opt, {.partners = 3}).second));
  BOOST_TEST(!torch::equal(t.second, data::make_synthetic_pairs(opt, {.partners = 3, .seed = 1}).second));

  auto half = data::make_synthetic_pairs(opt, {.partners = 2, .coverage = 0.5});
  auto hs = data::pair_table_stats(half, n);
  BOOST_TEST(hs.anchors_with_partner == 100);
  BOOST_TEST(hs.anchors_without_partner == 100);

  for (double f : {0.1, 0.25}) {
    auto noisy = data::make_synthetic_pairs(opt, {.partners = 2, .wrong_fraction = f, .seed = 4});
    const auto wrong = label(noisy.first).ne(label(noisy.second)).sum().item<int64_t>();
    BOOST_TEST(wrong == std::llround(f * 400));
    BOOST_TEST(noisy.first.ne(noisy.second).all().item<bool>());
  }
  BOOST_TEST(throws_with([&] { data::make_synthetic_pairs(opt, {.coverage = 0.0}); }, "make_synthetic_pairs: coverage must be in (0, 1]"));
  BOOST_TEST(throws_with([&] { data::make_synthetic_pairs(opt, {.wrong_fraction = 1.5}); }, "wrong_fraction must be in [0, 1]"));
}

BOOST_AUTO_TEST_CASE(in_memory_dataset_rejects_wrong_channel_count) {
  auto images = torch::zeros({2, 4, 8, 8}, torch::kByte);
  BOOST_TEST(throws_with([&] { data::InMemoryDataset{images}; }, "InMemoryDataset: images must have 1 (grey) or 3 (RGB) channels"));
  BOOST_TEST(data::InMemoryDataset(torch::zeros({2, 1, 8, 8}, torch::kByte)).size() == 2);
}

BOOST_AUTO_TEST_CASE(sampler_shards_anchors_across_ranks_without_overlap) {
  // 103 images over 3 ranks: 34 each (one left out per epoch), disjoint, in equal batch counts.
  std::vector<torch::Tensor> shards;
  for (int64_t rank = 0; rank < 3; ++rank) {
    data::EpochSampler s(103, {.batch_size = 8, .drop_last = false, .seed = 2, .rank = rank, .world_size = 3}, torch::kCPU);
    BOOST_TEST(s.batches_per_epoch() == 5);
    auto e = torch::cat(s.epoch(4));
    BOOST_TEST(e.size(0) == 34);
    BOOST_TEST(torch::equal(e, torch::cat(s.epoch(4))));
    shards.push_back(e);
  }
  auto all = std::get<0>(torch::cat(shards).sort());
  BOOST_TEST(all.size(0) == 102);
  BOOST_TEST(all.slice(0, 1).ne(all.slice(0, 0, -1)).all().item<bool>());  // no anchor on two ranks
  BOOST_TEST(all.ge(0).all().item<bool>());
  BOOST_TEST(all.lt(103).all().item<bool>());
  // One rank is the unsharded sampler; shards of a subset stay inside it.
  data::EpochSampler one(103, {.batch_size = 8, .seed = 2}, torch::kCPU);
  data::EpochSampler one_rank(103, {.batch_size = 8, .seed = 2, .rank = 0, .world_size = 1}, torch::kCPU);
  BOOST_TEST(torch::equal(torch::cat(one.epoch(1)), torch::cat(one_rank.epoch(1))));
  auto subset = torch::tensor({5, 9, 11, 40, 41, 42}, torch::kLong);
  data::EpochSampler a(103, {.batch_size = 3, .rank = 0, .world_size = 2}, torch::kCPU, subset);
  data::EpochSampler b(103, {.batch_size = 3, .rank = 1, .world_size = 2}, torch::kCPU, subset);
  auto ab = std::get<0>(torch::cat({a.epoch(0)[0], b.epoch(0)[0]}).sort());
  BOOST_TEST(torch::equal(ab, subset));
  BOOST_TEST(throws_with([] { data::EpochSampler(10, {.batch_size = 1, .rank = 2, .world_size = 2}, torch::kCPU); },
                         "EpochSampler: rank must be in [0, world_size), got rank 2 and world_size 2"));
  BOOST_TEST(throws_with([] { data::EpochSampler(3, {.batch_size = 1, .world_size = 4}, torch::kCPU); },
                         "EpochSampler: 3 images cannot be shared among 4 ranks"));
}

BOOST_AUTO_TEST_SUITE_END()
