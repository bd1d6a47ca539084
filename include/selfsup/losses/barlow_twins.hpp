#pragma once
/// \file
/// losses::BarlowTwins: redundancy reduction, a non-contrastive loss, as a recipe policy.

#include <selfsup/losses/functional.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

namespace selfsup::losses {

/// Barlow Twins (Zbontar et al., ICML 2021). Takes no negatives: pair it with negatives::None.
struct BarlowTwins {
  static constexpr bool contrastive = false;
  functional::BarlowTwinsOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    return functional::barlow_twins(in.z0, in.z1, options);
  }
};

}  // namespace selfsup::losses
