// view_grid: writes a PNG grid that shows what an augmentation recipe does to a batch. Each row
// is one image: the image itself, then `--views` views of it from the chosen recipe.
//
//   view_grid [--out views.png] [--recipe simclr|simclr-imagenet|byol|crop-flip] [--views 6]
//             [--size 64] [--seed 0] [--device cpu|cuda] [image files ...]
//   view_grid --help
//
// Without image files it uses eight images of selfsup's embedded synthetic dataset. Image files
// (PNG, JPEG, BMP, ...) are read with stb_image and may have different sizes: the recipe crops
// each one straight from its source. For BYOL, odd columns are first views, even ones second.
#include "common/example_support.hpp"

#include <selfsup/selfsup.hpp>

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <fmt/core.h>

#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace ss = selfsup;
namespace views = selfsup::views;

namespace {

struct Args {
  std::string out = "views.png";
  std::string recipe = "simclr";
  int64_t views = 6;
  int64_t size = 64;
  std::uint64_t seed = 0;
  std::string device = "cpu";
  std::vector<std::string> files;
};

/// The command line into `a`; the exit status when the program should stop now.
std::optional<int> parse(int argc, char** argv, Args& a) {
  namespace ex = ss::examples;
  CLI::App app{"Writes a PNG grid of a batch and its views under an augmentation recipe.", "view_grid"};
  ex::name_errors(app);
  app.add_option("--out", a.out, "the PNG file to write")->capture_default_str();
  app.add_option("--recipe", a.recipe, "the augmentation recipe")
      ->capture_default_str()->check(CLI::IsMember({"simclr", "simclr-imagenet", "byol", "crop-flip"}));
  app.add_option("--views", a.views, "views of each image")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{64}));
  app.add_option("--size", a.size, "side of each view")->capture_default_str()->check(CLI::Range(int64_t{8}, int64_t{1024}));
  ex::add_seed(app, a.seed);
  ex::add_device(app, a.device);
  app.add_option("files", a.files, "image files (PNG, JPEG, BMP, ...); default: eight embedded images")
      ->check(CLI::ExistingFile);
  return ex::parse(app, argc, argv);
}

// uint8 (3, H, W) from an image file.
torch::Tensor read_image(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!data) throw std::runtime_error("view_grid: cannot read " + path + ": " + stbi_failure_reason());
  auto image = torch::from_blob(data, {h, w, 3}, torch::kByte).permute({2, 0, 1}).clone();
  stbi_image_free(data);
  return image;
}

// Views of every image, one call per column: (columns, B, 3, S, S) float in [0, 1].
template <class Images>
torch::Tensor make_views(const Args& a, const Images& images) {
  std::vector<torch::Tensor> columns;
  if (a.recipe == "byol") {
    views::BYOLViews v({.size = a.size, .seed = a.seed});
    for (int64_t i = 0; i < a.views; ++i) columns.push_back(i % 2 == 0 ? v.first(images) : v.second(images));
  } else if (a.recipe == "crop-flip") {
    views::Augmentation v({.size = a.size, .jitter_probability = 0, .grayscale_probability = 0, .seed = a.seed});
    for (int64_t i = 0; i < a.views; ++i) columns.push_back(v(images));
  } else if (a.recipe == "simclr" || a.recipe == "simclr-imagenet") {
    auto options = a.recipe == "simclr" ? views::SimCLRViewOptions::cifar(a.size)
                                        : views::SimCLRViewOptions::imagenet(a.size);
    options.seed = a.seed;
    views::SimCLRViews v(options);
    for (int64_t i = 0; i < a.views; ++i) columns.push_back(v(images));
  } else {
    throw std::invalid_argument("view_grid: unknown recipe " + a.recipe);
  }
  return torch::stack(columns);
}

// The whole image at the grid's cell size: a resized crop whose box is the full image.
torch::Tensor whole(const torch::Tensor& image, int64_t size) {
  auto box = torch::tensor({int64_t{0}, int64_t{0}, image.size(1), image.size(2)}, torch::kLong).view({1, 4});
  return views::functional::resized_crop(image.unsqueeze(0), box.to(image.device()), {size, size})[0];
}

}  // namespace

int main(int argc, char** argv) try {
  Args a;
  if (auto exit = parse(argc, argv, a)) return *exit;
  const torch::Device device = ss::examples::parse_device("view_grid", a.device);
  ss::examples::check_output("view_grid", "--out", a.out);
  std::vector<torch::Tensor> originals;  // uint8 (3, H_i, W_i)
  torch::Tensor grid_views;              // (V, B, 3, S, S)
  if (a.files.empty()) {
    auto data = ss::data::make_synthetic({.classes = 8, .per_class = 1, .size = 96, .seed = a.seed},
                                         ss::data::SyntheticSplit::train, device);
    auto batch = data.all_images();  // (8, 3, 96, 96)
    for (int64_t i = 0; i < batch.size(0); ++i) originals.push_back(batch[i]);
    grid_views = make_views(a, batch);
  } else {
    for (const auto& f : a.files) originals.push_back(read_image(f).to(device));
    grid_views = make_views(a, originals);
  }

  // Cells of S x S with a 2-pixel white border: rows are images, columns the image then views.
  const int64_t s = a.size, pad = 2, rows = static_cast<int64_t>(originals.size()), cols = a.views + 1;
  auto canvas = torch::ones({3, rows * (s + pad) + pad, cols * (s + pad) + pad});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      auto cell = c == 0 ? whole(originals[r], s) : grid_views[c - 1][r];
      canvas.narrow(1, pad + r * (s + pad), s).narrow(2, pad + c * (s + pad), s).copy_(cell.cpu());
    }
  }
  auto pixels = canvas.clamp(0, 1).mul(255).round().to(torch::kByte).permute({1, 2, 0}).contiguous();
  std::string png;
  auto append = [](void* out, void* data, int size) { static_cast<std::string*>(out)->append(static_cast<const char*>(data), static_cast<size_t>(size)); };
  if (!stbi_write_png_to_func(append, &png, static_cast<int>(pixels.size(1)), static_cast<int>(pixels.size(0)), 3,
                              pixels.data_ptr<uint8_t>(), static_cast<int>(pixels.size(1) * 3))) {
    throw std::runtime_error("view_grid: cannot encode the PNG for " + a.out);
  }
  try {
    ss::report::write_file_atomically(a.out, png);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("view_grid: {}", e.what()));
  }
  fmt::print("view_grid: wrote {} ({} images x {} {} views of {}x{}, device {})\n", a.out, rows, a.views,
             a.recipe, s, s, device.str());
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "{}\n", e.what());
  return 1;
}
