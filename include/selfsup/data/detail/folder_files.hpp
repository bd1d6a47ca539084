#pragma once
/// \file
/// Internal to data::ImageFolder: the scanned files (paths, sizes from their headers, labels) and
/// the decoding of one box of one of them, with a file that fails put aside, reported once, and
/// replaced by the next good image of its class, so that a batch stays full and its labels stay
/// true.

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>) && __has_include(<jpeglib.h>)

#include <selfsup/data/detail/region.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::data::detail {

/// torchvision's Resize(size) then CenterCrop(size) of an h x w image as one box of it: the
/// shorter side becomes size, the longer int(size * long / short), and the crop's corner is
/// round((side - size) / 2) there; the resampling reads around the box (a resize of the whole).
inline PixelBox resize_centre_box(double h, double w, int64_t size) {
  const double s = static_cast<double>(size);
  const bool tall = h > w;
  const double rh = tall ? std::floor(s * h / w) : s, rw = tall ? s : std::floor(s * w / h);
  const double sy = h / rh, sx = w / rw;
  const double top = std::nearbyint((rh - s) / 2.0), left = std::nearbyint((rw - s) / 2.0);
  return {top * sy, left * sx, s * sy, s * sx, /*within=*/false};
}

class FolderFiles {
 public:
  std::filesystem::path root;
  std::vector<std::string> paths;              ///< relative to root
  std::vector<int> heights, widths;            ///< from the headers
  std::vector<int64_t> labels;
  std::vector<std::vector<int64_t>> members;   ///< each class's indices, ascending
  std::vector<std::string> class_names;
  bool skip_bad = true, warn = true, dct_scaling = true;
  int64_t max_pixels = default_max_pixels;

  int64_t size() const { return static_cast<int64_t>(paths.size()); }

  /// Refuses box i (top, left, height, width) unless it lies in image `index`.
  void check_box(std::string_view fn, int64_t i, int64_t index, const double* r) const {
    const auto h = heights[static_cast<size_t>(index)], w = widths[static_cast<size_t>(index)];
    TORCH_CHECK(r[0] >= 0 && r[1] >= 0 && r[2] > 0 && r[3] > 0 && r[0] + r[2] <= h && r[1] + r[3] <= w, fn, ": box ",
                i, " (top ", r[0], ", left ", r[1], ", height ", r[2], ", width ", r[3], ") does not lie in ",
                paths[static_cast<size_t>(index)], " (", h, " x ", w, ")");
  }

  /// Images `wanted` into `out` (B, 3, size, size) on `threads` threads: image i's request is
  /// make(i, j) for the image j that serves it (i's own, or one of its class in its place), a
  /// struct with `box` (PixelBox) and `flip`.
  template <class MakeRequest>
  void decode_batch(const std::vector<int64_t>& wanted, int64_t size, int64_t threads, uint8_t* out,
                    MakeRequest& make) const {
    parallel_for(static_cast<int64_t>(wanted.size()), threads, [&](int64_t i) {
      thread_local RegionScratch scratch;
      const auto index = wanted[static_cast<size_t>(i)];
      decode(index, [&](int64_t j) { return make(i, j).box; }, make(i, index).flip, size, out + i * 3 * size * size,
             scratch);
    });
  }

  /// Files left out at scan time (added here), then those that failed in a batch, each once.
  std::vector<std::string> skipped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return skipped_;
  }
  void add_skipped(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    skipped_.push_back(path);
  }

  /// The box `box_of(j)` of image j = `index` resized to size x size (mirrored when `flip`) into
  /// `out` (3, size, size); when that image fails, the next good image j of its class. Throws
  /// when `skip_bad` is false and a file fails, or when every image of the class has failed.
  template <class BoxOf>
  void decode(int64_t index, const BoxOf& box_of, bool flip, int64_t size, uint8_t* out, RegionScratch& scratch) const {
    const auto label = labels[static_cast<size_t>(index)];
    const auto& same = members[static_cast<size_t>(label)];
    const auto at = static_cast<size_t>(std::lower_bound(same.begin(), same.end(), index) - same.begin());
    const auto s = static_cast<int>(size);
    for (size_t k = 0; k < same.size(); ++k) {
      const int64_t j = same[(at + k) % same.size()];
      if (is_bad(j)) continue;
      const auto h = heights[static_cast<size_t>(j)], w = widths[static_cast<size_t>(j)];
      const PixelBox b = box_of(j);
      auto bytes = read_whole(root / paths[static_cast<size_t>(j)]);
      std::string error = bytes ? "" : "cannot open the file";
      if (bytes) {
        const auto info = decode_box(*bytes, b, s, s, flip, out, scratch, dct_scaling, max_pixels);
        error = info.error;
        if (error.empty() && (info.height != h || info.width != w)) {
          error = fmt::format("its size changed since the folder was scanned ({} x {} then, {} x {} now)", h, w,
                              info.height, info.width);
        }
      }
      if (error.empty()) return;
      mark_bad(j, error);
    }
    TORCH_CHECK(false, "selfsup::data::ImageFolder: every image of class '", class_names[static_cast<size_t>(label)],
                "' failed to decode (", same.size(), " images; ImageFolder::skipped_files() names them)");
  }

 private:
  bool is_bad(int64_t index) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return !bad_.empty() && bad_[static_cast<size_t>(index)] != 0;
  }

  void mark_bad(int64_t index, const std::string& error) const {
    const auto path = (root / paths[static_cast<size_t>(index)]).string();
    TORCH_CHECK(skip_bad, "selfsup::data::ImageFolder: cannot decode ", path, ": ", error);
    std::lock_guard<std::mutex> lock(mutex_);
    if (bad_.empty()) bad_.assign(paths.size(), 0);
    if (bad_[static_cast<size_t>(index)]) return;
    bad_[static_cast<size_t>(index)] = 1;
    skipped_.push_back(paths[static_cast<size_t>(index)]);
    if (warn) {
      fmt::print(stderr, "selfsup::data::ImageFolder: skipping {}: {} (the next image of its class takes its place)\n",
                 path, error);
    }
  }

  mutable std::mutex mutex_;
  mutable std::vector<std::string> skipped_;
  mutable std::vector<char> bad_;
};

}  // namespace selfsup::data::detail

#endif
