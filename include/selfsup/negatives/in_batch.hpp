#pragma once
/// \file
/// In-batch negatives: every other sample of the batch is a negative (SimCLR), optionally
/// without the samples that share the anchor's semantic group.

#include <selfsup/types.hpp>

#include <torch/torch.h>

namespace selfsup::negatives {

/// Every other sample of the batch, both views, is a negative.
struct InBatch {
  static constexpr bool provides_negatives = true;
  static constexpr bool needs_groups = false;

  NegativeSet negatives(const LossInput&, const PairBatch&) const {
    NegativeSet out;
    out.in_batch = true;
    return out;
  }
};

/// In-batch negatives with semantic false-negative masking: samples whose pair shares the
/// anchor's group id (a label, a pair-table class, a mined cluster) are not pushed apart
/// (false-negative elimination, Huynh et al., WACV 2022). Needs a pair source that provides
/// group ids.
struct InBatchMasked {
  static constexpr bool provides_negatives = true;
  static constexpr bool needs_groups = true;

  NegativeSet negatives(const LossInput&, const PairBatch& pairs) const {
    TORCH_CHECK(pairs.groups.defined(),
                "selfsup::negatives::InBatchMasked: the pair batch carries no group ids");
    NegativeSet out;
    out.in_batch = true;
    out.groups = pairs.groups;
    return out;
  }
};

}  // namespace selfsup::negatives
