#pragma once
/// \file
/// Internal: fused CPU loops for the contrastive denominator (see contrastive_sum.hpp), for
/// contiguous float32 and float64 tensors.
///
/// Over a row block of the similarity matrix S, one pass per row writes exp(S·inv_t − shift) in
/// place with its excluded entries zeroed and returns the row sums, and one pass turns the
/// symmetric exp(S − shift) into the gradient weights E ∘ (aᵢ + aⱼ). float32 rows use an AVX2/FMA
/// or AVX-512 exponential when the processor has it (chosen at run time), the standard library's
/// otherwise; float64 rows use the standard library's (fast_exp.hpp). Rows are shared among
/// at::get_num_threads() threads (parallel_rows.hpp).

#include <selfsup/losses/detail/fast_exp.hpp>
#include <selfsup/losses/detail/parallel_rows.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace selfsup::losses::detail::cpu {

// ---- the excluded entries ----------------------------------------------------------------------

/// For each of the M rows, the columns its group excludes: the rows with its group id. Stored as
/// one list per distinct id (`members`, sorted by id) and, per row, its list's [first, last).
struct GroupLists {
  std::vector<int64_t> members, first, last;

  GroupLists() = default;
  explicit GroupLists(const torch::Tensor& groups) {
    if (groups.numel() == 0) return;
    auto ids = groups.to(torch::kCPU, torch::kLong).contiguous();
    const int64_t* g = ids.data_ptr<int64_t>();
    const int64_t m = ids.numel();
    members.resize(m);
    std::iota(members.begin(), members.end(), int64_t{0});
    std::stable_sort(members.begin(), members.end(),
                     [g](int64_t a, int64_t b) { return g[a] < g[b]; });
    first.resize(m);
    last.resize(m);
    for (int64_t k = 0; k < m;) {
      int64_t e = k;
      while (e < m && g[members[e]] == g[members[k]]) ++e;
      for (int64_t q = k; q < e; ++q) {
        first[members[q]] = k;
        last[members[q]] = e;
      }
      k = e;
    }
  }
  bool empty() const { return members.empty(); }
};

/// How a row block is shifted before the exponential: by nothing, by a constant, by a given
/// value per row, or by the row's largest kept entry (which is then returned in `row_shift`).
enum class RowShift { none, constant, given, row_max };

/// Rows [start, start + len) of the similarities S (e: (len, M) contiguous, raw dot products of
/// normalised rows) become exp(S·inv_t − shiftᵢ), excluded entries 0; row_lse[r] receives
/// log Σⱼ of that row + shiftᵢ, and row_sum[r] (if not null) the sum itself. `shift` is the
/// constant for RowShift::constant, `row_shift` the per-row shifts for RowShift::given and
/// their output for RowShift::row_max; positive[r] (if not null) receives row i's similarity to
/// its partner, S[i, partner(i)].
template <class T>
void exp_rows(T* e, int64_t start, int64_t len, int64_t m, double inv_t, RowShift mode, double shift,
              T* row_shift, bool exclude_partner, const GroupLists& groups, T* row_lse,
              double* row_sum, T* positive = nullptr, Isa isa = best_isa()) {
  const int64_t n = m / 2;
  const T minus_inf = -std::numeric_limits<T>::infinity();
  // Rows of a few thousand entries: a few hundred rows make a piece worth a thread.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(m, 1));
  parallel_rows(0, len, grain, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      T* row = e + r * m;
      const int64_t i = start + r, partner = (i + n) % m;
      if (positive != nullptr) positive[r] = row[partner];
      if (!groups.empty()) {
        for (int64_t k = groups.first[i]; k < groups.last[i]; ++k) {
          const int64_t j = groups.members[k];
          if (j != partner) row[j] = minus_inf;
        }
      }
      row[i] = minus_inf;
      if (exclude_partner) row[partner] = minus_inf;
      double s = 0.0;
      switch (mode) {
        case RowShift::none: s = 0.0; break;
        case RowShift::constant: s = shift; break;
        case RowShift::given: s = static_cast<double>(row_shift[r]); break;
        case RowShift::row_max: {
          T largest = minus_inf;
          for (int64_t j = 0; j < m; ++j) largest = std::max(largest, row[j]);
          // A row with every entry excluded keeps shift 0 (its sum is 0 either way).
          s = largest == minus_inf ? 0.0 : static_cast<double>(largest) * inv_t;
          row_shift[r] = static_cast<T>(s);
          s = static_cast<double>(row_shift[r]);
          break;
        }
      }
      double sum = exp_affine<T>(row, m, inv_t, s, isa);
      // The vector exponentials leave e^−87 for −inf: the excluded entries become 0 here, and
      // their share of the sum is removed.
      auto zero = [&](int64_t j) {
        sum -= static_cast<double>(row[j]);
        row[j] = T(0);
      };
      if (!groups.empty()) {
        for (int64_t k = groups.first[i]; k < groups.last[i]; ++k) {
          if (groups.members[k] != partner) zero(groups.members[k]);
        }
      } else {
        zero(i);
      }
      if (exclude_partner) zero(partner);
      sum = std::max(sum, 0.0);
      if (row_lse != nullptr) row_lse[r] = static_cast<T>(std::log(sum) + s);
      if (row_sum != nullptr) row_sum[r] = sum;
    }
  });
}

/// e (M, M), symmetric, becomes e ∘ (aᵢ + aⱼ) in place.
template <class T>
void symmetric_weights(T* e, int64_t m, const T* a) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(m, 1));
  parallel_rows(0, m, grain, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) {
      T* row = e + i * m;
      const T ai = a[i];
      for (int64_t j = 0; j < m; ++j) row[j] *= ai + a[j];
    }
  });
}

/// out = z / max(‖z‖, eps) row by row (z, out: (M, D) contiguous), the norms ‖z‖ into norms (M):
/// torch::nn::functional::normalize, in one pass.
template <class T>
void normalize_rows(const T* z, T* out, T* norms, int64_t m, int64_t d, double eps) {
  for (int64_t i = 0; i < m; ++i) {
    const T* row = z + i * d;
    double squares = 0.0;
    for (int64_t k = 0; k < d; ++k) squares += static_cast<double>(row[k]) * static_cast<double>(row[k]);
    const double norm = std::sqrt(squares);
    norms[i] = static_cast<T>(norm);
    const double inv = 1.0 / std::max(norm, eps);
    for (int64_t k = 0; k < d; ++k) out[i * d + k] = static_cast<T>(static_cast<double>(row[k]) * inv);
  }
}

/// The gradient through normalize_rows, in place: g ← (g − y·(y·g)) / ‖z‖ for rows with
/// ‖z‖ > eps, g / eps for the others (y the normalised rows).
template <class T>
void normalize_rows_backward(const T* y, const T* norms, T* g, int64_t m, int64_t d, double eps) {
  for (int64_t i = 0; i < m; ++i) {
    T* grad = g + i * d;
    const T* yi = y + i * d;
    const double norm = static_cast<double>(norms[i]);
    if (norm > eps) {
      double dot = 0.0;
      for (int64_t k = 0; k < d; ++k) dot += static_cast<double>(yi[k]) * static_cast<double>(grad[k]);
      const double inv = 1.0 / norm;
      for (int64_t k = 0; k < d; ++k) {
        grad[k] = static_cast<T>((static_cast<double>(grad[k]) - static_cast<double>(yi[k]) * dot) * inv);
      }
    } else {
      for (int64_t k = 0; k < d; ++k) grad[k] = static_cast<T>(static_cast<double>(grad[k]) / eps);
    }
  }
}

/// Whether the fused loops may be used on this thread (on by default). Turning them off sends
/// CPU tensors through the tensor operations that other devices use, which the tests compare.
inline bool& fused_loops_enabled() {
  thread_local bool enabled = true;
  return enabled;
}

/// Whether the fused loops apply: a CPU tensor of float32 or float64, while enabled.
inline bool fused_loops_apply(const torch::Tensor& z) {
  return fused_loops_enabled() && z.device().is_cpu() &&
         (z.scalar_type() == torch::kFloat32 || z.scalar_type() == torch::kFloat64);
}

}  // namespace selfsup::losses::detail::cpu
