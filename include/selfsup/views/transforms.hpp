#pragma once
/// \file
/// Random image transforms with torchvision's sampling, batched: every sample of the batch
/// draws its own parameters in one call on the images' device, with nothing read back to the
/// host. Each transform owns a seeded generator (`operator()`), or draws from one it is given
/// (`apply(images, gen)`), which is how the presets compose several transforms on one stream.
///
/// `operator()` takes uint8 or floating (B, C, H, W) images and returns float views in [0, 1];
/// `apply` takes floating images in [0, 1] and checks nothing.

#include <selfsup/detail/check.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/views/functional.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace selfsup::views {

namespace detail {

// The checks every transform's operator() makes, then the input as float in [0, 1].
inline torch::Tensor checked_unit_images(std::string_view fn, const torch::Tensor& images) {
  functional::detail::check_images(fn, images);
  return functional::detail::to_unit(images);
}

inline void check_probability(std::string_view fn, std::string_view name, double p) {
  TORCH_CHECK(p >= 0.0 && p <= 1.0, fn, ": ", name, " must be in [0, 1], got ", p);
}

// One Bernoulli(p) draw a sample: bool (B).
inline torch::Tensor coin(int64_t batch, double p, at::Generator& gen, const torch::Device& device) {
  return torch::rand({batch}, gen, torch::TensorOptions().dtype(torch::kFloat64).device(device)).lt(p);
}

// Uniform draws in [lo, hi], float64 (B).
inline torch::Tensor uniform(int64_t batch, double lo, double hi, at::Generator& gen,
                             const torch::Device& device) {
  auto u = torch::rand({batch}, gen, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  return u.mul_(hi - lo).add_(lo);
}

// A per-channel constant (1, C, 1, 1) built on the device, without copying host memory there
// (a host-to-device copy of pageable memory would wait for the device).
inline torch::Tensor channel_constant(const std::vector<double>& values, const torch::Tensor& like) {
  std::vector<torch::Tensor> parts;
  parts.reserve(values.size());
  for (double v : values) parts.push_back(torch::full({1}, v, like.options()));
  return torch::cat(parts).view({1, -1, 1, 1});
}

}  // namespace detail

// ---- colour jitter ------------------------------------------------------------------------------

/// torchvision's ColorJitter, optionally wrapped in RandomApply: brightness, contrast and
/// saturation factors uniform in [max(0, 1 - v), 1 + v], hue uniform in [-hue, hue], the four
/// operations applied in a random order drawn per sample. A zero option turns its operation
/// off, as in torchvision. SimCLR (Chen et al. 2020) uses (0.4, 0.4, 0.4, 0.1) with
/// probability 0.8; BYOL (Grill et al. 2020) (0.4, 0.4, 0.2, 0.1) with probability 0.8.
struct ColorJitterOptions {
  double brightness = 0.0;
  double contrast = 0.0;
  double saturation = 0.0;
  double hue = 0.0;            ///< at most 0.5
  double probability = 1.0;    ///< chance that a sample is jittered at all (RandomApply)
  std::uint64_t seed = 0;      ///< seeds this transform's own generator
};

/// Parameters drawn for one batch.
struct ColorJitterParams {
  torch::Tensor applied;  ///< bool (B): jittered at all
  torch::Tensor factors;  ///< float64 (B, 4): brightness, contrast, saturation, hue
  torch::Tensor order;    ///< int64 (B, 4): operation ids (0 brightness, 1 contrast,
                          ///< 2 saturation, 3 hue) in the order they are applied
};

class ColorJitter : public selfsup::detail::Seeded<ColorJitterOptions> {
 public:
  ColorJitter() : ColorJitter(ColorJitterOptions{}) {}
  explicit ColorJitter(const ColorJitterOptions& options)
      : Seeded(options) {
    constexpr std::string_view fn = "selfsup::views::ColorJitter";
    TORCH_CHECK(options.brightness >= 0 && options.contrast >= 0 && options.saturation >= 0, fn,
                ": brightness, contrast and saturation must be non-negative, got ",
                options.brightness, ", ", options.contrast, ", ", options.saturation);
    TORCH_CHECK(options.hue >= 0 && options.hue <= 0.5, fn, ": hue must be in [0, 0.5], got ",
                options.hue);
    detail::check_probability(fn, "probability", options.probability);
  }

  torch::Tensor operator()(const torch::Tensor& images) {
    auto x = detail::checked_unit_images("selfsup::views::ColorJitter", images);
    functional::detail::check_color_channels("selfsup::views::ColorJitter", x);
    return apply(x, generators_.on(x.device()));
  }

  torch::Tensor apply(const torch::Tensor& x, at::Generator& gen) const {
    return apply(x, sample(x.size(0), gen, x.device()));
  }

  ColorJitterParams sample(int64_t batch, at::Generator& gen, const torch::Device& device) const {
    const auto& o = options_;
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device);
    auto order = torch::rand({batch, 4}, gen, f64).argsort(/*dim=*/int64_t{1}, /*descending=*/false);  // uniform permutations
    auto factors = torch::stack(
        {detail::uniform(batch, std::max(0.0, 1.0 - o.brightness), 1.0 + o.brightness, gen, device),
         detail::uniform(batch, std::max(0.0, 1.0 - o.contrast), 1.0 + o.contrast, gen, device),
         detail::uniform(batch, std::max(0.0, 1.0 - o.saturation), 1.0 + o.saturation, gen, device),
         detail::uniform(batch, -o.hue, o.hue, gen, device)},
        1);                                                       // (B, 4)
    ColorJitterParams p;
    p.applied = detail::coin(batch, o.probability, gen, device);
    p.factors = factors;
    p.order = order;
    return p;
  }

  /// Applies drawn parameters to float images in [0, 1]. The three blends (brightness,
  /// contrast, saturation) clamp after each step, so their order matters; each pass below
  /// applies, per sample, the blend due at that step, with factor 1 (an exact no-op) where
  /// nothing is due. Hue, the costly step, runs once: three passes before it and three after,
  /// each sample taking part in the passes on its own side of its hue step.
  torch::Tensor apply(const torch::Tensor& x, const ColorJitterParams& p) const {
    return apply_(x.clone(), p);
  }

  /// As apply(x, params), overwriting `x` (which the caller owns) where it can.
  torch::Tensor apply_(torch::Tensor x, const ColorJitterParams& p) const {
    const bool rgb = x.size(1) == 3;
    const bool hue_on = options_.hue > 0 && rgb;
    const bool sat_on = options_.saturation > 0 && rgb;
    const bool con_on = options_.contrast > 0;
    if (!(options_.brightness > 0 || con_on || sat_on || hue_on)) return x;
    const auto b = x.size(0);
    const auto dtype = x.scalar_type();
    auto opts = p.order.options();

    // The blends in the order they are applied, hue left out, and how many precede hue.
    auto hue_at = p.order.eq(3).to(torch::kUInt8).argmax(1, /*keepdim=*/true);         // (B, 1)
    auto j = torch::arange(3, opts).unsqueeze(0);                                      // (1, 3)
    auto blends = p.order.gather(1, j + j.ge(hue_at).to(torch::kLong));                // (B, 3)
    // Six passes, three before hue and three after; blend k of a sample runs in pass k when
    // it precedes hue, in pass 3 + k otherwise. Without hue, every blend runs before.
    auto first = hue_on ? j.lt(hue_at) : torch::ones({1, 3}, opts.dtype(torch::kBool));  // (B|1, 3)
    auto active = torch::cat({first, first.logical_not()}, 1) &
                  p.applied.unsqueeze(1);                                              // (B, 6)
    auto op = blends.repeat({1, 2});                                                   // (B, 6)
    // A turned-off operation keeps factor 1, an exact no-op, like an inactive pass.
    auto f = p.factors.narrow(1, 0, 3).gather(1, op);                                  // (B, 6)
    if (!(options_.brightness > 0)) active = active & op.ne(0);
    if (!con_on) active = active & op.ne(1);
    if (!sat_on) active = active & op.ne(2);
    f = torch::where(active, f, torch::ones_like(f));
    auto rest = 1.0 - f;
    auto scale = f.to(dtype);                                                          // (B, 6)
    auto sat_coef = (rest * op.eq(2)).to(dtype);
    auto con_coef = (rest * op.eq(1)).to(dtype);
    auto column = [b](const torch::Tensor& t, int64_t k) { return t.select(1, k).view({b, 1, 1, 1}); };

    // One blend per sample and pass, in place: x = clamp(f x + (1 - f) target), target 0, the
    // mean luma or the luma, with f = 1 where nothing is due.
    auto pass = [&](int64_t k) {
      torch::Tensor target;                                                            // (B, 1, H|1, W|1)
      torch::Tensor plane;
      if (sat_on) {
        plane = functional::detail::luma(x);                                           // (B, 1, H, W)
        target = plane * column(sat_coef, k);
      }
      if (con_on) {
        torch::Tensor mean;                                                            // (B, 1, 1, 1)
        if (plane.defined()) {
          mean = plane.mean({1, 2, 3}, /*keepdim=*/true);
        } else if (rgb) {
          mean = functional::detail::luma(x.mean({2, 3}, /*keepdim=*/true));
        } else {
          mean = x.mean({1, 2, 3}, /*keepdim=*/true);
        }
        target = target.defined() ? target.addcmul_(mean, column(con_coef, k)) : mean * column(con_coef, k);
      }
      if (target.defined()) {
        torch::addcmul_out(x, target, x, column(scale, k));
      } else {
        x.mul_(column(scale, k));
      }
      x.clamp_(0.0, 1.0);
    };
    for (int64_t k = 0; k < 3; ++k) pass(k);
    if (hue_on) {
      auto shifted = functional::detail::shift_hue(x, p.factors.select(1, 3));
      x = torch::where(p.applied.view({-1, 1, 1, 1}), shifted, x);
      for (int64_t k = 3; k < 6; ++k) pass(k);
    }
    return x;
  }
};

// ---- grayscale, blur, solarize, flip, normalise -------------------------------------------------

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
    functional::detail::check_color_channels("selfsup::views::RandomGrayscale", x);
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
    return torch::where(mask.view({-1, 1, 1, 1}), functional::detail::luma(x), x);
  }
};

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
    auto blurred = functional::detail::gaussian_blur(x, options_.kernel_size, params.select(1, 0));
    if (options_.probability >= 1.0) return blurred;
    return torch::where(params.select(1, 1).gt(0.5).view({-1, 1, 1, 1}), blurred, x);
  }
};

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

/// torchvision's Normalize: (x - mean[c]) / std[c]. Empty mean and std turn it off.
struct NormalizeOptions {
  std::vector<double> mean = {};
  std::vector<double> std = {};
};

/// Deterministic; needs no generator.
class Normalize {
 public:
  Normalize() = default;
  explicit Normalize(const NormalizeOptions& options) : options_(options) {
    constexpr std::string_view fn = "selfsup::views::Normalize";
    TORCH_CHECK(options.mean.size() == options.std.size(), fn,
                ": mean and std must have the same length, got ", options.mean.size(), " and ",
                options.std.size());
    for (double s : options.std) TORCH_CHECK(s > 0, fn, ": every std must be positive, got ", s);
  }
  const NormalizeOptions& options() const { return options_; }
  bool enabled() const { return !options_.mean.empty(); }

  torch::Tensor operator()(const torch::Tensor& images) const {
    constexpr std::string_view fn = "selfsup::views::Normalize";
    auto x = detail::checked_unit_images(fn, images);
    TORCH_CHECK(!enabled() || static_cast<int64_t>(options_.mean.size()) == x.size(1), fn,
                ": mean and std have ", options_.mean.size(), " entries but images have ",
                x.size(1), " channels");
    return apply(x);
  }

  torch::Tensor apply(const torch::Tensor& x) const {
    if (!enabled()) return x;
    return (x - detail::channel_constant(options_.mean, x)).div_(detail::channel_constant(options_.std, x));
  }

 private:
  NormalizeOptions options_;
};

}  // namespace selfsup::views
