#pragma once
/// \file
/// The contrastive losses of selfsup::functional in the NT-Xent family: NT-Xent, its grouped
/// (false-negative cancelling) and blocked forms, InfoNCE against given negatives, and DCL with
/// and without weighting. See functional.hpp for the conventions all the functions share.

#include <selfsup/detail/check.hpp>
#include <selfsup/losses/detail/contrastive_sum.hpp>
#include <selfsup/losses/detail/embeddings.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

namespace selfsup::functional {

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
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  return losses::detail::contrastive_mean_of_views(z0, z1, options.temperature, 0, false);
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
  auto q = losses::detail::l2_normalize(query);
  auto k = losses::detail::l2_normalize(key);
  auto positive = (q * k).sum(1, true);                                 // (N, 1)
  auto logits = torch::cat({positive, q.mm(negatives.t())}, 1) / options.temperature;  // (N, 1+K)
  return (torch::logsumexp(logits, 1) - logits.select(1, 0)).mean();
}

struct MoCoV3Options {
  double temperature = 0.2;
};

/// One direction of MoCo v3's loss (Chen, Xie & He, "An Empirical Study of Training
/// Self-Supervised Vision Transformers", ICCV 2021): `query` and `key` (N, D) L2-normalised,
/// logits q kᵀ / τ over the batch's keys, target the query's own key, cross-entropy averaged over
/// the N queries and scaled by 2τ. The key is used as given: detach it (a momentum encoder's).
inline torch::Tensor moco_v3(const torch::Tensor& query, const torch::Tensor& key, const MoCoV3Options& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::moco_v3";
  losses::detail::check_two_views(fn, query, key, "query", "key");
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  auto q = losses::detail::l2_normalize(query);
  auto k = losses::detail::l2_normalize(key);
  auto logits = q.mm(k.t()) / options.temperature;                     // (N, N)
  return (torch::logsumexp(logits, 1) - logits.diagonal()).mean() * (2.0 * options.temperature);
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
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  return losses::detail::contrastive_mean_of_views(z0, z1, options.temperature, 0, true);
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
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  selfsup::detail::check_positive(fn, "sigma", options.sigma);
  auto z = losses::detail::stacked_views(z0, z1);
  const int64_t n = z0.size(0);
  torch::Tensor weight;
  {
    torch::NoGradGuard no_grad;
    auto cosine = (z.narrow(0, 0, n) * z.narrow(0, n, n)).sum(1);      // (N)
    weight = 2.0 - static_cast<double>(n) * torch::softmax(cosine / options.sigma, 0);
  }
  return losses::detail::contrastive_mean(z, options.temperature, 0, true, {}, weight);
}

/// NT-Xent with semantic false negatives eliminated (Huynh et al., "Boosting Contrastive
/// Self-Supervised Learning with False Negative Cancellation", WACV 2022): rows that share the
/// anchor's group id (`groups`, int64 (N), one id per pair) are left out of its denominator,
/// except its own partner. With all ids distinct it equals nt_xent.
inline torch::Tensor nt_xent_grouped(const torch::Tensor& z0, const torch::Tensor& z1,
                                     const torch::Tensor& groups, const NTXentOptions& options = {},
                                     int64_t block = 0) {
  constexpr std::string_view fn = "selfsup::functional::nt_xent_grouped";
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  selfsup::detail::check_dim(fn, "groups", groups, 1);
  TORCH_CHECK(groups.scalar_type() == torch::kLong && groups.size(0) == z0.size(0), fn,
              ": groups must be int64 of length N = ", z0.size(0), ", got ", groups.scalar_type(),
              " of shape ", groups.sizes());
  selfsup::detail::check_same_device(fn, "z0", z0, "groups", groups);
  return losses::detail::contrastive_mean_of_views(z0, z1, options.temperature, block, false,
                                           torch::cat({groups, groups}));
}

/// nt_xent computed `block` rows at a time: memory O(N · block) instead of O(N²), the same
/// value and gradient. For batches whose 2N × 2N similarity matrix does not fit in memory.
inline torch::Tensor nt_xent_blocked(const torch::Tensor& z0, const torch::Tensor& z1,
                                     const NTXentOptions& options, int64_t block) {
  constexpr std::string_view fn = "selfsup::functional::nt_xent_blocked";
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  TORCH_CHECK(block >= 1, fn, ": block must be >= 1, got ", block);
  return losses::detail::contrastive_mean_of_views(z0, z1, options.temperature, block, false);
}

/// dcl computed `block` rows at a time (see nt_xent_blocked).
inline torch::Tensor dcl_blocked(const torch::Tensor& z0, const torch::Tensor& z1,
                                 const DCLOptions& options, int64_t block) {
  constexpr std::string_view fn = "selfsup::functional::dcl_blocked";
  losses::detail::check_two_views(fn, z0, z1);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  TORCH_CHECK(block >= 1, fn, ": block must be >= 1, got ", block);
  return losses::detail::contrastive_mean_of_views(z0, z1, options.temperature, block, true);
}

}  // namespace selfsup::functional
