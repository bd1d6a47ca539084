#include "../support.hpp"

#include <selfsup/eval/diagnostics.hpp>
#include <selfsup/eval/linear_probe.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>

using selfsup::test::throws_with;
namespace eval = selfsup::eval;

BOOST_AUTO_TEST_SUITE(eval_tests)

// Alignment and uniformity computed pair by pair, the way Wang & Isola define them.
BOOST_AUTO_TEST_CASE(alignment_and_uniformity_by_definition) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 4);
  auto a = torch::randn({7, 3}, gen, torch::kFloat64), b = torch::randn({7, 3}, gen, torch::kFloat64);
  auto unit = [](torch::Tensor v) { return v / v.norm(); };
  double align = 0, uniform = 0;
  int pairs = 0;
  for (int i = 0; i < 7; ++i) {
    align += (unit(a[i]) - unit(b[i])).norm().pow(2).item<double>() / 7;
    for (int j = i + 1; j < 7; ++j, ++pairs) uniform += std::exp(-2 * (unit(a[i]) - unit(a[j])).pow(2).sum().item<double>());
  }
  BOOST_TEST(std::abs(eval::alignment(a, b) - align) < 1e-12);
  BOOST_TEST(std::abs(eval::uniformity(a) - std::log(uniform / pairs)) < 1e-12);
  BOOST_TEST(eval::alignment(a, a * 3) < 1e-12);  // scale does not matter
  BOOST_TEST(throws_with([&] { eval::alignment(a, b.narrow(0, 0, 3)); }, "alignment: z0 and z1 must have the same shape"));
}

BOOST_AUTO_TEST_CASE(collapse_shows_in_spread_and_rank) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 5);
  auto spread = torch::randn({500, 8}, gen, torch::kFloat64);
  auto collapsed = torch::randn({500, 1}, gen, torch::kFloat64) * torch::ones({1, 8}, torch::kFloat64) + 3;
  BOOST_TEST(eval::dimension_std(collapsed) < 1e-12);
  BOOST_TEST(std::abs(eval::dimension_std(spread) - 1 / std::sqrt(8.0)) < 0.02);
  BOOST_TEST(std::abs(eval::effective_rank(collapsed) - 1.0) < 1e-6);
  // Singular values 3, 1 (rows ±(3, 0), ±(0, 1) are already centred): p = (3/4, 1/4).
  auto two = torch::tensor({3.0, 0.0, -3.0, 0.0, 0.0, 1.0, 0.0, -1.0}, torch::kFloat64).view({4, 2});
  const double h = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25));
  BOOST_TEST(std::abs(eval::effective_rank(two) - std::exp(h)) < 1e-9);
}

BOOST_AUTO_TEST_CASE(pair_label_agreement_counts_matching_labels) {
  auto labels = torch::tensor({0, 0, 1, 1, 2}, torch::kLong);
  auto anchors = torch::tensor({0, 1, 2, 4}, torch::kLong), partners = torch::tensor({1, 2, 3, 0}, torch::kLong);
  BOOST_TEST(eval::pair_label_agreement(labels, anchors, partners) == 0.5);
  BOOST_TEST(throws_with([&] { eval::pair_label_agreement(torch::Tensor(), anchors, partners); }, "needs labels"));
}

BOOST_AUTO_TEST_CASE(linear_probe_separates_what_is_separable) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 6);
  auto centres = torch::randn({4, 10}, gen, torch::kFloat32) * 3;
  auto make = [&](int64_t n) {
    auto y = torch::arange(n, torch::kLong).remainder(4);
    return std::pair{centres.index_select(0, y) + torch::randn({n, 10}, gen, torch::kFloat32), y};
  };
  auto [x, y] = make(400);
  auto [xt, yt] = make(200);
  auto r = eval::linear_probe(x, y, xt, yt, {.max_iterations = 100});
  BOOST_TEST(r.top1 > 0.95);
  BOOST_TEST(r.top5 == 1.0);  // four classes
  BOOST_TEST(r.validation_top1 > 0.9);
  // Random labels: nothing to learn, test accuracy near chance.
  auto noise = torch::randint(0, 4, {400}, gen, torch::kLong);
  auto chance = eval::linear_probe(x, noise, xt, torch::randint(0, 4, {200}, gen, torch::kLong), {.max_iterations = 50});
  BOOST_TEST(chance.top1 < 0.4);
  BOOST_TEST(throws_with([&] { eval::linear_probe(x, torch::Tensor(), xt, yt); }, "linear_probe: needs labels"));
  BOOST_TEST(throws_with([&] { eval::linear_probe(x.narrow(0, 0, 2), y.narrow(0, 0, 2), xt, yt); }, "too small"));
}

BOOST_AUTO_TEST_SUITE_END()
