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
#include <cmath>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
  bool warn = true;                  ///< print a line to stderr for each skipped file and folder
  /// Refuse (skip or stop, as `on_bad` says) images whose header claims more pixels than this,
  /// before any pixel memory is allocated (a forged header would otherwise allocate gigabytes).
  int64_t max_pixels = detail::default_max_pixels;
  /// The class names, in label order. Empty: the sub-folders of `root` that hold at least one
  /// image, sorted. Give a training split's class_names() to its validation split so that both
  /// share one label for each class: a sub-folder not in the list is left out (unlisted_folders),
  /// a listed class without images keeps its label and is reported (missing_classes).
  std::vector<std::string> classes{};
};

namespace detail {

/// Names that listings leave out: hidden files and folders (".ipynb_checkpoints", ".DS_Store").
inline bool is_hidden(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name.front() == '.';
}

// (H, W, 3) bytes -> uint8 (3, size, size): shorter side resized to `size`, centre crop.
inline torch::Tensor resize_crop(const Decoded& d, int64_t size) {
  auto hwc = torch::from_blob(const_cast<uint8_t*>(d.rgb.data()), {d.height, d.width, 3}, torch::kByte);
  auto x = hwc.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32);               // (1, 3, H, W)
  const double scale = static_cast<double>(size) / std::min(d.height, d.width);
  const auto h = std::max<int64_t>(size, std::llround(d.height * scale));
  const auto w = std::max<int64_t>(size, std::llround(d.width * scale));
  if (h != d.height || w != d.width) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{h, w})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(scale < 1.0));
  }
  x = x.narrow(2, (h - size) / 2, size).narrow(3, (w - size) / 2, size);
  return x.squeeze(0).round_().clamp_(0, 255).to(torch::kByte);                    // (3, S, S)
}

}  // namespace detail


/// A labelled image folder as a selfsup::Dataset. Classes are the sub-folders of `root` that hold
/// images, in sorted order (label = position), or the list ImageFolderOptions::classes gives;
/// images within a class are sorted by name. Hidden files and folders (names beginning with a
/// dot) are not read. `paths()` gives each index's path relative to `root`, the form a pair
/// table's path entries take (data::PairTableOptions::paths). `images(indices)` decodes on
/// `threads` threads into pinned memory (when the device is a GPU) and copies to the device;
/// `prefetch(indices)` starts the same work in the background, and a following `images` call
/// with the same indices takes its result. Indices are read back to the host (files are on the
/// host).
class ImageFolder {
 public:
  explicit ImageFolder(const std::filesystem::path& root, const ImageFolderOptions& options = {},
                       torch::Device device = torch::kCPU)
      : root_(root), options_(options), device_(device) {
    constexpr std::string_view fn = "selfsup::data::ImageFolder";
    TORCH_CHECK(options.size >= 1 && options.threads >= 1, fn, ": size and threads must be >= 1, got ",
                options.size, " and ", options.threads);
    TORCH_CHECK(options.max_pixels >= 1, fn, ": max_pixels must be >= 1, got ", options.max_pixels);
    TORCH_CHECK(std::filesystem::is_directory(root), fn, ": ", root.string(), " is not a directory");
    // Every visible sub-folder and its image files.
    std::map<std::string, std::vector<std::string>> folders;
    for (const auto& e : std::filesystem::directory_iterator(root)) {
      if (!e.is_directory() || detail::is_hidden(e.path())) continue;
      auto& files = folders[e.path().filename().string()];
      for (const auto& f : std::filesystem::directory_iterator(e.path())) {
        if (f.is_regular_file() && !detail::is_hidden(f.path()) && detail::is_image_name(f.path())) {
          files.push_back(std::filesystem::relative(f.path(), root).generic_string());
        }
      }
      std::sort(files.begin(), files.end());
    }
    auto warn = [&](const std::string& text) {
      if (options.warn) fmt::print(stderr, "{}: {}\n", fn, text);
    };
    if (options.classes.empty()) {
      for (const auto& [name, files] : folders) {
        if (files.empty()) {
          empty_folders_.push_back(name);
          warn(fmt::format("{}/{} holds no .jpg, .jpeg or .png image: not a class", root.string(), name));
        } else {
          class_names_.push_back(name);
        }
      }
    } else {
      class_names_ = options.classes;
      std::set<std::string> seen;
      for (const auto& name : class_names_) {
        TORCH_CHECK(seen.insert(name).second, fn, ": ImageFolderOptions::classes lists '", name, "' twice");
        auto it = folders.find(name);
        if (it == folders.end() || it->second.empty()) missing_classes_.push_back(name);
      }
      for (const auto& [name, files] : folders) {
        if (seen.count(name) == 0) {
          unlisted_folders_.push_back(name);
          warn(fmt::format("{}/{} is not one of the {} given classes: its {} images are left out", root.string(),
                           name, class_names_.size(), files.size()));
        }
      }
      if (!missing_classes_.empty()) {
        std::string names;
        for (size_t i = 0; i < missing_classes_.size() && i < 10; ++i) names += (i ? ", " : "") + missing_classes_[i];
        warn(fmt::format("{} has no images of {} of the {} given classes ({}{})", root.string(),
                         missing_classes_.size(), class_names_.size(), names, missing_classes_.size() > 10 ? ", ..." : ""));
      }
    }
    std::vector<std::string> candidates;
    std::vector<int64_t> candidate_labels;
    for (size_t c = 0; c < class_names_.size(); ++c) {
      auto it = folders.find(class_names_[c]);
      if (it == folders.end()) continue;
      for (auto& f : it->second) {
        candidates.push_back(std::move(f));
        candidate_labels.push_back(static_cast<int64_t>(c));
      }
    }
    TORCH_CHECK(!candidates.empty(), fn, ": no .jpg, .jpeg or .png images in ", root.string(),
                "/<class>/ (", folders.size(), " class folders found)");
    // Check every file (headers, or full decodes with `verify`) on the decoding threads.
    std::vector<std::string> errors(candidates.size());
    detail::parallel_for(static_cast<int64_t>(candidates.size()), options.threads, [&](int64_t i) {
      errors[i] = detail::decode_file(root_ / candidates[i], !options.verify, options.max_pixels).error;
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
      warn(fmt::format("skipping {}: {}", (root_ / candidates[i]).string(), errors[i]));
      skipped_.push_back(candidates[i]);
    }
    TORCH_CHECK(!paths_.empty(), fn, ": all ", candidates.size(), " images in ", root.string(),
                " failed to decode (the first: ", skipped_.front(), ")");
    if (!skipped_.empty()) warn(fmt::format("skipped {} of {} images in {}", skipped_.size(), candidates.size(), root.string()));
    labels_ = torch::tensor(labels, torch::kLong).to(device_);
  }

  ImageFolder(const ImageFolder&) = delete;
  ImageFolder& operator=(const ImageFolder&) = delete;
  ~ImageFolder() { wait_prefetch(); }

  int64_t size() const { return static_cast<int64_t>(paths_.size()); }
  torch::Device device() const { return device_; }
  const std::vector<std::string>& paths() const { return paths_; }
  /// The classes in label order (give them to another split through ImageFolderOptions::classes).
  const std::vector<std::string>& class_names() const { return class_names_; }
  /// Sub-folders without images, left out of the derived class list.
  const std::vector<std::string>& empty_folders() const { return empty_folders_; }
  /// Given classes with no images here (they keep their labels).
  const std::vector<std::string>& missing_classes() const { return missing_classes_; }
  /// Sub-folders that are not among the given classes (their images left out).
  const std::vector<std::string>& unlisted_folders() const { return unlisted_folders_; }
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
      auto d = detail::decode_file(path, false, options_.max_pixels);
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
  std::vector<std::string> paths_, class_names_, skipped_, empty_folders_, missing_classes_, unlisted_folders_;
  torch::Tensor labels_;
  mutable std::mutex mutex_;
  mutable std::future<torch::Tensor> pending_;
  mutable std::vector<int64_t> pending_indices_;
};

}  // namespace selfsup::data

#endif
