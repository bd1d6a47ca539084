#pragma once
/// \file
/// The non-contrastive losses of selfsup::functional, which take no negatives: the negative cosine
/// of BYOL and SimSiam, Barlow Twins and VICReg. See functional.hpp for the conventions all the
/// functions share.

#include <selfsup/detail/check.hpp>
#include <selfsup/losses/detail/embeddings.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

namespace selfsup::functional {

/// −mean cos(pᵢ, zᵢ). It does not detach: the caller decides where gradients stop (BYOL,
/// SimSiam).
inline torch::Tensor negative_cosine(const torch::Tensor& p, const torch::Tensor& z) {
  constexpr std::string_view fn = "selfsup::functional::negative_cosine";
  selfsup::detail::check_floating(fn, "p", p);
  selfsup::detail::check_floating(fn, "z", z);
  selfsup::detail::check_dim(fn, "p", p, 2);
  selfsup::detail::check_dim(fn, "z", z, 2);
  TORCH_CHECK(p.sizes() == z.sizes(), fn, ": p and z must have the same shape, got ", p.sizes(),
              " and ", z.sizes());
  TORCH_CHECK(p.size(0) >= 1, fn, ": needs at least one row");
  selfsup::detail::check_same_device(fn, "p", p, "z", z);
  selfsup::detail::check_finite(fn, "p", p);
  selfsup::detail::check_finite(fn, "z", z);
  return -(losses::detail::l2_normalize(p) * losses::detail::l2_normalize(z)).sum(1).mean();
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
  losses::detail::check_two_views(fn, z0, z1);
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

struct VICRegOptions {
  double invariance = 25.0;
  double variance = 25.0;
  double covariance = 1.0;
  double eps = 1e-4;
};

/// VICReg (Bardes et al., "VICReg: Variance-Invariance-Covariance Regularization for
/// Self-Supervised Learning", ICLR 2022):
/// inv · MSE(z0, z1) + var · ½(v(z0) + v(z1)) + cov · (c(z0) + c(z1)), with
/// v(z) = mean relu(1 − sqrt(Var(z) + eps)) (unbiased variance per dimension) and
/// c(z) = Σ_{i≠j} Cov(z)ᵢⱼ² / D (covariance with N − 1).
inline torch::Tensor vicreg(const torch::Tensor& z0, const torch::Tensor& z1,
                            const VICRegOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::vicreg";
  losses::detail::check_two_views(fn, z0, z1);
  TORCH_CHECK(options.invariance >= 0 && options.variance >= 0 && options.covariance >= 0, fn,
              ": the coefficients must be non-negative, got invariance ", options.invariance,
              ", variance ", options.variance, ", covariance ", options.covariance);
  selfsup::detail::check_positive(fn, "eps", options.eps);
  const auto n = static_cast<double>(z0.size(0));
  const auto d = static_cast<double>(z0.size(1));
  auto variance_term = [&](const torch::Tensor& z) {
    return torch::relu(1.0 - torch::sqrt(z.var(0, /*unbiased=*/true) + options.eps)).mean();
  };
  auto covariance_term = [&](const torch::Tensor& z) {
    auto centred = z - z.mean(0, true);
    auto cov = centred.t().mm(centred) / (n - 1.0);                     // (D, D)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / d;
  };
  auto invariance = (z0 - z1).pow(2).mean();
  return options.invariance * invariance +
         options.variance * 0.5 * (variance_term(z0) + variance_term(z1)) +
         options.covariance * (covariance_term(z0) + covariance_term(z1));
}

}  // namespace selfsup::functional
