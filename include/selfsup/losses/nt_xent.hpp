#pragma once
/// \file
/// losses::NTXent: SimCLR's contrastive loss as a recipe policy.

#include <selfsup/losses/functional.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

namespace selfsup::losses {

/// NT-Xent over the in-batch negatives (Chen et al., ICML 2020).
/// `losses::NTXent{{.temperature = 0.2}}`.
struct NTXent {
  static constexpr bool contrastive = true;
  functional::NTXentOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    TORCH_CHECK(in.negatives.in_batch && !in.negatives.bank.defined(),
                "selfsup::losses::NTXent: contrasts against the rest of the batch only; pair it "
                "with negatives::InBatch");
    TORCH_CHECK(!in.negatives.groups.defined(),
                "selfsup::losses::NTXent: does not mask false negatives by group; the negative "
                "strategy handed it group ids");
    return functional::nt_xent(in.z0, in.z1, options);
  }
};

}  // namespace selfsup::losses
