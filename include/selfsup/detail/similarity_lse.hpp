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
/// over the M × M matrix (similarity_cpu.hpp): exp, exclusion and row sums in one, the gradient
/// weights E ∘ (aᵢ + aⱼ), written over E, in the other; the positive term costs one entry per row
/// in each, and the two views can be stacked and L2-normalised inside the function too. Other
/// devices and dtypes use tensor operations, without reading anything back to the host.

#include <selfsup/detail/similarity_cpu.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace selfsup::detail {

// Largest x for which exp(x) and a sum of many such terms stay finite, by dtype.
inline double exp_limit(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat64: return 700.0;
    case torch::kFloat16: return 10.0;
    default: return 80.0;  // float32, bfloat16
  }
}

struct SimilarityLSE : public torch::autograd::Function<SimilarityLSE> {
  // How exp(s − shift) is kept finite. Similarities lie in [−1/τ, 1/τ]. When even the sum of M
  // terms e^{1/τ} is finite no shift is needed; otherwise a constant shift of 1/τ, which cannot
  // underflow while e^{−2/τ} is representable; otherwise each row's largest similarity. The
  // first two keep exp(S − shift) symmetric, which the backward pass exploits.
  enum class Shift : int64_t { none, constant, row_max };

  // torch::nn::functional::normalize's default eps.
  static constexpr double normalize_eps = 1e-12;

  static Shift choose_shift(double inv_t, int64_t m, torch::ScalarType dtype) {
    const double limit = exp_limit(dtype);
    if (inv_t + std::log(static_cast<double>(m)) < limit) return Shift::none;
    if (2.0 * inv_t < limit) return Shift::constant;
    return Shift::row_max;
  }

  // Zeroes the excluded entries of rows [start, start + len) of exp(S) (len, M): each row itself,
  // optionally its partner, and with group ids the rest of its group but the partner.
  static void exclude(torch::Tensor& e, int64_t start, bool exclude_partner,
                      const torch::Tensor& groups, double fill = 0.0) {
    const int64_t len = e.size(0), m = e.size(1), n = m / 2;
    auto local = torch::arange(len, e.options().dtype(torch::kLong));
    auto rows = local + start;
    auto partner = (rows + n).remainder(m);
    if (groups.numel() > 0) {
      auto partner_value = e.gather(1, partner.unsqueeze(1));
      e.masked_fill_(groups.narrow(0, start, len).unsqueeze(1).eq(groups.unsqueeze(0)), fill);
      if (!exclude_partner) e.scatter_(1, partner.unsqueeze(1), partner_value);
    } else if (exclude_partner) {
      e.index_put_({local, partner}, torch::full({}, fill, e.options()));
    }
    e.index_put_({local, rows}, torch::full({}, fill, e.options()));
  }

  // exp(S − shift) for rows [start, start + len), excluded entries zeroed, S = zs·zᵀ with zs = z/τ.
  // `shift` is (len, 1) for Shift::row_max, unused otherwise (0 or inv_t as a scalar).
  static torch::Tensor block_exp(const torch::Tensor& z, const torch::Tensor& zs, int64_t start,
                                 int64_t len, Shift mode, double inv_t, bool exclude_partner,
                                 const torch::Tensor& groups, torch::Tensor* row_shift) {
    auto e = zs.narrow(0, start, len).mm(z.t());                        // (len, M)
    if (mode == Shift::constant) {
      e.sub_(inv_t);
    } else if (mode == Shift::row_max) {
      if (row_shift->defined()) {
        e.sub_(*row_shift);
      } else {
        // The row's own similarity (1/τ) and excluded entries do not count towards its maximum.
        auto masked = e.clone();
        exclude(masked, start, exclude_partner, groups, -std::numeric_limits<double>::infinity());
        *row_shift = std::get<0>(masked.max(1, true));
        e.sub_(*row_shift);
      }
    }
    e.exp_();
    exclude(e, start, exclude_partner, groups);
    return e;
  }

  static cpu::RowShift row_shift_of(Shift mode) {
    switch (mode) {
      case Shift::none: return cpu::RowShift::none;
      case Shift::constant: return cpu::RowShift::constant;
      default: return cpu::RowShift::row_max;
    }
  }

  // exp(S·inv_t − shift) of rows [start, start + len) with the fused CPU pass; fills lse, row
  // sums and the rows' partner similarities (each may be null) and, for Shift::row_max, the row
  // shifts.
  template <class T>
  static torch::Tensor cpu_block_exp(const torch::Tensor& z, int64_t start, int64_t len, Shift mode,
                                     double inv_t, bool exclude_partner, const cpu::GroupLists& lists,
                                     T* lse, double* row_sum, T* row_shift, T* positive) {
    auto e = z.narrow(0, start, len).mm(z.t());                        // (len, M), contiguous
    cpu::exp_rows<T>(e.data_ptr<T>(), start, len, z.size(0), inv_t, row_shift_of(mode), inv_t,
                     row_shift, exclude_partner, lists, lse, row_sum, positive);
    return e;
  }

  // Each row's positive weight wᵢ as float64 (M), or an empty tensor for all ones.
  static torch::Tensor row_weights(const torch::Tensor& weight) {
    if (weight.numel() == 0) return weight;
    auto w = weight.to(torch::kFloat64);
    return torch::cat({w, w}).contiguous();
  }

  // The positive term's gradient, −2·scale·wᵢ·z_partner(i), added to grad (tensor operations).
  static void add_positive_grad(torch::Tensor& grad, const torch::Tensor& z, const torch::Tensor& weight,
                                const torch::Tensor& scale) {
    auto partner_rows = z.roll(z.size(0) / 2, 0);                      // row i: z_partner(i)
    if (weight.numel() > 0) partner_rows = partner_rows * torch::cat({weight, weight}).unsqueeze(1);
    grad.sub_(partner_rows * (2.0 * scale));
  }

  template <class T>
  static torch::Tensor forward_cpu_typed(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                         double inv_t, int64_t rows, Shift mode, bool exclude_partner,
                                         const torch::Tensor& groups, const torch::Tensor& weight) {
    const int64_t m = z.size(0);
    const cpu::GroupLists lists(groups);
    auto lse = torch::empty({m, 1}, z.options());
    auto positive = torch::empty({m}, z.options());
    if (rows == m) {
      auto row_sum = torch::empty({m}, z.options().dtype(torch::kFloat64));
      auto shift = torch::empty({mode == Shift::row_max ? m : 0}, z.options());
      auto e = cpu_block_exp<T>(z, 0, m, mode, inv_t, exclude_partner, lists, lse.data_ptr<T>(),
                                row_sum.data_ptr<double>(), shift.data_ptr<T>(), positive.data_ptr<T>());
      // Kept outside save_for_backward: the backward pass overwrites it with the gradient weights
      // and then lets it go (a second backward pass recomputes it).
      ctx->saved_data["exp"] = e;
      ctx->saved_data["row_sum"] = row_sum;
    } else {
      auto shift = torch::empty({mode == Shift::row_max ? rows : 0}, z.options());
      for (int64_t start = 0; start < m; start += rows) {
        const int64_t len = std::min(rows, m - start);
        cpu_block_exp<T>(z, start, len, mode, inv_t, exclude_partner, lists, lse.data_ptr<T>() + start,
                         nullptr, shift.data_ptr<T>(), positive.data_ptr<T>() + start);
      }
    }
    ctx->save_for_backward({z, groups, lse, torch::empty({0}, z.options()), weight});
    const auto w = row_weights(weight);
    const T* l = lse.data_ptr<T>();
    const T* pos = positive.data_ptr<T>();
    const double* wp = w.numel() > 0 ? w.data_ptr<double>() : nullptr;
    double total = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      total += static_cast<double>(l[i]) - (wp ? wp[i] : 1.0) * static_cast<double>(pos[i]) * inv_t;
    }
    return torch::full({}, total, z.options());
  }

  static torch::Tensor forward_cpu(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                   double inv_t, int64_t rows, Shift mode, bool exclude_partner,
                                   const torch::Tensor& groups, const torch::Tensor& weight) {
    if (z.scalar_type() == torch::kFloat64) {
      return forward_cpu_typed<double>(ctx, z, inv_t, rows, mode, exclude_partner, groups, weight);
    }
    return forward_cpu_typed<float>(ctx, z, inv_t, rows, mode, exclude_partner, groups, weight);
  }

  template <class T>
  static torch::Tensor backward_cpu_typed(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                          const torch::Tensor& groups, const torch::Tensor& lse,
                                          const torch::Tensor& weight, const torch::Tensor& grad_output,
                                          double inv_t, int64_t rows, Shift mode, bool exclude_partner) {
    const int64_t m = z.size(0), n = m / 2;
    if (rows == m) {
      auto e = ctx->saved_data["exp"].toTensor();
      auto row_sum = ctx->saved_data["row_sum"].toTensor();
      if (e.numel() == 0) {
        // A second backward pass through a retained graph: recompute.
        const cpu::GroupLists lists(groups);
        row_sum = torch::empty({m}, z.options().dtype(torch::kFloat64));
        auto shift = torch::empty({mode == Shift::row_max ? m : 0}, z.options());
        e = cpu_block_exp<T>(z, 0, m, mode, inv_t, exclude_partner, lists, nullptr,
                             row_sum.data_ptr<double>(), shift.data_ptr<T>(), nullptr);
      }
      ctx->saved_data["exp"] = torch::empty({0}, z.options());
      // With g the incoming gradient and c = g·inv_t, the gradient is c · G·z, G = P + Pᵀ − 2·W,
      // P = E / rowsum the softmax, W the positive weights at (i, partner(i)). G is built over E.
      const double scale = grad_output.item<double>() * inv_t;
      auto a = (scale / row_sum).to(z.scalar_type());                  // c / rowsumᵢ
      if (mode != Shift::row_max) {
        cpu::symmetric_weights<T>(e.data_ptr<T>(), m, a.data_ptr<T>()); // E symmetric
      } else {
        e.mul_(a.unsqueeze(1));
        e = e.add(e.t());
      }
      const auto w = row_weights(weight);
      const double* wp = w.numel() > 0 ? w.data_ptr<double>() : nullptr;
      T* g = e.data_ptr<T>();
      for (int64_t i = 0; i < m; ++i) {
        g[i * m + (i + n) % m] -= static_cast<T>(2.0 * scale * (wp ? wp[i] : 1.0));
      }
      return e.mm(z);
    }
    const cpu::GroupLists lists(groups);
    auto grad = torch::zeros_like(z);
    for (int64_t start = 0; start < m; start += rows) {
      const int64_t len = std::min(rows, m - start);
      // Shifting each row by its log-sum-exp gives the softmax itself.
      auto p = z.narrow(0, start, len).mm(z.t());
      cpu::exp_rows<T>(p.data_ptr<T>(), start, len, m, inv_t, cpu::RowShift::given, 0.0,
                       lse.data_ptr<T>() + start, exclude_partner, lists, nullptr, nullptr, nullptr);
      grad.narrow(0, start, len).add_(p.mm(z));
      grad.add_(p.t().mm(z.narrow(0, start, len)));
    }
    const auto scale = grad_output * inv_t;
    grad.mul_(scale);
    add_positive_grad(grad, z, weight, scale);
    return grad;
  }

  static torch::Tensor backward_cpu(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                    const torch::Tensor& groups, const torch::Tensor& lse,
                                    const torch::Tensor& weight, const torch::Tensor& grad_output,
                                    double inv_t, int64_t rows, Shift mode, bool exclude_partner) {
    if (z.scalar_type() == torch::kFloat64) {
      return backward_cpu_typed<double>(ctx, z, groups, lse, weight, grad_output, inv_t, rows, mode,
                                        exclude_partner);
    }
    return backward_cpu_typed<float>(ctx, z, groups, lse, weight, grad_output, inv_t, rows, mode,
                                     exclude_partner);
  }

  // [a; b] (M, D) with every row L2-normalised, as torch::nn::functional::normalize does; the
  // rows' norms go to `norms` (M).
  template <class T>
  static torch::Tensor stack_normalized(const torch::Tensor& a, const torch::Tensor& b,
                                        torch::Tensor& norms) {
    const int64_t n = a.size(0), d = a.size(1);
    auto out = torch::empty({2 * n, d}, a.options());
    norms = torch::empty({2 * n}, a.options());
    const auto ac = a.contiguous(), bc = b.contiguous();
    cpu::normalize_rows<T>(ac.data_ptr<T>(), out.data_ptr<T>(), norms.data_ptr<T>(), n, d,
                           normalize_eps);
    cpu::normalize_rows<T>(bc.data_ptr<T>(), out.data_ptr<T>() + n * d, norms.data_ptr<T>() + n,
                           n, d, normalize_eps);
    return out;
  }

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
    const Shift mode = choose_shift(inv_t, m, z.scalar_type());
    ctx->saved_data["inv_t"] = inv_t;
    ctx->saved_data["rows"] = rows;
    ctx->saved_data["exclude_partner"] = exclude_partner;
    ctx->saved_data["mode"] = static_cast<int64_t>(mode);
    const bool fused = cpu::supported(z);
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
      return forward_cpu(ctx, zc, inv_t, rows, mode, exclude_partner, groups, weight);
    }
    TORCH_INTERNAL_ASSERT(!views, "SimilarityLSE: raw views need the fused CPU path");
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
      if (mode == Shift::constant) out.add_(inv_t);
      if (mode == Shift::row_max) out.add_(shift);
      if (rows == m) {
        // Row shifts differ: keep the softmax P itself rather than exp(S − shift).
        if (mode == Shift::row_max) e.div_(sums);
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
    const auto mode = static_cast<Shift>(ctx->saved_data["mode"].toInt());
    const int64_t m = z.size(0);
    if (ctx->saved_data["fused"].toBool()) {
      auto grad = backward_cpu(ctx, z, groups, lse, weight, grad_output[0], inv_t, rows, mode,
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
      if (mode == Shift::row_max) {
        grad = (e + e.t()).mm(z);                                       // e is P
      } else {
        const double shift = mode == Shift::constant ? inv_t : 0.0;
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
        auto p = block_exp(z, zs, start, len, Shift::row_max, inv_t, exclude_partner, groups, &shift);
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
  return SimilarityLSE::apply(z, torch::empty({0}, z.options()), inv_t, block, exclude_partner, ids,
                              weight);
}

/// contrastive_sum of [z0; z1] L2-normalised (as torch::nn::functional::normalize does), from the
/// raw views (N, D). On the fused CPU path the stacking and normalisation happen inside the
/// function, without further autograd nodes.
inline torch::Tensor contrastive_sum_of_views(const torch::Tensor& z0, const torch::Tensor& z1,
                                              double inv_t, int64_t block, bool exclude_partner,
                                              const torch::Tensor& groups = {}) {
  if (!cpu::supported(z0)) {
    namespace F = torch::nn::functional;
    return contrastive_sum(F::normalize(torch::cat({z0, z1}, 0), F::NormalizeFuncOptions().dim(-1)),
                           inv_t, block, exclude_partner, groups);
  }
  auto ids = groups.defined() ? groups : torch::empty({0}, z0.options().dtype(torch::kLong));
  return SimilarityLSE::apply(z0, z1, inv_t, block, exclude_partner, ids,
                              torch::empty({0}, z0.options()));
}

}  // namespace selfsup::detail
