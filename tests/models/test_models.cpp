#include "../support.hpp"

#include <selfsup/models/models.hpp>

#include <cmath>

#include <boost/test/unit_test.hpp>

using selfsup::test::max_abs_diff;
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

// LibTorch's own BatchNorm layers are found wherever they sit (the trainer refuses them under data
// parallel); selfsup's models, whose BatchNorm is synchronised, have none.
BOOST_AUTO_TEST_CASE(plain_batch_norm_is_found_by_path) {
  BOOST_TEST(!models::plain_batch_norm(*models::make_small_cnn_encoder()).has_value());
  BOOST_TEST(!models::plain_batch_norm(*models::make_resnet_encoder({.depth = 18, .width = 8}, {})).has_value());
  torch::nn::Module outer;
  outer.register_module("conv", torch::nn::Conv2d(3, 3, 1));
  outer.register_module("norm", models::BatchNorm2d(3));
  outer.register_module("head", torch::nn::Sequential(torch::nn::Linear(4, 4), torch::nn::BatchNorm1d(4)));
  BOOST_TEST(models::plain_batch_norm(outer).value_or("none") == "head.1 (torch::nn::BatchNorm1d)");
  BOOST_TEST(models::plain_batch_norm(*torch::nn::BatchNorm3d(2)).value_or("none") ==
             "the module itself (torch::nn::BatchNorm3d)");
  torch::nn::Sequential selfsup_only(torch::nn::Linear(4, 4), models::BatchNorm1d(4));
  BOOST_TEST(!models::plain_batch_norm(*selfsup_only).has_value());
}

BOOST_AUTO_TEST_CASE(projector_layers) {
  models::Projector one(10, models::ProjectorOptions{.out_dim = 3, .layers = 1});
  BOOST_TEST(one->parameters().size() == 2u);  // one Linear: weight and bias
  models::Projector three(10, models::ProjectorOptions{.hidden_dim = 6, .out_dim = 3, .layers = 3});
  // Two Linear (no bias) + BN (weight, bias) blocks, then a Linear with bias.
  BOOST_TEST(three->parameters().size() == 8u);
  BOOST_TEST(three->forward(torch::rand({5, 10})).sizes() == torch::IntArrayRef({5, 3}));
}


BOOST_AUTO_TEST_CASE(resnet_depths_stems_and_widths) {
  struct Case { int64_t depth; bool cifar; int64_t width; int64_t size; int64_t out; };
  for (const auto& c : {Case{18, true, 8, 32, 64}, Case{34, false, 4, 64, 32}, Case{50, true, 4, 32, 128}}) {
    BOOST_TEST_CONTEXT("ResNet-" << c.depth) {
      models::ResNet net(models::ResNetOptions{.depth = c.depth, .cifar_stem = c.cifar, .width = c.width});
      BOOST_TEST(net->out_dim() == c.out);
      BOOST_TEST(net->forward(torch::rand({2, 3, c.size, c.size})).sizes() == torch::IntArrayRef({2, c.out}));
    }
  }
  // Parameter counts of the standard networks (width 64, 1000-class head removed), as torchvision
  // reports them: ResNet-18 11,689,512 - 513,000 (fc) = 11,176,512; ResNet-50 25,557,032 -
  // 2,049,000 = 23,508,032.
  auto count = [](models::ResNet& n) {
    int64_t c = 0;
    for (auto& p : n->parameters()) c += p.numel();
    return c;
  };
  models::ResNet r18(models::ResNetOptions{.depth = 18});
  models::ResNet r50(models::ResNetOptions{.depth = 50});
  BOOST_TEST(count(r18) == 11176512);
  BOOST_TEST(count(r50) == 23508032);
  BOOST_TEST(throws_with([] { models::ResNet(models::ResNetOptions{.depth = 20}); }, "ResNet: depth must be 18, 34 or 50, got 20"));
}

BOOST_AUTO_TEST_CASE(heads_follow_the_papers) {
  BOOST_TEST(models::heads::byol_projector.hidden_dim == 4096);
  BOOST_TEST(models::heads::byol_projector.out_dim == 256);
  models::Projector simsiam(2048, models::heads::simsiam_projector);
  // 3 Linear (no bias: BN follows each) + 2 affine BN + a last BN without affine parameters.
  BOOST_TEST(simsiam->parameters().size() == 3u + 4u);
  models::Projector moco(2048, models::heads::moco_v2);
  BOOST_TEST(moco->parameters().size() == 4u);  // two Linear layers with bias, no BN
}

// The target is an exact copy at the start and then follows θ by ξ ← m·ξ + (1 − m)·θ with
// m = 1 − (1 − m₀)(cos(πk/K) + 1)/2.
BOOST_AUTO_TEST_CASE(momentum_target_is_an_ema) {
  auto e = models::make_small_cnn_encoder({.width = 4}, models::EncoderOptions{
      .projector = {.hidden_dim = 8, .out_dim = 4}, .predictor = models::ProjectorOptions{.hidden_dim = 8, .out_dim = 4},
      .momentum_target = true, .momentum = 0.9});
  BOOST_TEST(e->has_target());
  BOOST_TEST(e->has_predictor());
  auto online = e->backbone->parameters(), target = e->target_backbone->parameters();
  for (size_t i = 0; i < online.size(); ++i) {
    BOOST_TEST(torch::equal(online[i], target[i]));
    BOOST_TEST(!target[i].requires_grad());
  }
  std::vector<torch::Tensor> before;
  {
    torch::NoGradGuard g;
    for (auto& p : online) p.add_(torch::randn_like(p));
    for (auto& t : target) before.push_back(t.clone());
  }
  const double progress = 0.25;
  const double m = 1.0 - (1.0 - 0.9) * (std::cos(M_PI * progress) + 1.0) / 2.0;
  BOOST_TEST(std::abs(e->momentum_at(progress) - m) < 1e-15);
  BOOST_TEST(e->momentum_at(1.0) == 1.0);
  e->update_target(progress);
  for (size_t i = 0; i < online.size(); ++i) {
    BOOST_TEST(max_abs_diff(target[i], m * before[i] + (1 - m) * online[i]) < 1e-6);
  }
  auto x = torch::rand({3, 3, 16, 16});
  BOOST_TEST(e->predict(e->forward(x)).sizes() == torch::IntArrayRef({3, 4}));
  BOOST_TEST(!e->target_forward(x).requires_grad());
  auto plain = models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 4});
  BOOST_TEST(throws_with([&] { plain->predict(x); }, "the encoder has no predictor"));
  // The optimiser sees no target parameter: the trainer trains only what requires gradients.
  int64_t trainable = 0;
  for (auto& p : e->parameters()) trainable += p.requires_grad();
  BOOST_TEST(trainable == static_cast<int64_t>(e->backbone->parameters().size() + e->projector->parameters().size() +
                                               e->predictor->parameters().size()));
}

// AnyBackbone: the wrapped module's features, parameters and buffers, unchanged, behind one type;
// a momentum target built from a factory of AnyBackbones copies it parameter by parameter.
BOOST_AUTO_TEST_CASE(any_backbone_wraps_a_backbone) {
  torch::manual_seed(3);
  models::SmallCNN cnn(models::SmallCNNOptions{.width = 4});
  models::AnyBackbone any(cnn);
  BOOST_TEST(any->out_dim() == cnn->out_dim());
  BOOST_TEST(any->parameters().size() == cnn->parameters().size());
  BOOST_TEST(any->buffers().size() == cnn->buffers().size());
  BOOST_TEST(any->named_parameters().contains("inner." + cnn->named_parameters().begin()->key()));
  auto x = torch::rand({2, 3, 16, 16});
  cnn->eval();
  any->eval();
  BOOST_TEST(max_abs_diff(any->forward(x), cnn->forward(x)) == 0.0);
  BOOST_TEST(throws_with([] { models::AnyBackbone(models::SmallCNN(nullptr)); }, "AnyBackbone: the backbone is empty"));

  using Encoder = models::ProjectedEncoder<models::AnyBackbone>;
  auto resnet = [] { return models::AnyBackbone(models::ResNet(models::ResNetOptions{.depth = 18, .cifar_stem = true, .width = 8})); };
  Encoder e(models::BackboneFactory<models::AnyBackbone>{resnet},
            models::EncoderOptions{.projector = {.hidden_dim = 8, .out_dim = 4}, .momentum_target = true});
  BOOST_TEST(e->backbone->out_dim() == 64);
  auto online = e->backbone->parameters(), target = e->target_backbone->parameters();
  BOOST_REQUIRE(online.size() == target.size());
  for (size_t i = 0; i < online.size(); ++i) BOOST_TEST(torch::equal(online[i], target[i]));
  BOOST_TEST(e->forward(x).sizes() == torch::IntArrayRef({2, 4}));
  BOOST_TEST(e->target_forward(x).sizes() == torch::IntArrayRef({2, 4}));
}

BOOST_AUTO_TEST_SUITE_END()
