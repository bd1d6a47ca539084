#pragma once
/// \file
/// data::ImageFolder: images on disk in the layout `root/<class>/<image>.jpg|.jpeg|.png` (ImageNet,
/// Imagenette, ImageNet-100), decoded with libjpeg-turbo and libpng on background threads into
/// pinned memory, with the next batch prefetched while the current one trains.
///
/// Not part of <selfsup/selfsup.hpp>: include it on purpose and link `selfsup::io` (defined by
/// CMake when libturbojpeg and libpng are found; Debian: libturbojpeg0-dev libpng-dev). Without
/// those headers this file declares nothing.

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>)

#include <selfsup/data/detail/decode.hpp>
#include <selfsup/data/in_memory.hpp>

#include <fmt/core.h>
#include <png.h>
#include <torch/torch.h>
#include <turbojpeg.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace selfsup::data {

/// What happens to an image that cannot be decoded (corrupt, truncated, not JPEG or PNG, CMYK).
enum class BadImage {
  skip,  ///< leave it out of the dataset, print a warning, count it (ImageFolder::skipped)
  stop,  ///< throw, naming the file
};

struct ImageFolderOptions {
  int64_t size = 64;                 ///< side of the returned images: the shorter side is resized
                                     ///< to it (bilinear, antialiased), then the centre cropped
  int64_t threads = 4;               ///< decoding threads, >= 1
  BadImage on_bad = BadImage::skip;
  bool verify = true;                ///< decode every image once while scanning, so that bad files
                                     ///< are found (and skipped) before training; false: only
                                     ///< their headers are read, and a file whose body is corrupt
                                     ///< stops the batch that reads it
  bool warn = true;                  ///< print a line to stderr for each skipped file
};


/// A labelled image folder as a selfsup::Dataset. Classes are the sub-folders of `root` in sorted
/// order (label = position); images within a class are sorted by name. `paths()` gives each
/// index's path relative to `root`, the form a pair table's path entries take
/// (data::PairTableOptions::paths). `images(indices)` decodes on `threads` threads into pinned
/// memory (when the device is a GPU) and copies to the device; `prefetch(indices)` starts the
/// same work in the background, and a following `images` call with the same indices takes its
/// result. Indices are read back to the host (files are on the host).
class ImageFolder {
 public:
  explicit ImageFolder(const std::filesystem::path& root, const ImageFolderOptions& options = {},
                       torch::Device device = torch::kCPU)
      : root_(root), options_(options), device_(device) {
    constexpr std::string_view fn = "selfsup::data::ImageFolder";
    TORCH_CHECK(options.size >= 1 && options.threads >= 1, fn, ": size and threads must be >= 1, got ",
                options.size, " and ", options.threads);
    TORCH_CHECK(std::filesystem::is_directory(root), fn, ": ", root.string(), " is not a directory");
    std::vector<std::filesystem::path> classes;
    for (const auto& e : std::filesystem::directory_iterator(root)) {
      if (e.is_directory()) classes.push_back(e.path());
    }
    std::sort(classes.begin(), classes.end());
    std::vector<std::string> candidates;
    std::vector<int64_t> candidate_labels;
    for (size_t c = 0; c < classes.size(); ++c) {
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(classes[c])) {
        if (e.is_regular_file() && detail::is_image_name(e.path())) {
          files.push_back(std::filesystem::relative(e.path(), root).generic_string());
        }
      }
      std::sort(files.begin(), files.end());
      class_names_.push_back(classes[c].filename().string());
      for (auto& f : files) {
        candidates.push_back(std::move(f));
        candidate_labels.push_back(static_cast<int64_t>(c));
      }
    }
    TORCH_CHECK(!candidates.empty(), fn, ": no .jpg, .jpeg or .png images in ", root.string(),
                "/<class>/ (", classes.size(), " class folders found)");
    // Check every file (headers, or full decodes with `verify`) on the decoding threads.
    std::vector<std::string> errors(candidates.size());
    detail::parallel_for(static_cast<int64_t>(candidates.size()), options.threads, [&](int64_t i) {
      errors[i] = detail::decode_file(root_ / candidates[i], !options.verify).error;
    });
    std::vector<int64_t> labels;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (errors[i].empty()) {
        paths_.push_back(candidates[i]);
        labels.push_back(candidate_labels[i]);
        continue;
      }
      TORCH_CHECK(options.on_bad == BadImage::skip, fn, ": cannot decode ",
                  (root_ / candidates[i]).string(), ": ", errors[i]);
      if (options.warn) {
        fmt::print(stderr, "selfsup::data::ImageFolder: skipping {}: {}\n", (root_ / candidates[i]).string(), errors[i]);
      }
      skipped_.push_back(candidates[i]);
    }
    TORCH_CHECK(!paths_.empty(), fn, ": all ", candidates.size(), " images in ", root.string(),
                " failed to decode (the first: ", skipped_.front(), ")");
    if (options.warn && !skipped_.empty()) {
      fmt::print(stderr, "selfsup::data::ImageFolder: skipped {} of {} images in {}\n", skipped_.size(),
                 candidates.size(), root.string());
    }
    labels_ = torch::tensor(labels, torch::kLong).to(device_);
  }

  ImageFolder(const ImageFolder&) = delete;
  ImageFolder& operator=(const ImageFolder&) = delete;
  ~ImageFolder() { wait_prefetch(); }

  int64_t size() const { return static_cast<int64_t>(paths_.size()); }
  torch::Device device() const { return device_; }
  const std::vector<std::string>& paths() const { return paths_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<std::string>& skipped_files() const { return skipped_; }
  int64_t skipped() const { return static_cast<int64_t>(skipped_.size()); }
  const std::filesystem::path& root() const { return root_; }

  torch::Tensor labels(const torch::Tensor& indices) const {
    return labels_.index_select(0, indices.to(device_));
  }

  /// uint8 (B, 3, size, size) on the dataset's device.
  torch::Tensor images(const torch::Tensor& indices) const {
    auto wanted = host_indices(indices);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (pending_.valid() && pending_indices_ == wanted) {
        auto future = std::move(pending_);
        lock.unlock();
        return finish(future.get());
      }
    }
    return finish(decode_batch(wanted));
  }

  /// Starts decoding `indices` in the background (call with the next batch before training on
  /// the current one).
  void prefetch(const torch::Tensor& indices) const {
    auto wanted = host_indices(indices);
    wait_prefetch();
    std::lock_guard<std::mutex> lock(mutex_);
    pending_indices_ = wanted;
    pending_ = std::async(std::launch::async, [this, wanted] { return decode_batch(wanted); });
  }

  /// Every image decoded once into one tensor on `device`: an InMemoryDataset (Imagenette at
  /// small sizes fits in memory, and on a GPU).
  InMemoryDataset load_all() const {
    auto all = torch::arange(size(), torch::kLong);
    auto images = decode_batch(host_indices(all));
    return {device_.is_cpu() ? images : images.to(device_), labels_};
  }

 private:
  std::vector<int64_t> host_indices(const torch::Tensor& indices) const {
    constexpr std::string_view fn = "selfsup::data::ImageFolder::images";
    TORCH_CHECK(indices.dim() == 1 && indices.scalar_type() == torch::kLong, fn,
                ": indices must be int64 (B), got ", indices.scalar_type(), " ", indices.sizes());
    auto cpu = indices.to(torch::kCPU).contiguous();
    std::vector<int64_t> v(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
    for (auto i : v) {
      TORCH_CHECK(i >= 0 && i < size(), fn, ": index ", i, " is out of range for ", size(), " images");
    }
    return v;
  }

  torch::Tensor decode_batch(const std::vector<int64_t>& indices) const {
    const auto s = options_.size;
    auto out = torch::empty({static_cast<int64_t>(indices.size()), 3, s, s}, torch::kByte);
    if (device_.is_cuda()) out = out.pin_memory();
    detail::parallel_for(static_cast<int64_t>(indices.size()), options_.threads, [&](int64_t i) {
      const auto path = root_ / paths_[indices[i]];
      auto d = detail::decode_file(path, false);
      TORCH_CHECK(d.error.empty(), "selfsup::data::ImageFolder::images: cannot decode ", path.string(),
                  ": ", d.error, " (it passed the check at scan time; construct with verify = true "
                  "to skip such files up front)");
      out[i].copy_(detail::resize_crop(d, s));
    });
    return out;
  }

  torch::Tensor finish(const torch::Tensor& host) const {
    return device_.is_cpu() ? host : host.to(device_, /*non_blocking=*/true);
  }

  void wait_prefetch() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.valid()) pending_.wait();
  }

  std::filesystem::path root_;
  ImageFolderOptions options_;
  torch::Device device_;
  std::vector<std::string> paths_, class_names_, skipped_;
  torch::Tensor labels_;
  mutable std::mutex mutex_;
  mutable std::future<torch::Tensor> pending_;
  mutable std::vector<int64_t> pending_indices_;
};

}  // namespace selfsup::data

#endif
