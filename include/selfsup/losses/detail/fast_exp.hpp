#pragma once
/// \file
/// Internal: exp(x·scale − shift) over a row of float32 or float64 values, in place, returning the
/// row's sum; float32 with an AVX2/FMA or AVX-512 exponential when the processor has it (chosen
/// at run time), float64 with the standard library's. Used by the fused CPU loops of the
/// contrastive losses (similarity_cpu.hpp).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SELFSUP_SIMILARITY_X86 1
#else
#define SELFSUP_SIMILARITY_X86 0
#endif

namespace selfsup::losses::detail::cpu {

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

// GCC's AVX-512 cast intrinsics start from a deliberately undefined register (`__Y = __Y` in
// avxintrin.h), which -Wmaybe-uninitialized reports once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

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

}  // namespace selfsup::losses::detail::cpu
