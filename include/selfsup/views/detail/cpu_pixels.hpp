#pragma once
/// \file
/// Internal: the per-pixel operations of the CPU render of views::Augmentation (cpu_views.hpp):
/// the bilinear taps of the crop, the colour jitter's blends and hue rotation and the luma, each
/// as torchvision's tensor path computes it, step by step in the images' dtype, in loops that
/// vectorise.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace selfsup::views::detail::cpu {

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
// pixels starting at `offset` to `out` pixels, as detail::bilinear_taps (crop.hpp) computes them.
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

}  // namespace selfsup::views::detail::cpu
