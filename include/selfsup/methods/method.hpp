#pragma once
/// \file
/// What a method is: its paper and defaults (methods::Info), the run-time settings it is built
/// from (methods::Settings), the requirements on a method type (methods::Method), and the view
/// generators the methods share at a given image size.
///
/// A method is a class template over its pair source, `methods::DINO<pairs::Semantic>`, with
///
///   static constexpr Info info;                 // name, paper, optimiser, defaults
///   using recipe_type = Recipe<V, P, N, L>;     // its four roles, P the pair source
///   static constexpr bool accepts;              // whether it trains with this pair source
///   static models::EncoderOptions encoder(int64_t features, const Settings&);  // its heads
///   static recipe_type recipe(P positives, const Settings&);                   // its policies
///
/// methods.hpp lists every method; a program crossing them with the pair sources
/// (pair_sources.hpp) needs no knowledge of any one of them.

#include <selfsup/models/encoder.hpp>
#include <selfsup/models/projector.hpp>
#include <selfsup/models/vision_transformer.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/train/options.hpp>
#include <selfsup/views/presets.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>

namespace selfsup::methods {

/// A setting some methods or pair sources read and others do not; a program refuses a flag for
/// one the chosen method and pair source do not read (it would be ignored).
enum class Knob : unsigned {
  temperature = 1u << 0,          ///< the contrastive or softmax temperature
  queue_size = 1u << 1,           ///< a queue of keys (MoCo v2) or embeddings (SwAV)
  queue_start_epoch = 1u << 2,    ///< the epoch from which the queue is used (SwAV)
  local_crops = 1u << 3,          ///< multi-crop: local views per image (DINO, SwAV)
  teacher_temperature = 1u << 4,  ///< the teacher's temperature and its warm-up (DINO)
  mix = 1u << 5,                  ///< a mixture's probability of its first source (pairs)
  support_size = 1u << 6,         ///< a support set of embeddings (pairs::NearestNeighbour)
};

constexpr unsigned operator|(Knob a, Knob b) { return static_cast<unsigned>(a) | static_cast<unsigned>(b); }
constexpr bool has(unsigned knobs, Knob k) { return (knobs & static_cast<unsigned>(k)) != 0; }

/// A method's paper and its defaults, stated once: what `train --list` and the methods table in
/// docs/methods.md print, and what a program builds the method's run from.
struct Info {
  std::string_view name;      ///< as a command line names it: "simclr"
  std::string_view title;     ///< "SimCLR"
  std::string_view citation;  ///< its key in docs/methods.bib
  std::string_view loss;      ///< the loss and its defaults, in words
  std::string_view heads;     ///< the encoder's heads, in words
  OptimizerKind optimizer = OptimizerKind::sgd;
  double base_lr = 0.05;      ///< at a global batch of 256 (the linear scaling rule)
  double weight_decay = 0.0;
  /// >= 0: the weight decay follows a cosine to this at the last step (DINO: 0.04 to 0.4).
  double final_weight_decay = -1.0;
  double clip_grad_norm = 0.0;           ///< > 0: the global gradient norm clipped to this
  int64_t freeze_last_layer_epochs = 0;  ///< DINO's last layer, SwAV's prototypes
  // The paper's value of each knob the method reads; absent (or negative): it does not read it.
  std::optional<double> temperature{};
  int64_t queue_size = -1;
  int64_t queue_start_epoch = -1;
  int64_t local_crops = -1;
  std::optional<double> teacher_temperature{};

  /// The knobs this method reads (Knob bits).
  constexpr unsigned knobs() const {
    unsigned k = 0;
    if (temperature) k |= static_cast<unsigned>(Knob::temperature);
    if (queue_size >= 0) k |= static_cast<unsigned>(Knob::queue_size);
    if (queue_start_epoch >= 0) k |= static_cast<unsigned>(Knob::queue_start_epoch);
    if (local_crops >= 0) k |= static_cast<unsigned>(Knob::local_crops);
    if (teacher_temperature) k |= static_cast<unsigned>(Knob::teacher_temperature);
    return k;
  }
};

/// What a method is built from at run time. Each method reads only the knobs its Info names;
/// every unset one takes the paper's value.
struct Settings {
  int64_t image_size = 32;         ///< the side of the training images
  /// The seed of this process's random policies. Views draw from seed + 7, a queue from
  /// seed + 11, pair sources from seed + 101 (pair_sources.hpp).
  std::uint64_t seed = 0;
  int64_t steps_per_epoch = 1;     ///< optimiser steps in one epoch: epochs to steps
  int64_t patch_size = 0;          ///< a ViT's patch, which local crops are a multiple of (0: the default)
  std::optional<double> temperature{};
  std::optional<int64_t> queue_size{};
  std::optional<int64_t> queue_start_epoch{};
  std::optional<int64_t> local_crops{};
  std::optional<double> teacher_temperature{};  ///< after the warm-up
  int64_t teacher_warmup_epochs = 0;            ///< linear from the paper's value to teacher_temperature
};

/// The requirements on a method type M (M = SomeMethod<P>).
template <class M>
concept Method = requires(const Settings& s, int64_t features, typename M::recipe_type::pairs_type positives) {
  requires is_recipe_v<typename M::recipe_type>;
  { M::info } -> std::convertible_to<Info>;
  { M::accepts } -> std::convertible_to<bool>;
  { M::encoder(features, s) } -> std::same_as<models::EncoderOptions>;
  { M::recipe(std::move(positives), s) } -> std::same_as<typename M::recipe_type>;
};

/// A list of method templates, in the order programs list them.
template <template <class> class... M>
struct List {
  static constexpr std::size_t size = sizeof...(M);
};

// ---- the pieces the methods share ---------------------------------------------------------------

/// Whether a pair source finds positives in the model's embeddings during training
/// (pairs::NearestNeighbour: NNCLR's support set), rather than drawing them from the data.
template <class P>
inline constexpr bool finds_positives_in_embeddings = contract::on_embeddings<P>::present;

/// SimCLR's views: the ImageNet recipe (with blur) from 96 px up, the CIFAR recipe below.
inline views::SimCLRViews simclr_views(const Settings& s) {
  auto o = s.image_size >= 96 ? views::SimCLRViewOptions::imagenet(s.image_size)
                              : views::SimCLRViewOptions::cifar(s.image_size);
  o.seed = s.seed + 7;
  return views::SimCLRViews(o);
}

/// BYOL's asymmetric views; below 96 px without blur (as CIFAR recipes have them).
inline views::BYOLViews byol_views(const Settings& s) {
  views::BYOLViewOptions o{.size = s.image_size, .seed = s.seed + 7};
  if (s.image_size < 96) o.blur_probability = {0.0, 0.0};
  return views::BYOLViews(o);
}

/// Multi-crop at the images' size: 2 global views and `local` local ones whose side is a whole
/// number of ViT patches, with the given crop scales; below 96 px without blur.
inline views::MultiCrop multi_crop(const Settings& s, std::array<double, 2> global_scale,
                                   std::array<double, 2> local_scale, int64_t local) {
  const int64_t patch = s.patch_size > 0 ? s.patch_size : models::default_patch_size(s.image_size);
  views::MultiCropOptions o{.global_size = s.image_size, .local_size = views::local_crop_size(s.image_size, patch),
                            .local_views = local, .global_scale = global_scale, .local_scale = local_scale,
                            .seed = s.seed + 7};
  if (s.image_size < 96) o.blur_probability = 0.0;
  return views::MultiCrop(o);
}

/// Smaller heads for small backbones and CPU runs: hidden widths / 8 (at least 64), output widths
/// above 256 / 8, DINO's K / 16 (65536: 4096), prototypes / 8 (at least 10).
inline models::EncoderOptions small_heads(models::EncoderOptions o) {
  auto shrink = [](models::ProjectorOptions p) {
    p.hidden_dim = std::max<int64_t>(64, p.hidden_dim / 8);
    if (p.out_dim > 256) p.out_dim /= 8;
    if (p.normalized_out_dim > 0) p.normalized_out_dim = std::max<int64_t>(64, p.normalized_out_dim / 16);
    return p;
  };
  o.projector = shrink(o.projector);
  if (o.predictor) o.predictor = shrink(*o.predictor);
  if (o.prototypes > 0) o.prototypes = std::max<int64_t>(10, o.prototypes / 8);
  return o;
}

/// `base` with the optimiser of the method's paper: its kind, the linear scaling rule for the
/// learning rate (base_lr · global_batch / 256), its weight decay and that decay's schedule, and
/// its gradient clipping. Everything else (epochs, batch, seed, warm-up) is `base`'s.
inline TrainerOptions paper_optimizer(const Info& info, TrainerOptions base, int64_t global_batch) {
  base.optimizer = info.optimizer;
  base.learning_rate = info.base_lr * static_cast<double>(global_batch) / 256.0;
  base.weight_decay = info.weight_decay;
  base.final_weight_decay = info.final_weight_decay;
  base.clip_grad_norm = info.clip_grad_norm;
  return base;
}

namespace detail {

/// The temperature a method trains with: the setting, else the paper's.
constexpr double temperature(const Info& info, const Settings& s) { return s.temperature.value_or(*info.temperature); }

/// The rule most methods share: the recipe is valid and the positives come from the data.
template <class R>
inline constexpr bool accepts_data_positives = R::valid && !finds_positives_in_embeddings<typename R::pairs_type>;

}  // namespace detail

}  // namespace selfsup::methods
