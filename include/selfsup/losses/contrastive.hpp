#pragma once
/// \file
/// Contrastive loss policies: they consume negatives (in-batch, or a bank such as MoCo's queue).

#include <selfsup/losses/functional.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

namespace selfsup::losses {

namespace detail {
inline void require_in_batch(std::string_view loss, const LossInput& in) {
  TORCH_CHECK(in.negatives.in_batch && !in.negatives.bank.defined(), loss,
              ": contrasts against the rest of the batch; pair it with negatives::InBatch or "
              "negatives::InBatchMasked");
}
inline void reject_groups(std::string_view loss, const LossInput& in) {
  TORCH_CHECK(!in.negatives.groups.defined(), loss,
              ": does not mask false negatives by group; use losses::NTXent or losses::SupCon with "
              "negatives::InBatchMasked");
}
}  // namespace detail

/// NT-Xent over the in-batch negatives (Chen et al., ICML 2020). With negatives::InBatchMasked,
/// the anchor's semantic group is left out of its denominator (false-negative elimination,
/// Huynh et al. 2022). `block_size` > 0 computes it in row blocks (memory O(N · block)).
/// `losses::NTXent{{.temperature = 0.2}}`.
struct NTXent {
  static constexpr bool contrastive = true;
  static constexpr bool masks_false_negatives = true;
  functional::NTXentOptions options{};
  int64_t block_size = 0;

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_in_batch("selfsup::losses::NTXent", in);
    if (in.negatives.groups.defined()) {
      return functional::nt_xent_grouped(in.z0, in.z1, in.negatives.groups, options, block_size);
    }
    if (block_size > 0) return functional::nt_xent_blocked(in.z0, in.z1, options, block_size);
    return functional::nt_xent(in.z0, in.z1, options);
  }
};

/// MoCo's InfoNCE against a bank of negatives (He et al., CVPR 2020; MoCo v2: Chen et al. 2020):
/// the query is the anchor's projection z0, the key the partner's momentum-target projection t1
/// (or z1 when the recipe has no momentum target). `symmetric` adds the loss with the views
/// swapped and averages the two. Pair it with negatives::Queue.
struct InfoNCE {
  static constexpr bool contrastive = true;
  static constexpr bool needs_bank = true;
  functional::InfoNCEOptions options{};
  bool symmetric = false;

  torch::Tensor operator()(const LossInput& in) const {
    TORCH_CHECK(in.negatives.bank.defined(),
                "selfsup::losses::InfoNCE: needs a bank of negatives; pair it with negatives::Queue");
    auto key1 = in.t1.defined() ? in.t1 : in.z1;
    auto loss = functional::info_nce(in.z0, key1, in.negatives.bank, options);
    if (!symmetric) return loss;
    auto key0 = in.t0.defined() ? in.t0 : in.z0;
    return 0.5 * (loss + functional::info_nce(in.z1, key0, in.negatives.bank, options));
  }
};

/// Decoupled contrastive loss (Yeh et al., ECCV 2022); `block_size` as for NTXent.
struct DCL {
  static constexpr bool contrastive = true;
  functional::DCLOptions options{};
  int64_t block_size = 0;

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_in_batch("selfsup::losses::DCL", in);
    detail::reject_groups("selfsup::losses::DCL", in);
    if (block_size > 0) return functional::dcl_blocked(in.z0, in.z1, options, block_size);
    return functional::dcl(in.z0, in.z1, options);
  }
};

/// DCL with von Mises-Fisher weighting of the positives (Yeh et al., ECCV 2022).
struct DCLW {
  static constexpr bool contrastive = true;
  functional::DCLWOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_in_batch("selfsup::losses::DCLW", in);
    detail::reject_groups("selfsup::losses::DCLW", in);
    return functional::dclw(in.z0, in.z1, options);
  }
};

/// Debiased contrastive loss (Chuang et al., NeurIPS 2020).
struct Debiased {
  static constexpr bool contrastive = true;
  functional::DebiasedOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_in_batch("selfsup::losses::Debiased", in);
    detail::reject_groups("selfsup::losses::Debiased", in);
    return functional::debiased_nt_xent(in.z0, in.z1, options);
  }
};

/// Hard-negative contrastive loss (Robinson et al., ICLR 2021).
struct HardNegative {
  static constexpr bool contrastive = true;
  functional::HardNegativeOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_in_batch("selfsup::losses::HardNegative", in);
    detail::reject_groups("selfsup::losses::HardNegative", in);
    return functional::hard_nt_xent(in.z0, in.z1, options);
  }
};

/// Multi-positive contrast, SupCon's L_out (Khosla et al., NeurIPS 2020), for semantic positive
/// sets: both views of every pair are anchors, and every row of the anchor's group is a positive
/// (the pair source's group ids: labels, or SePP-ID's semantic sets). Without group ids each pair
/// is its own group, and the loss is NT-Xent scaled by τ / τ_base.
struct SupCon {
  static constexpr bool contrastive = true;
  static constexpr bool masks_false_negatives = true;  ///< same-group rows are positives
  functional::SupConOptions options{};

  torch::Tensor operator()(const LossInput& in) const {
    detail::require_in_batch("selfsup::losses::SupCon", in);
    auto groups = in.groups.defined()
                      ? in.groups
                      : torch::arange(in.z0.size(0), in.z0.options().dtype(torch::kLong));
    return functional::supcon(torch::stack({in.z0, in.z1}, 1), groups, options);
  }
};

}  // namespace selfsup::losses
