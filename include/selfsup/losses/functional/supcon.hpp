#pragma once
/// \file
/// The supervised contrastive loss of selfsup::functional, whose positives are given by labels.
/// See functional.hpp for the conventions all the functions share.

#include <selfsup/detail/check.hpp>
#include <selfsup/losses/detail/embeddings.hpp>

#include <limits>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

namespace selfsup::functional {

struct SupConOptions {
  double temperature = 0.07;
  double base_temperature = 0.07;
};

/// Supervised contrastive loss (Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020),
/// the L_out form. `features` (B, V, D), normalised here on the last dimension; `labels` int64
/// (B). All B·V rows are anchors; an anchor's positives are the other rows of its label; the
/// loss is −(τ / τ_base) times the per-anchor mean log-probability of its positives, averaged
/// over all anchors (an anchor without positives counts as 0).
inline torch::Tensor supcon(const torch::Tensor& features, const torch::Tensor& labels,
                            const SupConOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::supcon";
  selfsup::detail::check_floating(fn, "features", features);
  selfsup::detail::check_dim(fn, "features", features, 3);
  selfsup::detail::check_dim(fn, "labels", labels, 1);
  TORCH_CHECK(labels.scalar_type() == torch::kLong, fn, ": labels must be int64, got ",
              labels.scalar_type());
  TORCH_CHECK(labels.size(0) == features.size(0), fn, ": features has ", features.size(0),
              " samples but labels has ", labels.size(0));
  TORCH_CHECK(features.size(0) * features.size(1) >= 2, fn,
              ": needs at least 2 rows (B·V), got shape ", features.sizes());
  selfsup::detail::check_same_device(fn, "features", features, "labels", labels);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  selfsup::detail::check_positive(fn, "base_temperature", options.base_temperature);
  selfsup::detail::check_finite(fn, "features", features);
  const int64_t b = features.size(0), v = features.size(1);
  // View-major rows, as [view 0 of every sample; view 1; ...].
  auto z = losses::detail::l2_normalize(features.transpose(0, 1).reshape({b * v, -1}));  // (BV, D)
  auto row_labels = labels.repeat({v});                                 // (BV)
  auto self = torch::eye(b * v, z.options().dtype(torch::kBool));
  auto logits = (z.mm(z.t()) / options.temperature)
                    .masked_fill(self, -std::numeric_limits<double>::infinity());  // (BV, BV)
  auto log_prob = logits - torch::logsumexp(logits, 1, true);
  auto positive = row_labels.unsqueeze(0).eq(row_labels.unsqueeze(1)) & ~self;
  auto count = positive.sum(1);                                         // (BV)
  auto pos_log_prob = torch::where(positive, log_prob, torch::zeros_like(log_prob)).sum(1);
  auto mean_pos = pos_log_prob / count.clamp_min(1).to(z.scalar_type());
  return -(options.temperature / options.base_temperature) * mean_pos.mean();
}

}  // namespace selfsup::functional
