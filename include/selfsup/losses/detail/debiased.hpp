#pragma once
/// \file
/// Internal: the estimator shared by the debiased and the hard-negative contrastive losses.

#include <selfsup/losses/detail/embeddings.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <string_view>

namespace selfsup::losses::detail {

inline void check_tau_plus(std::string_view fn, double tau_plus) {
  TORCH_CHECK(tau_plus >= 0.0 && tau_plus < 1.0, fn, ": tau_plus must be in [0, 1), got ",
              tau_plus);
}

// The debiased (Chuang et al.) and hard-negative (Robinson et al.) estimators over the 2N anchors
// of [z0; z1]; beta = 0 is the debiased one. Computed with each row shifted by its largest logit,
// so that small temperatures do not overflow.
inline torch::Tensor debiased_estimator(const torch::Tensor& z0, const torch::Tensor& z1,
                                        double temperature, double tau_plus, double beta) {
  auto z = stacked_views(z0, z1);
  const int64_t m = z.size(0), n = m / 2;
  const double neg_count = static_cast<double>(m - 2);
  auto logits = z.mm(z.t()) / temperature;                              // (2N, 2N)
  auto rows = torch::arange(m, z.options().dtype(torch::kLong));
  auto partner = (rows + n).remainder(m);
  auto negative = torch::ones({m, m}, z.options().dtype(torch::kBool));
  negative.scatter_(1, rows.unsqueeze(1), false).scatter_(1, partner.unsqueeze(1), false);
  auto self = torch::eye(m, z.options().dtype(torch::kBool));
  auto shift = std::get<0>(logits.masked_fill(self, -std::numeric_limits<double>::infinity())
                               .max(1, true))
                   .detach();                                           // (2N, 1), self excluded
  auto centred = torch::where(negative, logits - shift, torch::zeros_like(logits));
  auto mask = negative.to(z.scalar_type());
  auto neg = centred.exp() * mask;                                      // exp(s/τ - shift)
  auto pos_logit = logits.gather(1, partner.unsqueeze(1)) - shift;      // (2N, 1)
  auto pos = pos_logit.exp();
  torch::Tensor neg_sum;
  if (beta == 0.0) {
    neg_sum = neg.sum(1, true);
  } else {
    auto weight = (beta * centred).exp() * mask;                        // negᵝ, shift-invariant ratio
    neg_sum = neg_count * (weight * neg).sum(1, true) / weight.sum(1, true);
  }
  auto ng = (neg_sum - tau_plus * neg_count * pos) / (1.0 - tau_plus);
  auto floor = neg_count * torch::exp(-1.0 / temperature - shift);
  ng = torch::maximum(ng, floor);
  return (-pos_logit + torch::log(pos + ng)).mean();
}

}  // namespace selfsup::losses::detail
