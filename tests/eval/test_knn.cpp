#include "../support.hpp"

#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/eval/knn.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>

using selfsup::test::throws_with;
namespace eval = selfsup::eval;

BOOST_AUTO_TEST_SUITE(eval_tests)

// A case small enough to vote by hand. Training points on the unit circle at angles 0°, 10°
// (class 0), 90° (class 1), 180° (class 2); query at 45°, k = 3, T = 1:
// class 0 gets e^{cos 45°} + e^{cos 35°}, class 1 e^{cos 45°}; class 2 is not among the 3 nearest.
BOOST_AUTO_TEST_CASE(weighted_vote_by_hand) {
  auto deg = [](double d) { return d * M_PI / 180.0; };
  auto point = [&](double d) { return std::vector<double>{std::cos(deg(d)), std::sin(deg(d))}; };
  std::vector<double> flat;
  for (double d : {0.0, 10.0, 90.0, 180.0}) for (double v : point(d)) flat.push_back(v);
  auto train = torch::tensor(flat).view({4, 2});
  auto train_y = torch::tensor({0, 0, 1, 2}, torch::kLong);
  // Scaled queries: normalisation is part of the method.
  auto query = torch::tensor({3 * std::cos(deg(45)), 3 * std::sin(deg(45)),   // -> class 0
                              std::cos(deg(120)), std::sin(deg(120))}).view({2, 2});  // -> class 1
  auto r = eval::knn_classify(train, train_y, query, torch::tensor({0, 2}, torch::kLong),
                              {.k = 3, .temperature = 1.0});
  BOOST_TEST(r.top1 == 0.5);  // the second query's label 2 loses to class 1 (90° is nearest)
  BOOST_TEST(r.top5 == 1.0);  // ... but class 2 is among the top classes
  // With k = 1 the 120° query votes for 90° alone.
  auto r1 = eval::knn_classify(train, train_y, query, torch::tensor({0, 1}, torch::kLong), {.k = 1});
  BOOST_TEST(r1.top1 == 1.0);
}

BOOST_AUTO_TEST_CASE(separable_clusters_and_blocks) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 1);
  auto centres = torch::randn({5, 16}, gen, torch::kFloat32) * 10;
  auto y = torch::arange(500, torch::kLong).remainder(5);
  auto x = centres.index_select(0, y) + torch::randn({500, 16}, gen, torch::kFloat32) * 0.1;
  auto full = eval::knn_classify(x, y, x, y, {.k = 20, .block = 1000});
  auto blocked = eval::knn_classify(x, y, x, y, {.k = 20, .block = 7});
  BOOST_TEST(full.top1 == 1.0);
  BOOST_TEST(blocked.top1 == full.top1);
  BOOST_TEST(throws_with([&] { eval::knn_classify(x, torch::Tensor(), x, y); }, "knn_classify: needs labels"));
  BOOST_TEST(throws_with([&] { eval::knn_classify(x, y, x.narrow(1, 0, 3), y); }, "same width"));
}

BOOST_AUTO_TEST_SUITE_END()
