#pragma once
/// \file
/// views::Augmentation: the standard instance-discrimination augmentation pipeline of SimCLR
/// (Chen et al. 2020) and its successors, batched on the input's device: RandomResizedCrop and
/// horizontal flip (fused into one resampling pass), colour jitter applied with a probability,
/// random grayscale, Gaussian blur, solarize, normalisation. The presets in presets.hpp are
/// configurations of it.

#include <selfsup/detail/check.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/views/color_jitter.hpp>
#include <selfsup/views/detail/cpu_views.hpp>
#include <selfsup/views/detail/source_images.hpp>
#include <selfsup/views/detail/transform.hpp>
#include <selfsup/views/gaussian_blur.hpp>
#include <selfsup/views/image_sources.hpp>
#include <selfsup/views/normalize.hpp>
#include <selfsup/views/random_grayscale.hpp>
#include <selfsup/views/random_resized_crop.hpp>
#include <selfsup/views/random_solarize.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::views {

namespace detail {

/// SimCLR's blur kernel: 10% of the side, made odd (23 for 224-pixel views).
inline int64_t default_blur_kernel(int64_t size) {
  const auto k = size / 10;
  return k % 2 == 0 ? k + 1 : k;
}

}  // namespace detail

/// Every stage of the pipeline; the defaults are SimCLR's CIFAR-10 recipe (Chen et al. 2020,
/// appendix B.9: crop scale (0.08, 1), flip 0.5, colour jitter (0.4, 0.4, 0.4, 0.1) with
/// p = 0.8, grayscale p = 0.2, no blur). A probability of 0 turns a stage off.
struct AugmentationOptions {
  int64_t size = 32;                                      ///< output side length
  std::array<double, 2> scale = {0.08, 1.0};              ///< RandomResizedCrop area fraction
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};   ///< RandomResizedCrop aspect range
  double flip_probability = 0.5;
  double brightness = 0.4;
  double contrast = 0.4;
  double saturation = 0.4;
  double hue = 0.1;
  double jitter_probability = 0.8;
  double grayscale_probability = 0.2;
  double blur_probability = 0.0;
  int64_t blur_kernel_size = 0;                           ///< odd; 0 picks 10% of size, made odd
  std::array<double, 2> blur_sigma = {0.1, 2.0};
  double solarize_probability = 0.0;
  double solarize_threshold = 0.5;
  std::vector<double> mean = {};                          ///< normalisation; empty: none
  std::vector<double> std = {};
  std::uint64_t seed = 0;                                 ///< seeds this policy's own generator
};

/// RandomResizedCrop -> flip -> RandomApply(ColorJitter) -> RandomGrayscale -> GaussianBlur ->
/// RandomSolarize -> Normalize, each sample drawing its own parameters. Satisfies
/// ViewGenerator: uint8 or float (B, C, H, W) in, float32 (B, C, size, size) out on the input's
/// device (floating input keeps its dtype), with no host synchronisation. Also takes images of
/// different sizes (a std::vector of (C, H_i, W_i)) and crops each straight from its source, and
/// images not decoded yet (ImageSources), of which it decodes only each view's box.
class Augmentation {
 public:
  Augmentation() : Augmentation(AugmentationOptions{}) {}
  explicit Augmentation(const AugmentationOptions& options, std::string_view name = "selfsup::views::Augmentation")
      : options_(options),
        name_(name),
        jitter_({.brightness = options.brightness,
                 .contrast = options.contrast,
                 .saturation = options.saturation,
                 .hue = options.hue,
                 .probability = options.jitter_probability}),
        grayscale_({.probability = options.grayscale_probability}),
        blur_({.kernel_size = options.blur_kernel_size > 0 ? options.blur_kernel_size
                                                           : detail::default_blur_kernel(options.size),
               .sigma = options.blur_sigma,
               .probability = options.blur_probability}),
        solarize_({.threshold = options.solarize_threshold, .probability = options.solarize_probability}),
        normalize_({.mean = options.mean, .std = options.std}),
        generators_(options.seed) {
    TORCH_CHECK(options.size > 0, name_, ": size must be positive, got ", options.size);
    detail::check_probability(name_, "flip_probability", options.flip_probability);
    TORCH_CHECK(options.scale[0] > 0 && options.scale[0] <= options.scale[1], name_,
                ": scale must satisfy 0 < min <= max, got {", options.scale[0], ", ",
                options.scale[1], "}");
    TORCH_CHECK(options.ratio[0] > 0 && options.ratio[0] <= options.ratio[1], name_,
                ": ratio must satisfy 0 < min <= max, got {", options.ratio[0], ", ",
                options.ratio[1], "}");
    TORCH_CHECK(blur_.options().kernel_size / 2 < options.size, name_, ": blur_kernel_size ",
                blur_.options().kernel_size, " is too large for views of side ", options.size);
  }

  const AugmentationOptions& options() const { return options_; }

  /// Views of a uniform batch, uint8 or floating (B, C, H, W).
  torch::Tensor operator()(const torch::Tensor& images) {
    detail::SourceImages source(name_, images);
    check(source);
    return generate(source, torch::arange(source.batch(), torch::TensorOptions().dtype(torch::kLong).device(source.device())),
                    generators_.on(source.device()));
  }

  /// Views of images of different sizes, each uint8 or floating (C, H_i, W_i), all with the same
  /// dtype, channel count and device.
  torch::Tensor operator()(const std::vector<torch::Tensor>& images) {
    detail::SourceImages source(name_, images);
    check(source);
    return generate(source, torch::arange(source.batch(), torch::TensorOptions().dtype(torch::kLong).device(source.device())),
                    generators_.on(source.device()));
  }

  /// Views of images not decoded yet (an image folder's): each view's box is drawn on its full
  /// image, only that box is decoded and resized, and the rest of the pipeline runs as for any
  /// images.
  torch::Tensor operator()(const ImageSources& images) {
    detail::SourceImages source(name_, images);
    check(source);
    return generate(source, torch::arange(source.batch(), torch::TensorOptions().dtype(torch::kLong).device(source.device())),
                    generators_.on(source.device()));
  }

  /// Every random parameter of a batch of views.
  struct Params {
    torch::Tensor boxes;        ///< int64 (N, 4): top, left, height, width
    torch::Tensor flip;         ///< bool (N)
    ColorJitterParams jitter;
    torch::Tensor gray;         ///< bool (N)
    torch::Tensor blur;         ///< float64 (N, 2): sigma, applied
    torch::Tensor solarize;     ///< bool (N)

    Params slice(int64_t start, int64_t length) const {
      auto part = [&](const torch::Tensor& t) { return t.narrow(0, start, length); };
      return {part(boxes), part(flip), {part(jitter.applied), part(jitter.factors), part(jitter.order)},
              part(gray),  part(blur), part(solarize)};
    }
  };

  /// The parameters of one view of image sources[i] for each i (int64 (N)), drawn from `gen` on
  /// the images' device, always in the same order of draws.
  Params sample(const detail::SourceImages& source, const torch::Tensor& sources, at::Generator& gen) const {
    const auto n = sources.size(0);
    const auto device = source.device();
    Params p;
    p.boxes = source.sample_boxes(sources, {.scale = options_.scale, .ratio = options_.ratio}, gen);
    p.flip = detail::coin(n, options_.flip_probability, gen, device);
    p.jitter = jitter_.sample(n, gen, device);
    p.gray = grayscale_.sample(n, gen, device);
    p.blur = blur_.sample(n, gen, device);
    p.solarize = solarize_.sample(n, gen, device);
    return p;
  }

  /// One view of image sources[i] for each i (int64 (N)), drawn from `gen`; unchecked. Every
  /// parameter is drawn for the whole batch first (sample). On the CPU, uint8, float32 and
  /// float64 images then take apply_cpu, everything else apply_batched.
  torch::Tensor generate(const detail::SourceImages& source, const torch::Tensor& sources,
                         at::Generator& gen, int64_t cpu_slice = 64) const {
    auto params = sample(source, sources, gen);
    if (source.lazy()) return apply_decoded(source, sources, params, cpu_slice);
    if (source.cpu_renderable()) return apply_cpu(source, sources, params, cpu_slice);
    return apply_batched(source, sources, params, cpu_slice);
  }

  /// The views for drawn `params` of images not decoded yet: the boxes decoded, resized and
  /// flipped by the source, then the colour stages on those crops as on any images (their crop
  /// now the whole image, which resamples nothing).
  torch::Tensor apply_decoded(const detail::SourceImages& source, const torch::Tensor& sources, const Params& params,
                              int64_t cpu_slice = 64) const {
    const auto n = sources.size(0), s = options_.size;
    detail::SourceImages cut(name_, source.decode(sources, params.boxes, s, params.flip));
    auto whole = params;
    whole.boxes = torch::tensor({int64_t{0}, int64_t{0}, s, s}, sources.options()).expand({n, 4}).contiguous();
    whole.flip = torch::zeros_like(params.flip);
    auto all = torch::arange(n, sources.options());
    if (cut.cpu_renderable()) return apply_cpu(cut, all, whole, cpu_slice);
    return apply_batched(cut, all, whole, cpu_slice);
  }

  /// The views for drawn `params` as batched tensor operations, on any device. On the CPU the
  /// work runs in slices of `cpu_slice` views, whose intermediate tensors stay in cache; the
  /// slicing changes no result.
  torch::Tensor apply_batched(const detail::SourceImages& source, const torch::Tensor& sources,
                              const Params& params, int64_t cpu_slice = 64) const {
    const auto n = sources.size(0);
    const int64_t slice = source.device().is_cpu() ? std::max<int64_t>(cpu_slice, 1) : n;
    torch::Tensor out;                                                             // (N, C, S, S)
    for (int64_t s = 0; s < n; s += slice) {
      const auto m = std::min(slice, n - s);
      const auto p = params.slice(s, m);
      auto x = source.crop(sources.narrow(0, s, m), p.boxes, options_.size, p.flip);  // (m, C, S, S)
      x = jitter_.apply_(x, p.jitter);
      x = grayscale_.apply(x, p.gray);
      x = blur_.apply(x, p.blur);
      x = solarize_.apply(x, p.solarize);
      x = normalize_.apply(x);
      if (slice >= n) return x.contiguous();
      if (!out.defined()) out = torch::empty({n, x.size(1), x.size(2), x.size(3)}, x.options());
      out.narrow(0, s, m).copy_(x);
    }
    return out;
  }

  /// The views for drawn `params` rendered one view at a time on the CPU
  /// (detail::render_cpu_views), for CPU images that source.cpu_renderable() accepts: three to
  /// four times as fast as apply_batched for CIFAR batches, with the same views within
  /// functional's tolerances. A blur, when on, runs batched between the colour stages and
  /// solarize, in slices of `cpu_slice` views.
  torch::Tensor apply_cpu(const detail::SourceImages& source, const torch::Tensor& sources,
                          const Params& params, int64_t cpu_slice = 64) const {
    TORCH_INTERNAL_ASSERT(source.cpu_renderable(), "apply_cpu needs CPU images of uint8, float32 or float64");
    const auto n = sources.size(0);
    const bool blur_on = blur_.options().probability > 0;
    const auto stages = cpu_stages(source.channels(), /*finish=*/!blur_on);
    auto render = [&](const torch::Tensor& src, const Params& p) {
      return source.render_cpu(src, {p.boxes, p.flip, p.jitter.applied, p.jitter.factors, p.jitter.order,
                                      p.gray, p.solarize},
                               stages);                                            // (m, C, S, S)
    };
    if (!blur_on) return render(sources, params);
    const int64_t slice = std::max<int64_t>(cpu_slice, 1);
    torch::Tensor out;                                                             // (N, C, S, S)
    for (int64_t s = 0; s < n; s += slice) {
      const auto m = std::min(slice, n - s);
      const auto p = params.slice(s, m);
      auto x = render(sources.narrow(0, s, m), p);
      x = normalize_.apply(solarize_.apply(blur_.apply(x, p.blur), p.solarize));
      if (m == n) return x.contiguous();
      if (!out.defined()) out = torch::empty({n, x.size(1), x.size(2), x.size(3)}, x.options());
      out.narrow(0, s, m).copy_(x);
    }
    return out;
  }

  /// What the CPU render applies after the crop: the stages switched on, as the batched
  /// transforms decide it.
  detail::CpuViewStages cpu_stages(int64_t channels, bool finish) const {
    const auto& j = jitter_.options();
    const bool rgb = channels == 3;
    return {.height = options_.size,
            .width = options_.size,
            .brightness = j.brightness > 0,
            .contrast = j.contrast > 0,
            .saturation = j.saturation > 0 && rgb,
            .hue = j.hue > 0 && rgb,
            .grayscale = grayscale_.options().probability > 0,
            .solarize = solarize_.options().probability > 0,
            .solarize_threshold = solarize_.options().threshold,
            .mean = normalize_.options().mean,
            .std = normalize_.options().std,
            .finish = finish};
  }

  /// This policy's generator for `device` (to compose it with others on one stream).
  at::Generator& generator(const torch::Device& device) { return generators_.on(device); }

  /// The checks operator() makes on its input's channels.
  void check(const detail::SourceImages& source) const {
    const bool colour = options_.jitter_probability > 0 || options_.grayscale_probability > 0 ||
                        options_.solarize_probability > 0;
    TORCH_CHECK(!colour || source.channels() == 1 || source.channels() == 3, name_,
                ": images must have 1 or 3 channels (grayscale or RGB), got ", source.channels());
    TORCH_CHECK(options_.mean.empty() || static_cast<int64_t>(options_.mean.size()) == source.channels(),
                name_, ": mean and std have ", options_.mean.size(), " entries but images have ",
                source.channels(), " channels");
  }

  /// Every generator's state (its own and its transforms'), for checkpoints.
  void save(torch::serialize::OutputArchive& archive) const {
    generators_.save(archive);
    selfsup::detail::save_nested(archive, "jitter", jitter_);
    selfsup::detail::save_nested(archive, "grayscale", grayscale_);
    selfsup::detail::save_nested(archive, "blur", blur_);
    selfsup::detail::save_nested(archive, "solarize", solarize_);
  }
  void load(torch::serialize::InputArchive& archive) {
    generators_.load(archive);
    selfsup::detail::load_nested(archive, "jitter", jitter_);
    selfsup::detail::load_nested(archive, "grayscale", grayscale_);
    selfsup::detail::load_nested(archive, "blur", blur_);
    selfsup::detail::load_nested(archive, "solarize", solarize_);
  }

 private:
  AugmentationOptions options_;
  std::string name_;
  ColorJitter jitter_;
  RandomGrayscale grayscale_;
  GaussianBlur blur_;
  RandomSolarize solarize_;
  Normalize normalize_;
  selfsup::detail::DeviceGenerators generators_;
};

}  // namespace selfsup::views
