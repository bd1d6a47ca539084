// The vision transformer: parameter counts against timm's models, the attention paths agreeing,
// position embeddings at other grids (DINO's local crops), and the heads of DINO, SwAV and MoCo v3.
#include "../support.hpp"

#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/models/models.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>

using selfsup::test::max_abs_diff;
using selfsup::test::throws_with;
namespace sm = selfsup::models;

namespace {
int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Attention head by head, row by row, with an explicit log-sum-exp: independent of both paths.
torch::Tensor attention_by_rows(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  auto out = torch::empty_like(q);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  for (int64_t b = 0; b < q.size(0); ++b) {
    for (int64_t h = 0; h < q.size(1); ++h) {
      for (int64_t i = 0; i < q.size(2); ++i) {
        auto s = (k[b][h] * q[b][h][i]).sum(1) * scale;   // (N)
        auto w = (s - s.max()).exp();
        out[b][h][i] = (w.unsqueeze(1) * v[b][h]).sum(0) / w.sum();
      }
    }
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(models_tests)

BOOST_AUTO_TEST_CASE(vit_parameter_counts_equal_timms_without_head) {
  // timm's vit_small_patch16_224 has 21,665,664 parameters less its 1000-class head (384·1000 +
  // 1000); vit_tiny_patch16_224 5,717,416 less 192·1000 + 1000 = 5,524,416.
  sm::VisionTransformer small(sm::vit_small(224));
  BOOST_TEST(count_parameters(*small) == 21665664);
  sm::VisionTransformer tiny(sm::vit_tiny(224));
  BOOST_TEST(count_parameters(*tiny) == 5524416);
  BOOST_TEST(sm::vit_small(224).patch_size == 16);
  BOOST_TEST(sm::vit_tiny(32).patch_size == 4);
  // On 32-px images, patch 4: 64 + 1 position embeddings instead of 196 + 1.
  sm::VisionTransformer small32(sm::vit_small(32));
  BOOST_TEST(count_parameters(*small32) == 21665664 - (197 - 65) * 384 - (16 * 16 - 4 * 4) * 3 * 384);
  // timm's names.
  auto names = small->named_parameters().keys();
  for (const char* name : {"cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.norm1.weight",
                           "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias", "blocks.11.mlp.fc2.weight",
                           "norm.bias"}) {
    BOOST_TEST((std::find(names.begin(), names.end(), name) != names.end()), name);
  }
}

BOOST_AUTO_TEST_CASE(attention_paths_agree) {
  torch::manual_seed(4);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto q = torch::randn({2, 3, 7, 8}, dtype), k = torch::randn({2, 3, 7, 8}, dtype), v = torch::randn({2, 3, 7, 8}, dtype);
    const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
    auto expected = attention_by_rows(q, k, v);
    BOOST_TEST(max_abs_diff(selfsup::detail::attention_formula(q, k, v), expected) < tol);
    BOOST_TEST(max_abs_diff(selfsup::detail::scaled_dot_product_attention(q, k, v), expected) < tol);
#if TORCH_VERSION_MAJOR < 2
    // 1.13's own (private) kernel, which the formula stands in for.
    auto [fused, weights] = at::_scaled_dot_product_attention(q, k, v);
    BOOST_TEST(max_abs_diff(fused, expected) < tol);
#endif
    for (const auto& device : selfsup::test::devices()) {
      if (device.is_cpu()) continue;
      auto qd = q.to(device), kd = k.to(device), vd = v.to(device);
      BOOST_TEST(max_abs_diff(selfsup::detail::scaled_dot_product_attention(qd, kd, vd), expected) < 1e-3);
    }
  }
  BOOST_TEST(selfsup::detail::fused_attention_available == (TORCH_VERSION_MAJOR >= 2));
}

BOOST_AUTO_TEST_CASE(vit_runs_at_other_grids_and_checks_its_input) {
  torch::manual_seed(5);
  sm::VisionTransformer vit(sm::VisionTransformerOptions{.image_size = 32, .patch_size = 4, .width = 24, .depth = 2,
                                                         .heads = 3, .drop_path_rate = 0.1});
  auto x = torch::randn({3, 3, 32, 32});
  BOOST_TEST(vit->forward(x).sizes() == torch::IntArrayRef({3, 24}));
  BOOST_TEST(vit->forward_tokens(x).sizes() == torch::IntArrayRef({3, 65, 24}));
  // At its own grid the embeddings are the learned ones; at another, interpolated: a local crop.
  BOOST_TEST(vit->position_embeddings(8, 8).is_same(vit->pos_embed));
  auto pe = vit->position_embeddings(4, 4);
  BOOST_TEST(pe.sizes() == torch::IntArrayRef({1, 17, 24}));
  BOOST_TEST(max_abs_diff(pe.narrow(1, 0, 1), vit->pos_embed.narrow(1, 0, 1)) == 0.0);  // the class token's
  // A constant map stays constant under bicubic interpolation (weights sum to 1).
  {
    torch::NoGradGuard no_grad;
    vit->pos_embed.fill_(0.25);
  }
  BOOST_TEST(max_abs_diff(vit->position_embeddings(6, 4), torch::full({1, 25, 24}, 0.25)) < 1e-6);
  auto local = torch::randn({3, 3, 16, 16}, torch::requires_grad());
  vit->train();
  auto y = vit->forward(local);
  y.sum().backward();
  BOOST_TEST(vit->pos_embed.grad().defined());
  // Evaluation is deterministic (no stochastic depth), training is not.
  vit->eval();
  BOOST_TEST(max_abs_diff(vit->forward(x), vit->forward(x)) == 0.0);
  BOOST_TEST(throws_with([&] { vit->forward(torch::randn({1, 3, 30, 32})); },
                         "selfsup::models::VisionTransformer: the image's height and width must be multiples"));
  BOOST_TEST(throws_with([&] { vit->forward(torch::randn({1, 1, 32, 32})); }, "expected input (B, 3, H, W)"));
  BOOST_TEST(throws_with([&] { sm::VisionTransformer(sm::VisionTransformerOptions{.width = 10, .heads = 3}); },
                         "width a multiple of heads"));
}

BOOST_AUTO_TEST_CASE(dino_swav_and_moco_v3_heads) {
  torch::manual_seed(6);
  // DINO's head: MLP with GELU to a 256-d bottleneck, L2-normalised, weight-normalised last layer
  // whose gain is fixed at 1: its output is the cosine of the bottleneck with each row of v.
  sm::Projector head(384, sm::heads::dino(1000));
  BOOST_TEST(head->out_dim() == 1000);
  auto x = torch::randn({5, 384});
  auto y = head->forward(x);
  BOOST_TEST(y.sizes() == torch::IntArrayRef({5, 1000}));
  BOOST_TEST(y.abs().max().item<double>() <= 1.0 + 1e-6);
  BOOST_TEST(!head->last_layer->weight_g.requires_grad());
  BOOST_TEST(max_abs_diff(head->last_layer->weight().norm(2, {1}), torch::ones({1000})) < 1e-5);
  // Parameters: 384·2048 + 2048 + 2048·2048 + 2048 + 2048·256 + 256 + 256·1000 (v) + 1000 (g).
  BOOST_TEST(count_parameters(*head) == 384 * 2048 + 2048 + 2048 * 2048 + 2048 + 2048 * 256 + 256 + 256 * 1000 + 1000);
  // SwAV: prototypes normalised before each step; the last layer frozen for the first steps.
  auto encoder = sm::make_small_cnn_encoder(
      {.width = 4}, sm::EncoderOptions{.projector = {.hidden_dim = 16, .out_dim = 8}, .prototypes = 10,
                                       .freeze_last_layer_steps = 2});
  BOOST_TEST(encoder->has_prototypes());
  BOOST_TEST(encoder->prototypes().sizes() == torch::IntArrayRef({10, 8}));
  {
    torch::NoGradGuard no_grad;
    encoder->prototypes().mul_(3);
  }
  encoder->before_step(0);
  BOOST_TEST(max_abs_diff(encoder->prototypes().norm(2, {1}), torch::ones({10})) < 1e-6);
  auto loss = encoder->forward(torch::randn({4, 3, 16, 16})).mm(encoder->prototypes().t()).pow(2).sum();
  loss.backward();
  BOOST_TEST(encoder->prototypes().grad().defined());
  encoder->after_backward(1);
  BOOST_TEST(!encoder->prototypes().grad().defined());
  BOOST_TEST(encoder->projector->forward(torch::randn({4, 32})).defined());
  // MoCo v3: BN on every projector layer (the last without affine), predictor on its output.
  auto moco = sm::make_small_cnn_encoder(
      {.width = 4}, sm::EncoderOptions{.projector = sm::heads::moco_v3_projector, .predictor = sm::heads::moco_v3_predictor,
                                       .momentum_target = true, .momentum = 0.99});
  auto z = moco->forward(torch::randn({4, 3, 16, 16}));
  BOOST_TEST(z.sizes() == torch::IntArrayRef({4, 256}));
  BOOST_TEST(moco->predict(z).sizes() == torch::IntArrayRef({4, 256}));
  BOOST_TEST(max_abs_diff(z.mean(0), torch::zeros({256})) < 1e-5);  // the last BN, in training mode
}

BOOST_AUTO_TEST_SUITE_END()
