#pragma once
/// \file
/// CIFAR-10 and CIFAR-100 in their binary versions (Krizhevsky, 2009), into an InMemoryDataset.
///
/// CIFAR-10 (`cifar-10-batches-bin/`): data_batch_1.bin ... data_batch_5.bin (train) and
/// test_batch.bin, each a sequence of 3073-byte records: 1 label byte (0-9), then 1024 red, 1024
/// green and 1024 blue bytes, each a 32 × 32 image in row-major order (data::CifarFormat).
/// CIFAR-100 (`cifar-100-binary/`): train.bin and test.bin, 3074-byte records: a coarse label
/// byte (0-19), a fine label byte (0-99), then the image as above.

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

enum class CifarSplit { train, test };

namespace detail {

// Images uint8 (N, 3, 32, 32) and labels int64 (N) on the CPU from one source.
inline std::pair<torch::Tensor, torch::Tensor> decode_cifar(const ByteSource& src, const CifarFormat& format,
                                                            std::string_view fn) {
  torch::Tensor images, labels;
  decode_cifar_into(src, format, fn, [&](int64_t n) {
    images = torch::empty({n, 3, 32, 32}, torch::kByte);
    labels = torch::empty({n}, torch::kLong);
    return std::make_pair(images.data_ptr<uint8_t>(), labels.data_ptr<int64_t>());
  });
  return {images, labels};
}

/// The tensor on `device`; through pinned memory when it goes to a GPU, so the copy is a DMA.
inline torch::Tensor to_device(const torch::Tensor& t, const torch::Device& device) {
  if (!t.defined() || device.is_cpu()) return t;
  return t.pin_memory().to(device, /*non_blocking=*/true);
}

inline std::filesystem::path cifar_dir(const std::filesystem::path& root, std::string_view sub) {
  return std::filesystem::is_directory(root / sub) ? root / sub : root;
}

inline InMemoryDataset read_cifar_files(const std::vector<std::filesystem::path>& files,
                                        const CifarFormat& format, const torch::Device& device,
                                        std::string_view fn) {
  std::vector<torch::Tensor> images, labels;
  for (const auto& file : files) {
    int64_t size = 0;
    auto in = open_binary(file, fn, size);
    auto [x, y] = decode_cifar({in, size, file.string()}, format, fn);
    images.push_back(x);
    labels.push_back(y);
  }
  auto x = images.size() == 1 ? images[0] : torch::cat(images);
  auto y = labels.size() == 1 ? labels[0] : torch::cat(labels);
  return {to_device(x, device), to_device(y, device)};
}

}  // namespace detail

/// Decodes CIFAR records from memory (what a file holds); `name` stands for the file in messages.
/// Images uint8 (N, 3, 32, 32) and labels int64 (N) on the CPU.
inline std::pair<torch::Tensor, torch::Tensor> decode_cifar(std::span<const uint8_t> bytes,
                                                            const CifarFormat& format = CifarFormat::cifar10(),
                                                            std::string_view name = "<memory>") {
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return detail::decode_cifar({in, static_cast<int64_t>(bytes.size()), std::string(name)}, format,
                              "selfsup::data::decode_cifar");
}

/// CIFAR-10 from `root`: the folder `cifar-10-batches-bin` or the folder that contains it.
inline InMemoryDataset read_cifar10(const std::filesystem::path& root, CifarSplit split = CifarSplit::train,
                                    torch::Device device = torch::kCPU) {
  const auto dir = detail::cifar_dir(root, "cifar-10-batches-bin");
  std::vector<std::filesystem::path> files;
  if (split == CifarSplit::train) {
    for (int i = 1; i <= 5; ++i) files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
  } else {
    files.push_back(dir / "test_batch.bin");
  }
  return detail::read_cifar_files(files, CifarFormat::cifar10(), device, "selfsup::data::read_cifar10");
}

/// CIFAR-100 from `root`: the folder `cifar-100-binary` or the folder that contains it.
inline InMemoryDataset read_cifar100(const std::filesystem::path& root, CifarSplit split = CifarSplit::train,
                                     Cifar100Labels labels = Cifar100Labels::fine,
                                     torch::Device device = torch::kCPU) {
  const auto dir = detail::cifar_dir(root, "cifar-100-binary");
  return detail::read_cifar_files({dir / (split == CifarSplit::train ? "train.bin" : "test.bin")},
                                  CifarFormat::cifar100(labels), device, "selfsup::data::read_cifar100");
}

}  // namespace selfsup::data
