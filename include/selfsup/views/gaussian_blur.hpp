#pragma once
/// \file
/// views::GaussianBlur: torchvision's GaussianBlur with a per-sample sigma, applied with a
/// probability.
///
/// Like every random transform (transforms.hpp), it draws each sample's parameters in one call on
/// the images' device, with nothing read back to the host, from its own seeded generator
/// (`operator()`, uint8 or floating images in, float in [0, 1] out) or from one it is given
/// (`apply(images, gen)`, floating images in [0, 1], unchecked).

#include <selfsup/detail/random.hpp>
#include <selfsup/views/detail/blur.hpp>
#include <selfsup/views/detail/transform.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace selfsup::views {

/// torchvision's GaussianBlur (sigma uniform in `sigma` per sample, a fixed odd kernel size,
/// reflect padding), applied with probability p. SimCLR (Chen et al. 2020) blurs ImageNet views
/// with p = 0.5, sigma in [0.1, 2.0] and a kernel of 10% of the side; BYOL (Grill et al. 2020)
/// with p = 1.0 on its first view and 0.1 on its second.
struct GaussianBlurOptions {
  int64_t kernel_size = 23;                ///< odd; 23 is SimCLR's for 224-pixel views
  std::array<double, 2> sigma = {0.1, 2.0};
  double probability = 1.0;
  std::uint64_t seed = 0;
};

class GaussianBlur : public selfsup::detail::Seeded<GaussianBlurOptions> {
 public:
  GaussianBlur() : GaussianBlur(GaussianBlurOptions{}) {}
  explicit GaussianBlur(const GaussianBlurOptions& options)
      : Seeded(options) {
    constexpr std::string_view fn = "selfsup::views::GaussianBlur";
    TORCH_CHECK(options.kernel_size > 0 && options.kernel_size % 2 == 1, fn,
                ": kernel_size must be odd and positive, got ", options.kernel_size);
    TORCH_CHECK(options.sigma[0] > 0 && options.sigma[0] <= options.sigma[1], fn,
                ": sigma must satisfy 0 < min <= max, got {", options.sigma[0], ", ",
                options.sigma[1], "}");
    detail::check_probability(fn, "probability", options.probability);
  }
  torch::Tensor operator()(const torch::Tensor& images) {
    constexpr std::string_view fn = "selfsup::views::GaussianBlur";
    auto x = detail::checked_unit_images(fn, images);
    TORCH_CHECK(options_.kernel_size / 2 < x.size(2) && options_.kernel_size / 2 < x.size(3), fn,
                ": reflect padding of ", options_.kernel_size / 2,
                " needs images larger than that, got ", x.size(2), "x", x.size(3));
    return apply(x, generators_.on(x.device()));
  }

  torch::Tensor apply(const torch::Tensor& x, at::Generator& gen) const {
    return apply(x, sample(x.size(0), gen, x.device()));
  }
  /// float64 (B, 2): each sample's sigma, and 1 where it is blurred (else 0).
  torch::Tensor sample(int64_t batch, at::Generator& gen, const torch::Device& device) const {
    auto sigmas = detail::uniform(batch, options_.sigma[0], options_.sigma[1], gen, device);
    auto mask = detail::coin(batch, options_.probability, gen, device);
    return torch::stack({sigmas, mask.to(torch::kFloat64)}, 1);
  }
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& params) const {
    if (options_.probability <= 0.0) return x;
    auto blurred = detail::gaussian_blur(x, options_.kernel_size, params.select(1, 0));
    if (options_.probability >= 1.0) return blurred;
    return torch::where(params.select(1, 1).gt(0.5).view({-1, 1, 1, 1}), blurred, x);
  }
};

}  // namespace selfsup::views
