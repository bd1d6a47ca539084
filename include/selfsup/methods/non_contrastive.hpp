#pragma once
/// \file
/// The methods without negatives: BYOL (predictor and momentum target), SimSiam (predictor and
/// stop-gradient), Barlow Twins and VICReg (redundancy reduction). Each is a class template over
/// its pair source (method.hpp says what a method provides); the defaults are the papers'.

#include <selfsup/losses/non_contrastive.hpp>
#include <selfsup/methods/method.hpp>
#include <selfsup/negatives/none.hpp>
#include <selfsup/pairs/augmented.hpp>

#include <type_traits>
#include <utility>

namespace selfsup::methods {

namespace detail {

/// Views V (SimCLR's or BYOL's), no negatives, the loss L at its defaults, the heads
/// `Self::encoder`: for any pair source that draws positives from the data.
template <class P, class V, class L>
struct WithoutNegatives {
  using recipe_type = Recipe<V, P, negatives::None, L>;
  static constexpr bool accepts = accepts_data_positives<recipe_type>;
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods: this method does not train with this pair source: its recipe is "
                           "not valid with it (the error above names the rule), or the source finds positives in "
                           "the model's embeddings, which only NNCLR takes");
    if constexpr (std::is_same_v<V, views::BYOLViews>) {
      return {.views = byol_views(s), .pairs = std::move(positives)};
    } else {
      return {.views = simclr_views(s), .pairs = std::move(positives)};
    }
  }
};

}  // namespace detail

/// BYOL (Grill et al., NeurIPS 2020): the online predictor regresses the momentum target's
/// projection of the other view (2 − 2cos, symmetric), on BYOL's asymmetric views; the target's
/// m₀ = 0.99 rises to 1 along a cosine (the paper's 0.996 is for long ImageNet runs).
template <class P = pairs::Augmented>
struct BYOL : detail::WithoutNegatives<P, views::BYOLViews, losses::BYOL> {
  static constexpr Info info{.name = "byol", .title = "BYOL", .citation = "grill2020byol",
                             .loss = "2 − 2cos, symmetric; target m₀ = 0.99, cosine to 1",
                             .heads = "heads::byol_projector + byol_predictor, momentum target (m₀ = 0.99, cosine)",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.2, .weight_decay = 1.5e-6};
  static models::EncoderOptions encoder(int64_t, const Settings&) {
    return {.projector = models::heads::byol_projector, .predictor = models::heads::byol_predictor,
            .momentum_target = true, .momentum = 0.99};
  }
};

/// SimSiam (Chen & He, CVPR 2021): negative cosine between the predictions and the other view's
/// projection, with a stop-gradient on the projections and no target network.
template <class P = pairs::Augmented>
struct SimSiam : detail::WithoutNegatives<P, views::SimCLRViews, losses::SimSiam> {
  static constexpr Info info{.name = "simsiam", .title = "SimSiam", .citation = "chen2021simsiam",
                             .loss = "negative cosine, stop-gradient on the projections",
                             .heads = "heads::simsiam_projector + simsiam_predictor",
                             .optimizer = OptimizerKind::sgd, .base_lr = 0.05, .weight_decay = 1e-4};
  static models::EncoderOptions encoder(int64_t, const Settings&) {
    return {.projector = models::heads::simsiam_projector, .predictor = models::heads::simsiam_predictor};
  }
};

/// Barlow Twins (Zbontar et al., ICML 2021): the two views' cross-correlation matrix pulled to
/// the identity (λ = 0.0051 off the diagonal). Trained here on SimCLR's views.
template <class P = pairs::Augmented>
struct BarlowTwins : detail::WithoutNegatives<P, views::SimCLRViews, losses::BarlowTwins> {
  static constexpr Info info{.name = "barlow_twins", .title = "Barlow Twins", .citation = "zbontar2021barlow",
                             .loss = "λ = 0.0051", .heads = "heads::barlow_twins", .optimizer = OptimizerKind::lars,
                             .base_lr = 0.2, .weight_decay = 1.5e-6};
  static models::EncoderOptions encoder(int64_t, const Settings&) { return {.projector = models::heads::barlow_twins}; }
};

/// VICReg (Bardes et al., ICLR 2022): invariance, variance and covariance terms (25, 25, 1).
/// Trained here on SimCLR's views.
template <class P = pairs::Augmented>
struct VICReg : detail::WithoutNegatives<P, views::SimCLRViews, losses::VICReg> {
  static constexpr Info info{.name = "vicreg", .title = "VICReg", .citation = "bardes2022vicreg",
                             .loss = "invariance 25, variance 25, covariance 1", .heads = "heads::vicreg",
                             .optimizer = OptimizerKind::lars, .base_lr = 0.2, .weight_decay = 1e-6};
  static models::EncoderOptions encoder(int64_t, const Settings&) { return {.projector = models::heads::vicreg}; }
};

}  // namespace selfsup::methods
