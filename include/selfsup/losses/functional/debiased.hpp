#pragma once
/// \file
/// The debiased and hard-negative contrastive losses of selfsup::functional, which correct the
/// NT-Xent denominator for negatives that share the anchor's class. See functional.hpp for the
/// conventions all the functions share.

#include <selfsup/detail/check.hpp>
#include <selfsup/losses/detail/debiased.hpp>
#include <selfsup/losses/detail/embeddings.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string_view>

namespace selfsup::functional {

struct DebiasedOptions {
  double temperature = 0.5;
  double tau_plus = 0.1;
};

/// Debiased contrastive loss (Chuang et al., "Debiased Contrastive Learning", NeurIPS 2020).
/// Over the 2N anchors of [z0; z1], with pos = exp(s⁺/τ), neg = exp(s⁻/τ), M = 2N − 2:
/// Ng = (−τ⁺·M·pos + Σneg) / (1 − τ⁺), clamped below at M·e^{−1/τ};
/// loss = −log(pos / (pos + Ng)), averaged over the 2N anchors.
inline torch::Tensor debiased_nt_xent(const torch::Tensor& z0, const torch::Tensor& z1,
                                      const DebiasedOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::debiased_nt_xent";
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  losses::detail::check_tau_plus(fn, options.tau_plus);
  return losses::detail::debiased_estimator(z0, z1, options.temperature, options.tau_plus, 0.0);
}

struct HardNegativeOptions {
  double temperature = 0.5;
  double tau_plus = 0.1;
  double beta = 1.0;
};

/// Hard-negative contrastive loss (Robinson et al., "Contrastive Learning with Hard Negative
/// Samples", ICLR 2021): the debiased loss with Σneg replaced by the importance-weighted
/// M·Σ(negᵝ·neg) / Σ(negᵝ). beta = 0 gives debiased_nt_xent.
inline torch::Tensor hard_nt_xent(const torch::Tensor& z0, const torch::Tensor& z1,
                                  const HardNegativeOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::hard_nt_xent";
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  losses::detail::check_tau_plus(fn, options.tau_plus);
  TORCH_CHECK(options.beta >= 0.0 && std::isfinite(options.beta), fn,
              ": beta must be finite and non-negative, got ", options.beta);
  return losses::detail::debiased_estimator(z0, z1, options.temperature, options.tau_plus,
                                            options.beta);
}

}  // namespace selfsup::functional
