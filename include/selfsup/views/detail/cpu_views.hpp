#pragma once
/// \file
/// Internal: the CPU path of views::Augmentation. Each view is rendered in one pass over its own
/// pixels while they sit in cache: resized crop (and flip) straight from the uint8 or floating
/// source, then the sample's colour jitter in its drawn order, grayscale, solarize and
/// normalisation, views spread over threads with at::parallel_for. The arithmetic is
/// torchvision's (tensor path), step by step in the images' dtype, so the views equal those of
/// the batched tensor operations in functional.hpp within their tolerances; the crop repeats the
/// batched crop's operations in the same order and gives the same values.

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace selfsup::views::detail {

/// The stages a CPU render applies after the crop, fixed for a whole batch.
struct CpuViewStages {
  int64_t height = 32;         ///< output size
  int64_t width = 32;
  bool brightness = false;     ///< jitter operations switched on (saturation and hue need RGB)
  bool contrast = false;
  bool saturation = false;
  bool hue = false;
  bool grayscale = false;
  bool solarize = false;
  double solarize_threshold = 0.5;
  std::vector<double> mean = {};  ///< normalisation; empty: none
  std::vector<double> std = {};
  bool finish = true;  ///< solarize and normalise here (false when a blur comes in between)

  /// Whether colour jitter is on at all; the batched passes then clamp every view to [0, 1].
  bool jitter() const { return brightness || contrast || saturation || hue; }
};

/// Per-view parameters, as drawn for the batched path (CPU tensors).
struct CpuViewParams {
  torch::Tensor boxes;    ///< int64 (N, 4): top, left, height, width
  torch::Tensor flip;     ///< bool (N)
  torch::Tensor applied;  ///< bool (N): jittered
  torch::Tensor factors;  ///< float64 (N, 4): brightness, contrast, saturation, hue
  torch::Tensor order;    ///< int64 (N, 4): operation ids in the order they apply
  torch::Tensor gray;     ///< bool (N)
  torch::Tensor solarize; ///< bool (N)
};

namespace cpu {

template <class T>
inline T clamp01(T v) {
  return std::min(std::max(v, T(0)), T(1));
}

// torchvision's luma weights, in the images' dtype.
template <class T>
inline T luma(T r, T g, T b) {
  return T(0.2989) * r + T(0.587) * g + T(0.114) * b;
}

// Source index pairs and weights of PyTorch's bilinear resize (align_corners=False) of `extent`
// pixels starting at `offset` to `out` pixels, as functional::detail::bilinear_taps computes them.
template <class I, class T>
inline void taps(int64_t offset, int64_t extent, int64_t out, I* i0, I* i1, T* w1) {
  const double scale = static_cast<double>(extent) / static_cast<double>(out);
  const double last = static_cast<double>(extent) - 1.0;
  for (int64_t d = 0; d < out; ++d) {
    const double src = std::max(scale * (static_cast<double>(d) + 0.5) - 0.5, 0.0);
    const double lo = std::min(std::floor(src), last);
    const double hi = std::min(lo + 1.0, last);
    i0[d] = static_cast<I>(static_cast<int64_t>(lo) + offset);
    i1[d] = static_cast<I>(static_cast<int64_t>(hi) + offset);
    w1[d] = static_cast<T>(std::min(std::max(src - lo, 0.0), 1.0));
  }
}

template <class I, class T>
inline void mirror(int64_t out, I* i0, I* i1, T* w1) {
  std::reverse(i0, i0 + out);
  std::reverse(i1, i1 + out);
  std::reverse(w1, w1 + out);
}

// x = clamp(f x + (1 - f) target) with a constant target (0 for brightness, the mean luma for
// contrast): torchvision's `_blend`.
template <class T>
inline void blend_constant(T* __restrict x, int64_t n, T f, T rest, T target) {
  const T add = rest * target;
  for (int64_t i = 0; i < n; ++i) x[i] = clamp01(f * x[i] + add);
}

// Means accumulated in float64, in eight interleaved partial sums (which vectorise).
template <class T, class F>
inline T mean_of(int64_t n, F value) {
  double part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int64_t j = 0; j < 8; ++j) part[j] += static_cast<double>(value(i + j));
  }
  for (; i < n; ++i) part[0] += static_cast<double>(value(i));
  const double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  return static_cast<T>(sum / static_cast<double>(n));
}

template <class T>
inline T mean_luma(const T* r, const T* g, const T* b, int64_t n) {
  return mean_of<T>(n, [&](int64_t i) { return luma(r[i], g[i], b[i]); });
}

template <class T>
inline T mean_plane(const T* x, int64_t n) {
  return mean_of<T>(n, [&](int64_t i) { return x[i]; });
}

template <class T>
inline void saturate(T* __restrict r, T* __restrict g, T* __restrict b, int64_t n, T f, T rest) {
  for (int64_t i = 0; i < n; ++i) {
    const T l = rest * luma(r[i], g[i], b[i]);
    r[i] = clamp01(f * r[i] + l);
    g[i] = clamp01(f * g[i] + l);
    b[i] = clamp01(f * b[i] + l);
  }
}

// c ? a : b on the bits: compilers keep it branch-free, so that the loops below vectorise under
// IEEE semantics (a select between floating values can be turned into a branch that then
// guards the arithmetic feeding it, which blocks vectorisation).
template <class T>
inline T select(bool c, T a, T b) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits mask = Bits(0) - static_cast<Bits>(c);
  return std::bit_cast<T>((std::bit_cast<Bits>(a) & mask) | (std::bit_cast<Bits>(b) & ~mask));
}

// torchvision's adjust_hue, tensor path: _rgb2hsv, (h + factor) % 1, _hsv2rgb, pixel by pixel in
// the same operations, for values in [0, 1].
template <class T>
inline void shift_hue(T* __restrict red, T* __restrict green, T* __restrict blue, int64_t n, T factor) {
  for (int64_t i = 0; i < n; ++i) {
    const T r = red[i], g = green[i], b = blue[i];
    const T maxc = std::max(std::max(r, g), b);
    const T minc = std::min(std::min(r, g), b);
    // torchvision divides by 1 where max = min.
    const bool flat = maxc == minc;
    const T cr = maxc - minc;
    const T s = cr / select(flat, T(1), maxc);
    const T divisor = select(flat, T(1), cr);
    const T rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
    const T hr = bc - gc, hg = (T(2) + rc) - bc, hb = (T(4) + gc) - rc;
    T h = select(maxc == r, hr, select(maxc == g, hg, hb)) / T(6) + T(1);
    // fmod(h, 1) for h in [5/6, 11/6]: minus its integer part, an exact subtraction.
    h = h - static_cast<T>(static_cast<int32_t>(h));
    // remainder(h + factor, 1) for h + factor in [-1/2, 3/2]: likewise, plus 1 when negative.
    h = h + factor;
    h = h - static_cast<T>(static_cast<int32_t>(h));
    h = h + select(h < T(0), T(1), T(0));
    const T h6 = h * T(6);
    const T sector = static_cast<T>(static_cast<int32_t>(h6));  // floor: h6 >= 0
    const T f = h6 - sector;
    const T k = select(sector == T(6), T(0), sector);           // i % 6
    const T v = maxc;
    const T p = clamp01(v * (T(1) - s));
    const T q = clamp01(v * (T(1) - s * f));
    const T t = clamp01(v * (T(1) - s * (T(1) - f)));
    // Sector k: (r, g, b) = (v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q).
    const bool k0 = k == T(0), k1 = k == T(1), k2 = k == T(2), k3 = k == T(3), k4 = k == T(4);
    red[i] = select(k0, v, select(k1, q, select(k2, p, select(k3, p, select(k4, t, v)))));
    green[i] = select(k0, t, select(k1, v, select(k2, v, select(k3, q, p))));
    blue[i] = select(k0, p, select(k1, p, select(k2, t, select(k3, v, select(k4, v, q)))));
  }
}

// One view: crop `src` (channels planes of h x w) to `box`, resize to the output size, flip, then
// the colour stages, into `out` (channels planes of the output size).
template <class S, class T>
struct Renderer {
  const CpuViewStages& stages;
  int64_t channels;
  std::vector<int64_t> r0, r1;
  std::vector<int32_t> c0, c1;  // within the crop's row (32-bit indices gather faster)
  std::vector<T> wy, wx, row;

  Renderer(const CpuViewStages& s, int64_t c, int64_t max_width)
      : stages(s), channels(c), r0(s.height), r1(s.height), c0(s.width), c1(s.width), wy(s.height),
        wx(s.width), row(static_cast<size_t>(max_width)) {}

  void crop(const S* src, int64_t h, int64_t w, const int64_t* box, bool flip, T* out) {
    const int64_t oh = stages.height, ow = stages.width;
    taps(box[0], box[2], oh, r0.data(), r1.data(), wy.data());
    // Columns relative to the box's left edge, which is where the row buffer starts.
    taps(0, box[3], ow, c0.data(), c1.data(), wx.data());
    if (flip) mirror(ow, c0.data(), c1.data(), wx.data());
    const int64_t left = box[1], width = box[3];
    for (int64_t c = 0; c < channels; ++c) {
      const S* image = src + c * h * w;
      T* o = out + c * oh * ow;
      for (int64_t y = 0; y < oh; ++y) {
        // The row pass as the batched crop does it: top + (bottom - top) * wy, then / 255 for
        // uint8, then the column pass left + (right - left) * wx.
        const S* top = image + r0[y] * w + left;
        const S* bottom = image + r1[y] * w + left;
        const T f = wy[y];
        T* __restrict buf = row.data();
        if constexpr (std::is_same_v<S, uint8_t>) {
          const T k = static_cast<T>(1.0 / 255.0);
          for (int64_t j = 0; j < width; ++j) {
            const T a = static_cast<T>(top[j]);
            buf[j] = ((static_cast<T>(bottom[j]) - a) * f + a) * k;
          }
        } else {
          for (int64_t j = 0; j < width; ++j) {
            const T a = static_cast<T>(top[j]);
            buf[j] = (static_cast<T>(bottom[j]) - a) * f + a;
          }
        }
        T* __restrict line = o + y * ow;
        for (int64_t x = 0; x < ow; ++x) {
          const T a = buf[c0[x]];
          line[x] = (buf[c1[x]] - a) * wx[x] + a;
        }
      }
    }
  }

  void colour(T* out, int64_t view, const bool* applied, const double* factors, const int64_t* order,
              const bool* gray, const bool* solarize) {
    const int64_t n = stages.height * stages.width;
    const int64_t total = channels * n;
    const bool rgb = channels == 3;
    T* red = out;
    T* green = out + n;
    T* blue = out + 2 * n;
    if (stages.jitter()) {
      // Crops of uint8 images lie in [0, 1] already.
      if constexpr (!std::is_same_v<S, uint8_t>) {
        for (int64_t i = 0; i < total; ++i) out[i] = clamp01(out[i]);
      }
      if (applied[view]) {
        const double* fac = factors + 4 * view;
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t op = order[4 * view + k];
          const T f = static_cast<T>(fac[op]);
          const T rest = static_cast<T>(1.0 - fac[op]);
          if (op == 0 && stages.brightness) {
            blend_constant(out, total, f, rest, T(0));
          } else if (op == 1 && stages.contrast) {
            const T mean = rgb ? mean_luma(red, green, blue, n) : mean_plane(out, n);
            blend_constant(out, total, f, rest, mean);
          } else if (op == 2 && stages.saturation) {
            saturate(red, green, blue, n, f, rest);
          } else if (op == 3 && stages.hue) {
            shift_hue(red, green, blue, n, f);  // every result is v, p, q or t: in [0, 1]
          }
        }
      }
    }
    if (stages.grayscale && rgb && gray[view]) {
      for (int64_t i = 0; i < n; ++i) {
        const T l = luma(red[i], green[i], blue[i]);
        red[i] = l;
        green[i] = l;
        blue[i] = l;
      }
    }
    if (!stages.finish) return;
    if (stages.solarize && solarize[view]) {
      const T threshold = static_cast<T>(stages.solarize_threshold);
      for (int64_t i = 0; i < total; ++i) out[i] = out[i] >= threshold ? T(1) - out[i] : out[i];
    }
    if (!stages.mean.empty()) {
      for (int64_t c = 0; c < channels; ++c) {
        const T m = static_cast<T>(stages.mean[c]), s = static_cast<T>(stages.std[c]);
        T* __restrict x = out + c * n;
        for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - m) / s;
      }
    }
  }
};

// A batch's raw pointers, as render_range reads them.
template <class S, class T>
struct Batch {
  const S* data;
  const int64_t *offset, *height, *width, *boxes, *order;
  const bool *flip, *applied, *gray, *solarize;
  const double* factors;
  T* result;
  int64_t channels, max_width;
  const CpuViewStages* stages;
};

template <class S, class T>
inline void render_range(const Batch<S, T>& b, int64_t begin, int64_t end) {
  Renderer<S, T> r(*b.stages, b.channels, b.max_width);
  const int64_t view_size = b.channels * b.stages->height * b.stages->width;
  for (int64_t i = begin; i < end; ++i) {
    T* o = b.result + i * view_size;
    r.crop(b.data + b.offset[i], b.height[i], b.width[i], b.boxes + 4 * i, b.flip[i], o);
    r.colour(o, i, b.applied, b.factors, b.order, b.gray, b.solarize);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
#define SELFSUP_VIEWS_AVX2_DISPATCH 1
// render_range compiled for AVX2 (without FMA, which would change the rounding), everything
// it calls inlined into it, for CPUs that have it.
template <class S, class T>
[[gnu::target("avx2"), gnu::flatten]] void render_range_avx2(const Batch<S, T>& b, int64_t begin,
                                                             int64_t end) {
  render_range(b, begin, end);
}
#endif

template <class S, class T>
void render(const torch::Tensor& flat, const torch::Tensor& offsets, const torch::Tensor& heights,
            const torch::Tensor& widths, int64_t channels, const CpuViewParams& p,
            const CpuViewStages& stages, torch::Tensor& out) {
  const Batch<S, T> b{flat.data_ptr<S>(),
                      offsets.data_ptr<int64_t>(),
                      heights.data_ptr<int64_t>(),
                      widths.data_ptr<int64_t>(),
                      p.boxes.data_ptr<int64_t>(),
                      p.order.data_ptr<int64_t>(),
                      p.flip.data_ptr<bool>(),
                      p.applied.data_ptr<bool>(),
                      p.gray.data_ptr<bool>(),
                      p.solarize.data_ptr<bool>(),
                      p.factors.data_ptr<double>(),
                      out.data_ptr<T>(),
                      channels,
                      widths.max().template item<int64_t>(),
                      &stages};
  const int64_t view_size = channels * stages.height * stages.width;
  // About 100 KB of pixels a task: small views share a task, large ones get one each.
  const int64_t grain = std::max<int64_t>(1, 25000 / std::max<int64_t>(view_size, 1));
#ifdef SELFSUP_VIEWS_AVX2_DISPATCH
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    at::parallel_for(0, out.size(0), grain, [&](int64_t begin, int64_t end) { render_range_avx2(b, begin, end); });
    return;
  }
#endif
  at::parallel_for(0, out.size(0), grain, [&](int64_t begin, int64_t end) { render_range(b, begin, end); });
}

}  // namespace cpu

/// Whether the CPU render takes images of this dtype (uint8, float32, float64).
inline bool cpu_renderable(torch::ScalarType dtype) {
  return dtype == torch::kByte || dtype == torch::kFloat32 || dtype == torch::kFloat64;
}

/// Views (N, C, height, width), contiguous, float32 for uint8 and float32 sources, float64 for
/// float64 ones. View i is cut from the `channels` planes of heights[i] x widths[i] elements
/// starting at element offsets[i] of `flat` (a contiguous CPU tensor); every per-view tensor is
/// on the CPU. Unchecked.
inline torch::Tensor render_cpu_views(const torch::Tensor& flat, const torch::Tensor& offsets,
                                      const torch::Tensor& heights, const torch::Tensor& widths,
                                      int64_t channels, const CpuViewParams& params,
                                      const CpuViewStages& stages) {
  const auto n = offsets.size(0);
  CpuViewParams p{params.boxes.contiguous(),   params.flip.contiguous(),  params.applied.contiguous(),
                  params.factors.contiguous(), params.order.contiguous(), params.gray.contiguous(),
                  params.solarize.contiguous()};
  auto o = offsets.contiguous(), h = heights.contiguous(), w = widths.contiguous();
  const auto dtype = flat.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto out = torch::empty({n, channels, stages.height, stages.width}, flat.options().dtype(dtype));
  switch (flat.scalar_type()) {
    case torch::kByte: cpu::render<uint8_t, float>(flat, o, h, w, channels, p, stages, out); break;
    case torch::kFloat32: cpu::render<float, float>(flat, o, h, w, channels, p, stages, out); break;
    case torch::kFloat64: cpu::render<double, double>(flat, o, h, w, channels, p, stages, out); break;
    default: TORCH_INTERNAL_ASSERT(false, "render_cpu_views: unsupported dtype ", flat.scalar_type());
  }
  return out;
}

}  // namespace selfsup::views::detail
