#pragma once
/// \file
/// selfsup::functional: the losses as plain differentiable functions of tensors, like
/// torch::nn::functional. Inputs are raw embeddings, rows = samples, of any floating dtype;
/// each function returns a 0-dim tensor.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <limits>
#include <string_view>

namespace selfsup::functional {

namespace detail {

// Checks shared by the two-view losses: z0 and z1 defined, floating, 2-D, same shape, dtype and
// device, at least two rows, finite.
inline void check_two_views(std::string_view fn, const torch::Tensor& z0,
                            const torch::Tensor& z1) {
  selfsup::detail::check_floating(fn, "z0", z0);
  selfsup::detail::check_floating(fn, "z1", z1);
  selfsup::detail::check_dim(fn, "z0", z0, 2);
  selfsup::detail::check_dim(fn, "z1", z1, 2);
  TORCH_CHECK(z0.sizes() == z1.sizes(), fn, ": z0 and z1 must have the same shape, got ",
              z0.sizes(), " and ", z1.sizes());
  TORCH_CHECK(z0.scalar_type() == z1.scalar_type(), fn,
              ": z0 and z1 must have the same dtype, got ", z0.scalar_type(), " and ",
              z1.scalar_type());
  selfsup::detail::check_same_device(fn, "z0", z0, "z1", z1);
  TORCH_CHECK(z0.size(0) >= 2, fn, ": needs at least 2 samples (rows), got ", z0.size(0));
  TORCH_CHECK(z0.size(1) >= 1, fn, ": embeddings must have at least one dimension, got shape ",
              z0.sizes());
  selfsup::detail::check_finite(fn, "z0", z0);
  selfsup::detail::check_finite(fn, "z1", z1);
}

inline torch::Tensor l2_normalize(const torch::Tensor& z) {
  namespace F = torch::nn::functional;
  return F::normalize(z, F::NormalizeFuncOptions().dim(1));
}

}  // namespace detail

struct NTXentOptions {
  double temperature = 0.5;
};

/// NT-Xent (Chen et al., "A Simple Framework for Contrastive Learning of Visual
/// Representations", ICML 2020). Rows are L2-normalised; each of the 2N rows of [z0; z1] is an
/// anchor whose positive is its partner row and whose negatives are the other 2N - 2 rows; the
/// cross-entropy is averaged over all 2N anchors.
inline torch::Tensor nt_xent(const torch::Tensor& z0, const torch::Tensor& z1,
                             const NTXentOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::nt_xent";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  const auto n = z0.size(0);
  auto z = detail::l2_normalize(torch::cat({z0, z1}, 0));                // (2N, D)
  auto logits = z.mm(z.t()) / options.temperature;                      // (2N, 2N)
  auto self = torch::eye(2 * n, z.options().dtype(torch::kBool));
  logits = logits.masked_fill(self, -std::numeric_limits<double>::infinity());
  auto positive = (z.narrow(0, 0, n) * z.narrow(0, n, n)).sum(1) / options.temperature;  // (N)
  // Each positive logit appears in two rows: i's partner is i + N and the other way round.
  return (torch::logsumexp(logits, 1).sum() - 2.0 * positive.sum()) / static_cast<double>(2 * n);
}

struct BarlowTwinsOptions {
  double lambda = 0.0051;
};

/// Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy
/// Reduction", ICML 2021). Each dimension is standardised over the batch (biased variance,
/// eps 1e-5); with C = z0ᵀ z1 / N the loss is Σ(1 − Cᵢᵢ)² + λ Σ_{i≠j} Cᵢⱼ².
inline torch::Tensor barlow_twins(const torch::Tensor& z0, const torch::Tensor& z1,
                                  const BarlowTwinsOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::barlow_twins";
  detail::check_two_views(fn, z0, z1);
  TORCH_CHECK(options.lambda >= 0, fn, ": lambda must be non-negative, got ", options.lambda);
  const auto n = static_cast<double>(z0.size(0));
  auto standardise = [](const torch::Tensor& z) {
    auto mean = z.mean(0, /*keepdim=*/true);
    auto var = z.var(0, /*unbiased=*/false, /*keepdim=*/true);
    return (z - mean) / torch::sqrt(var + 1e-5);
  };
  auto c = standardise(z0).t().mm(standardise(z1)) / n;                 // (D, D)
  auto diagonal = c.diagonal();
  auto on = (1.0 - diagonal).pow(2).sum();
  auto off = c.pow(2).sum() - diagonal.pow(2).sum();
  return on + options.lambda * off;
}

}  // namespace selfsup::functional
