#pragma once
/// \file
/// The augmentation recipes of the papers selfsup reproduces, as ready-made view generators:
/// SimCLR (ViewGenerator), BYOL's asymmetric pair (ViewPairGenerator) and multi-crop (its own
/// API: a struct of global and local views). The weak crop-and-flip preset and Identity are in
/// crop_flip.hpp.

#include <selfsup/types.hpp>
#include <selfsup/views/augmentation.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace selfsup::views {

namespace detail {

/// An independent seed for stream `stream` of a policy seeded with `seed` (SplitMix64).
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace detail

// ---- SimCLR -------------------------------------------------------------------------------------

/// SimCLR's augmentation (Chen et al. 2020, "A Simple Framework for Contrastive Learning of
/// Visual Representations", appendix A): crop scale (0.08, 1), flip 0.5, colour jitter
/// (0.8s, 0.8s, 0.8s, 0.2s) with strength s = 0.5 applied with p = 0.8, grayscale p = 0.2, and
/// for ImageNet a Gaussian blur with p = 0.5, sigma in [0.1, 2.0], kernel 10% of the side.
/// The defaults are the CIFAR-10 recipe (no blur), which are AugmentationOptions' defaults;
/// `imagenet()` gives the ImageNet one.
struct SimCLRViewOptions {
  int64_t size = 32;                ///< output side length
  /// Every stage of the pipeline (AugmentationOptions). Its own `size` and `seed` are not read:
  /// this struct's `size` and `seed` take their place.
  AugmentationOptions augmentation = {};
  std::uint64_t seed = 0;           ///< seeds this policy's own generator

  /// The CIFAR-10 recipe at side `size`.
  static SimCLRViewOptions cifar(int64_t size = 32) { return {.size = size}; }
  /// The ImageNet recipe at side `size`: as CIFAR's plus blur with p = 0.5.
  static SimCLRViewOptions imagenet(int64_t size = 224) {
    return {.size = size, .augmentation = {.blur_probability = 0.5}};
  }
};

/// SimCLR's views (see SimCLRViewOptions). Satisfies ViewGenerator: uint8 or float
/// (B, 3, H, W) in, float32 (B, 3, size, size) out on the input's device; also takes a
/// std::vector of images of different sizes.
class SimCLRViews {
 public:
  SimCLRViews() : SimCLRViews(SimCLRViewOptions{}) {}
  explicit SimCLRViews(const SimCLRViewOptions& o)
      : options_(o), pipeline_(pipeline_options(o), "selfsup::views::SimCLRViews") {}

  const SimCLRViewOptions& options() const { return options_; }
  torch::Tensor operator()(const torch::Tensor& images) { return pipeline_(images); }
  torch::Tensor operator()(const std::vector<torch::Tensor>& images) { return pipeline_(images); }
  torch::Tensor operator()(const ImageSources& images) { return pipeline_(images); }

  /// The generators' state, for checkpoints.
  void save(torch::serialize::OutputArchive& archive) const { pipeline_.save(archive); }
  void load(torch::serialize::InputArchive& archive) { pipeline_.load(archive); }

 private:
  static AugmentationOptions pipeline_options(const SimCLRViewOptions& o) {
    auto a = o.augmentation;
    a.size = o.size;
    a.seed = o.seed;
    return a;
  }

  SimCLRViewOptions options_;
  Augmentation pipeline_;
};

// ---- BYOL ---------------------------------------------------------------------------------------

/// BYOL's asymmetric augmentation (Grill et al. 2020, "Bootstrap Your Own Latent", table 6):
/// both views crop (0.08, 1), flip 0.5, colour jitter (0.4, 0.4, 0.2, 0.1) with p = 0.8,
/// grayscale p = 0.2; Gaussian blur with p = 1.0 on the first view and 0.1 on the second;
/// solarize with p = 0 on the first and 0.2 on the second. Pairs of values are
/// {first view, second view}.
struct BYOLViewOptions {
  int64_t size = 224;
  std::array<double, 2> scale = {0.08, 1.0};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  double flip_probability = 0.5;
  double brightness = 0.4;
  double contrast = 0.4;
  double saturation = 0.2;
  double hue = 0.1;
  double jitter_probability = 0.8;
  double grayscale_probability = 0.2;
  std::array<double, 2> blur_probability = {1.0, 0.1};
  int64_t blur_kernel_size = 0;                           ///< odd; 0 picks 10% of size, made odd
  std::array<double, 2> blur_sigma = {0.1, 2.0};
  std::array<double, 2> solarize_probability = {0.0, 0.2};
  double solarize_threshold = 0.5;
  std::vector<double> mean = {};
  std::vector<double> std = {};
  std::uint64_t seed = 0;  ///< seeds both views' generators (as two independent streams)
};

/// BYOL's two views. Satisfies ViewPairGenerator: `first(images)` for the online network's
/// input, `second(images)` for the target's; each as SimCLRViews::operator().
class BYOLViews {
 public:
  BYOLViews() : BYOLViews(BYOLViewOptions{}) {}
  explicit BYOLViews(const BYOLViewOptions& o)
      : options_(o), first_(view_options(o, 0), "selfsup::views::BYOLViews::first"),
        second_(view_options(o, 1), "selfsup::views::BYOLViews::second") {}

  const BYOLViewOptions& options() const { return options_; }
  torch::Tensor first(const torch::Tensor& images) { return first_(images); }
  torch::Tensor second(const torch::Tensor& images) { return second_(images); }
  torch::Tensor first(const std::vector<torch::Tensor>& images) { return first_(images); }
  torch::Tensor second(const std::vector<torch::Tensor>& images) { return second_(images); }
  torch::Tensor first(const ImageSources& images) { return first_(images); }
  torch::Tensor second(const ImageSources& images) { return second_(images); }

  /// Both sides' generator state, for checkpoints.
  void save(torch::serialize::OutputArchive& archive) const {
    selfsup::detail::save_nested(archive, "first", first_);
    selfsup::detail::save_nested(archive, "second", second_);
  }
  void load(torch::serialize::InputArchive& archive) {
    selfsup::detail::load_nested(archive, "first", first_);
    selfsup::detail::load_nested(archive, "second", second_);
  }

 private:
  /// The pipeline of view `i` (0: first, 1: second).
  static AugmentationOptions view_options(const BYOLViewOptions& o, int i) {
    return {.size = o.size,
            .scale = o.scale,
            .ratio = o.ratio,
            .flip_probability = o.flip_probability,
            .brightness = o.brightness,
            .contrast = o.contrast,
            .saturation = o.saturation,
            .hue = o.hue,
            .jitter_probability = o.jitter_probability,
            .grayscale_probability = o.grayscale_probability,
            .blur_probability = o.blur_probability[i],
            .blur_kernel_size = o.blur_kernel_size,
            .blur_sigma = o.blur_sigma,
            .solarize_probability = o.solarize_probability[i],
            .solarize_threshold = o.solarize_threshold,
            .mean = o.mean,
            .std = o.std,
            .seed = detail::derive_seed(o.seed, static_cast<std::uint64_t>(i))};
  }

  BYOLViewOptions options_;
  Augmentation first_, second_;
};

// ---- multi-crop ---------------------------------------------------------------------------------

/// Multi-crop (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting
/// Cluster Assignments", SwAV): two global views and k small local views of each image, with
/// SwAV's colour distortion of strength 1 (jitter (0.8, 0.8, 0.8, 0.2) with p = 0.8,
/// grayscale p = 0.2) and Gaussian blur with p = 0.5 on every view.
struct MultiCropOptions {
  int64_t global_size = 224;
  int64_t local_size = 96;
  int64_t local_views = 6;                                ///< k
  std::array<double, 2> global_scale = {0.14, 1.0};
  std::array<double, 2> local_scale = {0.05, 0.14};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  double flip_probability = 0.5;
  double brightness = 0.8;
  double contrast = 0.8;
  double saturation = 0.8;
  double hue = 0.2;
  double jitter_probability = 0.8;
  double grayscale_probability = 0.2;
  double blur_probability = 0.5;
  std::array<double, 2> blur_sigma = {0.1, 2.0};          ///< kernels are 10% of each side
  std::vector<double> mean = {};
  std::vector<double> std = {};
  std::uint64_t seed = 0;
};

/// The side of local crops for global views of side `global`: the papers' ratio 96/224, rounded
/// to a multiple of `multiple` (a ViT's patch size, so that the crop is a whole grid of patches),
/// at least `multiple`.
inline int64_t local_crop_size(int64_t global, int64_t multiple = 1) {
  TORCH_CHECK(global >= 1 && multiple >= 1, "selfsup::views::local_crop_size: global and multiple must be >= 1, got ",
              global, " and ", multiple);
  const auto side = std::llround(static_cast<double>(global) * 96.0 / 224.0 / static_cast<double>(multiple));
  return std::max<int64_t>(multiple, side * multiple);
}

/// The views of one batch of B images: global (2, B, C, global_size, global_size), local
/// (k, B, C, local_size, local_size).
using MultiCropViews = selfsup::MultiCropViews;

/// Multi-crop views (see MultiCropOptions). `v(images)` takes uint8 or float (B, C, H, W) (or a
/// std::vector of images of different sizes) and returns a MultiCropViews; every view of the
/// batch is drawn in two batched passes (global, local), on the input's device.
///
/// As a Recipe's view generator (selfsup::MultiCropGenerator) it is called with both sides of a
/// pair, `v.crops(anchors, partners)`: global view 0 is drawn from each anchor and global view 1
/// from its partner; local views alternate, even ones from the anchor, odd ones from the partner.
/// With `partners` the same tensor as `anchors` (augmented pairs) that is ordinary multi-crop of one
/// image.
class MultiCrop {
 public:
  MultiCrop() : MultiCrop(MultiCropOptions{}) {}
  explicit MultiCrop(const MultiCropOptions& o)
      : options_(o),
        global_(crop_options(o, o.global_size, o.global_scale), "selfsup::views::MultiCrop"),
        local_(crop_options(o, std::max<int64_t>(o.local_size, 1), o.local_scale), "selfsup::views::MultiCrop"),
        generators_(o.seed) {
    TORCH_CHECK(o.local_views >= 0, "selfsup::views::MultiCrop: local_views must be >= 0, got ",
                o.local_views);
  }

  const MultiCropOptions& options() const { return options_; }

  MultiCropViews operator()(const torch::Tensor& images) {
    return generate(detail::SourceImages("selfsup::views::MultiCrop", images));
  }
  MultiCropViews operator()(const std::vector<torch::Tensor>& images) {
    return generate(detail::SourceImages("selfsup::views::MultiCrop", images));
  }
  MultiCropViews operator()(const ImageSources& images) {
    return generate(detail::SourceImages("selfsup::views::MultiCrop", images));
  }

  /// The views of B pairs: see the class comment. `anchors` and `partners` uint8 or float
  /// (B, C, H, W) of one shape.
  MultiCropViews crops(const torch::Tensor& anchors, const torch::Tensor& partners) {
    if (partners.is_same(anchors)) return generate(detail::SourceImages("selfsup::views::MultiCrop", anchors));
    TORCH_CHECK(anchors.sizes() == partners.sizes(), "selfsup::views::MultiCrop::crops: anchors and partners must "
                "have the same shape, got ", anchors.sizes(), " and ", partners.sizes());
    return generate(detail::SourceImages("selfsup::views::MultiCrop", torch::cat({anchors, partners}, 0)),
                    anchors.size(0));
  }

  /// The views of B pairs of images not decoded yet (an image folder's): every global and local
  /// view's box drawn on its full image.
  MultiCropViews crops(const ImageSources& anchors, const ImageSources& partners) {
    if (partners.heights.is_same(anchors.heights)) return generate(detail::SourceImages("selfsup::views::MultiCrop", anchors));
    return generate(detail::SourceImages("selfsup::views::MultiCrop", concat(anchors, partners)), anchors.batch());
  }

  /// Every generator's state, for checkpoints. (The archive's names are attributes of a
  /// TorchScript module when read back, so Python keywords such as `global` cannot be used.)
  void save(torch::serialize::OutputArchive& archive) const {
    generators_.save(archive);
    selfsup::detail::save_nested(archive, "global_views", global_);
    selfsup::detail::save_nested(archive, "local_views", local_);
  }
  void load(torch::serialize::InputArchive& archive) {
    generators_.load(archive);
    selfsup::detail::load_nested(archive, "global_views", global_);
    selfsup::detail::load_nested(archive, "local_views", local_);
  }

 private:
  /// The pipeline of the global or the local crops, of side `size` and area fraction `scale`.
  static AugmentationOptions crop_options(const MultiCropOptions& o, int64_t size,
                                          std::array<double, 2> scale) {
    return {.size = size,
            .scale = scale,
            .ratio = o.ratio,
            .flip_probability = o.flip_probability,
            .brightness = o.brightness,
            .contrast = o.contrast,
            .saturation = o.saturation,
            .hue = o.hue,
            .jitter_probability = o.jitter_probability,
            .grayscale_probability = o.grayscale_probability,
            .blur_probability = o.blur_probability,
            .blur_sigma = o.blur_sigma,
            .mean = o.mean,
            .std = o.std};
  }

  /// `pairs` = 0: one view set of the source's B images. `pairs` = B > 0: the source holds B anchors
  /// then their B partners; view 0 and the even local views come from the anchors, the others from
  /// the partners.
  MultiCropViews generate(const detail::SourceImages& source, int64_t pairs = 0) {
    global_.check(source);
    const auto b = pairs > 0 ? pairs : source.batch();
    auto& gen = generators_.on(source.device());
    auto i64 = torch::TensorOptions().dtype(torch::kLong).device(source.device());
    auto image = torch::arange(b, i64);                                            // (B)
    auto side = [&](int64_t v) { return pairs > 0 && v % 2 == 1 ? image + b : image; };
    auto global = global_.generate(source, torch::cat({side(0), side(1)}), gen);   // (2B, C, G, G)
    MultiCropViews out;
    out.global = global.view({2, b, global.size(1), global.size(2), global.size(3)});
    const auto k = options_.local_views;
    if (k > 0) {
      std::vector<torch::Tensor> which;
      for (int64_t v = 0; v < k; ++v) which.push_back(side(v));
      auto local = local_.generate(source, torch::cat(which), gen);               // (kB, C, L, L)
      out.local = local.view({k, b, local.size(1), local.size(2), local.size(3)});
    } else {
      out.local = torch::empty({0, b, source.channels(), options_.local_size, options_.local_size},
                               global.options());
    }
    return out;
  }

  MultiCropOptions options_;
  Augmentation global_, local_;
  selfsup::detail::DeviceGenerators generators_;
};

}  // namespace selfsup::views
