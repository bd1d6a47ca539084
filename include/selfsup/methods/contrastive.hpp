#pragma once
/// \file
/// The contrastive methods: SimCLR and its in-batch variants (DCL, DCLW, debiased, hard
/// negatives, SupCon, false-negative elimination), NNCLR, and MoCo v2. Each is a class template
/// over its pair source (method.hpp says what a method provides); the defaults are the papers'.

#include <selfsup/losses/contrastive.hpp>
#include <selfsup/methods/method.hpp>
#include <selfsup/negatives/in_batch.hpp>
#include <selfsup/negatives/queue.hpp>
#include <selfsup/pairs/augmented.hpp>
#include <selfsup/pairs/nearest_neighbour.hpp>
#include <selfsup/pairs/semantic.hpp>

#include <utility>

namespace selfsup::methods {

namespace detail {

/// SimCLR's views and projector with negatives N and the loss `Self::loss(settings)`: the
/// in-batch contrastive family, for any pair source that draws positives from the data.
template <class Self, class P, class N, class L>
struct InBatchContrastive {
  using recipe_type = Recipe<views::SimCLRViews, P, N, L>;
  static constexpr bool accepts = accepts_data_positives<recipe_type>;
  static models::EncoderOptions encoder(int64_t features, const Settings&) {
    return {.projector = models::heads::simclr(features)};
  }
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods: this method does not train with this pair source: its recipe is "
                           "not valid with it (the error above names the rule), or the source finds positives in "
                           "the model's embeddings, which only NNCLR takes");
    return {.views = simclr_views(s), .pairs = std::move(positives), .loss = Self::loss(s)};
  }
};

}  // namespace detail

/// SimCLR (Chen et al., ICML 2020): NT-Xent over the batch's 2N views.
template <class P = pairs::Augmented>
struct SimCLR : detail::InBatchContrastive<SimCLR<P>, P, negatives::InBatch, losses::NTXent> {
  static constexpr Info info{.name = "simclr", .title = "SimCLR", .citation = "chen2020simclr",
                             .loss = "NT-Xent, τ = 0.5", .heads = "heads::simclr(F)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6,
                             .temperature = 0.5};
  static losses::NTXent loss(const Settings& s) { return {{.temperature = detail::temperature(info, s)}}; }
};

/// Decoupled contrastive learning (Yeh et al., ECCV 2022): the positive left out of the
/// denominator.
template <class P = pairs::Augmented>
struct DCL : detail::InBatchContrastive<DCL<P>, P, negatives::InBatch, losses::DCL> {
  static constexpr Info info{.name = "dcl", .title = "DCL", .citation = "yeh2022dcl",
                             .loss = "the positive left out of the denominator, τ = 0.1",
                             .heads = "heads::simclr(F)", .optimizer = OptimizerKind::lars, .base_lr = 0.3,
                             .weight_decay = 1e-6, .temperature = 0.1};
  static losses::DCL loss(const Settings& s) { return {{.temperature = detail::temperature(info, s)}}; }
};

/// DCL with the von Mises-Fisher weighting of the positive (Yeh et al., ECCV 2022).
template <class P = pairs::Augmented>
struct DCLW : detail::InBatchContrastive<DCLW<P>, P, negatives::InBatch, losses::DCLW> {
  static constexpr Info info{.name = "dclw", .title = "DCLW", .citation = "yeh2022dcl",
                             .loss = "DCL with the vMF weight, τ = 0.1, σ = 0.5", .heads = "heads::simclr(F)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6,
                             .temperature = 0.1};
  static losses::DCLW loss(const Settings& s) { return {{.temperature = detail::temperature(info, s), .sigma = 0.5}}; }
};

/// Debiased contrastive learning (Chuang et al., NeurIPS 2020): the negatives' term corrected
/// for a class prior τ⁺.
template <class P = pairs::Augmented>
struct Debiased : detail::InBatchContrastive<Debiased<P>, P, negatives::InBatch, losses::Debiased> {
  static constexpr Info info{.name = "debiased", .title = "Debiased contrastive", .citation = "chuang2020debiased",
                             .loss = "τ = 0.5, τ⁺ = 0.1", .heads = "heads::simclr(F)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6,
                             .temperature = 0.5};
  static losses::Debiased loss(const Settings& s) {
    return {{.temperature = detail::temperature(info, s), .tau_plus = 0.1}};
  }
};

/// Hard negative sampling (Robinson et al., ICLR 2021): the debiased term with negatives
/// weighted by their similarity (β).
template <class P = pairs::Augmented>
struct HardNegative : detail::InBatchContrastive<HardNegative<P>, P, negatives::InBatch, losses::HardNegative> {
  static constexpr Info info{.name = "hard_negative", .title = "Hard negatives", .citation = "robinson2021hard",
                             .loss = "τ = 0.5, τ⁺ = 0.1, β = 1", .heads = "heads::simclr(F)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6,
                             .temperature = 0.5};
  static losses::HardNegative loss(const Settings& s) {
    return {{.temperature = detail::temperature(info, s), .tau_plus = 0.1, .beta = 1.0}};
  }
};

/// Supervised contrastive learning (Khosla et al., NeurIPS 2020): every row of the anchor's
/// semantic group is a positive (the pair source's group ids; with augmented pairs, the image's
/// own two views). The optimiser is its CIFAR setting.
template <class P = pairs::Augmented>
struct SupCon : detail::InBatchContrastive<SupCon<P>, P, negatives::InBatch, losses::SupCon> {
  static constexpr Info info{.name = "supcon", .title = "SupCon", .citation = "khosla2020supcon",
                             .loss = "every row of the anchor's group a positive, τ = 0.1",
                             .heads = "heads::simclr(F)", .optimizer = OptimizerKind::sgd, .base_lr = 0.125,
                             .weight_decay = 1e-4, .temperature = 0.1};
  static losses::SupCon loss(const Settings& s) {
    const double t = detail::temperature(info, s);
    return {{.temperature = t, .base_temperature = t}};
  }
};

/// False-negative elimination (Huynh et al., WACV 2022): NT-Xent that does not push apart rows of
/// one semantic group. It needs group ids, which augmented pairs do not have.
template <class P = pairs::Semantic>
struct FNC : detail::InBatchContrastive<FNC<P>, P, negatives::InBatchMasked, losses::NTXent> {
  static constexpr Info info{.name = "fnc", .title = "False-negative elimination", .citation = "huynh2022fnc",
                             .loss = "NT-Xent without same-group negatives, τ = 0.5", .heads = "heads::simclr(F)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6,
                             .temperature = 0.5};
  static losses::NTXent loss(const Settings& s) { return {{.temperature = detail::temperature(info, s)}}; }
};

/// NNCLR (Dwibedi et al., ICCV 2021): NT-Xent with the partner view's nearest neighbour in a
/// support set of past embeddings as the positive. The support set is the pair source
/// (pairs::NearestNeighbour); NNCLR's predictor head is not used.
template <class P = pairs::NearestNeighbour>
struct NNCLR {
  static constexpr Info info{.name = "nnclr", .title = "NNCLR", .citation = "dwibedi2021nnclr",
                             .loss = "NT-Xent with the nearest neighbour from a support set of 16384, τ = 0.1",
                             .heads = "heads::simclr(F) (NNCLR's predictor head is not used)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6,
                             .temperature = 0.1};
  using recipe_type = Recipe<views::SimCLRViews, P, negatives::InBatch, losses::NTXent>;
  static constexpr bool accepts = recipe_type::valid && finds_positives_in_embeddings<P>;
  static models::EncoderOptions encoder(int64_t features, const Settings&) {
    return {.projector = models::heads::simclr(features)};
  }
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods::NNCLR: the positives are the nearest neighbours in a support set of "
                           "embeddings: the pair source must be pairs::NearestNeighbour (or another source with "
                           "on_embeddings)");
    return {.views = simclr_views(s), .pairs = std::move(positives),
            .loss = losses::NTXent{{.temperature = detail::temperature(info, s)}}};
  }
};

/// MoCo v2 (He et al., CVPR 2020; Chen et al. 2020): InfoNCE against a queue of keys from a
/// momentum target (constant m = 0.99 for short runs; the paper's 0.999 is for 200 ImageNet
/// epochs).
template <class P = pairs::Augmented>
struct MoCoV2 {
  static constexpr Info info{.name = "moco_v2", .title = "MoCo v2", .citation = "chen2020mocov2",
                             .loss = "InfoNCE against a queue of K = 4096 keys, τ = 0.2; target m = 0.99",
                             .heads = "heads::moco_v2, momentum target (m = 0.99, constant)",
                             .optimizer = OptimizerKind::sgd, .base_lr = 0.03, .weight_decay = 1e-4,
                             .temperature = 0.2, .queue_size = 4096};
  using recipe_type = Recipe<views::SimCLRViews, P, negatives::Queue, losses::InfoNCE>;
  static constexpr bool accepts = detail::accepts_data_positives<recipe_type>;
  static models::EncoderOptions encoder(int64_t, const Settings&) {
    return {.projector = models::heads::moco_v2, .momentum_target = true, .momentum = 0.99, .cosine_momentum = false};
  }
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods::MoCoV2: the pair source must draw positives from the data, and the "
                           "recipe be valid with it");
    return {.views = simclr_views(s), .pairs = std::move(positives),
            .negatives = negatives::Queue({.size = s.queue_size.value_or(info.queue_size), .seed = s.seed + 11}),
            .loss = losses::InfoNCE{{.temperature = detail::temperature(info, s)}}};
  }
};

}  // namespace selfsup::methods
