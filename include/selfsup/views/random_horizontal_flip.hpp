#pragma once
/// \file
/// views::RandomHorizontalFlip: torchvision's RandomHorizontalFlip.
///
/// Like every random transform (transforms.hpp), it draws each sample's parameters in one call on
/// the images' device, with nothing read back to the host, from its own seeded generator
/// (`operator()`, uint8 or floating images in, float in [0, 1] out) or from one it is given
/// (`apply(images, gen)`, floating images in [0, 1], unchecked).

#include <selfsup/detail/random.hpp>
#include <selfsup/views/detail/transform.hpp>

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::views {

/// torchvision's RandomHorizontalFlip.
struct RandomHorizontalFlipOptions {
  double probability = 0.5;
  std::uint64_t seed = 0;
};

class RandomHorizontalFlip : public selfsup::detail::Seeded<RandomHorizontalFlipOptions> {
 public:
  RandomHorizontalFlip() : RandomHorizontalFlip(RandomHorizontalFlipOptions{}) {}
  explicit RandomHorizontalFlip(const RandomHorizontalFlipOptions& options)
      : Seeded(options) {
    detail::check_probability("selfsup::views::RandomHorizontalFlip", "probability",
                              options.probability);
  }
  torch::Tensor operator()(const torch::Tensor& images) {
    auto x = detail::checked_unit_images("selfsup::views::RandomHorizontalFlip", images);
    return apply(x, generators_.on(x.device()));
  }

  torch::Tensor apply(const torch::Tensor& x, at::Generator& gen) const {
    auto mask = detail::coin(x.size(0), options_.probability, gen, x.device());
    return torch::where(mask.view({-1, 1, 1, 1}), x.flip({3}), x);
  }
};

}  // namespace selfsup::views
