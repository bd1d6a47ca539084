#pragma once
/// \file
/// pairs::Augmented: instance discrimination's positive, two augmented views of one image
/// (SimCLR, MoCo, BYOL, ...).

#include <selfsup/detail/check.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

namespace selfsup::pairs {

/// The partner of every anchor is the anchor itself.
struct Augmented {
  static constexpr bool provides_groups = false;

  PairBatch sample(const torch::Tensor& anchors) const {
    selfsup::detail::check_dim("selfsup::pairs::Augmented::sample", "anchors", anchors, 1);
    TORCH_CHECK(anchors.scalar_type() == torch::kLong,
                "selfsup::pairs::Augmented::sample: anchors must be int64, got ",
                anchors.scalar_type());
    PairBatch out;
    out.anchors = anchors;
    out.partners = anchors;
    out.sources = torch::full({anchors.size(0)}, static_cast<int64_t>(PairKind::augmented),
                              anchors.options().dtype(torch::kUInt8));
    return out;
  }
};

}  // namespace selfsup::pairs
