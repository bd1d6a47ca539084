// selfsup::stats against values computed independently: closed forms of Student's t quantile for
// one and two degrees of freedom, published table values for the others, and means, deviations
// and intervals worked out by hand.
#include <selfsup/eval/statistics.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace st = selfsup::stats;

BOOST_AUTO_TEST_SUITE(eval_tests)

BOOST_AUTO_TEST_CASE(student_t_quantiles) {
  // One degree of freedom is the Cauchy distribution: t_p = tan(π (p − 1/2)).
  for (double p : {0.6, 0.9, 0.975, 0.995}) {
    BOOST_TEST(st::student_t_quantile(p, 1.0) == std::tan(std::numbers::pi * (p - 0.5)), boost::test_tools::tolerance(1e-10));
  }
  // Two: t_p = (2p − 1) / √(2p(1 − p)).
  for (double p : {0.6, 0.9, 0.975, 0.995}) {
    BOOST_TEST(st::student_t_quantile(p, 2.0) == (2 * p - 1) / std::sqrt(2 * p * (1 - p)), boost::test_tools::tolerance(1e-10));
  }
  // Table values of t(0.975, df).
  const std::vector<std::pair<double, double>> table = {{3, 3.182446305}, {4, 2.776445105}, {9, 2.262157163},
                                                        {10, 2.228138852}, {30, 2.042272456}};
  for (const auto& [df, t] : table) BOOST_TEST(st::student_t_quantile(0.975, df) == t, boost::test_tools::tolerance(1e-9));
  // Many degrees of freedom: the expansion of t about the normal quantile z (Cornish-Fisher).
  const double z = 1.959963984540054;
  for (double nu : {1e3, 1e4}) {
    const double t = z + (z * z * z + z) / (4 * nu) + (5 * std::pow(z, 5) + 16 * std::pow(z, 3) + 3 * z) / (96 * nu * nu) +
                     (3 * std::pow(z, 7) + 19 * std::pow(z, 5) + 17 * std::pow(z, 3) - 15 * z) / (384 * nu * nu * nu);
    BOOST_TEST(st::student_t_quantile(0.975, nu) == t, boost::test_tools::tolerance(1e-10));
  }
  BOOST_TEST(st::student_t_quantile(0.995, 7) == 3.499483297, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(st::student_t_quantile(0.025, 4) == -2.776445105, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(st::student_t_quantile(0.5, 4) == 0.0);
  // The distribution function: symmetric, and 3/4 at 1 for the Cauchy distribution.
  BOOST_TEST(st::student_t_cdf(1.0, 1.0) == 0.75, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(st::student_t_cdf(0.0, 5.0) == 0.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(st::student_t_cdf(-1.3, 6.0) + st::student_t_cdf(1.3, 6.0) == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_CHECK_THROW(st::student_t_quantile(1.0, 3.0), std::invalid_argument);
  BOOST_CHECK_THROW(st::student_t_quantile(0.9, 0.0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(summary_of_runs) {
  // {1, 2, 3, 4}: mean 2.5, squares about it 5, sd √(5/3), half-width t(0.975, 3) · sd / 2.
  const auto s = st::summarize(std::vector<double>{1, 2, 3, 4});
  BOOST_TEST(s.n == 4);
  BOOST_TEST(s.mean == 2.5, boost::test_tools::tolerance(1e-14));
  BOOST_TEST_REQUIRE(s.sd.has_value());
  BOOST_TEST(*s.sd == std::sqrt(5.0 / 3.0), boost::test_tools::tolerance(1e-14));
  BOOST_TEST_REQUIRE(s.ci95.has_value());
  BOOST_TEST(*s.ci95 == 3.182446305 * std::sqrt(5.0 / 3.0) / 2.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(s.interval_excludes_zero());  // [0.446, 4.554]

  // One run: a mean, no deviation and no interval (not NaN), and no claim about zero.
  const auto one = st::summarize(std::vector<double>{0.7});
  BOOST_TEST(one.mean == 0.7);
  BOOST_TEST(!one.sd.has_value());
  BOOST_TEST(!one.ci95.has_value());
  BOOST_TEST(!one.interval_excludes_zero());

  auto says = [](auto f, const std::string& text) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what()).find(text) != std::string::npos;
    }
    return false;
  };
  BOOST_TEST(says([] { st::summarize(std::vector<double>{}, "knn_top1"); }, "selfsup::stats::summarize: knn_top1 is empty"));
  BOOST_TEST(says([] { st::summarize(std::vector<double>{0.1, NAN}, "knn_top1"); }, "knn_top1[1] is nan"));
}

BOOST_AUTO_TEST_CASE(paired_differences) {
  // Three seeds that move both variants alike: the variant is ahead by 0.02, 0.025 and 0.015.
  const std::vector<double> baseline{0.30, 0.50, 0.70};
  const std::vector<double> variant{0.32, 0.525, 0.715};
  const auto d = st::paired_difference(variant, baseline);
  BOOST_TEST(d.mean == 0.02, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(*d.sd == 0.005, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(*d.ci95 == 4.302652730 * 0.005 / std::sqrt(3.0), boost::test_tools::tolerance(1e-8));
  BOOST_TEST(d.interval_excludes_zero());
  // Unpaired, the two intervals overlap: the spread between seeds hides the difference.
  const auto a = st::summarize(variant), b = st::summarize(baseline);
  BOOST_TEST(a.mean - *a.ci95 < b.mean + *b.ci95);
  // A difference within the noise: its interval includes zero.
  BOOST_TEST(!st::paired_difference(std::vector<double>{0.31, 0.49, 0.71}, baseline).interval_excludes_zero());
  BOOST_CHECK_THROW(st::paired_difference(std::vector<double>{0.1, 0.2}, baseline), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
