#pragma once
/// \file
/// models::VisionTransformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021), in
/// the pre-norm form of DeiT and DINO: patch embedding, a class token, learned position
/// embeddings, `depth` blocks of multi-head self-attention and an MLP, each behind a LayerNorm,
/// with stochastic depth, and a final LayerNorm. `features(x)`, the representation, is the class
/// token after the final norm (the mean of the patch tokens without a class token).
///
/// Parameter names are timm's (patch_embed.proj, cls_token, pos_embed, blocks.i.norm1,
/// blocks.i.attn.qkv, blocks.i.attn.proj, blocks.i.norm2, blocks.i.mlp.fc1/fc2, norm), and the
/// counts equal timm's models less their classification head: vit_small at 224 px, patch 16,
/// has 21,665,664 parameters.

#include <selfsup/detail/torch_compat.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

namespace selfsup::models {

struct VisionTransformerOptions {
  int64_t image_size = 224;     ///< the side the position embeddings are learned for
  int64_t patch_size = 16;
  int64_t in_channels = 3;
  int64_t width = 384;          ///< embedding dimension
  int64_t depth = 12;           ///< blocks
  int64_t heads = 6;            ///< attention heads; width must be a multiple
  double mlp_ratio = 4.0;       ///< the MLP's hidden width / width
  double drop_path_rate = 0.0;  ///< stochastic depth of the last block; linear from 0 over the blocks
  bool class_token = true;
};

namespace detail {

/// A truncated normal N(0, std²) on [−2, 2] (absolute bounds, as DeiT, DINO and timm initialise).
inline void trunc_normal_(torch::Tensor t, double std) {
  torch::NoGradGuard no_grad;
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2)); };
  const double lo = cdf(-2.0 / std), hi = cdf(2.0 / std);
  t.uniform_(2 * lo - 1, 2 * hi - 1).erfinv_().mul_(std * std::numbers::sqrt2).clamp_(-2.0, 2.0);
}

/// Drops whole residual branches per sample with probability `p` in training, scaling the kept
/// ones by 1 / (1 − p) (Huang et al. 2016, stochastic depth).
inline torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  auto keep = torch::empty(shape, x.options()).bernoulli_(1.0 - p);
  return x * keep / (1.0 - p);
}

}  // namespace detail

/// Multi-head self-attention: one qkv projection, attention through
/// detail::scaled_dot_product_attention (fused where LibTorch has it), an output projection.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t width, int64_t heads) : heads_(heads) {
    qkv = register_module("qkv", torch::nn::Linear(width, 3 * width));
    proj = register_module("proj", torch::nn::Linear(width, width));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto b = x.size(0), n = x.size(1), d = x.size(2);
    auto qkv_ = qkv->forward(x).reshape({b, n, 3, heads_, d / heads_}).permute({2, 0, 3, 1, 4});
    auto out = selfsup::detail::scaled_dot_product_attention(qkv_[0], qkv_[1], qkv_[2]);  // (B, H, N, d/H)
    return proj->forward(out.transpose(1, 2).reshape({b, n, d}));
  }
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t width, int64_t hidden) {
    fc1 = register_module("fc1", torch::nn::Linear(width, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, width));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc2->forward(torch::gelu(fc1->forward(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

/// x + drop_path(attn(norm1(x))), then x + drop_path(mlp(norm2(x))).
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int64_t width, int64_t heads, int64_t hidden, double drop_path)
      : drop_path_(drop_path) {
    auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6)); };
    norm1 = register_module("norm1", norm());
    attn = register_module("attn", Attention(width, heads));
    norm2 = register_module("norm2", norm());
    mlp = register_module("mlp", Mlp(width, hidden));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = x + detail::drop_path(attn->forward(norm1->forward(x)), drop_path_, is_training());
    return x + detail::drop_path(mlp->forward(norm2->forward(x)), drop_path_, is_training());
  }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(TransformerBlock);

class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t in_channels, int64_t width, int64_t patch) {
    proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, width, patch).stride(patch)));
  }
  /// (B, C, H, W) -> (B, H/p · W/p, width)
  torch::Tensor forward(const torch::Tensor& x) { return proj->forward(x).flatten(2).transpose(1, 2); }
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

/// See the file comment. (B, C, H, W) -> (B, width), for any H and W that are multiples of the
/// patch size: the position embeddings are interpolated (bicubic) to another grid, as DINO's
/// local crops need.
class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const VisionTransformerOptions& o = {}) : options_(o) {
    constexpr const char* fn = "selfsup::models::VisionTransformer";
    TORCH_CHECK(o.patch_size >= 1 && o.image_size >= o.patch_size && o.image_size % o.patch_size == 0, fn,
                ": image_size must be a positive multiple of patch_size, got image_size ", o.image_size,
                " and patch_size ", o.patch_size);
    TORCH_CHECK(o.in_channels >= 1 && o.width >= 1 && o.depth >= 1 && o.heads >= 1 && o.width % o.heads == 0, fn,
                ": in_channels, width, depth and heads must be positive and width a multiple of heads, got width ",
                o.width, " and heads ", o.heads);
    TORCH_CHECK(o.mlp_ratio > 0 && o.drop_path_rate >= 0 && o.drop_path_rate < 1, fn,
                ": mlp_ratio must be positive and drop_path_rate in [0, 1), got ", o.mlp_ratio, " and ",
                o.drop_path_rate);
    grid_ = o.image_size / o.patch_size;
    patch_embed = register_module("patch_embed", PatchEmbed(o.in_channels, o.width, o.patch_size));
    const int64_t tokens = grid_ * grid_ + (o.class_token ? 1 : 0);
    if (o.class_token) cls_token = register_parameter("cls_token", torch::zeros({1, 1, o.width}));
    pos_embed = register_parameter("pos_embed", torch::zeros({1, tokens, o.width}));
    const auto hidden = static_cast<int64_t>(static_cast<double>(o.width) * o.mlp_ratio);
    for (int64_t i = 0; i < o.depth; ++i) {
      const double rate = o.depth > 1 ? o.drop_path_rate * static_cast<double>(i) / static_cast<double>(o.depth - 1) : o.drop_path_rate;
      blocks->push_back(TransformerBlock(o.width, o.heads, hidden, rate));
    }
    register_module("blocks", blocks);
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width}).eps(1e-6)));
    initialise();
  }

  /// The class token after the final norm (B, width); the mean patch token without a class token.
  torch::Tensor forward(const torch::Tensor& x) {
    auto tokens = forward_tokens(x);
    return options_.class_token ? tokens.select(1, 0) : tokens.mean(1);
  }

  /// Every token after the final norm: (B, [1 +] H/p · W/p, width).
  torch::Tensor forward_tokens(const torch::Tensor& x) {
    constexpr const char* fn = "selfsup::models::VisionTransformer";
    TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels, fn, ": expected input (B, ", options_.in_channels,
                ", H, W), got ", x.sizes());
    TORCH_CHECK(x.size(2) % options_.patch_size == 0 && x.size(3) % options_.patch_size == 0 &&
                    x.size(2) >= options_.patch_size && x.size(3) >= options_.patch_size,
                fn, ": the image's height and width must be multiples of the patch size ", options_.patch_size,
                ", got ", x.size(2), " x ", x.size(3));
    const auto b = x.size(0);
    auto t = patch_embed->forward(x);                                                      // (B, N, D)
    const auto h = x.size(2) / options_.patch_size, w = x.size(3) / options_.patch_size;
    auto pos = position_embeddings(h, w).to(t.scalar_type());
    if (options_.class_token) t = torch::cat({cls_token.to(t.scalar_type()).expand({b, 1, options_.width}), t}, 1);
    t = t + pos;
    for (auto& block : *blocks) t = block->as<TransformerBlock>()->forward(t);
    return norm->forward(t);
  }

  /// The position embeddings for an h × w grid of patches: the learned ones, interpolated
  /// (bicubic) when the grid differs from image_size / patch_size.
  torch::Tensor position_embeddings(int64_t h, int64_t w) {
    const int64_t first = options_.class_token ? 1 : 0;
    if (h == grid_ && w == grid_) return pos_embed;
    auto patches = pos_embed.narrow(1, first, grid_ * grid_)
                       .reshape({1, grid_, grid_, options_.width}).permute({0, 3, 1, 2});  // (1, D, g, g)
    namespace F = torch::nn::functional;
    auto resized = F::interpolate(patches, F::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{h, w})
                                               .mode(torch::kBicubic)
                                               .align_corners(false));
    resized = resized.permute({0, 2, 3, 1}).reshape({1, h * w, options_.width});
    return first ? torch::cat({pos_embed.narrow(1, 0, 1), resized}, 1) : resized;
  }

  int64_t out_dim() const { return options_.width; }
  const VisionTransformerOptions& options() const { return options_; }

  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed;
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};

 private:
  /// DeiT's and DINO's initialisation: truncated normal (std 0.02) for the position embeddings,
  /// the class token and every Linear weight, zero biases; LayerNorm 1 and 0.
  void initialise() {
    detail::trunc_normal_(pos_embed, 0.02);
    if (cls_token.defined()) detail::trunc_normal_(cls_token, 0.02);
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* linear = m->as<torch::nn::Linear>()) {
        detail::trunc_normal_(linear->weight, 0.02);
        if (linear->bias.defined()) linear->bias.zero_();
      }
    }
  }

  VisionTransformerOptions options_;
  int64_t grid_ = 0;
};
TORCH_MODULE(VisionTransformer);

/// The presets' patch size for `image_size`: 16 from 96 px up, 4 below (32-px images: an 8 × 8 grid).
inline int64_t default_patch_size(int64_t image_size) { return image_size >= 96 ? 16 : 4; }

/// ViT-Tiny (DeiT): width 192, 12 blocks, 3 heads. `patch_size` 0: 16 from 96 px up, 4 below.
inline VisionTransformerOptions vit_tiny(int64_t image_size = 224, int64_t patch_size = 0) {
  return {.image_size = image_size, .patch_size = patch_size > 0 ? patch_size : default_patch_size(image_size),
          .width = 192, .depth = 12, .heads = 3};
}

/// ViT-Small (DeiT, DINO): width 384, 12 blocks, 6 heads. `patch_size` 0: 16 from 96 px up, 4 below.
inline VisionTransformerOptions vit_small(int64_t image_size = 224, int64_t patch_size = 0) {
  return {.image_size = image_size, .patch_size = patch_size > 0 ? patch_size : default_patch_size(image_size),
          .width = 384, .depth = 12, .heads = 6};
}

}  // namespace selfsup::models
