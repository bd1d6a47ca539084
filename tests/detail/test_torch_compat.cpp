// detail/torch_compat.hpp: each difference between LibTorch 1.13 and 2.x, checked against
// LibTorch's own API on the version that builds it (both branches run in CI: Debian 12's 1.13,
// Debian 13's 2.6). The attention paths are checked in tests/models.
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/distributed/init.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <type_traits>

namespace sd = selfsup::detail;

BOOST_AUTO_TEST_SUITE(detail_tests)

BOOST_AUTO_TEST_CASE(version_and_features) {
  BOOST_TEST(sd::torch_version / 10000 == TORCH_VERSION_MAJOR);
  BOOST_TEST(sd::torch_version % 10000 / 100 == TORCH_VERSION_MINOR);
  BOOST_TEST(sd::fused_attention_available == (TORCH_VERSION_MAJOR >= 2));
  // c10d's process groups derive from the class the communicator holds.
#if SELFSUP_DETAIL_GLOO
  static_assert(std::is_base_of_v<sd::C10dBackend, c10d::ProcessGroupGloo>);
#endif
#if defined(SELFSUP_WITH_NCCL)
  static_assert(std::is_base_of_v<sd::C10dBackend, c10d::ProcessGroupNCCL>);
#endif
  BOOST_TEST(sd::c10d_gloo_available == (SELFSUP_DETAIL_GLOO == 1));
  BOOST_TEST_MESSAGE("LibTorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH
                                 << (sd::c10d_nccl_available ? ", NCCL" : ", no NCCL")
                                 << (sd::c10d_gloo_available ? ", Gloo" : ", no Gloo"));
}

// The key finds the state the optimiser keeps for a parameter (a string in 1.x, the address in 2.x).
BOOST_AUTO_TEST_CASE(optimizer_state_key_finds_a_parameters_state) {
  auto p = torch::ones({3}, torch::requires_grad());
  auto q = torch::ones({2}, torch::requires_grad());
  torch::optim::SGD sgd({p, q}, torch::optim::SGDOptions(0.1).momentum(0.9));
  (p.sum() * 2).backward();
  sgd.step();  // q has no gradient: no state
  const auto& state = sgd.state();
  BOOST_REQUIRE(state.count(sd::optimizer_state_key(p)) == 1);
  BOOST_TEST(state.count(sd::optimizer_state_key(q)) == 0);
  const auto& momentum = static_cast<const torch::optim::SGDParamState&>(*state.at(sd::optimizer_state_key(p)));
  BOOST_TEST(torch::allclose(momentum.momentum_buffer(), torch::full({3}, 2.0)));
}

// The guard turns CUDA bf16 autocast on and restores what was there, through the calls of the
// version at hand (TLS flags only: no GPU is needed).
BOOST_AUTO_TEST_CASE(cuda_bf16_autocast_guard_sets_and_restores) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  auto enabled = [] { return at::autocast::is_autocast_enabled(at::kCUDA); };
  auto dtype = [] { return at::autocast::get_autocast_dtype(at::kCUDA); };
#else
  auto enabled = [] { return at::autocast::is_enabled(); };
  auto dtype = [] { return at::autocast::get_autocast_gpu_dtype(); };
#endif
  const bool was = enabled();
  const auto was_dtype = dtype();
  BOOST_TEST(!was);
  {
    sd::CudaBf16Autocast off(false);
    BOOST_TEST(enabled() == was);
  }
  {
    sd::CudaBf16Autocast on(true);
    BOOST_TEST(enabled());
    BOOST_TEST(dtype() == at::kBFloat16);
  }
  BOOST_TEST(enabled() == was);
  BOOST_TEST(dtype() == was_dtype);
}

// A store is made whether or not this LibTorch has libuv (Debian's 2.6 has none, and 2.4 on asks
// for it by default); a client reaches the server on the port it chose.
BOOST_AUTO_TEST_CASE(tcp_store_is_made_with_or_without_libuv) {
  c10d::TCPStoreOptions options;
  options.port = 0;  // any free port
  options.isServer = true;
  options.waitWorkers = false;
  options.timeout = std::chrono::seconds(10);
  auto server = sd::make_tcp_store("127.0.0.1", options);
  const auto port = dynamic_cast<c10d::TCPStore&>(*server).getPort();
  BOOST_TEST(port > 0);
  c10d::TCPStoreOptions client_options = options;
  client_options.isServer = false;
  client_options.port = port;
  auto client = sd::make_tcp_store("127.0.0.1", client_options);
  client->set("selfsup/compat", std::vector<uint8_t>{1, 2, 3});
  BOOST_TEST((server->get("selfsup/compat") == std::vector<uint8_t>{1, 2, 3}));
  BOOST_TEST(server->add("selfsup/count", 2) == 2);
  BOOST_TEST(client->add("selfsup/count", 3) == 5);
}

BOOST_AUTO_TEST_CASE(generator_state_round_trip) {
  auto gen = sd::make_generator(torch::kCPU, 11);
  const auto state = sd::generator_state(gen);
  const auto a = torch::rand({5}, gen);
  sd::set_generator_state(gen, state);
  BOOST_TEST(torch::equal(torch::rand({5}, gen), a));
  auto same_seed = sd::make_generator(torch::kCPU, 11);
  BOOST_TEST(torch::equal(torch::rand({5}, same_seed), a));
}

BOOST_AUTO_TEST_SUITE_END()
