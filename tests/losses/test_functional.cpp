#include "../support.hpp"

#include <selfsup/losses/functional.hpp>

#include <boost/test/unit_test.hpp>

#include <limits>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
namespace fn = selfsup::functional;

BOOST_AUTO_TEST_SUITE(losses)

// Value and gradient against PyTorch's cross-entropy formulation, float64.
BOOST_AUTO_TEST_CASE(nt_xent_matches_reference) {
  for (int c = 0; c < 3; ++c) {
    const auto p = "nt_xent." + std::to_string(c) + ".";
    auto z0 = reference(p + "z0").requires_grad_(true);
    auto z1 = reference(p + "z1").requires_grad_(true);
    const double t = reference(p + "temperature").item<double>();
    auto loss = fn::nt_xent(z0, z1, {.temperature = t});
    BOOST_TEST(loss.dim() == 0);
    BOOST_TEST(max_abs_diff(loss, reference(p + "loss").squeeze()) < 1e-12);
    loss.backward();
    BOOST_TEST(max_abs_diff(z0.grad(), reference(p + "grad_z0")) < 1e-12);
    BOOST_TEST(max_abs_diff(z1.grad(), reference(p + "grad_z1")) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(nt_xent_float32_and_default_temperature) {
  auto z0 = reference("nt_xent.0.z0"), z1 = reference("nt_xent.0.z1");  // temperature 0.5
  auto loss = fn::nt_xent(z0.to(torch::kFloat32), z1.to(torch::kFloat32));
  BOOST_TEST(loss.scalar_type() == torch::kFloat32);
  BOOST_TEST(max_abs_diff(loss, reference("nt_xent.0.loss").squeeze()) < 1e-5);
}

BOOST_AUTO_TEST_CASE(barlow_twins_matches_reference) {
  for (int c = 0; c < 2; ++c) {
    const auto p = "barlow." + std::to_string(c) + ".";
    auto z0 = reference(p + "z0").requires_grad_(true);
    auto z1 = reference(p + "z1").requires_grad_(true);
    const double lambda = reference(p + "lambda").item<double>();
    auto loss = fn::barlow_twins(z0, z1, {.lambda = lambda});
    BOOST_TEST(max_abs_diff(loss, reference(p + "loss").squeeze()) < 1e-10);
    loss.backward();
    BOOST_TEST(max_abs_diff(z0.grad(), reference(p + "grad_z0")) < 1e-10);
    BOOST_TEST(max_abs_diff(z1.grad(), reference(p + "grad_z1")) < 1e-10);
  }
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_with_the_function_name) {
  using selfsup::test::throws_with;
  auto a = torch::randn({4, 3}), b = torch::randn({4, 3});
  BOOST_TEST(throws_with([&] { fn::nt_xent(a, torch::randn({5, 3})); }, "nt_xent: z0 and z1 must have the same shape"));
  BOOST_TEST(throws_with([&] { fn::nt_xent(a.narrow(0, 0, 1), b.narrow(0, 0, 1)); }, "at least 2 samples"));
  BOOST_TEST(throws_with([&] { fn::nt_xent(a.to(torch::kLong), b.to(torch::kLong)); }, "floating dtype"));
  BOOST_TEST(throws_with([&] { fn::nt_xent(a, b, {.temperature = 0.0}); }, "temperature must be positive"));
  BOOST_TEST(throws_with([&] { fn::nt_xent(a, b, {.temperature = -1.0}); }, "temperature must be positive"));
  BOOST_TEST(throws_with([&] { fn::nt_xent(a.flatten(), b.flatten()); }, "must have 2 dimensions"));
  auto nan = a.clone();
  nan[1][2] = std::numeric_limits<float>::quiet_NaN();
  BOOST_TEST(throws_with([&] { fn::nt_xent(nan, b); }, "nt_xent: z0 contains NaN"));
  BOOST_TEST(throws_with([&] { fn::barlow_twins(a, nan); }, "barlow_twins: z1 contains NaN"));
  BOOST_TEST(throws_with([&] { fn::barlow_twins(a, b, {.lambda = -1}); }, "lambda must be non-negative"));
  BOOST_TEST(throws_with([&] { fn::nt_xent(a, b.to(torch::kFloat64)); }, "same dtype"));
}

BOOST_AUTO_TEST_CASE(runs_on_every_device) {
  for (const auto& device : selfsup::test::devices()) {
    auto z0 = reference("nt_xent.1.z0").to(device), z1 = reference("nt_xent.1.z1").to(device);
    auto loss = fn::nt_xent(z0, z1, {.temperature = reference("nt_xent.1.temperature").item<double>()});
    BOOST_TEST(loss.device() == device);
    BOOST_TEST(max_abs_diff(loss, reference("nt_xent.1.loss").squeeze()) < 1e-10);
  }
}

BOOST_AUTO_TEST_SUITE_END()
