#pragma once
/// \file
/// Internal: the pieces of the contrastive sum (contrastive_sum.hpp) that work with tensor
/// operations, on any device and dtype: how exp(s − shift) is kept finite, the excluded entries
/// of a row block, and the positive term's gradient.

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace selfsup::losses::detail {

// Largest x for which exp(x) and a sum of many such terms stay finite, by dtype.
inline double exp_limit(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat64: return 700.0;
    case torch::kFloat16: return 10.0;
    default: return 80.0;  // float32, bfloat16
  }
}

// How exp(s − shift) is kept finite. Similarities lie in [−1/τ, 1/τ]. When even the sum of M
// terms e^{1/τ} is finite no shift is needed; otherwise a constant shift of 1/τ, which cannot
// underflow while e^{−2/τ} is representable; otherwise each row's largest similarity. The
// first two keep exp(S − shift) symmetric, which the backward pass exploits.
enum class ExpShift : int64_t { none, constant, row_max };

inline ExpShift choose_shift(double inv_t, int64_t m, torch::ScalarType dtype) {
  const double limit = exp_limit(dtype);
  if (inv_t + std::log(static_cast<double>(m)) < limit) return ExpShift::none;
  if (2.0 * inv_t < limit) return ExpShift::constant;
  return ExpShift::row_max;
}

// Zeroes the excluded entries of rows [start, start + len) of exp(S) (len, M): each row itself,
// optionally its partner, and with group ids the rest of its group but the partner.
inline void exclude(torch::Tensor& e, int64_t start, bool exclude_partner,
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
// `shift` is (len, 1) for ExpShift::row_max, unused otherwise (0 or inv_t as a scalar).
inline torch::Tensor block_exp(const torch::Tensor& z, const torch::Tensor& zs, int64_t start,
                               int64_t len, ExpShift mode, double inv_t, bool exclude_partner,
                               const torch::Tensor& groups, torch::Tensor* row_shift) {
  auto e = zs.narrow(0, start, len).mm(z.t());                        // (len, M)
  if (mode == ExpShift::constant) {
    e.sub_(inv_t);
  } else if (mode == ExpShift::row_max) {
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

// The positive term's gradient, −2·scale·wᵢ·z_partner(i), added to grad (tensor operations).
inline void add_positive_grad(torch::Tensor& grad, const torch::Tensor& z, const torch::Tensor& weight,
                              const torch::Tensor& scale) {
  auto partner_rows = z.roll(z.size(0) / 2, 0);                      // row i: z_partner(i)
  if (weight.numel() > 0) partner_rows = partner_rows * torch::cat({weight, weight}).unsqueeze(1);
  grad.sub_(partner_rows * (2.0 * scale));
}

}  // namespace selfsup::losses::detail
