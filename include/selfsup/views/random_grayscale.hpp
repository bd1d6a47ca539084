#pragma once
/// \file
/// views::RandomGrayscale: torchvision's RandomGrayscale.
///
/// Like every random transform (transforms.hpp), it draws each sample's parameters in one call on
/// the images' device, with nothing read back to the host, from its own seeded generator
/// (`operator()`, uint8 or floating images in, float in [0, 1] out) or from one it is given
/// (`apply(images, gen)`, floating images in [0, 1], unchecked).

#include <selfsup/detail/random.hpp>
#include <selfsup/views/detail/color.hpp>
#include <selfsup/views/detail/transform.hpp>

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::views {

/// torchvision's RandomGrayscale: with probability p an image becomes its luma in every
/// channel. SimCLR and BYOL use p = 0.2.
struct RandomGrayscaleOptions {
  double probability = 0.1;  ///< torchvision's default
  std::uint64_t seed = 0;
};

class RandomGrayscale : public selfsup::detail::Seeded<RandomGrayscaleOptions> {
 public:
  RandomGrayscale() : RandomGrayscale(RandomGrayscaleOptions{}) {}
  explicit RandomGrayscale(const RandomGrayscaleOptions& options)
      : Seeded(options) {
    detail::check_probability("selfsup::views::RandomGrayscale", "probability", options.probability);
  }
  torch::Tensor operator()(const torch::Tensor& images) {
    auto x = detail::checked_unit_images("selfsup::views::RandomGrayscale", images);
    detail::check_color_channels("selfsup::views::RandomGrayscale", x);
    return apply(x, generators_.on(x.device()));
  }

  torch::Tensor apply(const torch::Tensor& x, at::Generator& gen) const {
    return apply(x, sample(x.size(0), gen, x.device()));
  }
  /// bool (B): which samples turn gray.
  torch::Tensor sample(int64_t batch, at::Generator& gen, const torch::Device& device) const {
    return detail::coin(batch, options_.probability, gen, device);
  }
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& mask) const {
    if (x.size(1) == 1 || options_.probability <= 0.0) return x;
    return torch::where(mask.view({-1, 1, 1, 1}), detail::luma(x), x);
  }
};

}  // namespace selfsup::views
