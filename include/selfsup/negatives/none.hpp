#pragma once
/// \file
/// negatives::None: no negatives, for the non-contrastive losses (BYOL, SimSiam, Barlow Twins,
/// VICReg).

#include <selfsup/types.hpp>

namespace selfsup::negatives {

struct None {
  static constexpr bool provides_negatives = false;
  static constexpr bool needs_groups = false;

  NegativeSet negatives(const LossInput&, const PairBatch&) const { return {}; }
};

}  // namespace selfsup::negatives
