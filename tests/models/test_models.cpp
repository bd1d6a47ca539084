#include "../support.hpp"

#include <selfsup/models/models.hpp>

#include <boost/test/unit_test.hpp>

using selfsup::test::throws_with;
namespace models = selfsup::models;

BOOST_AUTO_TEST_SUITE(models_tests)

BOOST_AUTO_TEST_CASE(small_cnn_encoder_shapes) {
  for (const auto& device : selfsup::test::devices()) {
    auto e = models::make_small_cnn_encoder({.width = 8}, {.hidden_dim = 32, .out_dim = 16});
    e->to(device);
    auto x = torch::rand({4, 3, 32, 32}, device);
    BOOST_TEST(e->features(x).sizes() == torch::IntArrayRef({4, 64}));
    BOOST_TEST(e->forward(x).sizes() == torch::IntArrayRef({4, 16}));
    BOOST_TEST(e->forward(torch::rand({2, 3, 17, 23}, device)).sizes() == torch::IntArrayRef({2, 16}));
  }
  models::SmallCNN cnn(models::SmallCNNOptions{.width = 4});
  BOOST_TEST(throws_with([&] { cnn->forward(torch::rand({2, 1, 8, 8})); }, "SmallCNN: expected input (B, 3, H, W)"));
  BOOST_TEST(throws_with([] { models::Projector(0, models::ProjectorOptions{}); }, "Projector: dimensions must be positive"));
}

BOOST_AUTO_TEST_CASE(projector_layers) {
  models::Projector one(10, models::ProjectorOptions{.out_dim = 3, .layers = 1});
  BOOST_TEST(one->parameters().size() == 2u);  // one Linear: weight and bias
  models::Projector three(10, models::ProjectorOptions{.hidden_dim = 6, .out_dim = 3, .layers = 3});
  // Two Linear (no bias) + BN (weight, bias) blocks, then a Linear with bias.
  BOOST_TEST(three->parameters().size() == 8u);
  BOOST_TEST(three->forward(torch::rand({5, 10})).sizes() == torch::IntArrayRef({5, 3}));
}

BOOST_AUTO_TEST_SUITE_END()
