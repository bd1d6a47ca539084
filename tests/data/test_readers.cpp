// CIFAR-10/100 and STL-10 binary readers on small files written here in those formats.
#include "../support.hpp"

#include <selfsup/data/cifar.hpp>
#include <selfsup/data/stl10.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using selfsup::test::throws_with;
namespace data = selfsup::data;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / "selfsup_reader_tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

// Pixel (c, y, x) of image r, a value that differs along every axis.
int pixel(int64_t r, int64_t c, int64_t y, int64_t x) { return static_cast<int>((r * 11 + c * 5 + y * 7 + x * 3) % 256); }

// CIFAR records: label bytes, then R, G, B planes in row-major order.
std::vector<uint8_t> cifar_records(int64_t first, int64_t n, const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<uint8_t> out;
  for (int64_t r = 0; r < n; ++r) {
    for (const auto& l : labels[r]) out.push_back(l);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) out.push_back(static_cast<uint8_t>(pixel(first + r, c, y, x)));
  }
  return out;
}

// The expected images, built from the index grids rather than from the bytes.
torch::Tensor expected_images(int64_t first, int64_t n, int64_t side) {
  auto r = torch::arange(first, first + n).view({n, 1, 1, 1});
  auto c = torch::arange(3).view({1, 3, 1, 1});
  auto y = torch::arange(side).view({1, 1, side, 1});
  auto x = torch::arange(side).view({1, 1, 1, side});
  return (r * 11 + c * 5 + y * 7 + x * 3).remainder(256).to(torch::kByte);
}

// STL-10 images: R, G, B planes, each in column-major order (x outer, y inner).
std::vector<uint8_t> stl_images(int64_t n) {
  std::vector<uint8_t> out;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t x = 0; x < 96; ++x)
        for (int64_t y = 0; y < 96; ++y) out.push_back(static_cast<uint8_t>(pixel(r, c, y, x)));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_tests)

BOOST_AUTO_TEST_CASE(cifar10_reads_all_train_batches_in_order) {
  auto root = fresh_dir("cifar10");
  auto dir = root / "cifar-10-batches-bin";
  fs::create_directories(dir);
  std::vector<int64_t> all_labels;
  for (int b = 1; b <= 5; ++b) {
    std::vector<std::vector<uint8_t>> labels;
    for (int r = 0; r < 3; ++r) {
      labels.push_back({static_cast<uint8_t>((b * 3 + r) % 10)});
      all_labels.push_back((b * 3 + r) % 10);
    }
    write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), cifar_records((b - 1) * 3, 3, labels));
  }
  write_bytes(dir / "test_batch.bin", cifar_records(0, 2, {{9}, {0}}));
  for (const auto& device : selfsup::test::devices()) {
    auto train = data::read_cifar10(root, data::CifarSplit::train, device);  // root holding the folder
    BOOST_TEST(train.size() == 15);
    BOOST_TEST(train.device() == device);
    BOOST_TEST(torch::equal(train.all_images().cpu(), expected_images(0, 15, 32)));
    BOOST_TEST(torch::equal(train.all_labels().cpu(), torch::tensor(all_labels, torch::kLong)));
  }
  auto test = data::read_cifar10(dir, data::CifarSplit::test);  // the folder itself
  BOOST_TEST(torch::equal(test.all_labels(), torch::tensor({9, 0}, torch::kLong)));
  BOOST_TEST(torch::equal(test.all_images(), expected_images(0, 2, 32)));
}

BOOST_AUTO_TEST_CASE(cifar100_fine_and_coarse_labels) {
  auto dir = fresh_dir("cifar100");
  write_bytes(dir / "train.bin", cifar_records(0, 3, {{3, 77}, {19, 99}, {0, 5}}));
  auto fine = data::read_cifar100(dir);
  BOOST_TEST(torch::equal(fine.all_labels(), torch::tensor({77, 99, 5}, torch::kLong)));
  BOOST_TEST(torch::equal(fine.all_images(), expected_images(0, 3, 32)));
  auto coarse = data::read_cifar100(dir, data::CifarSplit::train, data::Cifar100Labels::coarse);
  BOOST_TEST(torch::equal(coarse.all_labels(), torch::tensor({3, 19, 0}, torch::kLong)));
}

BOOST_AUTO_TEST_CASE(cifar_bad_files_name_the_file_and_byte_offset) {
  auto dir = fresh_dir("cifar_bad");
  auto records = cifar_records(0, 2, {{1}, {2}});
  auto truncated = records;
  truncated.resize(3073 + 100);
  write_bytes(dir / "test_batch.bin", truncated);
  const auto file = (dir / "test_batch.bin").string();
  BOOST_TEST(throws_with([&] { data::read_cifar10(dir, data::CifarSplit::test); },
                         "read_cifar10: " + file + " is truncated or not in the expected format: 3173 bytes is not a "
                         "whole number of 3073-byte records; the last one starts at byte offset 3073 and has only 100 bytes"));
  auto bad_label = records;
  bad_label[3073] = 10;  // the second record's label
  write_bytes(dir / "test_batch.bin", bad_label);
  BOOST_TEST(throws_with([&] { data::read_cifar10(dir, data::CifarSplit::test); },
                         file + ": record 1 at byte offset 3073 has label 10, outside [0, 10)"));
  write_bytes(dir / "test_batch.bin", {});
  BOOST_TEST(throws_with([&] { data::read_cifar10(dir, data::CifarSplit::test); }, file + " is empty (0 bytes)"));
  BOOST_TEST(throws_with([&] { data::read_cifar10(dir, data::CifarSplit::train); },
                         "read_cifar10: cannot open " + (dir / "data_batch_1.bin").string()));
  // A CIFAR-10 file read as CIFAR-100: 2 records of 3073 bytes are not whole 3074-byte records.
  write_bytes(dir / "test.bin", records);
  BOOST_TEST(throws_with([&] { data::read_cifar100(dir, data::CifarSplit::test); }, "not a whole number of 3074-byte records"));
  auto fine_bad = cifar_records(0, 1, {{3, 100}});
  BOOST_TEST(throws_with([&] { data::decode_cifar(fine_bad, data::CifarFormat::cifar100(), "x.bin"); },
                         "decode_cifar: x.bin: record 0 at byte offset 1 has label 100, outside [0, 100)"));
}

BOOST_AUTO_TEST_CASE(stl10_images_are_transposed_to_row_major) {
  auto root = fresh_dir("stl10");
  auto dir = root / "stl10_binary";
  fs::create_directories(dir);
  write_bytes(dir / "train_X.bin", stl_images(3));
  write_bytes(dir / "train_y.bin", {1, 10, 4});
  write_bytes(dir / "unlabeled_X.bin", stl_images(2));
  auto train = data::read_stl10(root);
  BOOST_TEST(train.all_images().sizes() == torch::IntArrayRef({3, 3, 96, 96}));
  BOOST_TEST(torch::equal(train.all_images(), expected_images(0, 3, 96)));
  BOOST_TEST(torch::equal(train.all_labels(), torch::tensor({0, 9, 3}, torch::kLong)));
  auto unlabeled = data::read_stl10(root, data::Stl10Split::unlabeled);
  BOOST_TEST(unlabeled.size() == 2);
  BOOST_TEST(!unlabeled.has_labels());
  auto both = data::read_stl10(dir, data::Stl10Split::train_and_unlabeled);
  BOOST_TEST(both.size() == 5);
  BOOST_TEST(torch::equal(both.all_labels(), torch::tensor({0, 9, 3, -1, -1}, torch::kLong)));
  BOOST_TEST(torch::equal(both.all_images().narrow(0, 3, 2), expected_images(0, 2, 96)));
}

BOOST_AUTO_TEST_CASE(stl10_bad_files) {
  auto dir = fresh_dir("stl10_bad");
  auto images = stl_images(2);
  images.resize(images.size() - 1);
  write_bytes(dir / "train_X.bin", images);
  write_bytes(dir / "train_y.bin", {1, 2});
  const auto x = (dir / "train_X.bin").string(), y = (dir / "train_y.bin").string();
  BOOST_TEST(throws_with([&] { data::read_stl10(dir); },
                         "read_stl10: " + x + " is truncated or not in the expected format: 55295 bytes is not a whole "
                         "number of 27648-byte images; the last one starts at byte offset 27648 and has only 27647 bytes"));
  write_bytes(dir / "train_X.bin", stl_images(2));
  write_bytes(dir / "train_y.bin", {1});
  BOOST_TEST(throws_with([&] { data::read_stl10(dir); }, y + " holds 1 labels but " + x + " holds 2 images"));
  write_bytes(dir / "train_y.bin", {3, 0});
  BOOST_TEST(throws_with([&] { data::read_stl10(dir); }, y + ": byte offset 1 holds label 0, outside 1 to 10"));
  BOOST_TEST(throws_with([&] { data::read_stl10(dir, data::Stl10Split::test); }, "read_stl10: cannot open " + (dir / "test_X.bin").string()));
}

BOOST_AUTO_TEST_SUITE_END()
