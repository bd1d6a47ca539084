#include "../support.hpp"

#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/data/in_memory.hpp>
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

// Weights exp(s / T) overflow float once s / T > 88: at T = 1e-6 every neighbour weighed inf and
// the vote was arbitrary. In the limit T -> 0 the weighted vote is the nearest neighbour's label,
// computed here on its own (argmax of the cosine similarity).
BOOST_AUTO_TEST_CASE(any_temperature_is_finite_and_tends_to_the_nearest_neighbour) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 3);
  auto train = torch::randn({300, 8}, gen, torch::kFloat32);
  auto train_y = torch::randint(0, 6, {300}, gen, torch::kLong);
  auto test = torch::randn({200, 8}, gen, torch::kFloat32);
  auto test_y = torch::randint(0, 6, {200}, gen, torch::kLong);
  auto unit = [](const torch::Tensor& x) { return x / x.norm(2, 1, true); };
  auto nearest = unit(test).mm(unit(train).t()).argmax(1);
  const double one_nn = train_y.index_select(0, nearest).eq(test_y).to(torch::kFloat64).mean().item<double>();
  for (double t : {1e-6, 0.005, 0.01}) {
    auto r = eval::knn_classify(train, train_y, test, test_y, {.k = 20, .temperature = t});
    BOOST_TEST_CONTEXT("T = " << t) {
      BOOST_TEST(std::isfinite(r.top1));
      if (t == 1e-6) {
        BOOST_TEST(r.top1 == one_nn);
        BOOST_TEST(r.top5 == one_nn);  // one class gets a vote: no others to rank
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(top5_counts_only_classes_with_votes) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 4);
  auto x = torch::randn({100, 4}, gen, torch::kFloat32);
  auto y = torch::randint(0, 10, {100}, gen, torch::kLong);
  auto q = torch::randn({50, 4}, gen, torch::kFloat32);
  auto qy = torch::randint(0, 10, {50}, gen, torch::kLong);
  auto r = eval::knn_classify(x, y, q, qy, {.k = 1});
  BOOST_TEST(r.top5 == r.top1);  // k = 1: one class voted for, so top-5 is top-1
}

BOOST_AUTO_TEST_CASE(degenerate_data_is_refused_by_name) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 5);
  auto x = torch::randn({10, 4}, gen, torch::kFloat32);
  auto y = torch::arange(10, torch::kLong).remainder(2);
  BOOST_TEST(throws_with([&] { eval::knn_classify(x, y, x, y, {.k = 11}); }, "the training set has 10 samples"));
  BOOST_TEST(throws_with([&] { eval::knn_classify(x, torch::zeros_like(y), x, y, {.k = 3}); }, "a single class"));
  auto bad = x.clone();
  bad[3][1] = std::nan("");
  BOOST_TEST(throws_with([&] { eval::knn_classify(bad, y, x, y, {.k = 3}); }, "NaN or infinite"));
  BOOST_TEST(throws_with([&] { eval::knn_classify(x, y, bad, y, {.k = 3}); }, "NaN or infinite"));
}

namespace {
using Normed = selfsup::test::PlainNormEncoder;  // in training mode its features depend on the batch
}  // namespace

// Features (plain or of transformed views, as evaluate's alignment uses) never depend on the
// batch size: data::embed runs the encoder in evaluation mode, and restores its mode after.
BOOST_AUTO_TEST_CASE(embedding_does_not_depend_on_the_batch) {
  torch::manual_seed(0);
  Normed encoder;
  {  // running statistics away from their initial values
    torch::NoGradGuard no_grad;
    encoder->train(true);
    for (int i = 0; i < 3; ++i) encoder->forward(torch::rand({8, 3, 8, 8}) * 3 + 1);
  }
  auto gen = selfsup::detail::make_generator(torch::kCPU, 6);
  auto images = torch::randint(0, 256, {9, 3, 8, 8}, gen, torch::kLong).to(torch::kUInt8);
  selfsup::data::InMemoryDataset data(images, torch::zeros({9}, torch::kLong));
  auto flip = [](const torch::Tensor& x) { return x.flip({3}); };
  const auto one = selfsup::data::embed(encoder, data, 1, {}, flip);
  const auto all = selfsup::data::embed(encoder, data, 9, {}, flip);
  const auto four = selfsup::data::embed(encoder, data, 4);
  BOOST_TEST(encoder->is_training());  // restored
  BOOST_TEST(torch::allclose(one, all, 1e-5, 1e-6));
  BOOST_TEST(!torch::allclose(four, all, 1e-5, 1e-6));  // the flip was applied
}

BOOST_AUTO_TEST_SUITE_END()
