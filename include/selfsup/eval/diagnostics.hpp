#pragma once
/// \file
/// Diagnostics of an embedding: alignment and uniformity (Wang & Isola, "Understanding
/// Contrastive Representation Learning through Alignment and Uniformity on the Hypersphere",
/// ICML 2020), per-dimension spread (dimensional collapse), effective rank (Roy & Vetterli,
/// EUSIPCO 2007), and how often positive pairs share a label.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <string_view>

namespace selfsup::eval {

namespace detail {
inline torch::Tensor unit_rows(const torch::Tensor& z) {
  namespace F = torch::nn::functional;
  return F::normalize(z.to(torch::kFloat64), F::NormalizeFuncOptions().dim(1));
}
}  // namespace detail

/// E‖f(x) − f(y)‖^α over positive pairs (rows of z0 and z1), on normalised rows. Lower is better.
inline double alignment(const torch::Tensor& z0, const torch::Tensor& z1, double alpha = 2.0) {
  constexpr std::string_view fn = "selfsup::eval::alignment";
  selfsup::detail::check_dim(fn, "z0", z0, 2);
  TORCH_CHECK(z0.sizes() == z1.sizes(), fn, ": z0 and z1 must have the same shape, got ", z0.sizes(),
              " and ", z1.sizes());
  TORCH_CHECK(alpha > 0, fn, ": alpha must be positive, got ", alpha);
  return (detail::unit_rows(z0) - detail::unit_rows(z1)).norm(2, 1).pow(alpha).mean().item<double>();
}

/// log E exp(−t‖f(x) − f(y)‖²) over all pairs of distinct rows, on normalised rows. Lower is more
/// uniform.
inline double uniformity(const torch::Tensor& z, double t = 2.0) {
  constexpr std::string_view fn = "selfsup::eval::uniformity";
  selfsup::detail::check_dim(fn, "z", z, 2);
  TORCH_CHECK(z.size(0) >= 2, fn, ": needs at least 2 rows, got ", z.size(0));
  auto u = detail::unit_rows(z);
  auto sq = (2.0 - 2.0 * u.mm(u.t())).clamp_min(0.0);                  // squared distances
  const auto n = u.size(0);
  auto upper = torch::triu(torch::ones({n, n}, u.options().dtype(torch::kBool)), 1);
  return torch::log(torch::exp(-t * sq.masked_select(upper)).mean()).item<double>();
}

/// Mean over dimensions of the standard deviation of the normalised rows; about 1/sqrt(D) for a
/// spread-out embedding and 0 for a collapsed one.
inline double dimension_std(const torch::Tensor& z) {
  selfsup::detail::check_dim("selfsup::eval::dimension_std", "z", z, 2);
  return detail::unit_rows(z).std(0).mean().item<double>();
}

/// exp of the entropy of the normalised singular values of the centred embedding: between 1 (all
/// variance in one direction) and min(N, D).
inline double effective_rank(const torch::Tensor& z) {
  selfsup::detail::check_dim("selfsup::eval::effective_rank", "z", z, 2);
  auto x = z.to(torch::kFloat64);
  x = x - x.mean(0, true);
  auto s = std::get<1>(torch::linalg_svd(x, /*full_matrices=*/false));
  auto p = s / s.sum();
  p = p.masked_select(p.gt(0));
  return torch::exp(-(p * p.log()).sum()).item<double>();
}

/// The fraction of pairs (anchors[i], partners[i]) whose labels agree.
inline double pair_label_agreement(const torch::Tensor& labels, const torch::Tensor& anchors,
                                   const torch::Tensor& partners) {
  constexpr std::string_view fn = "selfsup::eval::pair_label_agreement";
  TORCH_CHECK(labels.defined(), fn, ": needs labels; the dataset has none");
  TORCH_CHECK(anchors.sizes() == partners.sizes() && anchors.dim() == 1 && anchors.size(0) > 0, fn,
              ": anchors and partners must be equal-length non-empty 1-D index tensors");
  auto l = labels.to(anchors.device());
  return l.index_select(0, anchors).eq(l.index_select(0, partners)).to(torch::kFloat64).mean().item<double>();
}

}  // namespace selfsup::eval
