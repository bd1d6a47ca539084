#pragma once
/// \file
/// Internal: what every image operation of selfsup::views starts with: the argument checks the
/// public functions and the view generators make, and the conversion of uint8 images to float in
/// [0, 1].

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <string_view>

namespace selfsup::views::detail {

// ---- argument checks ---------------------------------------------------------------------------

inline void check_images(std::string_view fn, const torch::Tensor& images) {
  selfsup::detail::check_dim(fn, "images", images, 4);
  TORCH_CHECK(images.size(0) > 0, fn, ": images is an empty batch, got shape ", images.sizes());
  TORCH_CHECK(images.scalar_type() == torch::kByte || images.is_floating_point(), fn,
              ": images must be uint8 or floating, got ", images.scalar_type());
}

// Colour operations follow torchvision: grayscale (1 channel) or RGB (3 channels).
inline void check_color_channels(std::string_view fn, const torch::Tensor& images) {
  TORCH_CHECK(images.size(1) == 1 || images.size(1) == 3, fn,
              ": images must have 1 or 3 channels (grayscale or RGB), got shape ", images.sizes());
}

// A per-sample parameter: floating, 1-D, length B, on the images' device.
inline void check_per_sample(std::string_view fn, std::string_view name, const torch::Tensor& p,
                             const torch::Tensor& images) {
  selfsup::detail::check_dim(fn, name, p, 1);
  TORCH_CHECK(p.size(0) == images.size(0), fn, ": ", name, " must have length B = ",
              images.size(0), ", got ", p.size(0));
  TORCH_CHECK(p.is_floating_point(), fn, ": ", name, " must have a floating dtype, got ",
              p.scalar_type());
  selfsup::detail::check_same_device(fn, "images", images, name, p);
}

// Every entry of `p` in [lo, hi]; reads one flag back from the device.
inline void check_range(std::string_view fn, std::string_view name, const torch::Tensor& p,
                        double lo, double hi) {
  TORCH_CHECK((p.ge(lo) & p.le(hi)).all().item<bool>(), fn, ": every entry of ", name,
              " must lie in [", lo, ", ", hi, "], got ", p.cpu());
}

// ---- conversions -------------------------------------------------------------------------------

/// uint8 in [0, 255] to float32 in [0, 1]; floating input unchanged.
inline torch::Tensor to_unit(const torch::Tensor& images) {
  if (images.is_floating_point()) return images;
  return images.to(torch::kFloat32).mul_(1.0 / 255.0);
}

/// A per-sample parameter (B) shaped to broadcast over (B, C, H, W), in the images' dtype.
inline torch::Tensor per_sample(const torch::Tensor& p, const torch::Tensor& like) {
  return p.to(like.scalar_type()).view({-1, 1, 1, 1});
}

}  // namespace selfsup::views::detail
