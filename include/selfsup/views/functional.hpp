#pragma once
/// \file
/// selfsup::views::functional: batched image operations with per-sample parameters, equal to
/// torchvision.transforms.functional (0.14+, tensor path) applied image by image. Images are
/// (B, C, H, W) in [0, 1] on any device: floating, or uint8 (read as value / 255, and then the
/// result is float32). Per-sample parameters are 1-D tensors of length B on the images' device.
///
/// The public functions check their arguments, some of them by reading a flag back from the
/// device; the view generators share the unchecked internals in views/detail/ (images.hpp,
/// crop.hpp, color.hpp, blur.hpp), which never synchronise with the host.

#include <selfsup/detail/check.hpp>
#include <selfsup/views/detail/blur.hpp>
#include <selfsup/views/detail/color.hpp>
#include <selfsup/views/detail/crop.hpp>
#include <selfsup/views/detail/images.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace selfsup::views::functional {

/// Crops `boxes` out of each image and resizes the crop to `size` with bilinear interpolation
/// (torchvision `resized_crop(img, top, left, height, width, size, BILINEAR, antialias=False)`),
/// mirrored left to right where the optional `flip` (bool (B)) is true. Unchecked variant for
/// callers that generate valid boxes themselves: it reads nothing back from the device. Accepts
/// uint8 images (scaled to [0, 1]) or floating images; returns float32 for uint8 input and the
/// input's dtype otherwise.
inline torch::Tensor resized_crop_unchecked(const torch::Tensor& images, const torch::Tensor& boxes,
                                            std::array<int64_t, 2> size,
                                            const torch::Tensor& flip = {}) {
  return detail::resized_crop_transposed(images, boxes, size, flip).contiguous();
}

/// Crops `boxes` (int64 (B, 4), rows `top, left, height, width`) out of each image and resizes
/// each crop to `size` = {out_h, out_w}, as torchvision's `resized_crop` with BILINEAR and
/// antialias=False.
inline torch::Tensor resized_crop(const torch::Tensor& images, const torch::Tensor& boxes,
                                  std::array<int64_t, 2> size) {
  constexpr std::string_view fn = "selfsup::views::functional::resized_crop";
  detail::check_images(fn, images);
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

/// torchvision `rgb_to_grayscale(img, num_output_channels=3)`: every channel becomes the luma
/// 0.2989 R + 0.587 G + 0.114 B. A 1-channel image is returned as it is.
inline torch::Tensor rgb_to_grayscale(const torch::Tensor& images) {
  constexpr std::string_view fn = "selfsup::views::functional::rgb_to_grayscale";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  auto x = detail::to_unit(images);
  return detail::luma(x).expand_as(x).contiguous();
}

/// torchvision `adjust_brightness(img, f)`: clamp(f * x, 0, 1), `factors` (B) >= 0.
inline torch::Tensor adjust_brightness(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_brightness";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, 0.0, std::numeric_limits<double>::infinity());
  auto x = detail::to_unit(images);
  return detail::blend(x, torch::zeros({1}, x.options()), factors);
}

/// torchvision `adjust_contrast(img, f)`: blends each image with the mean of its luma,
/// `factors` (B) >= 0.
inline torch::Tensor adjust_contrast(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_contrast";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, 0.0, std::numeric_limits<double>::infinity());
  auto x = detail::to_unit(images);
  auto mean = detail::luma(x).mean({1, 2, 3}, /*keepdim=*/true);  // (B, 1, 1, 1)
  return detail::blend(x, mean, factors);
}

/// torchvision `adjust_saturation(img, f)`: blends each image with its luma, `factors` (B) >= 0.
/// 1-channel images are returned as they are.
inline torch::Tensor adjust_saturation(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_saturation";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, 0.0, std::numeric_limits<double>::infinity());
  auto x = detail::to_unit(images);
  if (x.size(1) == 1) return x;
  return detail::blend(x, detail::luma(x), factors);
}

/// torchvision `adjust_hue(img, h)`: rotates the hue by `factors` (B) turns, each in
/// [-0.5, 0.5]. 1-channel images are returned as they are.
inline torch::Tensor adjust_hue(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_hue";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, -0.5, 0.5);
  auto x = detail::to_unit(images);
  if (x.size(1) == 1) return x;
  return detail::shift_hue(x, factors);
}

/// torchvision `gaussian_blur(img, [k, k], [s, s])` with reflect padding: an odd `kernel_size`
/// smaller than twice each side, and one sigma > 0 a sample (`sigmas` (B)).
inline torch::Tensor gaussian_blur(const torch::Tensor& images, int64_t kernel_size,
                                   const torch::Tensor& sigmas) {
  constexpr std::string_view fn = "selfsup::views::functional::gaussian_blur";
  detail::check_images(fn, images);
  TORCH_CHECK(kernel_size > 0 && kernel_size % 2 == 1, fn,
              ": kernel_size must be odd and positive, got ", kernel_size);
  TORCH_CHECK(kernel_size / 2 < images.size(2) && kernel_size / 2 < images.size(3), fn,
              ": reflect padding of ", kernel_size / 2, " needs images larger than that, got ",
              images.size(2), "x", images.size(3), "; use a smaller kernel_size");
  detail::check_per_sample(fn, "sigmas", sigmas, images);
  TORCH_CHECK(sigmas.gt(0).all().item<bool>(), fn, ": every sigma must be positive, got ",
              sigmas.cpu());
  return detail::gaussian_blur(detail::to_unit(images), kernel_size, sigmas);
}

/// torchvision `solarize(img, threshold)`: inverts (1 - x) every value >= `threshold`.
inline torch::Tensor solarize(const torch::Tensor& images, double threshold) {
  constexpr std::string_view fn = "selfsup::views::functional::solarize";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  TORCH_CHECK(threshold >= 0.0 && threshold <= 1.0, fn, ": threshold must be in [0, 1], got ",
              threshold);
  auto x = detail::to_unit(images);
  return torch::where(x.ge(threshold), 1.0 - x, x);
}

/// solarize with one threshold a sample, `thresholds` (B).
inline torch::Tensor solarize(const torch::Tensor& images, const torch::Tensor& thresholds) {
  constexpr std::string_view fn = "selfsup::views::functional::solarize";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "thresholds", thresholds, images);
  auto x = detail::to_unit(images);
  return torch::where(x.ge(detail::per_sample(thresholds, x)), 1.0 - x, x);
}

/// torchvision `normalize(img, mean, std)`: (x - mean[c]) / std[c] for each channel c.
inline torch::Tensor normalize(const torch::Tensor& images, const std::vector<double>& mean,
                               const std::vector<double>& std) {
  constexpr std::string_view fn = "selfsup::views::functional::normalize";
  detail::check_images(fn, images);
  const auto c = images.size(1);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c, fn,
              ": mean and std need one entry per channel (", c, "), got ", mean.size(), " and ",
              std.size());
  for (double s : std) TORCH_CHECK(s > 0, fn, ": every std must be positive, got ", s);
  auto x = detail::to_unit(images);
  auto opts = x.options();
  return (x - torch::tensor(mean, opts.dtype(torch::kFloat64)).to(x.scalar_type()).view({1, c, 1, 1}))
      .div_(torch::tensor(std, opts.dtype(torch::kFloat64)).to(x.scalar_type()).view({1, c, 1, 1}));
}

}  // namespace selfsup::views::functional
