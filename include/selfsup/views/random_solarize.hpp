#pragma once
/// \file
/// views::RandomSolarize: torchvision's RandomSolarize.
///
/// Like every random transform (transforms.hpp), it draws each sample's parameters in one call on
/// the images' device, with nothing read back to the host, from its own seeded generator
/// (`operator()`, uint8 or floating images in, float in [0, 1] out) or from one it is given
/// (`apply(images, gen)`, floating images in [0, 1], unchecked).

#include <selfsup/detail/random.hpp>
#include <selfsup/views/detail/transform.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

namespace selfsup::views {

/// torchvision's RandomSolarize: with probability p, values >= threshold become 1 - value.
/// BYOL (Grill et al. 2020) solarizes its second view with p = 0.2, threshold 0.5.
struct RandomSolarizeOptions {
  double threshold = 0.5;
  double probability = 0.5;  ///< torchvision's default
  std::uint64_t seed = 0;
};

class RandomSolarize : public selfsup::detail::Seeded<RandomSolarizeOptions> {
 public:
  RandomSolarize() : RandomSolarize(RandomSolarizeOptions{}) {}
  explicit RandomSolarize(const RandomSolarizeOptions& options)
      : Seeded(options) {
    constexpr std::string_view fn = "selfsup::views::RandomSolarize";
    TORCH_CHECK(options.threshold >= 0 && options.threshold <= 1, fn,
                ": threshold must be in [0, 1], got ", options.threshold);
    detail::check_probability(fn, "probability", options.probability);
  }
  torch::Tensor operator()(const torch::Tensor& images) {
    auto x = detail::checked_unit_images("selfsup::views::RandomSolarize", images);
    return apply(x, generators_.on(x.device()));
  }

  torch::Tensor apply(const torch::Tensor& x, at::Generator& gen) const {
    return apply(x, sample(x.size(0), gen, x.device()));
  }
  /// bool (B): which samples are solarized.
  torch::Tensor sample(int64_t batch, at::Generator& gen, const torch::Device& device) const {
    return detail::coin(batch, options_.probability, gen, device);
  }
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& mask) const {
    if (options_.probability <= 0.0) return x;
    // Unselected samples get a threshold no value reaches.
    auto threshold = torch::where(mask, torch::full_like(mask, options_.threshold, x.options()),
                                  torch::full_like(mask, 2.0, x.options()));         // (B)
    return torch::where(x.ge(threshold.view({-1, 1, 1, 1})), 1.0 - x, x);
  }
};

}  // namespace selfsup::views
