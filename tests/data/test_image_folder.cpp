// data::ImageFolder on a small folder of JPEG and PNG files written here with libjpeg-turbo and
// libpng, including broken files. Compiled only where those headers exist (selfsup::io).
#include "../support.hpp"

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>)

#include <selfsup/data/image_folder.hpp>
#include <selfsup/data/pair_table.hpp>

#define SELFSUP_EXAMPLES_IMAGE_IO 1
#include "../../examples/common/example_support.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using selfsup::test::throws_with;
namespace data = selfsup::data;
namespace fs = std::filesystem;

namespace {

// An (H, W, 3) test pattern that differs along every axis, as HWC bytes and as a (3, H, W) tensor.
torch::Tensor pattern(int64_t h, int64_t w, int64_t seed) {
  auto y = torch::arange(h).view({1, h, 1});
  auto x = torch::arange(w).view({1, 1, w});
  auto c = torch::arange(3).view({3, 1, 1});
  return (seed * 40 + c * 60 + y * 9 + x * 5).remainder(256).to(torch::kByte);  // (3, H, W)
}

void write_png(const fs::path& path, const torch::Tensor& chw, bool grey = false) {
  auto hwc = grey ? chw[0].contiguous() : chw.permute({1, 2, 0}).contiguous();
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(chw.size(2));
  image.height = static_cast<png_uint_32>(chw.size(1));
  image.format = grey ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  BOOST_REQUIRE(png_image_write_to_file(&image, path.c_str(), 0, hwc.data_ptr<uint8_t>(), 0, nullptr));
}

std::vector<unsigned char> jpeg_bytes(const torch::Tensor& chw) {
  auto hwc = chw.permute({1, 2, 0}).contiguous();
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  BOOST_REQUIRE(tjCompress2(h, hwc.data_ptr<uint8_t>(), static_cast<int>(chw.size(2)), 0,
                            static_cast<int>(chw.size(1)), TJPF_RGB, &buf, &size, TJSAMP_444, 98, 0) == 0);
  std::vector<unsigned char> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(h);
  return out;
}

void write_file(const fs::path& path, const std::vector<unsigned char>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

// root/cat: a.png (8x8), b.jpg (8x8); root/dog: c.png (8x16), d.png (grey 8x8), broken.jpg (a
// truncated JPEG), empty.png (0 bytes), notes.txt (ignored).
fs::path make_folder() {
  auto root = fs::temp_directory_path() / "selfsup_image_folder_test";
  fs::remove_all(root);
  fs::create_directories(root / "cat");
  fs::create_directories(root / "dog");
  write_png(root / "cat" / "a.png", pattern(8, 8, 0));
  write_file(root / "cat" / "b.jpg", jpeg_bytes(torch::full({3, 8, 8}, 100, torch::kByte)));
  write_png(root / "dog" / "c.png", pattern(8, 16, 1));
  write_png(root / "dog" / "d.png", pattern(8, 8, 2), /*grey=*/true);
  auto jpg = jpeg_bytes(pattern(32, 32, 3));
  jpg.resize(jpg.size() / 2);
  write_file(root / "dog" / "broken.jpg", jpg);
  write_file(root / "dog" / "empty.png", {});
  std::ofstream(root / "dog" / "notes.txt") << "not an image";
  return root;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_tests)

BOOST_AUTO_TEST_CASE(image_folder_decodes_and_skips_bad_files) {
  auto root = make_folder();
  data::ImageFolder folder(root, {.size = 8, .threads = 2, .warn = false});
  BOOST_TEST(folder.size() == 4);
  BOOST_TEST(folder.skipped() == 2);
  BOOST_TEST(folder.skipped_files() == std::vector<std::string>({"dog/broken.jpg", "dog/empty.png"}));
  BOOST_TEST(folder.paths() == std::vector<std::string>({"cat/a.png", "cat/b.jpg", "dog/c.png", "dog/d.png"}));
  BOOST_TEST(folder.class_names() == std::vector<std::string>({"cat", "dog"}));
  auto all = torch::arange(4, torch::kLong);
  BOOST_TEST(torch::equal(folder.labels(all), torch::tensor({0, 0, 1, 1}, torch::kLong)));
  auto x = folder.images(all);
  BOOST_TEST(x.sizes() == torch::IntArrayRef({4, 3, 8, 8}));
  BOOST_TEST(torch::equal(x[0], pattern(8, 8, 0)));                        // PNG: lossless, no resize
  BOOST_TEST((x[1].to(torch::kInt) - 100).abs().max().item<int>() <= 2);   // JPEG of a flat grey
  BOOST_TEST(torch::equal(x[2], pattern(8, 16, 1).narrow(2, 4, 8)));       // 8x16: centre crop
  auto grey = pattern(8, 8, 2)[0];
  for (int c = 0; c < 3; ++c) BOOST_TEST(torch::equal(x[3][c], grey));     // grey -> 3 channels
  // Prefetched and direct reads agree; load_all gives the same images.
  auto idx = torch::tensor({3, 0}, torch::kLong);
  folder.prefetch(idx);
  BOOST_TEST(torch::equal(folder.images(idx), x.index_select(0, idx)));
  BOOST_TEST(torch::equal(folder.load_all().all_images(), x));
  // Resized: the 8x8 pattern halved is a 4x4 image, averaged by the antialiased resize.
  data::ImageFolder small(root, {.size = 4, .warn = false});
  BOOST_TEST(small.images(torch::tensor({0}, torch::kLong)).sizes() == torch::IntArrayRef({1, 3, 4, 4}));
  // A pair table can name the folder's images by path.
  auto t = data::parse_pair_table("first,second\ncat/a.png,dog/d.png\n", {.paths = folder.paths()});
  BOOST_TEST(t.first.item<int64_t>() == 0);
  BOOST_TEST(t.second.item<int64_t>() == 3);
  BOOST_TEST(throws_with([&] { folder.images(torch::tensor({4}, torch::kLong)); }, "ImageFolder::images: index 4 is out of range for 4 images"));
}

BOOST_AUTO_TEST_CASE(image_folder_stops_on_bad_files_by_option) {
  auto root = make_folder();
  BOOST_TEST(throws_with([&] { data::ImageFolder(root, {.on_bad = data::BadImage::stop}); },
                         "ImageFolder: cannot decode " + (root / "dog" / "broken.jpg").string() + ": JPEG data"));
  // Header-only checks let the truncated JPEG through; reading it then stops with its name.
  data::ImageFolder lazy(root, {.size = 8, .verify = false, .warn = false});
  BOOST_TEST(lazy.size() == 5);  // only the empty file is caught by its header
  BOOST_TEST(throws_with([&] { lazy.images(torch::tensor({2}, torch::kLong)); }, "cannot decode " + (root / "dog" / "broken.jpg").string()));
  BOOST_TEST(throws_with([&] { data::ImageFolder(root / "cat" / "a.png"); }, "is not a directory"));
  auto empty = fs::temp_directory_path() / "selfsup_image_folder_empty";
  fs::create_directories(empty / "only_class");
  BOOST_TEST(throws_with([&] { data::ImageFolder{empty}; }, "ImageFolder: no .jpg, .jpeg or .png images"));
}

// The examples' --data folder:PATH: PATH/train and PATH/val as labelled folders, and a semantic
// pair table that names training images by path.
BOOST_AUTO_TEST_CASE(examples_load_an_image_folder_with_a_pair_table) {
  auto root = fs::temp_directory_path() / "selfsup_examples_folder_test";
  fs::remove_all(root);
  for (const char* split : {"train", "val"}) {
    for (const char* cls : {"cat", "dog"}) fs::create_directories(root / split / cls);
  }
  write_png(root / "train" / "cat" / "a.png", pattern(8, 8, 0));
  write_png(root / "train" / "cat" / "b.png", pattern(8, 8, 1));
  write_png(root / "train" / "dog" / "c.png", pattern(8, 8, 2));
  write_png(root / "train" / "dog" / "d.png", pattern(8, 8, 3));
  write_png(root / "val" / "cat" / "e.png", pattern(8, 8, 4));
  write_png(root / "val" / "dog" / "f.png", pattern(8, 8, 5));
  std::ofstream(root / "pairs.csv") << "first,second\ndog/d.png,dog/c.png\n";

  namespace ex = selfsup::examples;
  const ex::DataOptions options{.spec = "folder:" + root.string(), .pairs = (root / "pairs.csv").string(), .image_size = 8};
  auto d = ex::load_data("t", options, torch::kCPU);
  BOOST_TEST(d.train.size() == 4);
  BOOST_TEST(d.test.size() == 2);
  BOOST_TEST(!d.shifted.has_value());
  BOOST_TEST(torch::equal(d.train.labels(torch::arange(4)), torch::tensor({0, 0, 1, 1}, torch::kLong)));
  BOOST_REQUIRE(d.pairs.has_value());
  BOOST_TEST(d.pairs->size() == 1);
  BOOST_TEST(d.pairs->first.item<int64_t>() == 3);
  BOOST_TEST(d.pairs->second.item<int64_t>() == 2);
  BOOST_TEST(torch::equal(d.train.images(torch::tensor({2}, torch::kLong))[0], pattern(8, 8, 2)));

  fs::remove_all(root / "val");
  BOOST_TEST(throws_with([&] { ex::load_data("t", options, torch::kCPU); }, "expects the sub-folders train/ and val/"));
  BOOST_TEST(throws_with([&] { ex::load_data("t", {.spec = "mnist:/x"}, torch::kCPU); },
                         "t: --data must be synthetic, cifar10:PATH, cifar100:PATH, stl10:PATH or folder:PATH, got 'mnist:/x'"));
  BOOST_TEST(throws_with([&] { ex::load_data("t", {.spec = "folder:"}, torch::kCPU); }, "needs a path after 'folder:'"));
  fs::remove_all(root);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
