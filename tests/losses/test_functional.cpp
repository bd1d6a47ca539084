#include "../support.hpp"

#include <selfsup/losses/detail/similarity_cpu.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/losses/functional.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
namespace fn = selfsup::functional;

BOOST_AUTO_TEST_SUITE(losses_tests)

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

namespace {

// Loads the inputs `names` of reference case `prefix`, calls `loss` on them (float64, with
// gradients), and compares the value and every gradient with the reference.
template <class F>
void check_case(const std::string& prefix, const std::vector<std::string>& names, F&& loss,
                double tolerance = 1e-10) {
  std::vector<torch::Tensor> inputs;
  for (const auto& name : names) inputs.push_back(reference(prefix + "." + name).requires_grad_(true));
  auto value = loss(inputs);
  BOOST_TEST_CONTEXT(prefix) {
    BOOST_TEST(value.dim() == 0);
    BOOST_TEST(max_abs_diff(value, reference(prefix + ".loss").squeeze()) < tolerance);
    value.backward();
    for (size_t i = 0; i < names.size(); ++i) {
      BOOST_TEST_CONTEXT(names[i]) {
        BOOST_TEST(max_abs_diff(inputs[i].grad(), reference(prefix + ".grad_" + names[i])) < tolerance);
      }
    }
  }
}

double option(const std::string& name) { return reference(name).item<double>(); }

}  // namespace

BOOST_AUTO_TEST_CASE(info_nce_matches_reference) {
  for (int c = 0; c < 2; ++c) {
    const auto p = "info_nce." + std::to_string(c);
    check_case(p, {"query", "key", "negatives"}, [&](const auto& in) {
      return fn::info_nce(in[0], in[1], in[2], {.temperature = option(p + ".temperature")});
    });
  }
}

BOOST_AUTO_TEST_CASE(dcl_and_dclw_match_reference) {
  for (int c = 0; c < 2; ++c) {
    const auto p = "dcl." + std::to_string(c);
    check_case(p, {"z0", "z1"}, [&](const auto& in) {
      return fn::dcl(in[0], in[1], {.temperature = option(p + ".temperature")});
    });
    const auto w = "dclw." + std::to_string(c);
    check_case(w, {"z0", "z1"}, [&](const auto& in) {
      return fn::dclw(in[0], in[1], {.temperature = option(w + ".temperature"), .sigma = option(w + ".sigma")});
    });
  }
}

BOOST_AUTO_TEST_CASE(debiased_and_hard_negatives_match_reference) {
  for (int c = 0; c < 4; ++c) {
    const auto p = "debiased." + std::to_string(c);
    check_case(p, {"z0", "z1"}, [&](const auto& in) {
      return fn::debiased_nt_xent(in[0], in[1], {.temperature = option(p + ".temperature"),
                                                 .tau_plus = option(p + ".tau_plus")});
    });
  }
  for (int c = 0; c < 3; ++c) {
    const auto p = "hard." + std::to_string(c);
    check_case(p, {"z0", "z1"}, [&](const auto& in) {
      return fn::hard_nt_xent(in[0], in[1], {.temperature = option(p + ".temperature"),
                                             .tau_plus = option(p + ".tau_plus"),
                                             .beta = option(p + ".beta")});
    });
  }
}

BOOST_AUTO_TEST_CASE(supcon_matches_reference) {
  for (int c = 0; c < 3; ++c) {
    const auto p = "supcon." + std::to_string(c);
    auto labels = reference(p + ".labels").to(torch::kLong);
    check_case(p, {"features"}, [&](const auto& in) {
      return fn::supcon(in[0], labels, {.temperature = option(p + ".temperature"),
                                        .base_temperature = option(p + ".base_temperature")});
    });
  }
}

// With every label distinct and two views, SupCon's only positive is the partner view: it is
// NT-Xent scaled by τ / τ_base.
BOOST_AUTO_TEST_CASE(supcon_with_distinct_labels_is_scaled_nt_xent) {
  auto z0 = reference("nt_xent.0.z0"), z1 = reference("nt_xent.0.z1");
  auto labels = torch::arange(z0.size(0), torch::kLong);
  auto s = fn::supcon(torch::stack({z0, z1}, 1), labels, {.temperature = 0.5, .base_temperature = 0.25});
  BOOST_TEST(max_abs_diff(s, 2.0 * fn::nt_xent(z0, z1, {.temperature = 0.5})) < 1e-12);
}

BOOST_AUTO_TEST_CASE(negative_cosine_and_vicreg_match_reference) {
  check_case("negative_cosine.0", {"p", "z"}, [](const auto& in) { return fn::negative_cosine(in[0], in[1]); });
  for (int c = 0; c < 2; ++c) {
    const auto p = "vicreg." + std::to_string(c);
    check_case(p, {"z0", "z1"}, [&](const auto& in) {
      return fn::vicreg(in[0], in[1], {.invariance = option(p + ".invariance"), .variance = option(p + ".variance"),
                                       .covariance = option(p + ".covariance"), .eps = option(p + ".eps")});
    });
  }
}

BOOST_AUTO_TEST_CASE(grouped_nt_xent_matches_reference) {
  for (int c = 0; c < 2; ++c) {
    const auto p = "grouped." + std::to_string(c);
    auto groups = reference(p + ".groups").to(torch::kLong);
    for (int64_t block : {0, 3}) {
      check_case(p, {"z0", "z1"}, [&](const auto& in) {
        return fn::nt_xent_grouped(in[0], in[1], groups, {.temperature = option(p + ".temperature")}, block);
      });
    }
  }
  // Distinct groups remove nothing: plain NT-Xent.
  auto z0 = reference("nt_xent.0.z0"), z1 = reference("nt_xent.0.z1");
  auto distinct = torch::arange(z0.size(0), torch::kLong);
  BOOST_TEST(max_abs_diff(fn::nt_xent_grouped(z0, z1, distinct), fn::nt_xent(z0, z1)) < 1e-12);
}

// Row blocks change memory, not results: values and gradients equal the one-block computation,
// for block sizes that divide 2N, that do not, and of one row.
BOOST_AUTO_TEST_CASE(blocked_losses_match_the_references) {
  for (int64_t block : {1, 3, 4, 7, 16, 100}) {
    BOOST_TEST_CONTEXT("block " << block) {
      check_case("nt_xent.0", {"z0", "z1"}, [&](const auto& in) {
        return fn::nt_xent_blocked(in[0], in[1], {.temperature = option("nt_xent.0.temperature")}, block);
      });
      check_case("dcl.0", {"z0", "z1"}, [&](const auto& in) {
        return fn::dcl_blocked(in[0], in[1], {.temperature = option("dcl.0.temperature")}, block);
      });
    }
  }
}

// Small temperatures: the similarity exponentials would overflow float32 without a shift.
BOOST_AUTO_TEST_CASE(small_temperatures_stay_finite) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 3);
  auto z0 = torch::randn({64, 32}, gen, torch::kFloat64), z1 = torch::randn({64, 32}, gen, torch::kFloat64);
  for (double t : {0.05, 0.01, 0.005}) {
    BOOST_TEST_CONTEXT("temperature " << t) {
      auto exact = fn::nt_xent(z0, z1, {.temperature = t});
      auto single = fn::nt_xent(z0.to(torch::kFloat32), z1.to(torch::kFloat32), {.temperature = t});
      auto blocked = fn::nt_xent_blocked(z0.to(torch::kFloat32), z1.to(torch::kFloat32), {.temperature = t}, 8);
      BOOST_TEST(std::isfinite(single.item<double>()));
      BOOST_TEST(max_abs_diff(single, exact) < 1e-4 * std::max(1.0, exact.item<double>()));
      BOOST_TEST(max_abs_diff(blocked, exact) < 1e-4 * std::max(1.0, exact.item<double>()));
      auto debiased = fn::debiased_nt_xent(z0.to(torch::kFloat32), z1.to(torch::kFloat32), {.temperature = t});
      BOOST_TEST(std::isfinite(debiased.item<double>()));
      auto debiased_exact = fn::debiased_nt_xent(z0, z1, {.temperature = t});
      BOOST_TEST(max_abs_diff(debiased, debiased_exact) < 1e-4 * std::max(1.0, debiased_exact.item<double>()));
    }
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
  BOOST_TEST(throws_with([&] { fn::debiased_nt_xent(a, b, {.tau_plus = 1.0}); }, "debiased_nt_xent: tau_plus must be in [0, 1), got 1"));
  BOOST_TEST(throws_with([&] { fn::hard_nt_xent(a, b, {.tau_plus = -0.1}); }, "hard_nt_xent: tau_plus must be in [0, 1)"));
  BOOST_TEST(throws_with([&] { fn::hard_nt_xent(a, b, {.beta = -1}); }, "beta must be finite and non-negative"));
  BOOST_TEST(throws_with([&] { fn::dclw(a, b, {.sigma = 0}); }, "dclw: sigma must be positive"));
  BOOST_TEST(throws_with([&] { fn::dcl(nan, b); }, "dcl: z0 contains NaN"));
  BOOST_TEST(throws_with([&] { fn::info_nce(a, b, torch::randn({7, 4})); }, "info_nce: negatives must have shape (K, 3)"));
  BOOST_TEST(throws_with([&] { fn::info_nce(a, b, torch::randn({7, 3}), {.temperature = 0}); }, "info_nce: temperature must be positive"));
  BOOST_TEST(throws_with([&] { fn::supcon(torch::randn({4, 2, 3}), torch::zeros({5}, torch::kLong)); }, "supcon: features has 4 samples but labels has 5"));
  BOOST_TEST(throws_with([&] { fn::supcon(torch::randn({4, 3}), torch::zeros({4}, torch::kLong)); }, "supcon: features must have 3 dimensions"));
  BOOST_TEST(throws_with([&] { fn::supcon(torch::randn({4, 2, 3}), torch::zeros({4})); }, "supcon: labels must be int64"));
  BOOST_TEST(throws_with([&] { fn::negative_cosine(a, torch::randn({4, 2})); }, "negative_cosine: p and z must have the same shape"));
  BOOST_TEST(throws_with([&] { fn::vicreg(a, b, {.eps = 0}); }, "vicreg: eps must be positive"));
  BOOST_TEST(throws_with([&] { fn::nt_xent_grouped(a, b, torch::zeros({3}, torch::kLong)); }, "groups must be int64 of length N = 4"));
  BOOST_TEST(throws_with([&] { fn::nt_xent_blocked(a, b, {}, 0); }, "nt_xent_blocked: block must be >= 1"));
}

BOOST_AUTO_TEST_CASE(runs_on_every_device) {
  for (const auto& device : selfsup::test::devices()) {
    auto z0 = reference("nt_xent.1.z0").to(device), z1 = reference("nt_xent.1.z1").to(device);
    auto loss = fn::nt_xent(z0, z1, {.temperature = reference("nt_xent.1.temperature").item<double>()});
    BOOST_TEST(loss.device() == device);
    BOOST_TEST(max_abs_diff(loss, reference("nt_xent.1.loss").squeeze()) < 1e-10);
  }
}

namespace {

// Sends the contrastive losses through the tensor operations that other devices use, for the
// lifetime of the object.
struct TensorPath {
  TensorPath() { selfsup::losses::detail::cpu::fused_loops_enabled() = false; }
  ~TensorPath() { selfsup::losses::detail::cpu::fused_loops_enabled() = true; }
};

// Value and gradients of `loss` on (z0, z1) of the given dtype.
template <class F>
std::vector<torch::Tensor> value_and_grads(const torch::Tensor& a, const torch::Tensor& b,
                                           torch::ScalarType dtype, F&& loss) {
  auto z0 = a.to(dtype).clone().requires_grad_(true), z1 = b.to(dtype).clone().requires_grad_(true);
  auto value = loss(z0, z1);
  value.backward();
  return {value.detach(), z0.grad(), z1.grad()};
}

// The fused CPU passes and the tensor path give the same values and gradients.
template <class F>
void check_paths_agree(const torch::Tensor& a, const torch::Tensor& b, torch::ScalarType dtype,
                       F&& loss) {
  const auto fused = value_and_grads(a, b, dtype, loss);
  std::vector<torch::Tensor> tensor;
  {
    TensorPath path;
    tensor = value_and_grads(a, b, dtype, loss);
  }
  const double tolerance = dtype == torch::kFloat64 ? 1e-12 : 2e-5;
  for (size_t k = 0; k < fused.size(); ++k) {
    BOOST_TEST_CONTEXT("output " << k) {
      const double scale = std::max(1.0, tensor[k].abs().max().item<double>());
      BOOST_TEST(max_abs_diff(fused[k], tensor[k]) < tolerance * scale);
    }
  }
}

}  // namespace

// Every variant built on the shared denominator, in float32 and float64, with and without
// blocks, shifted three ways (large, small and very small temperatures).
BOOST_AUTO_TEST_CASE(fused_cpu_passes_match_the_tensor_path) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 11);
  auto a = torch::randn({37, 19}, gen, torch::kFloat64), b = torch::randn({37, 19}, gen, torch::kFloat64);
  auto groups = torch::randint(0, 9, {37}, gen, torch::kLong);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    for (double t : {0.5, 0.05, 0.004, 0.001}) {
      BOOST_TEST_CONTEXT("dtype " << dtype << ", temperature " << t) {
        check_paths_agree(a, b, dtype, [&](auto& x, auto& y) { return fn::nt_xent(x, y, {.temperature = t}); });
        check_paths_agree(a, b, dtype, [&](auto& x, auto& y) { return fn::dcl(x, y, {.temperature = t}); });
        check_paths_agree(a, b, dtype, [&](auto& x, auto& y) { return fn::dclw(x, y, {.temperature = t}); });
        for (int64_t block : {0, 5}) {
          check_paths_agree(a, b, dtype, [&](auto& x, auto& y) {
            return fn::nt_xent_grouped(x, y, groups, {.temperature = t}, block);
          });
        }
        for (int64_t block : {1, 16}) {
          check_paths_agree(a, b, dtype, [&](auto& x, auto& y) { return fn::nt_xent_blocked(x, y, {.temperature = t}, block); });
          check_paths_agree(a, b, dtype, [&](auto& x, auto& y) { return fn::dcl_blocked(x, y, {.temperature = t}, block); });
        }
      }
    }
  }
}

// The fused path normalises inside the loss; a zero row (norm below eps) behaves as
// torch::nn::functional::normalize makes it behave.
BOOST_AUTO_TEST_CASE(fused_normalisation_handles_zero_rows) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 14);
  auto a = torch::randn({9, 5}, gen, torch::kFloat64), b = torch::randn({9, 5}, gen, torch::kFloat64);
  a[3].zero_();
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    check_paths_agree(a, b, dtype, [](auto& x, auto& y) { return fn::nt_xent(x, y); });
    check_paths_agree(a, b, dtype, [](auto& x, auto& y) { return fn::dcl_blocked(x, y, {}, 4); });
  }
}

// With more threads the rows of the fused passes are shared among them; results do not change.
BOOST_AUTO_TEST_CASE(fused_cpu_passes_with_several_threads) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(4);
  auto gen = selfsup::detail::make_generator(torch::kCPU, 12);
  auto a = torch::randn({300, 24}, gen, torch::kFloat64), b = torch::randn({300, 24}, gen, torch::kFloat64);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    check_paths_agree(a, b, dtype, [](auto& x, auto& y) { return fn::nt_xent(x, y, {.temperature = 0.2}); });
    check_paths_agree(a, b, dtype, [](auto& x, auto& y) { return fn::nt_xent_blocked(x, y, {.temperature = 0.2}, 64); });
  }
  torch::set_num_threads(threads);
}

// The backward pass overwrites the saved exponentials; a second one through a retained graph
// recomputes them and gives the same gradient.
BOOST_AUTO_TEST_CASE(fused_backward_twice_through_a_retained_graph) {
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    for (double t : {0.5, 0.004}) {
      auto z0 = reference("nt_xent.0.z0").to(dtype).requires_grad_(true);
      auto z1 = reference("nt_xent.0.z1").to(dtype).requires_grad_(true);
      auto loss = fn::dcl(z0, z1, {.temperature = t});
      loss.backward({}, /*retain_graph=*/true);
      auto first = z0.grad().clone();
      z0.mutable_grad().zero_();
      loss.backward();
      BOOST_TEST(max_abs_diff(z0.grad(), first) == 0.0);
    }
  }
}

// The vector exponentials against the standard library's, on rows of every length up to 40
// (vector bodies and tails), with excluded (−inf) entries giving at most e^−87.
BOOST_AUTO_TEST_CASE(vector_exponentials_match_the_standard_library) {
  namespace cpu = selfsup::losses::detail::cpu;
  auto gen = selfsup::detail::make_generator(torch::kCPU, 13);
  for (auto isa : {cpu::Isa::scalar, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (!cpu::isa_available(isa)) continue;
    BOOST_TEST_CONTEXT("isa " << static_cast<int>(isa)) {
      for (int64_t len = 1; len <= 40; ++len) {
        auto x = torch::rand({len}, gen, torch::kFloat32) * 160.0 - 85.0;  // [−85, 75)
        if (len > 3) x[2] = -std::numeric_limits<float>::infinity();
        auto y = x.clone();
        const double sum = cpu::exp_affine<float>(y.data_ptr<float>(), len, 1.0, 0.0, isa);
        auto expected = x.to(torch::kFloat64).exp();
        auto relative = ((y.to(torch::kFloat64) - expected).abs() / expected.clamp_min(1e-30));
        if (len > 3) relative[2] = y[2].item<double>() <= 2e-38 ? 0.0 : 1.0;
        BOOST_TEST(relative.max().item<double>() < 3e-7);
        BOOST_TEST(std::abs(sum - expected.sum().item<double>()) < 1e-6 * expected.sum().item<double>());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(non_finite_inputs_are_rejected_on_every_path) {
  using selfsup::test::throws_with;
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16}) {
    auto a = torch::randn({4, 3}).to(dtype), b = torch::randn({4, 3}).to(dtype);
    auto inf = a.clone();
    inf[3][0] = std::numeric_limits<double>::infinity();
    BOOST_TEST(throws_with([&] { fn::nt_xent(inf, b); }, "nt_xent: z0 contains NaN or infinite"));
    auto nan = b.t().contiguous();
    nan[2][1] = -std::numeric_limits<double>::quiet_NaN();
    BOOST_TEST(throws_with([&] { fn::dcl(a, nan.t()); }, "dcl: z1 contains NaN or infinite"));
    if (dtype != torch::kBFloat16) {
      BOOST_TEST(!throws_with([&] { fn::dcl(a, b.t().contiguous().t()); }, "contains NaN"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
