#pragma once
/// \file
/// Batched sampling of RandomResizedCrop boxes with torchvision's rule (Szegedy et al. 2015's
/// "Inception-style" crop): area fraction uniform in `scale`, aspect ratio log-uniform in `ratio`,
/// ten attempts per image, then the centre-crop fallback. Every image's ten attempts are drawn at
/// once on the device; nothing is read back to the host.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstdint>

namespace selfsup::views {

/// Parameters of RandomResizedCrop, torchvision's defaults.
struct RandomResizedCropOptions {
  std::array<double, 2> scale = {0.08, 1.0};        ///< range of the crop's area fraction
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};  ///< range of width / height
};

/// Boxes int64 (B, 4), rows `top, left, height, width`, on `device`, for B images of
/// `height` x `width` pixels.
inline torch::Tensor sample_resized_crop_boxes(int64_t batch, int64_t height, int64_t width,
                                               const RandomResizedCropOptions& opt,
                                               at::Generator& gen, const torch::Device& device) {
  constexpr int64_t attempts = 10;
  TORCH_CHECK(opt.scale[0] > 0 && opt.scale[0] <= opt.scale[1],
              "selfsup::views::sample_resized_crop_boxes: scale must satisfy 0 < min <= max, got {",
              opt.scale[0], ", ", opt.scale[1], "}");
  TORCH_CHECK(opt.ratio[0] > 0 && opt.ratio[0] <= opt.ratio[1],
              "selfsup::views::sample_resized_crop_boxes: ratio must satisfy 0 < min <= max, got {",
              opt.ratio[0], ", ", opt.ratio[1], "}");
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  const double area = static_cast<double>(height * width);
  auto target_area =
      area * (opt.scale[0] + (opt.scale[1] - opt.scale[0]) * torch::rand({batch, attempts}, gen, f64));
  const double log_lo = std::log(opt.ratio[0]), log_hi = std::log(opt.ratio[1]);
  auto aspect = torch::exp(log_lo + (log_hi - log_lo) * torch::rand({batch, attempts}, gen, f64));
  auto w = torch::round(torch::sqrt(target_area * aspect));             // (B, 10)
  auto h = torch::round(torch::sqrt(target_area / aspect));
  auto ok = w.gt(0) & w.le(static_cast<double>(width)) & h.gt(0) & h.le(static_cast<double>(height));
  auto top = torch::floor(torch::rand({batch, attempts}, gen, f64) * (height - h + 1));
  auto left = torch::floor(torch::rand({batch, attempts}, gen, f64) * (width - w + 1));

  // First successful attempt of each image (argmax returns the first maximum).
  auto first = ok.to(torch::kUInt8).argmax(1, /*keepdim=*/true);      // (B, 1)
  auto any = ok.any(1);                                                 // (B)
  auto pick = [&](const torch::Tensor& t) { return t.gather(1, first).squeeze(1); };

  // Centre crop with the ratio clamped into range, when all ten attempts fail.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  double fw = width, fh = height;
  if (in_ratio < opt.ratio[0]) {
    fh = std::nearbyint(fw / opt.ratio[0]);
  } else if (in_ratio > opt.ratio[1]) {
    fw = std::nearbyint(fh * opt.ratio[1]);
  }
  const double ftop = std::floor((height - fh) / 2.0), fleft = std::floor((width - fw) / 2.0);
  auto choose = [&](const torch::Tensor& t, double fallback) {
    return torch::where(any, pick(t), torch::full({batch}, fallback, f64));
  };
  return torch::stack({choose(top, ftop), choose(left, fleft), choose(h, fh), choose(w, fw)}, 1)
      .to(torch::kLong);
}

}  // namespace selfsup::views
