#pragma once
/// \file
/// Internal: the unchecked colour operations that views::functional and the colour transforms
/// share: luma, torchvision's blend, and the hue rotation. They never synchronise with the host.

#include <selfsup/views/detail/images.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <limits>

namespace selfsup::views::detail {

/// Luma with torchvision's weights (0.2989, 0.587, 0.114), one plane: (B, 1, H, W). A 1-channel
/// image is its own luma.
inline torch::Tensor luma(const torch::Tensor& x) {
  if (x.size(1) == 1) return x;
  return torch::mul(x.select(1, 0), 0.2989)
      .add_(x.select(1, 1), 0.587)
      .add_(x.select(1, 2), 0.114)
      .unsqueeze(1);  // (B, 1, H, W)
}

/// torchvision's `_blend`: clamp(f * x + (1 - f) * target, 0, 1), with f (B).
inline torch::Tensor blend(const torch::Tensor& x, const torch::Tensor& target,
                           const torch::Tensor& factors) {
  auto f = per_sample(factors, x);  // (B, 1, 1, 1)
  return (f * x + (1.0 - f) * target).clamp_(0.0, 1.0);
}

/// Hue rotation by `factors` (B) turns, through HSV as torchvision does; `x` is RGB in [0, 1].
/// Hue is kept in sextants (h6 = 6 * hue in [0, 6)) so that one wrap-around suffices, and RGB
/// is rebuilt from value v, chroma c and h6 with the closed form of HSV to RGB,
/// channel = v - c + c * clamp(ramp(h6), 0, 1), which equals torchvision's per-sector choice of
/// (v, p, q, t). Works plane by plane and mostly in place: this is the costliest colour step.
inline torch::Tensor shift_hue(const torch::Tensor& x, const torch::Tensor& factors) {
  auto r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);  // (B, H, W)
  auto v = torch::maximum(torch::maximum(r, g), b);
  auto chroma = v - torch::minimum(torch::minimum(r, g), b);
  // Red's sector: (g - b) / c; green's: 2 + (b - r) / c; blue's: 4 + (r - g) / c. Where c = 0
  // the numerator is 0 too, and any positive divisor gives hue 0, as in torchvision.
  auto num = torch::where(v.eq(r), g - b,
                          torch::where(v.eq(g), (b - r).add_(chroma, 2.0), (r - g).add_(chroma, 4.0)));
  auto h6 = num.div_(chroma.clamp_min(std::numeric_limits<float>::min()));
  h6.add_(factors.to(x.scalar_type()).view({-1, 1, 1}), 6.0);
  h6 = torch::remainder(h6, 6.0);                                    // (B, H, W) in [0, 6)
  auto out = torch::empty({x.size(0), 3, x.size(2), x.size(3)}, x.options());
  auto base = v.sub_(chroma);                                        // min = v - c
  // ramp r = |h6 - 3| - 1, g = 2 - |h6 - 2|, b = 2 - |h6 - 4|.
  const double centre[3] = {3.0, 2.0, 4.0};
  for (int64_t n = 0; n < 3; ++n) {
    auto o = out.select(1, n);
    o.copy_(h6).sub_(centre[n]).abs_();
    if (n == 0) {
      o.sub_(1.0);
    } else {
      o.neg_().add_(2.0);
    }
    o.clamp_(0.0, 1.0).mul_(chroma).add_(base);
  }
  return out;  // (B, 3, H, W)
}

}  // namespace selfsup::views::detail
