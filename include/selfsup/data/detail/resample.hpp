#pragma once
/// \file
/// Internal to data::ImageFolder: a box of an interleaved RGB image resampled to an output size
/// with Pillow's antialiased bilinear filter, the resampling torchvision applies to the PIL images
/// of an image folder (RandomResizedCrop, Resize): a triangle filter whose support grows with the
/// downscaling factor, weights normalised per output pixel, in fixed point, rounded, the
/// result written as planar uint8 (C, H, W), optionally mirrored left to right. The box may have
/// fractional edges (a box of a JPEG decoded at 1/2, 1/4 or 1/8 scale). No LibTorch here.
///
/// The two passes run vertical first and round to uint8 in between as Pillow does after its first
/// pass; Pillow runs the horizontal pass first and keeps 22 bits of each weight where these keep
/// 14, so a pixel may differ from Pillow's by one level where the rounding falls apart.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

// The row pass, the resampling's inner loop, compiled twice on x86-64 with GCC: for AVX2 (twice
// the lanes) and for the baseline, the machine choosing at load time. Clang before 16 cannot link
// such clones of an inline function from two translation units, and nvcc does not take them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define SELFSUP_DETAIL_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define SELFSUP_DETAIL_AVX2_CLONE
#endif

namespace selfsup::data::detail {

/// The taps of one axis: output pixel i reads `count[i]` source pixels from `first[i]` on, with
/// fixed-point weights `weights[i * stride ...]` (their sum is 1 << bits, up to rounding).
struct AxisTaps {
  static constexpr int bits = 14;  ///< weights fit in int16, so that the passes vectorise
  std::vector<int> first, count;
  std::vector<int32_t> weights;
  int stride = 0;
  int lo = 0, hi = 0;  ///< the source range every output reads from: [lo, hi)
};

/// Pillow's bilinear coefficients for resampling [box0, box1) of a source axis to `out_size`
/// pixels: scale = (box1 - box0) / out, support = max(scale, 1), output pixel x centred at
/// box0 + (x + 0.5) * scale, weight of source pixel j the triangle of (j + 0.5 - centre) /
/// max(scale, 1), over the source pixels within the support and within [lo, hi), normalised.
/// [lo, hi) is the whole axis for a resize of the whole image (torchvision's Resize), and the box
/// itself for a crop that is then resized (its RandomResizedCrop): Pillow resizes the cropped
/// image, whose edges its taps cannot cross.
inline AxisTaps axis_taps(double box0, double box1, int lo, int hi, int out_size) {
  AxisTaps t;
  const double scale = (box1 - box0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filterscale;  // the triangle's support is 1 at scale 1
  t.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.stride, 0);
  std::vector<double> w(t.stride);
  t.lo = hi;
  t.hi = lo;
  for (int x = 0; x < out_size; ++x) {
    const double centre = box0 + (x + 0.5) * scale;
    // int() truncates towards zero, as Pillow's does.
    int xmin = static_cast<int>(centre - support + 0.5);
    int xmax = static_cast<int>(centre + support + 0.5);
    xmin = std::max(xmin, lo);
    xmax = std::min(xmax, hi);
    const int n = std::min(std::max(xmax - xmin, 0), t.stride);
    double total = 0;
    for (int j = 0; j < n; ++j) {
      const double d = std::abs((j + xmin - centre + 0.5) / filterscale);
      w[j] = d < 1.0 ? 1.0 - d : 0.0;
      total += w[j];
    }
    for (int j = 0; j < n; ++j) {
      const double k = total != 0 ? w[j] / total : 0.0;
      t.weights[static_cast<size_t>(x) * t.stride + j] =
          static_cast<int32_t>(k * (1 << AxisTaps::bits) + (k >= 0 ? 0.5 : -0.5));
    }
    t.first[x] = xmin;
    t.count[x] = n;
    if (n > 0) {
      t.lo = std::min(t.lo, xmin);
      t.hi = std::max(t.hi, xmin + n);
    }
  }
  if (t.hi < t.lo) t.lo = t.hi = 0;
  return t;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = (acc + (1 << (AxisTaps::bits - 1))) >> AxisTaps::bits;
  return static_cast<uint8_t>(std::min(std::max(v, 0), 255));
}

/// Source pixels for render(): interleaved RGB rows [row0, row0 + rows) and columns [col0, col0 +
/// cols) of an image of `full_height` x `full_width` (the whole image, or the part a region
/// decode produced), `stride` bytes apart.
struct RgbRows {
  const uint8_t* data = nullptr;
  int rows = 0, cols = 0, stride = 0;
  int row0 = 0, col0 = 0;
  int full_height = 0, full_width = 0;
};

/// One separable pass along rows: output row y (of `out_rows`) is the weighted sum of the rows
/// `first[y] + j` of `src` (row r at src + (r - src_row0) * src_stride), over `width` bytes,
/// rounded to uint8 into dst + y * dst_stride. Rows are contiguous, so the inner loop vectorises.
SELFSUP_DETAIL_AVX2_CLONE inline void row_pass(const uint8_t* src, size_t src_stride, int src_row0, const AxisTaps& t, int out_rows,
                     int width, uint8_t* dst, size_t dst_stride, std::vector<int32_t>& acc) {
  acc.resize(static_cast<size_t>(width));
  int32_t* __restrict a = acc.data();
  for (int y = 0; y < out_rows; ++y) {
    std::fill(a, a + width, 0);
    const int32_t* w = t.weights.data() + static_cast<size_t>(y) * t.stride;
    for (int j = 0; j < t.count[y]; ++j) {
      const int16_t k = static_cast<int16_t>(w[j]);
      const uint8_t* __restrict row = src + static_cast<size_t>(t.first[y] + j - src_row0) * src_stride;
      for (int i = 0; i < width; ++i) a[i] += static_cast<int32_t>(k) * static_cast<int16_t>(row[i]);
    }
    uint8_t* __restrict d = dst + static_cast<size_t>(y) * dst_stride;
    for (int i = 0; i < width; ++i) d[i] = clip8(a[i]);
  }
}

/// Resamples `src` with the taps `ty` (rows) and `tx` (columns) to `out_h` x `out_w`, into planar
/// uint8 `out` (3, out_h, out_w), mirrored left to right when `flip`. The rows and columns the
/// taps read must lie in `src`. Both passes run along rows: the first over the source's rows,
/// then, after a transpose into 4-byte pixels (whole-word moves), over the columns.
inline void render(const RgbRows& src, const AxisTaps& ty, const AxisTaps& tx, int out_h, int out_w, bool flip,
                   uint8_t* out, std::vector<int32_t>& acc, std::vector<uint8_t>& tmp) {
  const int c0 = tx.lo, ncols = tx.hi - tx.lo;  // the columns the second pass reads
  const size_t first = static_cast<size_t>(out_h) * ncols * 3 + 1;  // + 1: the last pixel's 4-byte load
  const size_t turned = static_cast<size_t>(ncols) * out_h * 4;
  const size_t second = static_cast<size_t>(out_w) * out_h * 4;
  tmp.resize(first + turned + 2 * second);
  uint8_t* p1 = tmp.data();   // (out_h, ncols, 3)
  uint8_t* p2 = p1 + first;   // (ncols, out_h, 4): the fourth byte is carried along and dropped
  uint8_t* p3 = p2 + turned;  // (out_w, out_h, 4)
  uint8_t* p4 = p3 + second;  // (out_h, out_w, 4)
  row_pass(src.data + static_cast<size_t>(c0 - src.col0) * 3, static_cast<size_t>(src.stride), src.row0, ty, out_h,
           ncols * 3, p1, static_cast<size_t>(ncols) * 3, acc);
  // Transposes in tiles that stay in cache.
  constexpr int tile = 32;
  for (int y0 = 0; y0 < out_h; y0 += tile) {
    for (int x0 = 0; x0 < ncols; x0 += tile) {
      for (int y = y0; y < std::min(y0 + tile, out_h); ++y) {
        const uint8_t* s = p1 + static_cast<size_t>(y) * ncols * 3;
        for (int x = x0; x < std::min(x0 + tile, ncols); ++x) {
          std::memcpy(p2 + (static_cast<size_t>(x) * out_h + y) * 4, s + 3 * x, 4);
        }
      }
    }
  }
  row_pass(p2, static_cast<size_t>(out_h) * 4, c0, tx, out_w, out_h * 4, p3, static_cast<size_t>(out_h) * 4, acc);
  // Back to rows (mirrored when flipped) as whole words, then each row split into the planes.
  for (int x0 = 0; x0 < out_w; x0 += tile) {
    for (int y0 = 0; y0 < out_h; y0 += tile) {
      for (int x = x0; x < std::min(x0 + tile, out_w); ++x) {
        const uint8_t* s = p3 + static_cast<size_t>(x) * out_h * 4;
        const int o = flip ? out_w - 1 - x : x;
        for (int y = y0; y < std::min(y0 + tile, out_h); ++y) {
          std::memcpy(p4 + (static_cast<size_t>(y) * out_w + o) * 4, s + 4 * y, 4);
        }
      }
    }
  }
  const size_t plane = static_cast<size_t>(out_h) * out_w;
  const uint8_t* __restrict w = p4;
  uint8_t* __restrict r = out;
  uint8_t* __restrict g = out + plane;
  uint8_t* __restrict b = out + 2 * plane;
  for (size_t i = 0; i < plane; ++i) {
    r[i] = w[4 * i];
    g[i] = w[4 * i + 1];
    b[i] = w[4 * i + 2];
  }
}

}  // namespace selfsup::data::detail
