#pragma once
/// \file
/// selfsup::views::functional: batched image operations with per-sample parameters, equal to
/// torchvision.transforms.functional applied image by image. Images are (B, C, H, W) float in
/// [0, 1] on any device.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace selfsup::views::functional {

namespace detail {

inline void check_images(std::string_view fn, const torch::Tensor& images) {
  selfsup::detail::check_dim(fn, "images", images, 4);
  TORCH_CHECK(images.size(0) > 0, fn, ": images is an empty batch, got shape ", images.sizes());
}

// Source rows (or columns) and weights of PyTorch's bilinear resize with align_corners=False,
// for a crop of `extent` pixels (per sample, float64 (B)) starting at `offset` (int64 (B)),
// resized to `out` pixels: src = extent/out * (dst + 0.5) - 0.5, clamped below at 0.
struct Taps {
  torch::Tensor i0, i1;  // int64 (B, out), absolute indices into the image
  torch::Tensor w0, w1;  // float (B, out)
};

inline Taps bilinear_taps(const torch::Tensor& offset, const torch::Tensor& extent, int64_t out,
                          torch::ScalarType weight_dtype) {
  auto opts = extent.options().dtype(torch::kFloat64);
  auto dst = torch::arange(out, opts).unsqueeze(0);                     // (1, out)
  auto scale = (extent.to(torch::kFloat64) / static_cast<double>(out)).unsqueeze(1);  // (B, 1)
  auto src = (scale * (dst + 0.5) - 0.5).clamp_min(0.0);                // (B, out)
  auto i0 = src.floor();
  auto last = (extent.to(torch::kFloat64) - 1.0).unsqueeze(1);
  i0 = torch::minimum(i0, last);
  auto i1 = torch::minimum(i0 + 1.0, last);
  auto w1 = (src - i0).clamp(0.0, 1.0);
  auto base = offset.unsqueeze(1);
  return {i0.to(torch::kLong) + base, i1.to(torch::kLong) + base,
          (1.0 - w1).to(weight_dtype), w1.to(weight_dtype)};
}

}  // namespace detail

/// Crops `boxes` out of each image and resizes the crop to `size` with bilinear interpolation
/// (torchvision `resized_crop(img, top, left, height, width, size, BILINEAR, antialias=False)`).
/// Unchecked variant for callers that generate valid boxes themselves: it reads nothing back
/// from the device. Accepts uint8 images (scaled to [0, 1]) or floating images; returns float32
/// for uint8 input and the input's dtype otherwise.
inline torch::Tensor resized_crop_unchecked(const torch::Tensor& images, const torch::Tensor& boxes,
                                            std::array<int64_t, 2> size) {
  const auto b = images.size(0), c = images.size(1), w = images.size(3);
  const auto [out_h, out_w] = size;
  const bool bytes = images.scalar_type() == torch::kByte;
  const auto dtype = bytes ? torch::kFloat32 : images.scalar_type();
  auto top = boxes.select(1, 0), left = boxes.select(1, 1);
  auto height = boxes.select(1, 2), width = boxes.select(1, 3);
  auto rows = detail::bilinear_taps(top, height, out_h, dtype);
  auto cols = detail::bilinear_taps(left, width, out_w, dtype);

  // Rows first (gathering whole rows keeps uint8 input small until it is blended).
  auto ri0 = rows.i0.view({b, 1, out_h, 1}).expand({b, c, out_h, w});
  auto ri1 = rows.i1.view({b, 1, out_h, 1}).expand({b, c, out_h, w});
  auto r0 = images.gather(2, ri0).to(dtype);                            // (B, C, oh, W)
  auto r1 = images.gather(2, ri1).to(dtype);
  auto blended = r0 * rows.w0.view({b, 1, out_h, 1}) + r1 * rows.w1.view({b, 1, out_h, 1});

  auto ci0 = cols.i0.view({b, 1, 1, out_w}).expand({b, c, out_h, out_w});
  auto ci1 = cols.i1.view({b, 1, 1, out_w}).expand({b, c, out_h, out_w});
  auto out = blended.gather(3, ci0) * cols.w0.view({b, 1, 1, out_w}) +
             blended.gather(3, ci1) * cols.w1.view({b, 1, 1, out_w});  // (B, C, oh, ow)
  if (bytes) out.div_(255.0);
  return out;
}

/// Crops `boxes` (int64 (B, 4), rows `top, left, height, width`) out of each image and resizes
/// each crop to `size` = {out_h, out_w}, as torchvision's `resized_crop` with BILINEAR and
/// antialias=False.
inline torch::Tensor resized_crop(const torch::Tensor& images, const torch::Tensor& boxes,
                                  std::array<int64_t, 2> size) {
  constexpr std::string_view fn = "selfsup::views::functional::resized_crop";
  detail::check_images(fn, images);
  selfsup::detail::check_floating(fn, "images", images);
  selfsup::detail::check_dim(fn, "boxes", boxes, 2);
  TORCH_CHECK(boxes.size(0) == images.size(0) && boxes.size(1) == 4, fn,
              ": boxes must have shape (B, 4) = (", images.size(0), ", 4), got ", boxes.sizes());
  TORCH_CHECK(boxes.scalar_type() == torch::kLong, fn, ": boxes must be int64, got ",
              boxes.scalar_type());
  selfsup::detail::check_same_device(fn, "images", images, "boxes", boxes);
  TORCH_CHECK(size[0] > 0 && size[1] > 0, fn, ": size must be positive, got {", size[0], ", ",
              size[1], "}");
  const auto h = images.size(2), w = images.size(3);
  auto top = boxes.select(1, 0), left = boxes.select(1, 1);
  auto height = boxes.select(1, 2), width = boxes.select(1, 3);
  const bool inside = (top.ge(0) & left.ge(0) & height.gt(0) & width.gt(0) &
                       (top + height).le(h) & (left + width).le(w))
                          .all()
                          .item<bool>();
  TORCH_CHECK(inside, fn, ": every box must lie inside the ", h, "x", w,
              " image with positive height and width, got boxes ", boxes.cpu());
  return resized_crop_unchecked(images, boxes, size);
}

/// Flips each image left to right where `mask` (bool (B)) is true (torchvision `hflip`).
inline torch::Tensor hflip(const torch::Tensor& images, const torch::Tensor& mask) {
  constexpr std::string_view fn = "selfsup::views::functional::hflip";
  detail::check_images(fn, images);
  selfsup::detail::check_dim(fn, "mask", mask, 1);
  TORCH_CHECK(mask.scalar_type() == torch::kBool, fn, ": mask must be bool, got ",
              mask.scalar_type());
  TORCH_CHECK(mask.size(0) == images.size(0), fn, ": mask must have length B = ",
              images.size(0), ", got ", mask.size(0));
  selfsup::detail::check_same_device(fn, "images", images, "mask", mask);
  return torch::where(mask.view({-1, 1, 1, 1}), images.flip({3}), images);
}

}  // namespace selfsup::views::functional
