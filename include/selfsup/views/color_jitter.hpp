#pragma once
/// \file
/// views::ColorJitter: torchvision's ColorJitter with a random order of operations per sample,
/// optionally applied with a probability (RandomApply).
///
/// Like every random transform (transforms.hpp), it draws each sample's parameters in one call on
/// the images' device, with nothing read back to the host, from its own seeded generator
/// (`operator()`, uint8 or floating images in, float in [0, 1] out) or from one it is given
/// (`apply(images, gen)`, floating images in [0, 1], unchecked).

#include <selfsup/detail/random.hpp>
#include <selfsup/views/detail/color.hpp>
#include <selfsup/views/detail/transform.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace selfsup::views {

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
    detail::check_color_channels("selfsup::views::ColorJitter", x);
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
        plane = detail::luma(x);                                           // (B, 1, H, W)
        target = plane * column(sat_coef, k);
      }
      if (con_on) {
        torch::Tensor mean;                                                            // (B, 1, 1, 1)
        if (plane.defined()) {
          mean = plane.mean({1, 2, 3}, /*keepdim=*/true);
        } else if (rgb) {
          mean = detail::luma(x.mean({2, 3}, /*keepdim=*/true));
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
      auto shifted = detail::shift_hue(x, p.factors.select(1, 3));
      x = torch::where(p.applied.view({-1, 1, 1, 1}), shifted, x);
      for (int64_t k = 3; k < 6; ++k) pass(k);
    }
    return x;
  }
};

}  // namespace selfsup::views
