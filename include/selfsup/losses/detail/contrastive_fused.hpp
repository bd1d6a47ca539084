#pragma once
/// \file
/// Internal: the forward and backward passes of the contrastive sum (contrastive_sum.hpp) on the
/// fused CPU loops of similarity_cpu.hpp, for contiguous float32 and float64 CPU tensors: the
/// matrix products, and everything between them in two passes over the M × M matrix.

#include <selfsup/losses/detail/contrastive_tensor.hpp>
#include <selfsup/losses/detail/similarity_cpu.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace selfsup::losses::detail {

// torch::nn::functional::normalize's default eps.
inline constexpr double normalize_eps = 1e-12;

inline cpu::RowShift row_shift_of(ExpShift mode) {
  switch (mode) {
    case ExpShift::none: return cpu::RowShift::none;
    case ExpShift::constant: return cpu::RowShift::constant;
    default: return cpu::RowShift::row_max;
  }
}

// exp(S·inv_t − shift) of rows [start, start + len) with the fused CPU pass; fills lse, row
// sums and the rows' partner similarities (each may be null) and, for ExpShift::row_max, the row
// shifts.
template <class T>
torch::Tensor cpu_block_exp(const torch::Tensor& z, int64_t start, int64_t len, ExpShift mode,
                            double inv_t, bool exclude_partner, const cpu::GroupLists& lists,
                            T* lse, double* row_sum, T* row_shift, T* positive) {
  auto e = z.narrow(0, start, len).mm(z.t());                        // (len, M), contiguous
  cpu::exp_rows<T>(e.data_ptr<T>(), start, len, z.size(0), inv_t, row_shift_of(mode), inv_t,
                   row_shift, exclude_partner, lists, lse, row_sum, positive);
  return e;
}

// Each row's positive weight wᵢ as float64 (M), or an empty tensor for all ones.
inline torch::Tensor row_weights(const torch::Tensor& weight) {
  if (weight.numel() == 0) return weight;
  auto w = weight.to(torch::kFloat64);
  return torch::cat({w, w}).contiguous();
}

template <class T>
torch::Tensor fused_forward_typed(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                  double inv_t, int64_t rows, ExpShift mode, bool exclude_partner,
                                  const torch::Tensor& groups, const torch::Tensor& weight) {
  const int64_t m = z.size(0);
  const cpu::GroupLists lists(groups);
  auto lse = torch::empty({m, 1}, z.options());
  auto positive = torch::empty({m}, z.options());
  if (rows == m) {
    auto row_sum = torch::empty({m}, z.options().dtype(torch::kFloat64));
    auto shift = torch::empty({mode == ExpShift::row_max ? m : 0}, z.options());
    auto e = cpu_block_exp<T>(z, 0, m, mode, inv_t, exclude_partner, lists, lse.data_ptr<T>(),
                              row_sum.data_ptr<double>(), shift.data_ptr<T>(), positive.data_ptr<T>());
    // Kept outside save_for_backward: the backward pass overwrites it with the gradient weights
    // and then lets it go (a second backward pass recomputes it).
    ctx->saved_data["exp"] = e;
    ctx->saved_data["row_sum"] = row_sum;
  } else {
    auto shift = torch::empty({mode == ExpShift::row_max ? rows : 0}, z.options());
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

inline torch::Tensor fused_forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                   double inv_t, int64_t rows, ExpShift mode, bool exclude_partner,
                                   const torch::Tensor& groups, const torch::Tensor& weight) {
  if (z.scalar_type() == torch::kFloat64) {
    return fused_forward_typed<double>(ctx, z, inv_t, rows, mode, exclude_partner, groups, weight);
  }
  return fused_forward_typed<float>(ctx, z, inv_t, rows, mode, exclude_partner, groups, weight);
}

template <class T>
torch::Tensor fused_backward_typed(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                   const torch::Tensor& groups, const torch::Tensor& lse,
                                   const torch::Tensor& weight, const torch::Tensor& grad_output,
                                   double inv_t, int64_t rows, ExpShift mode,
                                   bool exclude_partner) {
  const int64_t m = z.size(0), n = m / 2;
  if (rows == m) {
    auto e = ctx->saved_data["exp"].toTensor();
    auto row_sum = ctx->saved_data["row_sum"].toTensor();
    if (e.numel() == 0) {
      // A second backward pass through a retained graph: recompute.
      const cpu::GroupLists lists(groups);
      row_sum = torch::empty({m}, z.options().dtype(torch::kFloat64));
      auto shift = torch::empty({mode == ExpShift::row_max ? m : 0}, z.options());
      e = cpu_block_exp<T>(z, 0, m, mode, inv_t, exclude_partner, lists, nullptr,
                           row_sum.data_ptr<double>(), shift.data_ptr<T>(), nullptr);
    }
    ctx->saved_data["exp"] = torch::empty({0}, z.options());
    // With g the incoming gradient and c = g·inv_t, the gradient is c · G·z, G = P + Pᵀ − 2·W,
    // P = E / rowsum the softmax, W the positive weights at (i, partner(i)). G is built over E.
    const double scale = grad_output.item<double>() * inv_t;
    auto a = (scale / row_sum).to(z.scalar_type());                  // c / rowsumᵢ
    if (mode != ExpShift::row_max) {
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

inline torch::Tensor fused_backward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                                    const torch::Tensor& groups, const torch::Tensor& lse,
                                    const torch::Tensor& weight, const torch::Tensor& grad_output,
                                    double inv_t, int64_t rows, ExpShift mode,
                                    bool exclude_partner) {
  if (z.scalar_type() == torch::kFloat64) {
    return fused_backward_typed<double>(ctx, z, groups, lse, weight, grad_output, inv_t, rows, mode,
                                        exclude_partner);
  }
  return fused_backward_typed<float>(ctx, z, groups, lse, weight, grad_output, inv_t, rows, mode,
                                     exclude_partner);
}

// [a; b] (M, D) with every row L2-normalised, as torch::nn::functional::normalize does; the
// rows' norms go to `norms` (M).
template <class T>
torch::Tensor stack_normalized(const torch::Tensor& a, const torch::Tensor& b,
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

}  // namespace selfsup::losses::detail
