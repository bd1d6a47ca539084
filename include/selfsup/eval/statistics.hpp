#pragma once
/// \file
/// Statistics over repeated runs: the mean, the sample standard deviation and the 95 % confidence
/// interval of the mean (Student's t with n − 1 degrees of freedom), of a metric measured under
/// several seeds, and of the paired differences between two variants run under the same seeds.
/// The ablation runner reports its results with them. Free of LibTorch.
///
///   auto s = stats::summarize({0.61, 0.64, 0.60});            // s.mean, s.sd, s.ci95 (half-width)
///   auto d = stats::paired_difference(semantic, augmented);  // per seed: semantic[i] − augmented[i]
///   if (d.interval_excludes_zero()) ...

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::stats {

namespace detail {

/// The continued fraction of the regularised incomplete beta function I_x(a, b), evaluated with
/// the modified Lentz method; converges fast for x < (a + 1) / (a + b + 2).
inline double beta_continued_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  constexpr double eps = 1e-16;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double f = d;
  for (int m = 1; m <= 10000; ++m) {
    const double dm = m;
    // The even term d_2m, then the odd term d_2m+1.
    for (const double term : {dm * (b - dm) * x / ((a + 2 * dm - 1) * (a + 2 * dm)),
                              -(a + dm) * (a + b + dm) * x / ((a + 2 * dm) * (a + 2 * dm + 1))}) {
      d = 1.0 + term * d;
      if (std::fabs(d) < tiny) d = tiny;
      c = 1.0 + term / c;
      if (std::fabs(c) < tiny) c = tiny;
      d = 1.0 / d;
      f *= c * d;
      if (std::fabs(c * d - 1.0) < eps) return f;
    }
  }
  return f;
}

/// The regularised incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].
inline double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

}  // namespace detail

/// P(T ≤ t) for Student's t distribution with `df` degrees of freedom (df > 0, any real).
inline double student_t_cdf(double t, double df) {
  if (!(df > 0.0) || !std::isfinite(df)) {
    throw std::invalid_argument("selfsup::stats::student_t_cdf: df must be positive and finite, got " +
                                std::to_string(df));
  }
  if (std::isnan(t)) return t;
  const double tail = 0.5 * detail::incomplete_beta(df / 2.0, 0.5, df / (df + t * t));  // P(T > |t|)
  return t >= 0.0 ? 1.0 - tail : tail;
}

/// The p-quantile of Student's t distribution with `df` degrees of freedom: the t with
/// student_t_cdf(t, df) = p, for p in (0, 1). Found by bisection to the last bits of a double.
inline double student_t_quantile(double p, double df) {
  if (!(p > 0.0 && p < 1.0)) {
    throw std::invalid_argument("selfsup::stats::student_t_quantile: p must be in (0, 1), got " + std::to_string(p));
  }
  if (!(df > 0.0) || !std::isfinite(df)) {
    throw std::invalid_argument("selfsup::stats::student_t_quantile: df must be positive and finite, got " +
                                std::to_string(df));
  }
  if (p < 0.5) return -student_t_quantile(1.0 - p, df);
  if (p == 0.5) return 0.0;
  double lo = 0.0;
  double hi = 1.0;
  while (student_t_cdf(hi, df) < p) {
    lo = hi;
    hi *= 2.0;
    if (!std::isfinite(hi)) return std::numeric_limits<double>::infinity();
  }
  for (int i = 0; i < 200 && hi - lo > 4 * std::numeric_limits<double>::epsilon() * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

/// A metric over n runs.
struct Summary {
  int64_t n = 0;
  double mean = 0.0;
  std::optional<double> sd;    ///< sample standard deviation (divisor n − 1); none for one run
  std::optional<double> ci95;  ///< half-width of the 95 % interval of the mean: t(0.975, n − 1) · sd / √n; none for one run

  /// mean − ci95 > 0 or mean + ci95 < 0; false without an interval (one run shows nothing).
  bool interval_excludes_zero() const { return ci95 && (mean - *ci95 > 0.0 || mean + *ci95 < 0.0); }
};

/// The mean, standard deviation and 95 % interval of `values` (at least one, all finite).
inline Summary summarize(std::span<const double> values, std::string_view what = "values") {
  constexpr std::string_view fn = "selfsup::stats::summarize";
  if (values.empty()) throw std::invalid_argument(std::string(fn) + ": " + std::string(what) + " is empty");
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw std::invalid_argument(std::string(fn) + ": " + std::string(what) + "[" + std::to_string(i) + "] is " +
                                  std::to_string(values[i]) + ", not a finite number");
    }
  }
  Summary s;
  s.n = static_cast<int64_t>(values.size());
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n >= 2) {
    double squares = 0.0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(squares / static_cast<double>(s.n - 1));
    s.ci95 = student_t_quantile(0.975, static_cast<double>(s.n - 1)) * *s.sd / std::sqrt(static_cast<double>(s.n));
  }
  return s;
}

inline Summary summarize(const std::vector<double>& values, std::string_view what = "values") {
  return summarize(std::span<const double>(values), what);
}

/// The per-run differences values[i] − baseline[i] (run i of both under the same seed).
inline std::vector<double> differences(std::span<const double> values, std::span<const double> baseline) {
  if (values.size() != baseline.size()) {
    throw std::invalid_argument("selfsup::stats::paired_difference: the variant has " + std::to_string(values.size()) +
                                " runs and the baseline " + std::to_string(baseline.size()) +
                                "; pairs need one run of each per seed");
  }
  std::vector<double> d(values.size());
  for (size_t i = 0; i < values.size(); ++i) d[i] = values[i] - baseline[i];
  return d;
}

/// The paired difference: summarize() of values[i] − baseline[i]. Its interval is the one of the
/// mean difference, which is narrower than comparing two unpaired intervals when the seed moves
/// both variants alike.
inline Summary paired_difference(std::span<const double> values, std::span<const double> baseline,
                                 std::string_view what = "differences") {
  return summarize(differences(values, baseline), what);
}

inline Summary paired_difference(const std::vector<double>& values, const std::vector<double>& baseline,
                                 std::string_view what = "differences") {
  return paired_difference(std::span<const double>(values), std::span<const double>(baseline), what);
}

}  // namespace selfsup::stats
