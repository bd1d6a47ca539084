#pragma once
/// \file
/// data::ImageFolder: images on disk in the layout `root/<class>/<image>.jpg|.jpeg|.png` (ImageNet,
/// Imagenette, ImageNet-100), decoded with libjpeg-turbo and libpng on background threads into
/// pinned memory. Two reads: `images(indices)`, torchvision's evaluation transform (the shorter
/// side resized to `size`, then the centre cropped), and `crops(indices, boxes, size)`, boxes in
/// each image's own pixels resized to `size` (RandomResizedCrop drawn on the full image: give the
/// boxes sample_resized_crop_boxes draws against `sizes(indices)`). Both decode only what they
/// need of a JPEG (its rows and iMCU columns around the box, at 1/2, 1/4 or 1/8 scale in the DCT
/// when the box allows) and resample once, with Pillow's antialiased bilinear filter as
/// torchvision's PIL pipeline does. Scanning reads headers only; a file that fails to decode later
/// is skipped and reported, and another image of its class takes its place, so batches stay full.
///
/// Not part of <selfsup/selfsup.hpp>: include it on purpose and link `selfsup::io` (defined by
/// CMake when libjpeg-turbo and libpng are found; Debian: libturbojpeg0-dev libjpeg62-turbo-dev
/// libpng-dev). Without those headers this file declares nothing.

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>) && __has_include(<jpeglib.h>)

#include <selfsup/data/detail/decode.hpp>
#include <selfsup/data/detail/folder_files.hpp>
#include <selfsup/data/detail/folder_listing.hpp>
#include <selfsup/data/in_memory.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::data {

/// What happens to an image that cannot be decoded (corrupt, truncated, not JPEG or PNG, CMYK).
enum class BadImage {
  skip,  ///< leave it out (at scan time) or put another image of its class in its place (at batch
         ///< time), print a warning naming it, count it (ImageFolder::skipped)
  stop,  ///< throw, naming the file
};

struct ImageFolderOptions {
  int64_t size = 64;                 ///< side of images(): the shorter side is resized to it
                                     ///< (torchvision's Resize), then the centre cropped
  int64_t threads = 4;               ///< decoding threads, >= 1
  BadImage on_bad = BadImage::skip;
  bool verify = false;               ///< decode every image once while scanning, so that bad files
                                     ///< are left out before training; false: headers only (sizes,
                                     ///< formats, the pixel limit), and a file whose body is corrupt
                                     ///< is found when a batch reads it (see BadImage)
  bool warn = true;                  ///< print a line to stderr for each skipped file and folder
  /// Refuse (skip or stop, as `on_bad` says) images whose header claims more pixels than this,
  /// before any pixel memory is allocated (a forged header would otherwise allocate gigabytes).
  int64_t max_pixels = detail::default_max_pixels;
  /// The class names, in label order. Empty: the sub-folders of `root` that hold at least one
  /// image, sorted. Give a training split's class_names() to its validation split so that both
  /// share one label for each class: a sub-folder not in the list is left out (unlisted_folders),
  /// a listed class without images keeps its label and is reported (missing_classes).
  std::vector<std::string> classes{};
  /// Decode JPEGs at 1/2, 1/4 or 1/8 scale in the DCT when the box is still at least the output
  /// size there (much faster for small outputs; pixels then differ from a full decode's resampling
  /// by about a level on average). false: every JPEG at full scale.
  bool dct_scaling = true;
};

/// A labelled image folder as a selfsup::Dataset. Classes are the sub-folders of `root` that hold
/// images, in sorted order (label = position), or the list ImageFolderOptions::classes gives;
/// images within a class are sorted by name. Hidden files and folders (names beginning with a
/// dot) are not read. `paths()` gives each index's path relative to `root`, the form a pair
/// table's path entries take (data::PairTableOptions::paths). Reads decode on `threads` threads
/// into pinned memory (when the device is a GPU) and copy to the device; `prefetch(indices)`
/// starts images(indices) in the background, and a following `images` call with the same
/// indices takes its result. Indices are read back to the host (files are on the host).
class ImageFolder {
 public:
  explicit ImageFolder(const std::filesystem::path& root, const ImageFolderOptions& options = {},
                       torch::Device device = torch::kCPU)
      : root_(root), options_(options), device_(device) {
    constexpr std::string_view fn = "selfsup::data::ImageFolder";
    TORCH_CHECK(options.size >= 1 && options.threads >= 1, fn, ": size and threads must be >= 1, got ", options.size,
                " and ", options.threads);
    TORCH_CHECK(options.max_pixels >= 1, fn, ": max_pixels must be >= 1, got ", options.max_pixels);
    TORCH_CHECK(std::filesystem::is_directory(root), fn, ": ", root.string(), " is not a directory");
    auto listing = detail::list_folder(root, options.classes, fn, [&](const std::string& text) { warn(text); });
    class_names_ = std::move(listing.class_names);
    empty_folders_ = std::move(listing.empty_folders);
    missing_classes_ = std::move(listing.missing_classes);
    unlisted_folders_ = std::move(listing.unlisted_folders);
    const auto& candidates = listing.files;
    // Every file's header (or, with `verify`, its full decode) on the decoding threads.
    std::vector<detail::Decoded> checks(candidates.size());
    detail::parallel_for(static_cast<int64_t>(candidates.size()), options.threads, [&](int64_t i) {
      const auto path = root_ / candidates[static_cast<size_t>(i)];
      auto& c = checks[static_cast<size_t>(i)];
      c = options.verify ? detail::decode_file(path, false, options.max_pixels) : detail::read_header(path, options.max_pixels);
      c.rgb = {};
    });
    auto& f = files_;
    f.root = root_;
    f.class_names = class_names_;
    f.members.resize(class_names_.size());
    f.skip_bad = options.on_bad == BadImage::skip;
    f.warn = options.warn;
    f.dct_scaling = options.dct_scaling;
    f.max_pixels = options.max_pixels;
    for (size_t i = 0; i < candidates.size(); ++i) {
      const auto& c = checks[i];
      if (c.error.empty()) {
        f.members[static_cast<size_t>(listing.labels[i])].push_back(f.size());
        f.paths.push_back(candidates[i]);
        f.labels.push_back(listing.labels[i]);
        f.heights.push_back(c.height);
        f.widths.push_back(c.width);
        continue;
      }
      TORCH_CHECK(options.on_bad == BadImage::skip, fn, ": cannot decode ", (root_ / candidates[i]).string(), ": ",
                  c.error);
      warn(fmt::format("skipping {}: {}", (root_ / candidates[i]).string(), c.error));
      f.add_skipped(candidates[i]);
    }
    const auto skipped = f.skipped();
    TORCH_CHECK(f.size() > 0, fn, ": all ", candidates.size(), " images in ", root.string(),
                " failed to decode (the first: ", skipped.front(), ")");
    if (!skipped.empty()) warn(fmt::format("skipped {} of {} images in {}", skipped.size(), candidates.size(), root.string()));
    labels_ = torch::tensor(f.labels, torch::kLong).to(device_);
    auto hw = torch::empty({size(), 2}, torch::kLong);
    auto a = hw.accessor<int64_t, 2>();
    for (int64_t i = 0; i < size(); ++i) {
      a[i][0] = f.heights[static_cast<size_t>(i)];
      a[i][1] = f.widths[static_cast<size_t>(i)];
    }
    sizes_ = hw.to(device_);
  }

  ImageFolder(const ImageFolder&) = delete;
  ImageFolder& operator=(const ImageFolder&) = delete;
  ~ImageFolder() { wait_prefetch(); }

  int64_t size() const { return files_.size(); }
  torch::Device device() const { return device_; }
  const ImageFolderOptions& options() const { return options_; }
  const std::vector<std::string>& paths() const { return files_.paths; }
  /// The classes in label order (give them to another split through ImageFolderOptions::classes).
  const std::vector<std::string>& class_names() const { return class_names_; }
  /// Sub-folders without images, left out of the derived class list.
  const std::vector<std::string>& empty_folders() const { return empty_folders_; }
  /// Given classes with no images here (they keep their labels).
  const std::vector<std::string>& missing_classes() const { return missing_classes_; }
  /// Sub-folders that are not among the given classes (their images left out).
  const std::vector<std::string>& unlisted_folders() const { return unlisted_folders_; }
  /// Files left out at scan time, then files that failed to decode in a batch (each once).
  std::vector<std::string> skipped_files() const { return files_.skipped(); }
  int64_t skipped() const { return static_cast<int64_t>(skipped_files().size()); }
  const std::filesystem::path& root() const { return root_; }

  torch::Tensor labels(const torch::Tensor& indices) const { return labels_.index_select(0, indices.to(device_)); }

  /// int64 (B, 2): each image's height and width in pixels, from its header, on the device.
  torch::Tensor sizes(const torch::Tensor& indices) const { return sizes_.index_select(0, indices.to(device_)); }

  /// uint8 (B, 3, size, size) on the dataset's device: torchvision's Resize(size) then
  /// CenterCrop(size) of each image.
  torch::Tensor images(const torch::Tensor& indices) const {
    auto wanted = host_indices(indices, "images");
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (pending_.valid() && pending_indices_ == wanted) {
        auto future = std::move(pending_);
        lock.unlock();
        return finish(future.get());
      }
    }
    return finish(centre_batch(wanted));
  }

  /// Starts images(indices) in the background (call with the next batch before training on the
  /// current one).
  void prefetch(const torch::Tensor& indices) const {
    auto wanted = host_indices(indices, "prefetch");
    wait_prefetch();
    std::lock_guard<std::mutex> lock(mutex_);
    pending_indices_ = wanted;
    pending_ = std::async(std::launch::async, [this, wanted] { return centre_batch(wanted); });
  }

  /// uint8 (B, 3, size, size) on the dataset's device: box i (top, left, height, width, in image
  /// indices[i]'s own pixels; int64 or floating (B, 4), on any device) of each image resized to
  /// size x size, mirrored left to right where flip[i] (bool (B), optional). What torchvision's
  /// resized_crop does to a PIL image, decoding only what the box needs.
  torch::Tensor crops(const torch::Tensor& indices, const torch::Tensor& boxes, int64_t size,
                      const torch::Tensor& flip = {}) const {
    constexpr std::string_view fn = "selfsup::data::ImageFolder::crops";
    auto wanted = host_indices(indices, "crops");
    const auto b = static_cast<int64_t>(wanted.size());
    TORCH_CHECK(size >= 1, fn, ": size must be >= 1, got ", size);
    TORCH_CHECK(boxes.dim() == 2 && boxes.size(0) == b && boxes.size(1) == 4, fn, ": boxes must be (", b,
                ", 4) for ", b, " indices, got ", boxes.sizes());
    TORCH_CHECK(!flip.defined() || (flip.dim() == 1 && flip.size(0) == b), fn, ": flip must be (", b, "), got ",
                flip.sizes());
    auto host_boxes = boxes.to(torch::kCPU, torch::kFloat64).contiguous();
    auto host_flip = flip.defined() ? flip.to(torch::kCPU, torch::kBool).contiguous() : torch::zeros({b}, torch::kBool);
    const auto* bx = host_boxes.data_ptr<double>();
    for (int64_t i = 0; i < b; ++i) files_.check_box(fn, i, wanted[static_cast<size_t>(i)], bx + 4 * i);
    const auto* fl = host_flip.data_ptr<bool>();
    return finish(decode_batch(wanted, size, [&](int64_t i, int64_t j) {
      // The box of image i; for another image j of its class taking a failed file's place, the
      // same place relative to its size.
      const double* r = bx + 4 * i;
      const auto at = static_cast<size_t>(wanted[static_cast<size_t>(i)]), to = static_cast<size_t>(j);
      const double fy = static_cast<double>(files_.heights[to]) / files_.heights[at];
      const double fx = static_cast<double>(files_.widths[to]) / files_.widths[at];
      return Request{{r[0] * fy, r[1] * fx, r[2] * fy, r[3] * fx, /*within=*/true}, fl[i]};
    }));
  }

  /// Images `indices` as views::ImageSources: a view generator draws each view's box on the full
  /// image (its size from the header) and crops() decodes only that. The folder must outlive them.
  views::ImageSources sources(const torch::Tensor& indices) const {
    auto held = indices.to(device_);
    auto hw = sizes(held);
    return {hw.select(1, 0), hw.select(1, 1), 3,
            [this, held](const torch::Tensor& which, const torch::Tensor& boxes, int64_t size, const torch::Tensor& flip) {
              return crops(held.index_select(0, which.to(device_)), boxes, size, flip);
            }};
  }

  /// Every image through images() into one tensor on `device`: an InMemoryDataset (Imagenette at
  /// small sizes fits in memory, and on a GPU).
  InMemoryDataset load_all() const {
    auto all = torch::arange(size(), torch::kLong);
    auto images = centre_batch(host_indices(all, "load_all"));
    return {device_.is_cpu() ? images : images.to(device_), labels_};
  }

 private:
  struct Request {
    detail::PixelBox box;  // in the pixels of the image asked for
    bool flip = false;
  };

  void warn(const std::string& text) const {
    if (options_.warn) fmt::print(stderr, "selfsup::data::ImageFolder: {}\n", text);
  }

  std::vector<int64_t> host_indices(const torch::Tensor& indices, std::string_view what) const {
    TORCH_CHECK(indices.dim() == 1 && indices.scalar_type() == torch::kLong, "selfsup::data::ImageFolder::", what,
                ": indices must be int64 (B), got ", indices.scalar_type(), " ", indices.sizes());
    auto cpu = indices.to(torch::kCPU).contiguous();
    std::vector<int64_t> v(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
    for (auto i : v) {
      TORCH_CHECK(i >= 0 && i < size(), "selfsup::data::ImageFolder::", what, ": index ", i, " is out of range for ",
                  size(), " images");
    }
    return v;
  }

  torch::Tensor centre_batch(const std::vector<int64_t>& wanted) const {
    return decode_batch(wanted, options_.size, [&](int64_t, int64_t j) {
      const auto at = static_cast<size_t>(j);
      return Request{detail::resize_centre_box(files_.heights[at], files_.widths[at], options_.size), false};
    });
  }

  template <class MakeRequest>
  torch::Tensor decode_batch(const std::vector<int64_t>& wanted, int64_t size, MakeRequest&& make) const {
    auto out = torch::empty({static_cast<int64_t>(wanted.size()), 3, size, size}, torch::kByte);
    if (device_.is_cuda()) out = out.pin_memory();
    files_.decode_batch(wanted, size, options_.threads, out.data_ptr<uint8_t>(), make);
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
  std::vector<std::string> class_names_, empty_folders_, missing_classes_, unlisted_folders_;
  detail::FolderFiles files_;
  torch::Tensor labels_, sizes_;
  mutable std::mutex mutex_;
  mutable std::future<torch::Tensor> pending_;
  mutable std::vector<int64_t> pending_indices_;
};

/// `memory` (the images of `folder` at `indices`, as images() reads them; all of them when
/// `indices` is undefined) with its training views cut from the folder's full images: a trainer
/// draws each view's box on the original image and decodes only that box, as the papers' crops.
inline InMemoryDataset with_folder_views(InMemoryDataset memory, std::shared_ptr<const ImageFolder> folder,
                                         torch::Tensor indices = {}) {
  TORCH_CHECK(folder != nullptr, "selfsup::data::with_folder_views: no folder");
  if (indices.defined()) indices = indices.to(torch::kCPU, torch::kLong);
  TORCH_CHECK(memory.size() == (indices.defined() ? indices.size(0) : folder->size()),
              "selfsup::data::with_folder_views: ", memory.size(), " images in memory for ",
              indices.defined() ? indices.size(0) : folder->size(), " of the folder");
  return memory.with_sources([folder, indices](const torch::Tensor& which) {
    return folder->sources(indices.defined() ? indices.index_select(0, which.to(torch::kCPU)) : which);
  });
}

}  // namespace selfsup::data

#endif
