#pragma once
/// \file
/// Internal: the CPU path of views::Augmentation. Each view is rendered in one pass over its own
/// pixels while they sit in cache: resized crop (and flip) straight from the uint8 or floating
/// source, then the sample's colour jitter in its drawn order, grayscale, solarize and
/// normalisation, views spread over threads with at::parallel_for. The arithmetic is
/// torchvision's (tensor path), step by step in the images' dtype, so the views equal those of
/// the batched tensor operations in functional.hpp within their tolerances; the crop repeats the
/// batched crop's operations in the same order and gives the same values.

#include <selfsup/views/detail/cpu_pixels.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
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
