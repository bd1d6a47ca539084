#pragma once
/// \file
/// Internal: the sum over anchors shared by NT-Xent, DCL and their masked and weighted variants,
/// with a hand-written backward.
///
/// For L2-normalised rows z (M = 2N, D), rows i and partner(i) = (i + N) mod M being the two views
/// of pair i, it returns Σᵢ [log Σ_{j ∈ A(i)} exp(zᵢ·zⱼ / τ) − wᵢ · zᵢ·z_partner(i) / τ], where A(i)
/// excludes i itself, and optionally the partner (DCL) and the rows of i's semantic group other
/// than the partner (false-negative elimination), and wᵢ is the weight of i's pair (1 unless
/// given; constant for autograd).
///
/// Exact methods need two matrix products of this size: the similarities Z·Zᵀ and the gradient
/// (P + Pᵀ)·Z, with P the row-wise softmax. Autograd through `z.mm(z.t())` would spend three (one
/// forward, two backward); this function spends two. With `block` rows per block it keeps no
/// M × M matrix at all and recomputes each block's similarities in the backward pass: memory
/// O(M · block), values and gradients unchanged, one more matrix product per block.
///
/// On the CPU, for float32 and float64, everything between the two products is two fused passes
/// over the M × M matrix (contrastive_fused.hpp, on the loops of similarity_cpu.hpp): exp,
/// exclusion and row sums in one, the gradient weights E ∘ (aᵢ + aⱼ), written over E, in the
/// other; the positive term costs one entry per row in each, and the two views can be stacked and
/// L2-normalised inside the function too. Other devices and dtypes use tensor operations
/// (contrastive_tensor.hpp), without reading anything back to the host.

#include <selfsup/losses/detail/contrastive_fused.hpp>
#include <selfsup/losses/detail/contrastive_tensor.hpp>
#include <selfsup/losses/detail/similarity_cpu.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace selfsup::losses::detail {

/// The sum of the file comment as an autograd function, through contrastive_sum and
/// contrastive_sum_of_views below.
struct ContrastiveSum : public torch::autograd::Function<ContrastiveSum> {
  /// z (M, D) normalised, M even, and z1 empty; or, on the fused CPU path only, the raw views z
  /// (N, D) and z1 (N, D), stacked and L2-normalised here (as torch::nn::functional::normalize
  /// does) with the gradient taken through that too. weight (N) or empty. Returns the sum of the
  /// file comment as a 0-dim tensor. block <= 0: one block.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                               const torch::Tensor& z1, double inv_t, int64_t block,
                               bool exclude_partner, const torch::Tensor& groups,
                               const torch::Tensor& weight) {
    const bool views = z1.numel() > 0;
    const int64_t m = views ? 2 * z.size(0) : z.size(0);
    const int64_t rows = block <= 0 ? m : std::min(block, m);
    const ExpShift mode = choose_shift(inv_t, m, z.scalar_type());
    ctx->saved_data["inv_t"] = inv_t;
    ctx->saved_data["rows"] = rows;
    ctx->saved_data["exclude_partner"] = exclude_partner;
    ctx->saved_data["mode"] = static_cast<int64_t>(mode);
    const bool fused = cpu::fused_loops_apply(z);
    ctx->saved_data["fused"] = fused;
    ctx->saved_data["views"] = views;
    if (fused) {
      torch::Tensor zc;
      if (views) {
        torch::Tensor norms;
        zc = z.scalar_type() == torch::kFloat64 ? stack_normalized<double>(z, z1, norms)
                                                : stack_normalized<float>(z, z1, norms);
        ctx->saved_data["norms"] = norms;
      } else {
        zc = z.contiguous();
      }
      return fused_forward(ctx, zc, inv_t, rows, mode, exclude_partner, groups, weight);
    }
    TORCH_INTERNAL_ASSERT(!views, "ContrastiveSum: raw views need the fused CPU path");
    auto zs = z * inv_t;
    auto lse = torch::empty({m, 1}, z.options());
    torch::Tensor saved_exp;
    for (int64_t start = 0; start < m; start += rows) {
      const int64_t len = std::min(rows, m - start);
      torch::Tensor shift;
      auto e = block_exp(z, zs, start, len, mode, inv_t, exclude_partner, groups, &shift);
      auto out = lse.narrow(0, start, len);
      auto sums = e.sum(1, true);
      torch::log_out(out, sums);
      if (mode == ExpShift::constant) out.add_(inv_t);
      if (mode == ExpShift::row_max) out.add_(shift);
      if (rows == m) {
        // Row shifts differ: keep the softmax P itself rather than exp(S − shift).
        if (mode == ExpShift::row_max) e.div_(sums);
        saved_exp = e;
      }
    }
    // One block: keep exp(S − shift) for the backward pass. Several: keep only the row sums.
    ctx->save_for_backward(
        {z, groups, lse, rows == m ? saved_exp : torch::empty({0}, z.options()), weight});
    auto positive = (z.narrow(0, 0, m / 2) * z.narrow(0, m / 2, m / 2)).sum(1);  // (N)
    if (weight.numel() > 0) positive = positive * weight;
    return lse.sum() - (2.0 * inv_t) * positive.sum();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_output) {
    auto saved = ctx->get_saved_variables();
    const auto& z = saved[0];
    const auto& groups = saved[1];
    const auto& lse = saved[2];                                         // (M, 1)
    const auto& weight = saved[4];
    const double inv_t = ctx->saved_data["inv_t"].toDouble();
    const int64_t rows = ctx->saved_data["rows"].toInt();
    const bool exclude_partner = ctx->saved_data["exclude_partner"].toBool();
    const auto mode = static_cast<ExpShift>(ctx->saved_data["mode"].toInt());
    const int64_t m = z.size(0);
    if (ctx->saved_data["fused"].toBool()) {
      auto grad = fused_backward(ctx, z, groups, lse, weight, grad_output[0], inv_t, rows, mode,
                                 exclude_partner);                        // w.r.t. the normalised z
      if (!ctx->saved_data["views"].toBool()) {
        return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
                torch::Tensor(), torch::Tensor()};
      }
      const auto norms = ctx->saved_data["norms"].toTensor();
      if (z.scalar_type() == torch::kFloat64) {
        cpu::normalize_rows_backward<double>(z.data_ptr<double>(), norms.data_ptr<double>(),
                                             grad.data_ptr<double>(), m, z.size(1), normalize_eps);
      } else {
        cpu::normalize_rows_backward<float>(z.data_ptr<float>(), norms.data_ptr<float>(),
                                            grad.data_ptr<float>(), m, z.size(1), normalize_eps);
      }
      return {grad.narrow(0, 0, m / 2), grad.narrow(0, m / 2, m / 2), torch::Tensor(),
              torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
    // d/dz Σᵢ lseᵢ = (P + Pᵀ)·z / τ with P the row-wise softmax of the kept similarities.
    torch::Tensor grad;
    if (rows == m) {
      const auto& e = saved[3];
      if (mode == ExpShift::row_max) {
        grad = (e + e.t()).mm(z);                                       // e is P
      } else {
        const double shift = mode == ExpShift::constant ? inv_t : 0.0;
        auto inv_sum = torch::exp(shift - lse);                        // 1 / Σⱼ exp(S − shift)
        // exp(S − shift) is symmetric: P + Pᵀ = E ∘ (1/rᵢ + 1/rⱼ). Scaling rows and then adding
        // the column-scaled copy in place avoids a slow two-way broadcast.
        auto q = e * inv_sum;                                           // (M, M)
        q.addcmul_(e, inv_sum.reshape({1, -1}));
        grad = q.mm(z);                                                 // (M, D)
      }
    } else {
      auto zs = z * inv_t;
      grad = torch::zeros_like(z);
      for (int64_t start = 0; start < m; start += rows) {
        const int64_t len = std::min(rows, m - start);
        // Shifting each row by its log-sum-exp gives the softmax itself.
        auto shift = lse.narrow(0, start, len);
        auto p = block_exp(z, zs, start, len, ExpShift::row_max, inv_t, exclude_partner, groups, &shift);
        grad.narrow(0, start, len).add_(p.mm(z));
        grad.add_(p.t().mm(z.narrow(0, start, len)));
      }
    }
    const auto scale = grad_output[0] * inv_t;
    grad.mul_(scale);
    add_positive_grad(grad, z, weight, scale);
    return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

/// Σᵢ [log Σ_{j ∈ A(i)} exp(zᵢ·zⱼ·inv_t) − wᵢ·zᵢ·z_partner(i)·inv_t] for normalised z (2N, D);
/// see the file comment. `groups` (2N) and `positive_weight` (N, no gradient) are optional.
inline torch::Tensor contrastive_sum(const torch::Tensor& z, double inv_t, int64_t block,
                                     bool exclude_partner, const torch::Tensor& groups = {},
                                     const torch::Tensor& positive_weight = {}) {
  // Custom autograd functions take defined tensors only: absent inputs are empty tensors.
  auto ids = groups.defined() ? groups : torch::empty({0}, z.options().dtype(torch::kLong));
  auto weight = positive_weight.defined() ? positive_weight.detach() : torch::empty({0}, z.options());
  return ContrastiveSum::apply(z, torch::empty({0}, z.options()), inv_t, block, exclude_partner, ids,
                              weight);
}

/// contrastive_sum of [z0; z1] L2-normalised (as torch::nn::functional::normalize does), from the
/// raw views (N, D). On the fused CPU path the stacking and normalisation happen inside the
/// function, without further autograd nodes.
inline torch::Tensor contrastive_sum_of_views(const torch::Tensor& z0, const torch::Tensor& z1,
                                              double inv_t, int64_t block, bool exclude_partner,
                                              const torch::Tensor& groups = {}) {
  if (!cpu::fused_loops_apply(z0)) {
    namespace F = torch::nn::functional;
    return contrastive_sum(F::normalize(torch::cat({z0, z1}, 0), F::NormalizeFuncOptions().dim(-1)),
                           inv_t, block, exclude_partner, groups);
  }
  auto ids = groups.defined() ? groups : torch::empty({0}, z0.options().dtype(torch::kLong));
  return ContrastiveSum::apply(z0, z1, inv_t, block, exclude_partner, ids,
                               torch::empty({0}, z0.options()));
}


// Σ over the 2N anchors of [log Σ_{A(i)} exp(s/τ) − w·s⁺/τ], divided by 2N: NT-Xent (A(i): all but
// i), DCL (all but i and its partner), and their grouped and weighted variants.
inline torch::Tensor contrastive_mean(const torch::Tensor& z, double temperature, int64_t block,
                                      bool exclude_partner, const torch::Tensor& groups = {},
                                      const torch::Tensor& positive_weight = {}) {
  return contrastive_sum(z, 1.0 / temperature, block, exclude_partner, groups, positive_weight) /
         static_cast<double>(z.size(0));
}

// contrastive_mean of the normalised [z0; z1], the stacking and normalisation folded into the
// loss's own backward pass where the fused CPU passes apply.
inline torch::Tensor contrastive_mean_of_views(const torch::Tensor& z0, const torch::Tensor& z1,
                                               double temperature, int64_t block,
                                               bool exclude_partner,
                                               const torch::Tensor& groups = {}) {
  return contrastive_sum_of_views(z0, z1, 1.0 / temperature, block, exclude_partner,
                                  groups) /
         static_cast<double>(2 * z0.size(0));
}

}  // namespace selfsup::losses::detail
