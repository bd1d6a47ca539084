#pragma once
/// \file
/// views::CropFlip: the weak augmentation preset, RandomResizedCrop then a random horizontal
/// flip, batched on the input's device.

#include <selfsup/detail/check.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/views/functional.hpp>
#include <selfsup/views/image_sources.hpp>
#include <selfsup/views/random_resized_crop.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace selfsup::views {

struct CropFlipOptions {
  int64_t size = 32;                         ///< output side length
  std::array<double, 2> scale = {0.08, 1.0};  ///< RandomResizedCrop area fraction
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};  ///< RandomResizedCrop aspect range
  double flip_probability = 0.5;
  std::uint64_t seed = 0;                    ///< seeds this policy's own generator
};

/// RandomResizedCrop + horizontal flip. Satisfies ViewGenerator: uint8 or float (B, C, H, W) in,
/// float32 (B, C, size, size) in [0, 1] out, on the input's device, without host round trips.
class CropFlip : public selfsup::detail::Seeded<CropFlipOptions> {
 public:
  CropFlip() : CropFlip(CropFlipOptions{}) {}
  explicit CropFlip(const CropFlipOptions& options)
      : Seeded(options) {
    TORCH_CHECK(options.size > 0, "selfsup::views::CropFlip: size must be positive, got ",
                options.size);
    TORCH_CHECK(options.flip_probability >= 0 && options.flip_probability <= 1,
                "selfsup::views::CropFlip: flip_probability must be in [0, 1], got ",
                options.flip_probability);
  }

  torch::Tensor operator()(const torch::Tensor& images) {
    constexpr std::string_view fn = "selfsup::views::CropFlip";
    selfsup::detail::check_dim(fn, "images", images, 4);
    TORCH_CHECK(images.size(0) > 0, fn, ": images is an empty batch");
    TORCH_CHECK(images.scalar_type() == torch::kByte || images.is_floating_point(), fn,
                ": images must be uint8 or floating, got ", images.scalar_type());
    const auto b = images.size(0);
    auto& gen = generators_.on(images.device());
    auto boxes = sample_resized_crop_boxes(b, images.size(2), images.size(3),
                                           {.scale = options_.scale, .ratio = options_.ratio}, gen,
                                           images.device());
    auto flip = torch::rand({b}, gen, torch::TensorOptions().dtype(torch::kFloat32).device(images.device()))
                    .lt(options_.flip_probability);
    // The flip is folded into the crop (mirrored column taps): one resampling pass.
    return functional::resized_crop_unchecked(images, boxes, {options_.size, options_.size}, flip);
  }

  /// Views of images not decoded yet (an image folder's): each box drawn on the full image and
  /// only that decoded.
  torch::Tensor operator()(const ImageSources& images) {
    const auto b = images.batch();
    TORCH_CHECK(b > 0, "selfsup::views::CropFlip: images is an empty batch");
    auto& gen = generators_.on(images.device());
    auto boxes = sample_resized_crop_boxes(images.heights, images.widths, {.scale = options_.scale, .ratio = options_.ratio}, gen);
    auto flip = torch::rand({b}, gen, torch::TensorOptions().dtype(torch::kFloat32).device(images.device()))
                    .lt(options_.flip_probability);
    auto all = torch::arange(b, torch::TensorOptions().dtype(torch::kLong).device(images.device()));
    return images.crop(all, boxes, options_.size, flip).to(torch::kFloat32).div_(255.0);
  }
};

/// No augmentation: uint8 images scaled to float32 [0, 1], floating images passed through.
/// Used for evaluation, and for semantic partners seen as they are.
struct Identity {
  torch::Tensor operator()(const torch::Tensor& images) const {
    selfsup::detail::check_dim("selfsup::views::Identity", "images", images, 4);
    if (images.is_floating_point()) return images;
    TORCH_CHECK(images.scalar_type() == torch::kByte,
                "selfsup::views::Identity: images must be uint8 or floating, got ",
                images.scalar_type());
    return images.to(torch::kFloat32).div_(255.0);
  }
};

}  // namespace selfsup::views
