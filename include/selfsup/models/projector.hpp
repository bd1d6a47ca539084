#pragma once
/// \file
/// models::Projector: the MLP heads between the representation and the loss (projectors and
/// predictors), with each method's published shape in models::heads.

#include <selfsup/models/batch_norm.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>

namespace selfsup::models {

struct ProjectorOptions {
  int64_t hidden_dim = 512;
  int64_t out_dim = 128;
  int64_t layers = 2;            ///< linear layers; every one but the last is followed by BN + ReLU
  bool batch_norm = true;        ///< BN after the hidden linear layers
  bool last_batch_norm = false;  ///< BN (without affine) after the last layer (SimSiam)
  bool gelu = false;             ///< GELU instead of ReLU after the hidden layers (DINO)
  /// DINO's head: > 0 appends an L2 normalisation of the MLP's output (the bottleneck, out_dim)
  /// and a weight-normalised linear layer `last_layer` (no bias) to this many outputs, its gain
  /// fixed at 1 (weight_g, not trained); out_dim() is then this width.
  int64_t normalized_out_dim = 0;
};

/// DINO's last layer: y = x Wᵀ with each row of W = g · v / ‖v‖ (weight normalisation, Salimans
/// & Kingma 2016); the gain g is fixed at 1 (not trained), as DINO's norm_last_layer. Parameters
/// weight_g (K, 1) and weight_v (K, D), as PyTorch's weight_norm names them.
class WeightNormLinearImpl : public torch::nn::Module {
 public:
  WeightNormLinearImpl(int64_t in, int64_t out) {
    weight_g = register_parameter("weight_g", torch::ones({out, 1}), /*requires_grad=*/false);
    weight_v = register_parameter("weight_v", torch::empty({out, in}));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    torch::NoGradGuard no_grad;
    weight_v.uniform_(-bound, bound);
  }
  torch::Tensor weight() const { return weight_g * weight_v / weight_v.norm(2, {1}, /*keepdim=*/true); }
  torch::Tensor forward(const torch::Tensor& x) { return x.matmul(weight().t()); }
  torch::Tensor weight_g, weight_v;
};
TORCH_MODULE(WeightNormLinear);

/// Linear-BN-ReLU blocks, then a Linear layer (and optionally BN).
class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(int64_t in_dim, const ProjectorOptions& options) : options_(options) {
    TORCH_CHECK(in_dim > 0 && options.hidden_dim > 0 && options.out_dim > 0 && options.layers >= 1,
                "selfsup::models::Projector: dimensions must be positive and layers >= 1, got "
                "in_dim ", in_dim, ", hidden_dim ", options.hidden_dim, ", out_dim ",
                options.out_dim, ", layers ", options.layers);
    int64_t in = in_dim;
    for (int64_t i = 0; i + 1 < options.layers; ++i) {
      layers_->push_back(torch::nn::Linear(
          torch::nn::LinearOptions(in, options.hidden_dim).bias(!options.batch_norm)));
      if (options.batch_norm) layers_->push_back(BatchNorm1d(options.hidden_dim));
      if (options.gelu) {
        layers_->push_back(torch::nn::GELU());
      } else {
        layers_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      }
      in = options.hidden_dim;
    }
    layers_->push_back(torch::nn::Linear(
        torch::nn::LinearOptions(in, options.out_dim).bias(!options.last_batch_norm)));
    if (options.last_batch_norm) {
      layers_->push_back(
          BatchNorm1d(torch::nn::BatchNormOptions(options.out_dim).affine(false)));
    }
    register_module("layers", layers_);
    TORCH_CHECK(options.normalized_out_dim >= 0, "selfsup::models::Projector: normalized_out_dim must be >= 0, got ",
                options.normalized_out_dim);
    if (options.normalized_out_dim > 0) {
      last_layer = register_module("last_layer", WeightNormLinear(options.out_dim, options.normalized_out_dim));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = layers_->forward(x);
    if (last_layer.is_empty()) return y;
    namespace F = torch::nn::functional;
    return last_layer->forward(F::normalize(y, F::NormalizeFuncOptions().dim(-1)));
  }
  int64_t out_dim() const { return options_.normalized_out_dim > 0 ? options_.normalized_out_dim : options_.out_dim; }
  const ProjectorOptions& options() const { return options_; }

  /// DINO's weight-normalised last layer, or empty.
  WeightNormLinear last_layer{nullptr};

 private:
  ProjectorOptions options_;
  torch::nn::Sequential layers_;
};
TORCH_MODULE(Projector);

/// The heads as each method's paper defines them.
namespace heads {
/// SimCLR (Chen et al. 2020): 2 layers, hidden width = representation width (2048 for
/// ResNet-50; pass it), output 128.
inline ProjectorOptions simclr(int64_t hidden_dim) { return {.hidden_dim = hidden_dim, .out_dim = 128}; }
/// MoCo v2 (Chen et al. 2020): 2-layer MLP without BN, 2048 hidden, 128 out.
inline constexpr ProjectorOptions moco_v2{.hidden_dim = 2048, .out_dim = 128, .layers = 2, .batch_norm = false};
/// BYOL (Grill et al. 2020): projector and predictor are both Linear(4096)-BN-ReLU-Linear(256).
inline constexpr ProjectorOptions byol_projector{.hidden_dim = 4096, .out_dim = 256};
inline constexpr ProjectorOptions byol_predictor{.hidden_dim = 4096, .out_dim = 256};
/// SimSiam (Chen & He 2021): 3-layer projector of width 2048 with BN on the output too, and a
/// 2-layer bottleneck predictor (512).
inline constexpr ProjectorOptions simsiam_projector{.hidden_dim = 2048, .out_dim = 2048, .layers = 3,
                                                    .last_batch_norm = true};
inline constexpr ProjectorOptions simsiam_predictor{.hidden_dim = 512, .out_dim = 2048};
/// Barlow Twins (Zbontar et al. 2021) and VICReg (Bardes et al. 2022): 3 layers of width 8192.
inline constexpr ProjectorOptions barlow_twins{.hidden_dim = 8192, .out_dim = 8192, .layers = 3};
inline constexpr ProjectorOptions vicreg{.hidden_dim = 8192, .out_dim = 8192, .layers = 3};
/// DINO (Caron et al. 2021): 3-layer MLP of width 2048 with GELU and no BN to a 256-d bottleneck,
/// L2-normalised, then a weight-normalised layer to K = 65536 outputs (its gain fixed). Both the
/// student and the teacher carry it.
inline constexpr ProjectorOptions dino(int64_t k = 65536) {
  return {.hidden_dim = 2048, .out_dim = 256, .layers = 3, .batch_norm = false, .gelu = true,
          .normalized_out_dim = k};
}
/// SwAV (Caron et al. 2020): Linear(2048)-BN-ReLU-Linear(128), then the prototypes
/// (EncoderOptions::prototypes, 3000 for ImageNet).
inline constexpr ProjectorOptions swav{.hidden_dim = 2048, .out_dim = 128, .layers = 2};
/// MoCo v3 (Chen, Xie & He 2021): a 3-layer projector of width 4096 to 256 with BN on every layer
/// (the last without affine), and a 2-layer predictor of width 4096 with BN on its hidden layer.
inline constexpr ProjectorOptions moco_v3_projector{.hidden_dim = 4096, .out_dim = 256, .layers = 3,
                                                    .last_batch_norm = true};
inline constexpr ProjectorOptions moco_v3_predictor{.hidden_dim = 4096, .out_dim = 256, .layers = 2};
}  // namespace heads

}  // namespace selfsup::models
