#pragma once
/// \file
/// selfsup::functional: the losses as plain differentiable functions of tensors, like
/// torch::nn::functional. Inputs are raw embeddings, rows = samples, of any floating dtype, on
/// any device; each function returns a 0-dim tensor and checks shapes, dtypes, devices, option
/// ranges and finiteness with an error that names it.

#include <selfsup/detail/check.hpp>
#include <selfsup/detail/similarity_lse.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace selfsup::functional {

namespace detail {

// Checks shared by the two-view losses: z0 and z1 defined, floating, 2-D, same shape, dtype and
// device, at least two rows, finite.
inline void check_two_views(std::string_view fn, const torch::Tensor& z0, const torch::Tensor& z1,
                            const char* a = "z0", const char* b = "z1") {
  selfsup::detail::check_floating(fn, a, z0);
  selfsup::detail::check_floating(fn, b, z1);
  selfsup::detail::check_dim(fn, a, z0, 2);
  selfsup::detail::check_dim(fn, b, z1, 2);
  TORCH_CHECK(z0.sizes() == z1.sizes(), fn, ": ", a, " and ", b,
              " must have the same shape, got ", z0.sizes(), " and ", z1.sizes());
  TORCH_CHECK(z0.scalar_type() == z1.scalar_type(), fn, ": ", a, " and ", b,
              " must have the same dtype, got ", z0.scalar_type(), " and ", z1.scalar_type());
  selfsup::detail::check_same_device(fn, a, z0, b, z1);
  TORCH_CHECK(z0.size(0) >= 2, fn, ": needs at least 2 samples (rows), got ", z0.size(0));
  TORCH_CHECK(z0.size(1) >= 1, fn, ": embeddings must have at least one dimension, got shape ",
              z0.sizes());
  selfsup::detail::check_finite(fn, a, z0);
  selfsup::detail::check_finite(fn, b, z1);
}

inline void check_tau_plus(std::string_view fn, double tau_plus) {
  TORCH_CHECK(tau_plus >= 0.0 && tau_plus < 1.0, fn, ": tau_plus must be in [0, 1), got ",
              tau_plus);
}

inline torch::Tensor l2_normalize(const torch::Tensor& z) {
  namespace F = torch::nn::functional;
  return F::normalize(z, F::NormalizeFuncOptions().dim(-1));
}

// [z0; z1] normalised: rows i and i + N are the two views of pair i.
inline torch::Tensor stacked_views(const torch::Tensor& z0, const torch::Tensor& z1) {
  return l2_normalize(torch::cat({z0, z1}, 0));                        // (2N, D)
}

// Σ over the 2N anchors of [log Σ_{A(i)} exp(s/τ) − w·s⁺/τ], divided by 2N: NT-Xent (A(i): all but
// i), DCL (all but i and its partner), and their grouped and weighted variants.
inline torch::Tensor contrastive_mean(const torch::Tensor& z, double temperature, int64_t block,
                                      bool exclude_partner, const torch::Tensor& groups = {},
                                      const torch::Tensor& positive_weight = {}) {
  return selfsup::detail::contrastive_sum(z, 1.0 / temperature, block, exclude_partner, groups,
                                          positive_weight) /
         static_cast<double>(z.size(0));
}

// contrastive_mean of the normalised [z0; z1], the stacking and normalisation folded into the
// loss's own backward pass where the fused CPU passes apply.
inline torch::Tensor contrastive_mean_of_views(const torch::Tensor& z0, const torch::Tensor& z1,
                                               double temperature, int64_t block,
                                               bool exclude_partner,
                                               const torch::Tensor& groups = {}) {
  return selfsup::detail::contrastive_sum_of_views(z0, z1, 1.0 / temperature, block,
                                                   exclude_partner, groups) /
         static_cast<double>(2 * z0.size(0));
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

}  // namespace detail

struct NTXentOptions {
  double temperature = 0.5;
};

/// NT-Xent (Chen et al., "A Simple Framework for Contrastive Learning of Visual
/// Representations", ICML 2020). Rows are L2-normalised; each of the 2N rows of [z0; z1] is an
/// anchor whose positive is its partner row and whose negatives are the other 2N − 2 rows; the
/// cross-entropy is averaged over all 2N anchors.
inline torch::Tensor nt_xent(const torch::Tensor& z0, const torch::Tensor& z1,
                             const NTXentOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::nt_xent";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  return detail::contrastive_mean_of_views(z0, z1, options.temperature, 0, false);
}

struct InfoNCEOptions {
  double temperature = 0.2;
};

/// InfoNCE as MoCo uses it (He et al., "Momentum Contrast for Unsupervised Visual Representation
/// Learning", CVPR 2020). `query` and `key` (N, D) are L2-normalised; `negatives` (K, D) are used
/// as given (a queue stores normalised keys). Logits [q·k, q·negativesᵀ] / τ, target 0, mean
/// over the N queries.
inline torch::Tensor info_nce(const torch::Tensor& query, const torch::Tensor& key,
                              const torch::Tensor& negatives, const InfoNCEOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::info_nce";
  selfsup::detail::check_floating(fn, "query", query);
  selfsup::detail::check_floating(fn, "key", key);
  selfsup::detail::check_floating(fn, "negatives", negatives);
  selfsup::detail::check_dim(fn, "query", query, 2);
  selfsup::detail::check_dim(fn, "key", key, 2);
  selfsup::detail::check_dim(fn, "negatives", negatives, 2);
  TORCH_CHECK(query.sizes() == key.sizes(), fn, ": query and key must have the same shape, got ",
              query.sizes(), " and ", key.sizes());
  TORCH_CHECK(query.size(0) >= 1, fn, ": needs at least one query, got shape ", query.sizes());
  TORCH_CHECK(negatives.size(0) >= 1 && negatives.size(1) == query.size(1), fn,
              ": negatives must have shape (K, ", query.size(1), ") with K >= 1, got ",
              negatives.sizes());
  TORCH_CHECK(query.scalar_type() == key.scalar_type() &&
                  query.scalar_type() == negatives.scalar_type(),
              fn, ": query, key and negatives must have the same dtype, got ", query.scalar_type(),
              ", ", key.scalar_type(), " and ", negatives.scalar_type());
  selfsup::detail::check_same_device(fn, "query", query, "key", key);
  selfsup::detail::check_same_device(fn, "query", query, "negatives", negatives);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  selfsup::detail::check_finite(fn, "query", query);
  selfsup::detail::check_finite(fn, "key", key);
  selfsup::detail::check_finite(fn, "negatives", negatives);
  auto q = detail::l2_normalize(query);
  auto k = detail::l2_normalize(key);
  auto positive = (q * k).sum(1, true);                                 // (N, 1)
  auto logits = torch::cat({positive, q.mm(negatives.t())}, 1) / options.temperature;  // (N, 1+K)
  return (torch::logsumexp(logits, 1) - logits.select(1, 0)).mean();
}

struct DCLOptions {
  double temperature = 0.1;
};

/// Decoupled contrastive learning (Yeh et al., "Decoupled Contrastive Learning", ECCV 2022):
/// NT-Xent with the positive removed from the denominator, symmetric: 0.5 · (dir0 + dir1), each
/// direction averaged over its N anchors, negatives the other 2N − 2 rows.
inline torch::Tensor dcl(const torch::Tensor& z0, const torch::Tensor& z1,
                         const DCLOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::dcl";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  return detail::contrastive_mean_of_views(z0, z1, options.temperature, 0, true);
}

struct DCLWOptions {
  double temperature = 0.1;
  double sigma = 0.5;
};

/// DCL with the von Mises-Fisher weighting of the positive term (Yeh et al. 2022):
/// w = 2 − N · softmax(z0ᵢ·z1ᵢ / σ) over the batch, on normalised rows, without gradient.
inline torch::Tensor dclw(const torch::Tensor& z0, const torch::Tensor& z1,
                          const DCLWOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::dclw";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  selfsup::detail::check_positive(fn, "sigma", options.sigma);
  auto z = detail::stacked_views(z0, z1);
  const int64_t n = z0.size(0);
  torch::Tensor weight;
  {
    torch::NoGradGuard no_grad;
    auto cosine = (z.narrow(0, 0, n) * z.narrow(0, n, n)).sum(1);      // (N)
    weight = 2.0 - static_cast<double>(n) * torch::softmax(cosine / options.sigma, 0);
  }
  return detail::contrastive_mean(z, options.temperature, 0, true, {}, weight);
}

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
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  detail::check_tau_plus(fn, options.tau_plus);
  return detail::debiased_estimator(z0, z1, options.temperature, options.tau_plus, 0.0);
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
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  detail::check_tau_plus(fn, options.tau_plus);
  TORCH_CHECK(options.beta >= 0.0 && std::isfinite(options.beta), fn,
              ": beta must be finite and non-negative, got ", options.beta);
  return detail::debiased_estimator(z0, z1, options.temperature, options.tau_plus, options.beta);
}

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
  auto z = detail::l2_normalize(features.transpose(0, 1).reshape({b * v, -1}));  // (BV, D)
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
  return -(detail::l2_normalize(p) * detail::l2_normalize(z)).sum(1).mean();
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
  detail::check_two_views(fn, z0, z1);
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

/// NT-Xent with semantic false negatives eliminated (Huynh et al., "Boosting Contrastive
/// Self-Supervised Learning with False Negative Cancellation", WACV 2022): rows that share the
/// anchor's group id (`groups`, int64 (N), one id per pair) are left out of its denominator,
/// except its own partner. With all ids distinct it equals nt_xent.
inline torch::Tensor nt_xent_grouped(const torch::Tensor& z0, const torch::Tensor& z1,
                                     const torch::Tensor& groups, const NTXentOptions& options = {},
                                     int64_t block = 0) {
  constexpr std::string_view fn = "selfsup::functional::nt_xent_grouped";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  selfsup::detail::check_dim(fn, "groups", groups, 1);
  TORCH_CHECK(groups.scalar_type() == torch::kLong && groups.size(0) == z0.size(0), fn,
              ": groups must be int64 of length N = ", z0.size(0), ", got ", groups.scalar_type(),
              " of shape ", groups.sizes());
  selfsup::detail::check_same_device(fn, "z0", z0, "groups", groups);
  return detail::contrastive_mean_of_views(z0, z1, options.temperature, block, false,
                                           torch::cat({groups, groups}));
}

/// nt_xent computed `block` rows at a time: memory O(N · block) instead of O(N²), the same
/// value and gradient. For batches whose 2N × 2N similarity matrix does not fit in memory.
inline torch::Tensor nt_xent_blocked(const torch::Tensor& z0, const torch::Tensor& z1,
                                     const NTXentOptions& options, int64_t block) {
  constexpr std::string_view fn = "selfsup::functional::nt_xent_blocked";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  TORCH_CHECK(block >= 1, fn, ": block must be >= 1, got ", block);
  return detail::contrastive_mean_of_views(z0, z1, options.temperature, block, false);
}

/// dcl computed `block` rows at a time (see nt_xent_blocked).
inline torch::Tensor dcl_blocked(const torch::Tensor& z0, const torch::Tensor& z1,
                                 const DCLOptions& options, int64_t block) {
  constexpr std::string_view fn = "selfsup::functional::dcl_blocked";
  detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  TORCH_CHECK(block >= 1, fn, ": block must be >= 1, got ", block);
  return detail::contrastive_mean_of_views(z0, z1, options.temperature, block, true);
}

}  // namespace selfsup::functional
