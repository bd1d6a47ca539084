// selfsup::curate agreement and hubness against values worked out by hand (the arithmetic is in
// the comments; each was also checked with exact fractions from the textbook definitions: Cohen's
// kappa from the contingency table, Fleiss' P_i as the share of agreeing rater pairs, the
// skewness from population moments).
#include <selfsup/curate/agreement.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cu = selfsup::curate;

namespace {

constexpr auto A = cu::Decision::accept;
constexpr auto R = cu::Decision::reject;
constexpr auto U = cu::Decision::undecided;

/// Whether f() throws std::invalid_argument whose message holds every one of `texts`.
template <class Fn>
bool refuses_saying(Fn f, const std::vector<std::string>& texts) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    for (const auto& t : texts) {
      if (what.find(t) == std::string::npos) return false;
    }
    return true;
  }
  return false;
}

/// Two raters' decisions from the counts of a 2 × 2 table: both accept, a alone accepts, b alone
/// accepts, both reject.
void append_table(std::vector<cu::Decision>& a, std::vector<cu::Decision>& b, int aa, int ar, int ra, int rr) {
  auto add = [&](int count, cu::Decision x, cu::Decision y) {
    for (int i = 0; i < count; ++i) {
      a.push_back(x);
      b.push_back(y);
    }
  };
  add(aa, A, A);
  add(ar, A, R);
  add(ra, R, A);
  add(rr, R, R);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(curate_tests)

BOOST_AUTO_TEST_CASE(cohen_kappa_perfect_chance_and_opposite) {
  // Perfect agreement on A R A R R: observed 1; each rater accepts 2 of 5, so
  // expected = (2·2 + 3·3) / 25 = 13/25; kappa = (1 − 13/25) / (1 − 13/25) = 1.
  const std::vector<cu::Decision> same{A, R, A, R, R};
  const auto perfect = cu::cohen_kappa(same, same);
  BOOST_TEST(perfect.items == 5);
  BOOST_TEST(perfect.value == 1.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(perfect.observed == 1.0);
  BOOST_TEST(perfect.expected == 13.0 / 25.0, boost::test_tools::tolerance(1e-15));

  // Chance level: a = A A R R, b = A R A R. Observed 2/4; each accepts half, expected
  // 0.5·0.5 + 0.5·0.5 = 0.5; kappa = 0.
  const auto chance = cu::cohen_kappa(std::vector{A, A, R, R}, std::vector{A, R, A, R});
  BOOST_TEST(chance.items == 4);
  BOOST_TEST(chance.observed == 0.5);
  BOOST_TEST(chance.expected == 0.5);
  BOOST_TEST(chance.value == 0.0, boost::test_tools::tolerance(1e-15));

  // Opposite: a = A R, b = R A. Observed 0, expected 0.5, kappa = (0 − 0.5) / 0.5 = −1.
  const auto opposite = cu::cohen_kappa(std::vector{A, R}, std::vector{R, A});
  BOOST_TEST(opposite.value == -1.0, boost::test_tools::tolerance(1e-15));

  // a accepts all, b rejects all: observed 0, expected 1·0 + 0·1 = 0, kappa 0 (defined).
  const auto apart = cu::cohen_kappa(std::vector{A, A, A, A}, std::vector{R, R, R, R});
  BOOST_TEST(apart.expected == 0.0);
  BOOST_TEST(apart.value == 0.0);
}

BOOST_AUTO_TEST_CASE(cohen_kappa_of_a_mixed_table) {
  // Both accept 20, a alone 5, b alone 10, both reject 15: n = 50.
  // observed = (20 + 15) / 50 = 0.7; a accepts 25, b accepts 30:
  // expected = (25·30 + 25·20) / 50² = (750 + 500) / 2500 = 0.5; kappa = 0.2 / 0.5 = 0.4.
  std::vector<cu::Decision> a, b;
  append_table(a, b, 20, 5, 10, 15);
  const auto k = cu::cohen_kappa(a, b);
  BOOST_TEST(k.items == 50);
  BOOST_TEST(k.observed == 0.7, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(k.expected == 0.5, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(k.value == 0.4, boost::test_tools::tolerance(1e-14));

  // Items either rater left undecided are left out: the same table and the same kappa.
  const std::vector<std::pair<cu::Decision, cu::Decision>> undecided{{U, A}, {A, U}, {U, U}, {U, R}, {R, U}};
  for (std::size_t i = 0; i < undecided.size(); ++i) {
    a.insert(a.begin() + static_cast<std::ptrdiff_t>(7 * i), undecided[i].first);
    b.insert(b.begin() + static_cast<std::ptrdiff_t>(7 * i), undecided[i].second);
  }
  BOOST_TEST_REQUIRE(a.size() == 55u);
  const auto left_out = cu::cohen_kappa(a, b);
  BOOST_TEST(left_out.items == 50);
  BOOST_TEST(left_out.observed == 0.7, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(left_out.value == 0.4, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(cohen_kappa_undefined_and_refused) {
  // Both accept everything: observed 1 and expected 1·1 + 0·0 = 1, kappa 0 / 0: NaN.
  const auto all_accept = cu::cohen_kappa(std::vector{A, A, A, A}, std::vector{A, A, A, A});
  BOOST_TEST(all_accept.items == 4);
  BOOST_TEST(all_accept.observed == 1.0);
  BOOST_TEST(all_accept.expected == 1.0);
  BOOST_TEST(std::isnan(all_accept.value));
  // The same for both rejecting everything, with undecided items around it.
  const auto all_reject = cu::cohen_kappa(std::vector{R, U, R}, std::vector{R, R, U});
  BOOST_TEST(all_reject.items == 1);
  BOOST_TEST(std::isnan(all_reject.value));

  // No item decided by both: nothing to count.
  const auto none = cu::cohen_kappa(std::vector{U, A, U}, std::vector{R, U, U});
  BOOST_TEST(none.items == 0);
  BOOST_TEST(std::isnan(none.value));
  BOOST_TEST(std::isnan(none.observed));
  BOOST_TEST(std::isnan(none.expected));
  BOOST_TEST(cu::cohen_kappa(std::vector<cu::Decision>{}, std::vector<cu::Decision>{}).items == 0);

  // Sizes that differ, and a byte that is no decision.
  BOOST_TEST(refuses_saying([] { cu::cohen_kappa(std::vector{A, R, A}, std::vector{A, R}); },
                            {"selfsup::curate::cohen_kappa:", "rater a has 3", "rater b 2"}));
  BOOST_TEST(refuses_saying([] { cu::cohen_kappa(std::vector{A, static_cast<cu::Decision>(7)}, std::vector{A, R}); },
                            {"selfsup::curate::cohen_kappa:", "a[1] is Decision(7)"}));
}

BOOST_AUTO_TEST_CASE(fleiss_kappa_of_three_and_four_raters) {
  // Three raters, six items; item 5 is undecided by rater 0 and left out. Accepts per counted
  // item n_i = 3, 2, 1, 0, 2; P_i = (n_i² + (3 − n_i)² − 3) / (3·2):
  //   n 3: (9 + 0 − 3) / 6 = 1;  n 2: (4 + 1 − 3) / 6 = 1/3;  n 1: 1/3;  n 0: 1;  n 2: 1/3
  //   observed = (1 + 1/3 + 1/3 + 1 + 1/3) / 5 = 3/5
  //   p = (3 + 2 + 1 + 0 + 2) / (5·3) = 8/15; expected = (8/15)² + (7/15)² = (64 + 49) / 225 = 113/225
  //   kappa = (3/5 − 113/225) / (1 − 113/225) = (135 − 113) / 112 = 22/112 = 11/56
  const std::vector<std::vector<cu::Decision>> three{
      {A, A, A, R, A, U},
      {A, A, R, R, A, A},
      {A, R, R, R, R, A},
  };
  const auto k3 = cu::fleiss_kappa(three);
  BOOST_TEST(k3.items == 5);
  BOOST_TEST(k3.observed == 0.6, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(k3.expected == 113.0 / 225.0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(k3.value == 11.0 / 56.0, boost::test_tools::tolerance(1e-13));

  // Four raters, accepts per item n_i = 4, 3, 2, 0, 1, 4; P_i = (n_i² + (4 − n_i)² − 4) / 12:
  //   1, 6/12, 4/12, 1, 6/12, 1 -> observed = (4 + 1/3) / 6 = 13/18
  //   p = 14/24 = 7/12; expected = 49/144 + 25/144 = 37/72
  //   kappa = (52/72 − 37/72) / (35/72) = 15/35 = 3/7
  const std::vector<std::vector<cu::Decision>> four{
      {A, A, A, R, A, A},
      {A, A, A, R, R, A},
      {A, A, R, R, R, A},
      {A, R, R, R, R, A},
  };
  const auto k4 = cu::fleiss_kappa(four);
  BOOST_TEST(k4.items == 6);
  BOOST_TEST(k4.observed == 13.0 / 18.0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(k4.expected == 37.0 / 72.0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(k4.value == 3.0 / 7.0, boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(fleiss_kappa_of_two_raters_is_scotts_pi) {
  // The 20/5/10/15 table again: Cohen's kappa is 0.4, Fleiss' is Scott's pi. P_i is 1 on the
  // 35 agreed items and 0 on the 15 others: observed 0.7. Pooled accepts (25 + 30) / 100 = 0.55:
  // expected = 0.55² + 0.45² = 0.3025 + 0.2025 = 0.505; kappa = 0.195 / 0.495 = 13/33.
  std::vector<cu::Decision> a, b;
  append_table(a, b, 20, 5, 10, 15);
  const std::vector<std::vector<cu::Decision>> two{a, b};
  const auto k = cu::fleiss_kappa(two);
  BOOST_TEST(k.items == 50);
  BOOST_TEST(k.observed == 0.7, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(k.expected == 0.505, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(k.value == 13.0 / 33.0, boost::test_tools::tolerance(1e-13));
  BOOST_TEST(std::abs(k.value - cu::cohen_kappa(a, b).value) > 0.005);

  // Perfect agreement of three raters with both categories in use: 1.
  const std::vector<std::vector<cu::Decision>> agreed{{A, R, R}, {A, R, R}, {A, R, R}};
  BOOST_TEST(cu::fleiss_kappa(agreed).value == 1.0, boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(fleiss_kappa_undefined_and_refused) {
  // Every counted decision an accept: expected 1, NaN.
  const std::vector<std::vector<cu::Decision>> all_accept{{A, A, U}, {A, A, R}, {A, A, R}};
  const auto k = cu::fleiss_kappa(all_accept);
  BOOST_TEST(k.items == 2);
  BOOST_TEST(k.observed == 1.0);
  BOOST_TEST(k.expected == 1.0);
  BOOST_TEST(std::isnan(k.value));
  // No item decided by every rater.
  const std::vector<std::vector<cu::Decision>> none{{U, A}, {A, U}};
  BOOST_TEST(cu::fleiss_kappa(none).items == 0);
  BOOST_TEST(std::isnan(cu::fleiss_kappa(none).value));

  const std::vector<std::vector<cu::Decision>> one{{A, R}};
  BOOST_TEST(refuses_saying([&] { cu::fleiss_kappa(one); },
                            {"selfsup::curate::fleiss_kappa:", "at least 2 raters, got 1"}));
  const std::vector<std::vector<cu::Decision>> ragged{{A, R}, {A, R}, {A}};
  BOOST_TEST(refuses_saying([&] { cu::fleiss_kappa(ragged); },
                            {"selfsup::curate::fleiss_kappa:", "rater 0 has 2", "rater 2 1"}));
}

BOOST_AUTO_TEST_CASE(combine_under_each_rule) {
  struct Case {
    std::vector<cu::Decision> votes;
    cu::Decision all, any, majority;
  };
  const std::vector<Case> cases{
      {{A, A, A}, A, A, A},
      {{A, A, R}, R, A, A},  // 2 of 3 is a majority
      {{A, R, R}, R, A, R},
      {{R, R, R}, R, R, R},
      {{A, A, U}, R, A, A},  // an undecided rater did not accept: not all; 2 of 3 still a majority
      {{A, U, U}, R, A, R},  // 1 of 3 is no majority, though the only decided rater accepted
      {{R, U, U}, R, R, R},
      {{A, A, R, R}, R, A, R},  // a tie is no majority
      {{A, A, A, U}, R, A, A},  // 3 of 4
      {{U, U, U}, U, U, U},     // nobody decided
      {{A}, A, A, A},
      {{}, U, U, U},  // no raters
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    BOOST_TEST_CONTEXT("case " << i) {
      const auto& c = cases[i];
      BOOST_TEST((cu::combine(c.votes, cu::AgreeRule::all) == c.all));
      BOOST_TEST((cu::combine(c.votes, cu::AgreeRule::any) == c.any));
      BOOST_TEST((cu::combine(c.votes, cu::AgreeRule::majority) == c.majority));
    }
  }
  BOOST_TEST(refuses_saying([] { cu::combine(std::vector{A, static_cast<cu::Decision>(3)}, cu::AgreeRule::any); },
                            {"selfsup::curate::combine:", "per_rater[1]"}));
}

BOOST_AUTO_TEST_CASE(agree_rule_names) {
  BOOST_TEST((cu::parse_agree_rule("all") == cu::AgreeRule::all));
  BOOST_TEST((cu::parse_agree_rule("any") == cu::AgreeRule::any));
  BOOST_TEST((cu::parse_agree_rule("majority") == cu::AgreeRule::majority));
  BOOST_TEST(refuses_saying([] { cu::parse_agree_rule("most"); },
                            {"selfsup::curate::parse_agree_rule:", "--agree", "all, any or majority", "'most'"}));
  BOOST_TEST(refuses_saying([] { cu::parse_agree_rule("All"); }, {"--agree", "'All'"}));
  BOOST_TEST(refuses_saying([] { cu::parse_agree_rule(""); }, {"--agree", "''"}));
}

BOOST_AUTO_TEST_CASE(hubness_of_k_occurrences) {
  // Five images, k = 1 (Σ N_k = 5 = n·k): N_k = 0 0 0 1 4. μ = 1; deviations −1 −1 −1 0 3;
  // σ² = (1 + 1 + 1 + 0 + 9) / 5 = 2.4; third moment (−1 − 1 − 1 + 0 + 27) / 5 = 4.8;
  // skewness = 4.8 / 2.4^1.5 = 2 / √2.4 ≈ 1.2909944487.
  const auto h = cu::hubness(std::vector<std::int64_t>{0, 0, 0, 1, 4});
  BOOST_TEST(h.images == 5);
  BOOST_TEST(h.never_chosen == 3);
  BOOST_TEST(h.max_occurrence == 4);
  BOOST_TEST(h.skewness == 2.0 / std::sqrt(2.4), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(h.skewness == 1.2909944487358056, boost::test_tools::tolerance(1e-14));
  // Mirrored (N ↦ 4 − N): the same magnitude, negative.
  BOOST_TEST(cu::hubness(std::vector<std::int64_t>{4, 4, 4, 3, 0}).skewness == -2.0 / std::sqrt(2.4),
             boost::test_tools::tolerance(1e-14));
  // Symmetric about the mean 1 (deviations −1 1 0 0): skewness 0.
  const auto symmetric = cu::hubness(std::vector<std::int64_t>{0, 2, 1, 1});
  BOOST_TEST(std::abs(symmetric.skewness) < 1e-15);
  BOOST_TEST(symmetric.never_chosen == 1);
  // Every image chosen equally often: σ = 0, skewness NaN.
  const auto flat = cu::hubness(std::vector<std::int64_t>{2, 2, 2});
  BOOST_TEST(std::isnan(flat.skewness));
  BOOST_TEST(flat.never_chosen == 0);
  BOOST_TEST(flat.max_occurrence == 2);
  BOOST_TEST(std::isnan(cu::hubness(std::vector<std::int64_t>{0}).skewness));
  BOOST_TEST(cu::hubness(std::vector<std::int64_t>{0}).never_chosen == 1);

  BOOST_TEST(refuses_saying([] { cu::hubness(std::vector<std::int64_t>{}); },
                            {"selfsup::curate::hubness:", "empty"}));
  BOOST_TEST(refuses_saying([] { cu::hubness(std::vector<std::int64_t>{1, -2}); },
                            {"selfsup::curate::hubness:", "k_occurrence[1] is -2"}));
}

BOOST_AUTO_TEST_SUITE_END()
