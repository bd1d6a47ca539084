#pragma once
/// \file
/// Agreement between the people (or programs) who curate a pair table: each rater accepts or
/// rejects each candidate pair, or leaves it undecided. This header measures how far the raters
/// agree beyond chance (Cohen's kappa for two raters, Fleiss' kappa for two or more), combines
/// the raters' decisions on one pair into one decision under a rule (--agree all|any|majority),
/// and summarises the hubness of a nearest-neighbour graph from which the candidates come (the
/// skewness of the k-occurrence, Radovanović et al., "Hubs in space", JMLR 2010). Free of
/// LibTorch: the standard library only.
///
///   auto k = curate::cohen_kappa(alice, bob);          // k.value, k.observed, k.expected, k.items
///   auto f = curate::fleiss_kappa(all_raters);         // one std::vector<Decision> per rater
///   auto d = curate::combine(votes_on_one_pair, curate::parse_agree_rule("majority"));
///   auto h = curate::hubness(k_occurrence);            // h.skewness, h.never_chosen, ...

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::curate {

/// One rater's decision on one candidate pair.
enum class Decision : std::uint8_t { undecided, accept, reject };

/// An agreement coefficient: value = (observed − expected) / (1 − expected).
///
/// value is NaN when it is undefined:
///   - no item was decided by every rater (items = 0; observed and expected are NaN too), or
///   - the expected agreement is 1: every decision counted fell in one category (all accept, or
///     all reject). Then the observed agreement is 1 as well and the coefficient is 0 / 0: with
///     one category in use there is no chance agreement to exceed, and kappa says nothing.
/// value is 1 for perfect agreement, 0 for agreement at chance level, and negative below it.
struct Kappa {
  double value = std::numeric_limits<double>::quiet_NaN();     ///< the coefficient, in [−1, 1], or NaN (above)
  double observed = std::numeric_limits<double>::quiet_NaN();  ///< observed agreement P_o (Fleiss: mean P̄)
  double expected = std::numeric_limits<double>::quiet_NaN();  ///< agreement expected by chance P_e
  std::int64_t items = 0;                                      ///< items counted: decided by every rater
};

namespace detail {

inline std::string decision_name(Decision d) {
  switch (d) {
    case Decision::undecided: return "undecided";
    case Decision::accept: return "accept";
    case Decision::reject: return "reject";
  }
  return "Decision(" + std::to_string(static_cast<unsigned>(d)) + ")";
}

/// Throws unless `d` is one of the three decisions (a Decision cast from an arbitrary byte is not).
inline void check_decision(Decision d, std::string_view fn, std::string_view what, std::size_t index) {
  if (d != Decision::undecided && d != Decision::accept && d != Decision::reject) {
    throw std::invalid_argument(std::string(fn) + ": " + std::string(what) + "[" + std::to_string(index) + "] is " +
                                decision_name(d) + ", not undecided, accept or reject");
  }
}

/// (observed − expected) / (1 − expected), NaN when `expected_is_one` (decided exactly from the
/// integer counts, not from a rounded double).
inline double kappa_value(double observed, double expected, bool expected_is_one) {
  if (expected_is_one) return std::numeric_limits<double>::quiet_NaN();
  return (observed - expected) / (1.0 - expected);
}

}  // namespace detail

/// Cohen's kappa of two raters over two categories (accept, reject).
///
/// a[i] and b[i] are the two raters' decisions on item i; the sizes must match. An item that
/// either rater left undecided is left out; items = the number counted. Over those n items, with
/// n_aa the items both accepted, n_rr those both rejected, and A_a, B_a the items rater a, b
/// accepted (A_r = n − A_a, B_r = n − B_a):
///   observed = (n_aa + n_rr) / n
///   expected = (A_a · B_a + A_r · B_r) / n²        (each rater's own marginal proportions)
///   value    = (observed − expected) / (1 − expected)
/// NaN as documented at Kappa: no common items, or both raters used one and the same category
/// throughout (expected = 1).
inline Kappa cohen_kappa(std::span<const Decision> a, std::span<const Decision> b) {
  constexpr std::string_view fn = "selfsup::curate::cohen_kappa";
  if (a.size() != b.size()) {
    throw std::invalid_argument(std::string(fn) + ": the two raters must decide the same items, but rater a has " +
                                std::to_string(a.size()) + " decisions and rater b " + std::to_string(b.size()));
  }
  std::int64_t n = 0, both_accept = 0, both_reject = 0, a_accept = 0, b_accept = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    detail::check_decision(a[i], fn, "a", i);
    detail::check_decision(b[i], fn, "b", i);
    if (a[i] == Decision::undecided || b[i] == Decision::undecided) continue;
    ++n;
    const bool aa = a[i] == Decision::accept, ba = b[i] == Decision::accept;
    a_accept += aa;
    b_accept += ba;
    both_accept += aa && ba;
    both_reject += !aa && !ba;
  }
  Kappa k;
  k.items = n;
  if (n == 0) return k;
  const double nd = static_cast<double>(n);
  const std::int64_t a_reject = n - a_accept, b_reject = n - b_accept;
  k.observed = static_cast<double>(both_accept + both_reject) / nd;
  k.expected = (static_cast<double>(a_accept) * static_cast<double>(b_accept) +
                static_cast<double>(a_reject) * static_cast<double>(b_reject)) /
               (nd * nd);
  // expected = 1 exactly when both raters put every item in the same single category.
  const bool expected_is_one = (a_accept == n && b_accept == n) || (a_reject == n && b_reject == n);
  k.value = detail::kappa_value(k.observed, k.expected, expected_is_one);
  return k;
}

/// Fleiss' kappa of m ≥ 2 raters over two categories (accept, reject).
///
/// raters[r][i] is rater r's decision on item i; every rater must have the same number of items.
/// An item that any rater left undecided is left out; items = N, the number counted. With
/// n_i the raters who accepted item i (m − n_i rejected it):
///   P_i      = (n_i² + (m − n_i)² − m) / (m (m − 1))     agreement among the rater pairs on item i
///   observed = P̄ = (1/N) Σ_i P_i
///   p        = Σ_i n_i / (N m)                           the pooled share of accepts
///   expected = p² + (1 − p)²
///   value    = (observed − expected) / (1 − expected)
/// NaN as documented at Kappa: no item decided by all, or every decision counted is the same
/// (expected = 1).
///
/// With two raters this is not Cohen's kappa: the chance agreement comes from the pooled
/// proportions of both raters together, not from each rater's own, so it equals Scott's pi.
/// E.g. both accept 20, a alone 5, b alone 10, both reject 15: Cohen 0.4, Fleiss (Scott) 13/33.
inline Kappa fleiss_kappa(std::span<const std::vector<Decision>> raters) {
  constexpr std::string_view fn = "selfsup::curate::fleiss_kappa";
  if (raters.size() < 2) {
    throw std::invalid_argument(std::string(fn) + ": agreement needs at least 2 raters, got " +
                                std::to_string(raters.size()));
  }
  const std::size_t size = raters[0].size();
  for (std::size_t r = 1; r < raters.size(); ++r) {
    if (raters[r].size() != size) {
      throw std::invalid_argument(std::string(fn) + ": every rater must decide the same items, but rater 0 has " +
                                  std::to_string(size) + " decisions and rater " + std::to_string(r) + " " +
                                  std::to_string(raters[r].size()));
    }
  }
  for (std::size_t r = 0; r < raters.size(); ++r) {
    for (std::size_t i = 0; i < size; ++i) {
      detail::check_decision(raters[r][i], fn, "raters[" + std::to_string(r) + "]", i);
    }
  }
  const std::int64_t m = static_cast<std::int64_t>(raters.size());
  std::int64_t n_items = 0, accepts = 0;
  double agreement_sum = 0.0;  // Σ_i P_i · m (m − 1), kept as integers' sum: exact below 2^53
  for (std::size_t i = 0; i < size; ++i) {
    std::int64_t accepted = 0;
    bool decided = true;
    for (const auto& rater : raters) {
      if (rater[i] == Decision::undecided) {
        decided = false;
        break;
      }
      accepted += rater[i] == Decision::accept;
    }
    if (!decided) continue;
    ++n_items;
    accepts += accepted;
    const std::int64_t rejected = m - accepted;
    agreement_sum += static_cast<double>(accepted * accepted + rejected * rejected - m);
  }
  Kappa k;
  k.items = n_items;
  if (n_items == 0) return k;
  const double md = static_cast<double>(m), nd = static_cast<double>(n_items);
  k.observed = agreement_sum / (md * (md - 1.0)) / nd;
  const double p = static_cast<double>(accepts) / (nd * md);
  k.expected = p * p + (1.0 - p) * (1.0 - p);
  const bool expected_is_one = accepts == 0 || accepts == n_items * m;
  k.value = detail::kappa_value(k.observed, k.expected, expected_is_one);
  return k;
}

inline Kappa fleiss_kappa(const std::vector<std::vector<Decision>>& raters) {
  return fleiss_kappa(std::span<const std::vector<Decision>>(raters));
}

/// How the raters' decisions on one pair become one decision (--agree).
enum class AgreeRule {
  all,       ///< accept when every rater accepted
  any,       ///< accept when at least one rater accepted
  majority,  ///< accept when more than half of the raters accepted
};

/// "all", "any" or "majority" (exactly, lower case), as given to --agree.
inline AgreeRule parse_agree_rule(std::string_view text) {
  if (text == "all") return AgreeRule::all;
  if (text == "any") return AgreeRule::any;
  if (text == "majority") return AgreeRule::majority;
  throw std::invalid_argument("selfsup::curate::parse_agree_rule: --agree must be all, any or majority, got '" +
                              std::string(text) + "'");
}

/// The decision on one pair from the decisions of its m = per_rater.size() raters, with a the
/// number of raters who accepted it:
///   all:      accept when a = m and m > 0 (a rater who left it undecided did not accept);
///   any:      accept when a ≥ 1;
///   majority: accept when 2a > m: more than half of all m raters, the undecided ones included
///             (a tie is not a majority: 2 accepts from 4 raters is reject);
/// otherwise reject when at least one rater decided (accept or reject), and undecided when none
/// did (also for no raters at all). So an undecided rater counts against the pair under all and
/// majority, and makes no difference under any.
inline Decision combine(std::span<const Decision> per_rater, AgreeRule rule) {
  constexpr std::string_view fn = "selfsup::curate::combine";
  std::size_t accepted = 0, decided = 0;
  for (std::size_t r = 0; r < per_rater.size(); ++r) {
    detail::check_decision(per_rater[r], fn, "per_rater", r);
    accepted += per_rater[r] == Decision::accept;
    decided += per_rater[r] != Decision::undecided;
  }
  const std::size_t m = per_rater.size();
  bool accept = false;
  switch (rule) {
    case AgreeRule::all: accept = m > 0 && accepted == m; break;
    case AgreeRule::any: accept = accepted >= 1; break;
    case AgreeRule::majority: accept = 2 * accepted > m; break;
    default:
      throw std::invalid_argument(std::string(fn) + ": rule is AgreeRule(" +
                                  std::to_string(static_cast<int>(rule)) + "), not all, any or majority");
  }
  if (accept) return Decision::accept;
  return decided > 0 ? Decision::reject : Decision::undecided;
}

/// The hubness of a k-nearest-neighbour graph.
struct Hubness {
  double skewness = std::numeric_limits<double>::quiet_NaN();  ///< of N_k; NaN when every N_k is equal
  std::int64_t never_chosen = 0;                                ///< images with N_k = 0 (anti-hubs)
  std::int64_t images = 0;                                      ///< how many images
  std::int64_t max_occurrence = 0;                              ///< the largest N_k (the biggest hub)
};

/// Hubness from the k-occurrence of every image: k_occurrence[x] = N_k(x), how many other images
/// list x among their k nearest neighbours (each ≥ 0; at least one image).
///
/// skewness is the standardised third moment of N_k over the images, with population moments as
/// in Radovanović et al., "Hubs in space", JMLR 2010:
///   μ = (1/n) Σ N_k,  σ² = (1/n) Σ (N_k − μ)²,  skewness = (1/n) Σ (N_k − μ)³ / σ³
/// NaN when σ = 0 (every image chosen equally often: no hubs, and the ratio is 0 / 0). A large
/// positive skewness means a few hubs are the neighbours of many images while many are nobody's.
inline Hubness hubness(std::span<const std::int64_t> k_occurrence) {
  constexpr std::string_view fn = "selfsup::curate::hubness";
  if (k_occurrence.empty()) {
    throw std::invalid_argument(std::string(fn) + ": k_occurrence is empty; expected the N_k of at least one image");
  }
  Hubness h;
  h.images = static_cast<std::int64_t>(k_occurrence.size());
  std::int64_t lowest = k_occurrence[0];
  double sum = 0.0;
  for (std::size_t i = 0; i < k_occurrence.size(); ++i) {
    const std::int64_t c = k_occurrence[i];
    if (c < 0) {
      throw std::invalid_argument(std::string(fn) + ": k_occurrence[" + std::to_string(i) + "] is " +
                                  std::to_string(c) + "; a k-occurrence counts images and is at least 0");
    }
    h.never_chosen += c == 0;
    if (c > h.max_occurrence) h.max_occurrence = c;
    if (c < lowest) lowest = c;
    sum += static_cast<double>(c);
  }
  if (lowest == h.max_occurrence) return h;  // σ = 0 exactly: the skewness stays NaN
  const double n = static_cast<double>(h.images);
  const double mean = sum / n;
  double m2 = 0.0, m3 = 0.0;
  for (const std::int64_t c : k_occurrence) {
    const double d = static_cast<double>(c) - mean;
    m2 += d * d;
    m3 += d * d * d;
  }
  m2 /= n;
  m3 /= n;
  h.skewness = m3 / (m2 * std::sqrt(m2));
  return h;
}

inline Hubness hubness(const std::vector<std::int64_t>& k_occurrence) {
  return hubness(std::span<const std::int64_t>(k_occurrence));
}

}  // namespace selfsup::curate
