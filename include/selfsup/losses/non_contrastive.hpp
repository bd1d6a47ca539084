#pragma once
/// \file
/// Non-contrastive loss policies: they take no negatives (pair them with negatives::None).

#include <selfsup/losses/functional.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <string_view>

namespace selfsup::losses {

namespace detail {
inline void require_predictions(std::string_view loss, const LossInput& in) {
  TORCH_CHECK(in.p0.defined() && in.p1.defined(), loss,
              ": needs the predictions p0 and p1 of an encoder with a predictor head");
}
}  // namespace detail

/// BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020): 2 − 2·cos between each view's
/// prediction and the other view's target projection, summed over the two directions and
/// averaged over the batch. Targets are the momentum-target projections t0, t1 (or z0, z1 without
/// a momentum target), always detached.
struct BYOL {
  static constexpr bool contrastive = false;
  static constexpr bool needs_predictor = true;

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_predictions("selfsup::losses::BYOL", in);
    auto target0 = (in.t0.defined() ? in.t0 : in.z0).detach();
    auto target1 = (in.t1.defined() ? in.t1 : in.z1).detach();
    return 4.0 + 2.0 * (functional::negative_cosine(in.p0, target1) +
                        functional::negative_cosine(in.p1, target0));
  }
};

/// SimSiam (Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021):
/// ½(D(p0, sg(z1)) + D(p1, sg(z0))) with D the negative cosine similarity.
struct SimSiam {
  static constexpr bool contrastive = false;
  static constexpr bool needs_predictor = true;

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_predictions("selfsup::losses::SimSiam", in);
    return 0.5 * (functional::negative_cosine(in.p0, in.z1.detach()) +
                  functional::negative_cosine(in.p1, in.z0.detach()));
  }
};

/// Barlow Twins (Zbontar et al., ICML 2021).
struct BarlowTwins {
  static constexpr bool contrastive = false;
  functional::BarlowTwinsOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    return functional::barlow_twins(in.z0, in.z1, options);
  }
};

/// VICReg (Bardes et al., ICLR 2022).
struct VICReg {
  static constexpr bool contrastive = false;
  functional::VICRegOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    return functional::vicreg(in.z0, in.z1, options);
  }
};

}  // namespace selfsup::losses
