#pragma once
/// \file
/// What the pair sources share: the option for anchors without a partner, argument checks, and
/// the kind of each pair.

#include <selfsup/detail/check.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <string>
#include <string_view>

namespace selfsup::pairs {

/// What happens to an anchor that has no partner of the source's kind (no listed semantic pair,
/// alone in its label).
enum class MissingPartner {
  augment,    ///< its partner is itself: two augmented views of one image
  leave_out,  ///< it is not drawn in an epoch (`eligible_anchors()` leaves it out)
};

namespace detail {

// anchors: int64 (B) on the device the source was bound to.
inline void check_anchors(std::string_view fn, const torch::Tensor& anchors, const torch::Device& device) {
  selfsup::detail::check_dim(fn, "anchors", anchors, 1);
  TORCH_CHECK(anchors.scalar_type() == torch::kLong, fn, ": anchors must be int64, got ",
              anchors.scalar_type());
  TORCH_CHECK(anchors.device() == device, fn, ": anchors are on ", anchors.device(),
              " but the source was bound to data on ", device);
}

inline void check_bound(std::string_view fn, bool bound) {
  TORCH_CHECK(bound, fn, ": the source is not bound to a dataset; call bind(DatasetInfo) first "
              "(selfsup::Trainer::fit does)");
}

// A uint8 (B) PairKind per pair: `kind` where `mask` is true, augmented elsewhere.
inline torch::Tensor kinds(const torch::Tensor& mask, PairKind kind) {
  auto k = torch::full({}, static_cast<int64_t>(kind), mask.options().dtype(torch::kUInt8));
  auto a = torch::full({}, static_cast<int64_t>(PairKind::augmented), mask.options().dtype(torch::kUInt8));
  return torch::where(mask, k, a);
}

}  // namespace detail
}  // namespace selfsup::pairs
