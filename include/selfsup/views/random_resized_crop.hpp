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

/// Boxes int64 (B, 4), rows `top, left, height, width`, for B images of per-sample sizes
/// `heights` x `widths` (int64 (B), on the device the boxes are drawn on): images of different
/// sizes each get a box drawn against their own size.
inline torch::Tensor sample_resized_crop_boxes(const torch::Tensor& heights,
                                               const torch::Tensor& widths,
                                               const RandomResizedCropOptions& opt,
                                               at::Generator& gen) {
  constexpr int64_t attempts = 10;
  TORCH_CHECK(opt.scale[0] > 0 && opt.scale[0] <= opt.scale[1],
              "selfsup::views::sample_resized_crop_boxes: scale must satisfy 0 < min <= max, got {",
              opt.scale[0], ", ", opt.scale[1], "}");
  TORCH_CHECK(opt.ratio[0] > 0 && opt.ratio[0] <= opt.ratio[1],
              "selfsup::views::sample_resized_crop_boxes: ratio must satisfy 0 < min <= max, got {",
              opt.ratio[0], ", ", opt.ratio[1], "}");
  const auto batch = heights.size(0);
  auto f64 = heights.options().dtype(torch::kFloat64);
  auto height = heights.to(torch::kFloat64).unsqueeze(1), width = widths.to(torch::kFloat64).unsqueeze(1);
  auto area = height * width;                                                          // (B, 1)
  auto target_area =
      area * (opt.scale[0] + (opt.scale[1] - opt.scale[0]) * torch::rand({batch, attempts}, gen, f64));
  const double log_lo = std::log(opt.ratio[0]), log_hi = std::log(opt.ratio[1]);
  auto aspect = torch::exp(log_lo + (log_hi - log_lo) * torch::rand({batch, attempts}, gen, f64));
  auto w = torch::round(torch::sqrt(target_area * aspect));                            // (B, 10)
  auto h = torch::round(torch::sqrt(target_area / aspect));
  auto ok = w.gt(0) & w.le(width) & h.gt(0) & h.le(height);
  auto top = torch::floor(torch::rand({batch, attempts}, gen, f64) * (height - h + 1));
  auto left = torch::floor(torch::rand({batch, attempts}, gen, f64) * (width - w + 1));

  // First successful attempt of each image (argmax returns the first maximum).
  auto first = ok.to(torch::kUInt8).argmax(1, /*keepdim=*/true);                      // (B, 1)
  auto any = ok.any(1);                                                                // (B)
  auto pick = [&](const torch::Tensor& t) { return t.gather(1, first).squeeze(1); };

  // Centre crop with the ratio clamped into range, when all ten attempts fail. torch::round
  // rounds half to even, as Python's round() in torchvision does.
  auto hh = height.squeeze(1), ww = width.squeeze(1);                                  // (B)
  auto in_ratio = ww / hh;
  auto fw = torch::where(in_ratio.gt(opt.ratio[1]), torch::round(hh * opt.ratio[1]), ww);
  auto fh = torch::where(in_ratio.lt(opt.ratio[0]), torch::round(ww / opt.ratio[0]), hh);
  auto ftop = torch::floor((hh - fh) / 2.0), fleft = torch::floor((ww - fw) / 2.0);
  auto choose = [&](const torch::Tensor& t, const torch::Tensor& fallback) {
    return torch::where(any, pick(t), fallback);
  };
  return torch::stack({choose(top, ftop), choose(left, fleft), choose(h, fh), choose(w, fw)}, 1)
      .to(torch::kLong);
}

/// Boxes int64 (B, 4), rows `top, left, height, width`, on `device`, for B images of
/// `height` x `width` pixels.
inline torch::Tensor sample_resized_crop_boxes(int64_t batch, int64_t height, int64_t width,
                                               const RandomResizedCropOptions& opt,
                                               at::Generator& gen, const torch::Device& device) {
  auto i64 = torch::TensorOptions().dtype(torch::kLong).device(device);
  return sample_resized_crop_boxes(torch::full({batch}, height, i64), torch::full({batch}, width, i64),
                                   opt, gen);
}

}  // namespace selfsup::views
