// data::ImageFolder on a small folder of JPEG and PNG files written here with libjpeg-turbo and
// libpng, including broken files; its box decoding against a full decode; and (with
// SELFSUP_FOLDER_DIR, as ctest runs it) its reads written for tests/data/torchvision_folder.py to
// compare with torchvision. Compiled only where those headers exist (selfsup::io).
#include "../support.hpp"

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>) && __has_include(<jpeglib.h>)

#include <selfsup/data/image_folder.hpp>
#include <selfsup/data/pair_table.hpp>
#include <selfsup/selfsup.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/views/random_resized_crop.hpp>

#define SELFSUP_EXAMPLES_IMAGE_IO 1
#include "../../examples/common/example_support.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
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

std::vector<unsigned char> jpeg_bytes(const torch::Tensor& chw, int subsampling = TJSAMP_444, int quality = 98) {
  auto hwc = chw.permute({1, 2, 0}).contiguous();
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  BOOST_REQUIRE(tjCompress2(h, hwc.data_ptr<uint8_t>(), static_cast<int>(chw.size(2)), 0,
                            static_cast<int>(chw.size(1)), TJPF_RGB, &buf, &size, subsampling, quality, 0) == 0);
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
  data::ImageFolder folder(root, {.size = 8, .threads = 2, .verify = true, .warn = false});
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
  data::ImageFolder small(root, {.size = 4, .verify = true, .warn = false});
  BOOST_TEST(small.images(torch::tensor({0}, torch::kLong)).sizes() == torch::IntArrayRef({1, 3, 4, 4}));
  // A pair table can name the folder's images by path.
  auto t = data::parse_pair_table("first,second\ncat/a.png,dog/d.png\n", {.paths = folder.paths()});
  BOOST_TEST(t.first.item<int64_t>() == 0);
  BOOST_TEST(t.second.item<int64_t>() == 3);
  BOOST_TEST(throws_with([&] { folder.images(torch::tensor({4}, torch::kLong)); }, "ImageFolder::images: index 4 is out of range for 4 images"));
}

BOOST_AUTO_TEST_CASE(image_folder_stops_on_bad_files_by_option) {
  auto root = make_folder();
  BOOST_TEST(throws_with([&] { data::ImageFolder(root, {.on_bad = data::BadImage::stop, .verify = true}); },
                         "ImageFolder: cannot decode " + (root / "dog" / "broken.jpg").string() + ": JPEG data"));
  // Headers only (the default) let the truncated JPEG through; a batch that reads it takes the
  // next image of its class instead, reports it once, and stays full.
  data::ImageFolder lazy(root, {.size = 8, .warn = false});
  BOOST_TEST(lazy.size() == 5);  // only the empty file is caught by its header
  BOOST_TEST(lazy.paths()[2] == "dog/broken.jpg");
  BOOST_TEST(lazy.skipped() == 1);
  auto batch = lazy.images(torch::tensor({2, 0, 2}, torch::kLong));
  BOOST_TEST(batch.sizes() == torch::IntArrayRef({3, 3, 8, 8}));
  BOOST_TEST(torch::equal(batch[0], lazy.images(torch::tensor({3}, torch::kLong))[0]));  // dog/c.png
  BOOST_TEST(torch::equal(batch[2], batch[0]));
  BOOST_TEST(lazy.skipped() == 2);
  BOOST_TEST(lazy.skipped_files() == std::vector<std::string>({"dog/empty.png", "dog/broken.jpg"}));
  // A class whose every image fails cannot be replaced: named.
  auto lone = fs::temp_directory_path() / "selfsup_image_folder_lone";
  fs::remove_all(lone);
  fs::create_directories(lone / "fox");
  fs::create_directories(lone / "owl");
  auto jpg = jpeg_bytes(pattern(32, 32, 3));
  write_file(lone / "owl" / "fine.jpg", jpg);
  jpg.resize(jpg.size() / 2);
  write_file(lone / "fox" / "cut.jpg", jpg);
  data::ImageFolder foxes(lone, {.size = 8, .warn = false});
  BOOST_TEST(throws_with([&] { foxes.images(torch::tensor({0}, torch::kLong)); }, "every image of class 'fox' failed to decode"));
  data::ImageFolder stopping(lone, {.size = 8, .on_bad = data::BadImage::stop, .warn = false});
  BOOST_TEST(throws_with([&] { stopping.images(torch::tensor({0}, torch::kLong)); },
                         "cannot decode " + (lone / "fox" / "cut.jpg").string() + ": JPEG data"));
  // A box outside the image, and malformed arguments, are refused by name.
  BOOST_TEST(throws_with([&] { foxes.crops(torch::tensor({1}, torch::kLong), torch::tensor({{0, 0, 33, 8}}), 8); },
                         "ImageFolder::crops: box 0 (top 0, left 0, height 33, width 8) does not lie in owl/fine.jpg (32 x 32)"));
  BOOST_TEST(throws_with([&] { foxes.crops(torch::tensor({1}, torch::kLong), torch::tensor({0, 0, 8, 8}), 8); },
                         "ImageFolder::crops: boxes must be (1, 4) for 1 indices"));
  fs::remove_all(lone);
  BOOST_TEST(throws_with([&] { data::ImageFolder(root / "cat" / "a.png"); }, "is not a directory"));
  auto empty = fs::temp_directory_path() / "selfsup_image_folder_empty";
  fs::create_directories(empty / "only_class");
  BOOST_TEST(throws_with([&] { data::ImageFolder{empty}; }, "ImageFolder: no .jpg, .jpeg or .png images"));
}

// Decoding only a box of a JPEG (its rows, its iMCU columns) gives the pixels a full decode has
// there, for 4:2:0, 4:2:2, 4:4:4 and grey images and boxes anywhere, edges included; resampled at
// its own size, a box is those pixels unchanged.
BOOST_AUTO_TEST_CASE(box_decoding_equals_a_full_decode) {
  namespace dd = data::detail;
  std::mt19937 rng(5);
  int cases = 0;
  for (int sub : {TJSAMP_420, TJSAMP_422, TJSAMP_444, TJSAMP_GRAY}) {
    auto image = (torch::rand({3, 75, 101}) * 255).to(torch::kByte);
    image = (image.to(torch::kInt) / 2 + pattern(75, 101, sub).to(torch::kInt) / 2).to(torch::kByte);
    const auto bytes = jpeg_bytes(image, sub, 85);
    const auto full = dd::decode_bytes(bytes, false);
    BOOST_REQUIRE(full.error.empty());
    auto whole = torch::from_blob(const_cast<uint8_t*>(full.rgb.data()), {75, 101, 3}, torch::kByte).permute({2, 0, 1});
    for (int k = 0; k < 40; ++k) {
      const int h = 1 + static_cast<int>(rng() % 75), w = 1 + static_cast<int>(rng() % 101);
      int top = static_cast<int>(rng() % (76 - h)), left = static_cast<int>(rng() % (102 - w));
      if (k == 0) top = 75 - h, left = 101 - w;  // the bottom-right corner
      std::vector<uint8_t> out(3 * static_cast<size_t>(h) * w);
      dd::RegionScratch scratch;
      const auto info = dd::decode_box(bytes, {double(top), double(left), double(h), double(w)}, h, w, false, out.data(),
                                       scratch, /*dct_scaling=*/false);
      BOOST_REQUIRE_MESSAGE(info.error.empty(), info.error);
      auto got = torch::from_blob(out.data(), {3, h, w}, torch::kByte);
      auto want = whole.narrow(1, top, h).narrow(2, left, w);
      BOOST_TEST(torch::equal(got, want), "subsampling " << sub << ", box " << top << " " << left << " " << h << " " << w);
      if (h < 75) BOOST_TEST(info.rows < 75);  // rows below the box are not decoded
      ++cases;
    }
  }
  BOOST_TEST(cases == 160);
}

// A folder of 120 x 90 PNGs in two classes, for the training views below.
fs::path make_view_folder() {
  auto root = fs::temp_directory_path() / "selfsup_image_folder_views";
  fs::remove_all(root);
  for (int i = 0; i < 6; ++i) {
    const auto cls = root / (i < 3 ? "a" : "b");
    fs::create_directories(cls);
    write_png(cls / (std::to_string(i) + ".png"), pattern(90, 120, i));
  }
  return root;
}

// Training views of a folder's images are cut from the full images: each box drawn with
// torchvision's rule on the image's own size (from its header), only that decoded; with colour
// stages off, a view is exactly the folder's crop of that box.
BOOST_AUTO_TEST_CASE(training_views_are_cut_from_the_full_images) {
  const auto root = make_view_folder();
  auto folder = std::make_shared<const data::ImageFolder>(root, data::ImageFolderOptions{.size = 16, .threads = 2, .warn = false});
  const auto memory = data::with_folder_views(folder->load_all(), folder);
  BOOST_TEST(memory.all_images().sizes() == torch::IntArrayRef({6, 3, 16, 16}));  // evaluation reads
  auto index = torch::tensor({0, 4, 5, 1}, torch::kLong);
  auto sources = memory.sources(index);
  BOOST_REQUIRE(sources.has_value());
  BOOST_TEST(torch::equal(sources->heights, torch::full({4}, 90, torch::kLong)));
  BOOST_TEST(torch::equal(sources->widths, torch::full({4}, 120, torch::kLong)));
  torch::Tensor seen_boxes, seen_crops;
  auto recording = *sources;
  recording.crop = [&](const torch::Tensor& which, const torch::Tensor& boxes, int64_t size, const torch::Tensor& flip) {
    seen_boxes = boxes;
    seen_crops = sources->crop(which, boxes, size, flip);
    return seen_crops;
  };
  selfsup::views::Augmentation plain({.size = 16, .jitter_probability = 0, .grayscale_probability = 0, .seed = 3});
  auto v = plain(recording);
  BOOST_TEST(v.sizes() == torch::IntArrayRef({4, 3, 16, 16}));
  BOOST_REQUIRE(seen_boxes.defined());
  // The boxes: torchvision's rule on 90 x 120, the generator's first draws.
  auto gen = selfsup::detail::make_generator(torch::kCPU, 3);
  auto expected = selfsup::views::sample_resized_crop_boxes(torch::full({4}, 90, torch::kLong),
                                                            torch::full({4}, 120, torch::kLong), {}, gen);
  BOOST_TEST(torch::equal(seen_boxes, expected));
  BOOST_TEST(seen_boxes.select(1, 2).max().item<int64_t>() > 16);  // in the full image's pixels
  BOOST_TEST(torch::equal((v * 255).round().to(torch::kByte), seen_crops));
  // Not what cropping the 16 x 16 evaluation reads would give.
  selfsup::views::Augmentation again({.size = 16, .jitter_probability = 0, .grayscale_probability = 0, .seed = 3});
  BOOST_TEST(!torch::equal(again(memory.images(index)), v));
  // A dataset without a folder names no sources; sources of a subset map to the folder's images.
  BOOST_TEST(!folder->load_all().sources(index).has_value());
  auto chosen = torch::tensor({5, 2}, torch::kLong);
  const auto subset = data::with_folder_views(data::InMemoryDataset(folder->images(chosen), folder->labels(chosen)), folder, chosen);
  auto sub = subset.sources(torch::tensor({1}, torch::kLong));
  auto full = torch::tensor({{10, 20, 50, 60}}, torch::kLong);
  auto one = torch::zeros({1}, torch::kBool);
  BOOST_TEST(torch::equal(sub->crop(torch::zeros({1}, torch::kLong), full, 16, one),
                          folder->crops(torch::tensor({2}, torch::kLong), full, 16, one)));
  // subset() and to() keep them.
  const auto part = data::subset(memory, chosen);
  BOOST_TEST(torch::equal(part.sources(torch::tensor({1}, torch::kLong))->crop(torch::zeros({1}, torch::kLong), full, 16, one),
                          folder->crops(torch::tensor({2}, torch::kLong), full, 16, one)));
  BOOST_TEST(memory.to(torch::kCPU).sources(index).has_value());
  BOOST_TEST(throws_with([&] { data::with_folder_views(folder->load_all(), folder, chosen); },
                         "with_folder_views: 6 images in memory for 2 of the folder"));
  fs::remove_all(root);
}

// The trainer takes both sides' views from the sources a dataset names (augmented pairs: the same
// images, each view drawn on its own; semantic pairs: the partners' images), never from images().
struct SourcesOnly {
  selfsup::data::InMemoryDataset memory;
  mutable int64_t calls = 0;
  int64_t size() const { return memory.size(); }
  torch::Device device() const { return memory.device(); }
  torch::Tensor images(const torch::Tensor&) const { throw std::logic_error("images() read while sources exist"); }
  torch::Tensor labels(const torch::Tensor& i) const { return memory.labels(i); }
  std::optional<selfsup::views::ImageSources> sources(const torch::Tensor& i) const {
    ++calls;
    return memory.sources(i);
  }
};

BOOST_AUTO_TEST_CASE(trainer_cuts_views_from_a_datasets_sources) {
  namespace ss = selfsup;
  const auto root = make_view_folder();
  auto folder = std::make_shared<const data::ImageFolder>(root, data::ImageFolderOptions{.size = 16, .threads = 2, .warn = false});
  SourcesOnly d{data::with_folder_views(folder->load_all(), folder)};
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  ss::Trainer augmented(ss::recipes::SimCLR{.views = ss::views::SimCLRViews({.size = 16, .seed = 1})}, encoder,
                        {.epochs = 1, .batch_size = 6, .log_every = 1});
  auto r = augmented.fit(d);
  BOOST_TEST(r.steps == 1);
  BOOST_TEST(d.calls == 1);  // both sides from one call: the same images
  ss::views::MultiCrop multi({.global_size = 16, .local_size = 8, .local_views = 2, .seed = 2});
  auto crops = multi.crops(*d.memory.sources(torch::arange(3)), *d.memory.sources(torch::arange(3, 6)));
  BOOST_TEST(crops.global.sizes() == torch::IntArrayRef({2, 3, 3, 16, 16}));
  BOOST_TEST(crops.local.sizes() == torch::IntArrayRef({2, 3, 3, 8, 8}));
  fs::remove_all(root);
}

// The reads compared with torchvision by tests/data/torchvision_folder.py (ctest: data.torchvision.*).
BOOST_AUTO_TEST_CASE(image_folder_reads_for_torchvision) {
  const char* dir = std::getenv("SELFSUP_FOLDER_DIR");
  if (dir == nullptr) {
    BOOST_TEST_MESSAGE("SELFSUP_FOLDER_DIR is not set: run this through ctest (unit.data)");
    return;
  }
  const fs::path root(dir);
  data::ImageFolder exact(root / "images", {.size = 40, .threads = 2, .warn = false, .dct_scaling = false});
  data::ImageFolder scaled(root / "images", {.size = 40, .threads = 2, .warn = false});
  const auto n = exact.size();
  BOOST_REQUIRE(n == 6);
  std::ofstream(root / "paths.txt") << [&] {
    std::string s;
    for (const auto& p : exact.paths()) s += p + "\n";
    return s;
  }();
  auto dump = [&](const std::string& name, const torch::Tensor& t) {
    auto c = t.contiguous();
    std::ofstream(root / name, std::ios::binary).write(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), c.numel());
  };
  // Crops of boxes drawn against the header sizes, every second one flipped.
  const int64_t size = 48;
  auto index = torch::arange(n, torch::kLong).repeat({8});
  auto hw = exact.sizes(index);
  BOOST_TEST(torch::equal(hw, scaled.sizes(index)));
  auto gen = selfsup::detail::make_generator(torch::kCPU, 20261203);
  auto boxes = selfsup::views::sample_resized_crop_boxes(hw.select(1, 0), hw.select(1, 1), {}, gen);
  auto flip = torch::arange(index.size(0), torch::kLong).remainder(2).eq(1);
  {
    std::ofstream list(root / "crops.txt");
    list << "size " << size << "\n";
    for (int64_t i = 0; i < index.size(0); ++i) {
      list << index[i].item<int64_t>();
      for (int c = 0; c < 4; ++c) list << " " << boxes[i][c].item<int64_t>();
      list << " " << flip[i].item<bool>() << "\n";
    }
  }
  dump("crops_exact.u8", exact.crops(index, boxes, size, flip));
  dump("crops_scaled.u8", scaled.crops(index, boxes, size, flip));
  std::ofstream(root / "centre.txt") << 40 << "\n";
  dump("centre_exact.u8", exact.images(torch::arange(n, torch::kLong)));
  // Many draws on two image sizes, for the distributions.
  std::ofstream draws(root / "boxes.txt");
  for (auto [h, w] : {std::pair<int64_t, int64_t>{375, 500}, {500, 333}}) {
    auto b = selfsup::views::sample_resized_crop_boxes(20000, h, w, {}, gen, torch::kCPU);
    auto a = b.accessor<int64_t, 2>();
    for (int64_t i = 0; i < 20000; ++i) draws << h << " " << w << " " << a[i][0] << " " << a[i][1] << " " << a[i][2] << " " << a[i][3] << "\n";
  }
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
                         "t: --data must be synthetic, synthetic:unreachable, cifar10:PATH, cifar100:PATH, stl10:PATH or folder:PATH, got 'mnist:/x'"));
  BOOST_TEST(throws_with([&] { ex::load_data("t", {.spec = "folder:"}, torch::kCPU); }, "needs a path after 'folder:'"));
  fs::remove_all(root);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
