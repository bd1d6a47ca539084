#pragma once
/// \file
/// negatives::InBatch: every other sample of the batch is a negative (SimCLR).

#include <selfsup/types.hpp>

namespace selfsup::negatives {

struct InBatch {
  static constexpr bool provides_negatives = true;
  static constexpr bool needs_groups = false;

  NegativeSet negatives(const LossInput&, const PairBatch&) const {
    NegativeSet out;
    out.in_batch = true;
    return out;
  }
};

}  // namespace selfsup::negatives
