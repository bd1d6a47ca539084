#pragma once
/// \file
/// Internal: fused CPU loops for the contrastive denominator (see similarity_lse.hpp), for
/// contiguous float32 and float64 tensors.
///
/// Over a row block of the similarity matrix S, one pass per row writes exp(S·inv_t − shift) in
/// place with its excluded entries zeroed and returns the row sums, and one pass turns the
/// symmetric exp(S − shift) into the gradient weights E ∘ (aᵢ + aⱼ). float32 rows use an AVX2/FMA
/// exponential when the processor has it (chosen at run time), the standard library's otherwise;
/// float64 rows use the standard library's. Rows are shared among at::get_num_threads() threads.

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <type_traits>
#include <vector>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SELFSUP_SIMILARITY_X86 1
#else
#define SELFSUP_SIMILARITY_X86 0
#endif

namespace selfsup::detail::cpu {

/// Below this many LibTorch threads the fused passes run on the calling thread. Right after a
/// matrix product the BLAS library's own threads keep the other cores busy for a while, and on
/// two cores handing rows to a second thread then cost more than it saved (both measured with
/// benchmarks/losses.cpp).
inline constexpr int64_t min_threads = 3;

/// Runs f(first, last) over [begin, end) in pieces of at least `grain` indices, on up to
/// at::get_num_threads() threads (on the calling thread alone below min_threads). LibTorch's own
/// at::parallel_for only runs in parallel in code compiled with OpenMP when LibTorch uses OpenMP;
/// otherwise the pieces go to LibTorch's inter-op thread pool, and the calling thread takes pieces
/// too, so it never waits on a piece that no thread has started.
template <class F>
void parallel_rows(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (end <= begin) return;
  const int64_t threads = at::get_num_threads();
#ifdef _OPENMP
  if (threads < min_threads) {
    f(begin, end);
    return;
  }
  at::parallel_for(begin, end, grain, f);
#else
  const int64_t total = end - begin;
  const int64_t max_pieces = (total + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  if (threads < min_threads || max_pieces <= 1 || at::in_parallel_region()) {
    f(begin, end);
    return;
  }
  // A few pieces per thread, so that a thread slowed down by other work hands its share over.
  const int64_t pieces = std::min<int64_t>(max_pieces, 4 * threads);
  const int64_t size = (total + pieces - 1) / pieces;
  struct State {
    std::atomic<int64_t> next{0};
    std::mutex mutex;
    std::condition_variable finished;
    int64_t done = 0;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>();
  // A helper that starts after every piece is taken returns at once without touching `f`.
  auto work = [state, begin, end, size, pieces, &f] {
    for (int64_t piece; (piece = state->next.fetch_add(1)) < pieces;) {
      const int64_t first = begin + piece * size;
      try {
        if (first < end) f(first, std::min(end, first + size));
      } catch (...) {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (!state->error) state->error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(state->mutex);
      if (++state->done == pieces) state->finished.notify_all();
    }
  };
  for (int64_t t = 1; t < std::min(threads, pieces); ++t) at::launch(work);
  work();
  std::unique_lock<std::mutex> lock(state->mutex);
  state->finished.wait(lock, [&] { return state->done == pieces; });
  if (state->error) std::rethrow_exception(state->error);
#endif
}

// ---- exp(x·scale − shift) over a row, in place, returning the row's sum ------------------------
//
// The vector versions compute 2ⁿ · p(r) with x = n·ln 2 + r, |r| <= ln 2 / 2 and p the degree-7
// Taylor polynomial of exp (truncation error below 1e-8 relative; about 1 ulp in all). Inputs
// are clamped below at −87, so that −inf and anything smaller give e^−87 ≈ 1.6e-38 rather than
// 0: the callers zero the excluded entries afterwards. Inputs must not exceed 88; the callers'
// shifts keep them below 80. Sums are accumulated in float over at most 8 entries per lane and
// in double beyond.

/// Which instructions the float32 exponential uses.
enum class Isa { scalar, avx2, avx512 };

template <class T>
double exp_affine_scalar(T* x, int64_t len, T scale, T shift) {
  double sum = 0.0;
  for (int64_t j = 0; j < len; ++j) {
    const T v = std::exp(x[j] * scale - shift);
    x[j] = v;
    sum += static_cast<double>(v);
  }
  return sum;
}

#if SELFSUP_SIMILARITY_X86
// Coefficients 1/k! of the Taylor polynomial, highest first.
inline constexpr float exp_taylor[8] = {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f,
                                        1.0f / 6.0f,    0.5f,           1.0f,           1.0f};
// ln 2 in two parts: n · 0.693359375 is exact for |n| < 2¹⁵.
inline constexpr float ln2_high = 0.693359375f, ln2_low = -2.12194440e-4f;
inline constexpr float log2_e = 1.44269504088896341f, exp_floor = -87.0f;

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(exp_floor));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(log2_e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ln2_high), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ln2_low), r);
  __m256 p = _mm256_set1_ps(exp_taylor[0]);
  for (int k = 1; k < 8; ++k) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_taylor[k]));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// total + the 8 floats of acc, in double.
__attribute__((target("avx2,fma"))) inline __m256d add_to_total(__m256d total, __m256 acc) {
  total = _mm256_add_pd(total, _mm256_cvtps_pd(_mm256_castps256_ps128(acc)));
  return _mm256_add_pd(total, _mm256_cvtps_pd(_mm256_extractf128_ps(acc, 1)));
}

__attribute__((target("avx2,fma"))) inline double exp_affine_avx2(float* x, int64_t len, float scale,
                                                                  float shift) {
  const __m256 vscale = _mm256_set1_ps(scale), vshift = _mm256_set1_ps(shift);
  __m256d total = _mm256_setzero_pd();
  int64_t j = 0;
  while (j + 8 <= len) {
    __m256 acc = _mm256_setzero_ps();
    for (const int64_t stop = std::min(len, j + 64); j + 8 <= stop; j += 8) {
      const __m256 v = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + j), vscale, vshift));
      _mm256_storeu_ps(x + j, v);
      acc = _mm256_add_ps(acc, v);
    }
    total = add_to_total(total, acc);
  }
  if (j < len) {
    // The tail through a padded copy; the padding's exponentials are left out of the sum.
    alignas(32) float tail[8] = {};
    std::copy(x + j, x + len, tail);
    const __m256 v = exp8(_mm256_fmsub_ps(_mm256_load_ps(tail), vscale, vshift));
    _mm256_store_ps(tail, v);
    std::fill(tail + (len - j), tail + 8, 0.0f);
    std::copy(tail, tail + (len - j), x + j);
    total = add_to_total(total, _mm256_load_ps(tail));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, total);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

__attribute__((target("avx512f"))) inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(exp_floor));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(log2_e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ln2_high), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ln2_low), r);
  __m512 p = _mm512_set1_ps(exp_taylor[0]);
  for (int k = 1; k < 8; ++k) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_taylor[k]));
  return _mm512_scalef_ps(p, n);                                        // p · 2ⁿ
}

// total + the 16 floats of acc, in double.
__attribute__((target("avx512f"))) inline __m512d add_to_total(__m512d total, __m512 acc) {
  total = _mm512_add_pd(total, _mm512_cvtps_pd(_mm512_castps512_ps256(acc)));
  return _mm512_add_pd(
      total, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1))));
}

__attribute__((target("avx512f"))) inline double exp_affine_avx512(float* x, int64_t len, float scale,
                                                                   float shift) {
  const __m512 vscale = _mm512_set1_ps(scale), vshift = _mm512_set1_ps(shift);
  __m512d total = _mm512_setzero_pd();
  int64_t j = 0;
  while (j + 16 <= len) {
    __m512 acc = _mm512_setzero_ps();
    for (const int64_t stop = std::min(len, j + 128); j + 16 <= stop; j += 16) {
      const __m512 v = exp16(_mm512_fmsub_ps(_mm512_loadu_ps(x + j), vscale, vshift));
      _mm512_storeu_ps(x + j, v);
      acc = _mm512_add_ps(acc, v);
    }
    total = add_to_total(total, acc);
  }
  if (j < len) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (len - j)) - 1u);
    const __m512 v = exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(mask, x + j), vscale, vshift));
    _mm512_mask_storeu_ps(x + j, mask, v);
    total = add_to_total(total, _mm512_maskz_mov_ps(mask, v));
  }
  return _mm512_reduce_add_pd(total);
}

inline bool isa_available(Isa isa) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  switch (isa) {
    case Isa::avx2: return avx2;
    case Isa::avx512: return avx512;
    default: return true;
  }
}
#else
inline bool isa_available(Isa isa) { return isa == Isa::scalar; }
#endif

/// The widest of the float32 exponentials that this processor runs.
inline Isa best_isa() {
  static const Isa best = isa_available(Isa::avx512) ? Isa::avx512
                          : isa_available(Isa::avx2) ? Isa::avx2
                                                     : Isa::scalar;
  return best;
}

/// x[j] ← exp(x[j]·scale − shift) for j < len; returns Σⱼ of the new x[j]. float32 uses `isa`
/// (which must be available), float64 the standard library.
template <class T>
double exp_affine(T* x, int64_t len, double scale, double shift, Isa isa = best_isa()) {
#if SELFSUP_SIMILARITY_X86
  if constexpr (std::is_same_v<T, float>) {
    if (isa == Isa::avx512) {
      return exp_affine_avx512(x, len, static_cast<float>(scale), static_cast<float>(shift));
    }
    if (isa == Isa::avx2) {
      return exp_affine_avx2(x, len, static_cast<float>(scale), static_cast<float>(shift));
    }
  }
#endif
  return exp_affine_scalar<T>(x, len, static_cast<T>(scale), static_cast<T>(shift));
}

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
inline bool supported(const torch::Tensor& z) {
  return fused_loops_enabled() && z.device().is_cpu() &&
         (z.scalar_type() == torch::kFloat32 || z.scalar_type() == torch::kFloat64);
}

}  // namespace selfsup::detail::cpu
