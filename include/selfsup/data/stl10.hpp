#pragma once
/// \file
/// STL-10 in its binary version (Coates, Ng and Lee, AISTATS 2011), into an InMemoryDataset,
/// including the 100,000-image unlabeled split that self-supervised pretraining uses.
///
/// `stl10_binary/`: train_X.bin, test_X.bin, unlabeled_X.bin hold 96 × 96 RGB images of
/// 27,648 bytes each: 9,216 red, then green, then blue bytes, each channel in *column-major*
/// order. train_y.bin and test_y.bin hold one label byte per image, 1 to 10.

#include <selfsup/data/cifar.hpp>
#include <selfsup/data/in_memory.hpp>
#include <selfsup/data/record_reader.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace selfsup::data {

enum class Stl10Split {
  train,                ///< 5,000 labelled images
  test,                 ///< 8,000 labelled images
  unlabeled,            ///< 100,000 images without labels (the dataset has no labels)
  train_and_unlabeled,  ///< train then unlabeled; label -1 for the unlabeled images
};

namespace detail {

// uint8 (N, 3, 96, 96) on the CPU, rows made row-major.
inline torch::Tensor decode_stl10_images(const ByteSource& src, std::string_view fn) {
  torch::Tensor images;
  decode_stl10_images_into(src, fn, [&](int64_t n) {
    images = torch::empty({n, 3, stl10_side, stl10_side}, torch::kByte);
    return images.data_ptr<uint8_t>();
  });
  return images;
}

// int64 (expected) labels 0-9 from bytes 1-10.
inline torch::Tensor decode_stl10_labels(const ByteSource& src, int64_t expected, const std::string& images_name,
                                         std::string_view fn) {
  auto labels = torch::empty({expected}, torch::kLong);
  decode_stl10_labels_into(src, expected, images_name, fn, labels.data_ptr<int64_t>());
  return labels;
}

inline torch::Tensor read_stl10_images(const std::filesystem::path& file, std::string_view fn) {
  int64_t size = 0;
  auto in = open_binary(file, fn, size);
  return decode_stl10_images({in, size, file.string()}, fn);
}

inline torch::Tensor read_stl10_labels(const std::filesystem::path& file, int64_t expected,
                                       const std::filesystem::path& images, std::string_view fn) {
  int64_t size = 0;
  auto in = open_binary(file, fn, size);
  return decode_stl10_labels({in, size, file.string()}, expected, images.string(), fn);
}

}  // namespace detail

/// Decodes STL-10 images (and labels, when `label_bytes` is not empty) from memory; `name`
/// stands for the file in messages. Images uint8 (N, 3, 96, 96), labels int64 (N) 0-9 or
/// undefined, on the CPU.
inline std::pair<torch::Tensor, torch::Tensor> decode_stl10(std::span<const uint8_t> image_bytes,
                                                            std::span<const uint8_t> label_bytes = {},
                                                            std::string_view name = "<memory>") {
  constexpr std::string_view fn = "selfsup::data::decode_stl10";
  std::istringstream in(std::string(reinterpret_cast<const char*>(image_bytes.data()), image_bytes.size()));
  auto images = detail::decode_stl10_images({in, static_cast<int64_t>(image_bytes.size()), std::string(name)}, fn);
  torch::Tensor labels;
  if (!label_bytes.empty()) {
    std::istringstream lin(std::string(reinterpret_cast<const char*>(label_bytes.data()), label_bytes.size()));
    labels = detail::decode_stl10_labels({lin, static_cast<int64_t>(label_bytes.size()), std::string(name) + " (labels)"},
                                         images.size(0), std::string(name), fn);
  }
  return {images, labels};
}

/// STL-10 from `root`: the folder `stl10_binary` or the folder that contains it.
inline InMemoryDataset read_stl10(const std::filesystem::path& root, Stl10Split split = Stl10Split::train,
                                  torch::Device device = torch::kCPU) {
  constexpr std::string_view fn = "selfsup::data::read_stl10";
  const auto dir = std::filesystem::is_directory(root / "stl10_binary") ? root / "stl10_binary" : root;
  auto labelled = [&](const char* stem) {
    const auto x = dir / (std::string(stem) + "_X.bin");
    auto images = detail::read_stl10_images(x, fn);
    auto labels = detail::read_stl10_labels(dir / (std::string(stem) + "_y.bin"), images.size(0), x, fn);
    return std::make_pair(images, labels);
  };
  torch::Tensor images, labels;
  switch (split) {
    case Stl10Split::train: std::tie(images, labels) = labelled("train"); break;
    case Stl10Split::test: std::tie(images, labels) = labelled("test"); break;
    case Stl10Split::unlabeled: images = detail::read_stl10_images(dir / "unlabeled_X.bin", fn); break;
    case Stl10Split::train_and_unlabeled: {
      auto [x, y] = labelled("train");
      auto u = detail::read_stl10_images(dir / "unlabeled_X.bin", fn);
      images = torch::cat({x, u});
      labels = torch::cat({y, torch::full({u.size(0)}, -1, torch::kLong)});
      break;
    }
  }
  return {detail::to_device(images, device), detail::to_device(labels, device)};
}

/// The labels (int64 0-9, CPU) of the train or test split, read without its images: to choose a
/// subset before loading it. The count is checked against the size of the images' file.
inline torch::Tensor read_stl10_labels(const std::filesystem::path& root, Stl10Split split = Stl10Split::train) {
  constexpr std::string_view fn = "selfsup::data::read_stl10_labels";
  TORCH_CHECK(split == Stl10Split::train || split == Stl10Split::test, fn,
              ": only the train and test splits have labels");
  const auto dir = std::filesystem::is_directory(root / "stl10_binary") ? root / "stl10_binary" : root;
  const std::string stem = split == Stl10Split::train ? "train" : "test";
  const auto x = dir / (stem + "_X.bin");
  int64_t size = 0;
  auto in = detail::open_binary(x, fn, size);
  const int64_t n = detail::count_records({in, size, x.string()}, stl10_image_bytes, "images", fn);
  return detail::read_stl10_labels(dir / (stem + "_y.bin"), n, x, fn);
}

}  // namespace selfsup::data
