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
#include <cstring>
#include <filesystem>
#include <fstream>
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

inline std::vector<std::filesystem::path> cifar10_files(const std::filesystem::path& root, CifarSplit split) {
  const auto dir = cifar_dir(root, "cifar-10-batches-bin");
  if (split == CifarSplit::test) return {dir / "test_batch.bin"};
  std::vector<std::filesystem::path> files;
  for (int i = 1; i <= 5; ++i) files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
  return files;
}

inline std::vector<std::filesystem::path> cifar100_files(const std::filesystem::path& root, CifarSplit split) {
  return {cifar_dir(root, "cifar-100-binary") / (split == CifarSplit::train ? "train.bin" : "test.bin")};
}

/// Reads record `index` of `file` (at its byte offset) into `label` and `image`, checking its labels.
inline void read_cifar_record(std::ifstream& in, const std::filesystem::path& file, int64_t index,
                              const CifarFormat& format, std::string_view fn, int64_t& label, uint8_t* image) {
  const int64_t record = format.record();
  std::vector<char> buffer(static_cast<size_t>(image ? record : format.label_bytes));
  in.seekg(index * record);
  in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  TORCH_CHECK(in.gcount() == static_cast<std::streamsize>(buffer.size()), fn, ": ", file.string(),
              ": cannot read record ", index, " at byte offset ", index * record);
  for (int64_t b = 0; b < format.label_bytes; ++b) {
    const auto v = static_cast<uint8_t>(buffer[static_cast<size_t>(b)]);
    TORCH_CHECK(v < format.classes[b], fn, ": ", file.string(), ": record ", index, " at byte offset ",
                index * record + b, " has label ", static_cast<int>(v), ", outside [0, ", format.classes[b], ")");
  }
  label = static_cast<uint8_t>(buffer[static_cast<size_t>(format.label_index)]);
  if (image) std::memcpy(image, buffer.data() + format.label_bytes, CifarFormat::image_bytes);
}

/// The labels of every record of `files` (int64, CPU), reading only their label bytes; with
/// `indices` (sorted int64 positions in the concatenated files) also those records' images.
inline std::pair<torch::Tensor, torch::Tensor> read_cifar_selected(const std::vector<std::filesystem::path>& files,
                                                                   const CifarFormat& format,
                                                                   const torch::Tensor& indices, std::string_view fn) {
  std::vector<int64_t> labels;
  std::vector<std::pair<size_t, int64_t>> where;  // (file, record) of each global index
  for (size_t f = 0; f < files.size(); ++f) {
    int64_t size = 0;
    auto in = open_binary(files[f], fn, size);
    const int64_t n = count_records({in, size, files[f].string()}, format.record(), "records", fn);
    for (int64_t r = 0; r < n; ++r) {
      int64_t label = 0;
      if (!indices.defined()) read_cifar_record(in, files[f], r, format, fn, label, nullptr);
      labels.push_back(label);
      where.emplace_back(f, r);
    }
  }
  if (!indices.defined()) return {torch::tensor(labels, torch::kLong), {}};
  const auto wanted = indices.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t m = wanted.numel();
  auto images = torch::empty({m, 3, 32, 32}, torch::kByte);
  auto chosen = torch::empty({m}, torch::kLong);
  const auto* idx = wanted.data_ptr<int64_t>();
  std::vector<std::ifstream> streams(files.size());
  for (int64_t i = 0; i < m; ++i) {
    TORCH_CHECK(idx[i] >= 0 && idx[i] < static_cast<int64_t>(where.size()), fn, ": index ", idx[i],
                " is outside the split's ", where.size(), " records");
    const auto [f, r] = where[static_cast<size_t>(idx[i])];
    if (!streams[f].is_open()) streams[f].open(files[f], std::ios::binary);
    read_cifar_record(streams[f], files[f], r, format, fn, chosen.data_ptr<int64_t>()[i],
                      images.data_ptr<uint8_t>() + i * CifarFormat::image_bytes);
  }
  return {chosen, images};
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
  return detail::read_cifar_files(detail::cifar10_files(root, split), CifarFormat::cifar10(), device,
                                  "selfsup::data::read_cifar10");
}

/// CIFAR-100 from `root`: the folder `cifar-100-binary` or the folder that contains it.
inline InMemoryDataset read_cifar100(const std::filesystem::path& root, CifarSplit split = CifarSplit::train,
                                     Cifar100Labels labels = Cifar100Labels::fine,
                                     torch::Device device = torch::kCPU) {
  return detail::read_cifar_files(detail::cifar100_files(root, split), CifarFormat::cifar100(labels), device,
                                  "selfsup::data::read_cifar100");
}

/// The labels of a CIFAR-10 split (int64, CPU), read without its images (1 byte a record): to
/// choose a subset before loading it.
inline torch::Tensor read_cifar10_labels(const std::filesystem::path& root, CifarSplit split = CifarSplit::train) {
  return detail::read_cifar_selected(detail::cifar10_files(root, split), CifarFormat::cifar10(), {},
                                     "selfsup::data::read_cifar10_labels").first;
}

inline torch::Tensor read_cifar100_labels(const std::filesystem::path& root, CifarSplit split = CifarSplit::train,
                                          Cifar100Labels labels = Cifar100Labels::fine) {
  return detail::read_cifar_selected(detail::cifar100_files(root, split), CifarFormat::cifar100(labels), {},
                                     "selfsup::data::read_cifar100_labels").first;
}

/// Only the records at `indices` (int64 positions in the split) of a CIFAR-10 split, in that order.
inline InMemoryDataset read_cifar10(const std::filesystem::path& root, CifarSplit split, torch::Device device,
                                    const torch::Tensor& indices) {
  TORCH_CHECK(indices.defined(), "selfsup::data::read_cifar10: indices must be defined");
  auto [labels, images] = detail::read_cifar_selected(detail::cifar10_files(root, split), CifarFormat::cifar10(),
                                                      indices, "selfsup::data::read_cifar10");
  return {detail::to_device(images, device), detail::to_device(labels, device)};
}

/// Only the records at `indices` of a CIFAR-100 split, in that order.
inline InMemoryDataset read_cifar100(const std::filesystem::path& root, CifarSplit split, Cifar100Labels which,
                                     torch::Device device, const torch::Tensor& indices) {
  TORCH_CHECK(indices.defined(), "selfsup::data::read_cifar100: indices must be defined");
  auto [labels, images] = detail::read_cifar_selected(detail::cifar100_files(root, split),
                                                      CifarFormat::cifar100(which), indices,
                                                      "selfsup::data::read_cifar100");
  return {detail::to_device(images, device), detail::to_device(labels, device)};
}

}  // namespace selfsup::data
