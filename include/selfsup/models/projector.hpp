#pragma once
/// \file
/// models::Projector: the MLP heads between the representation and the loss (projectors and
/// predictors), with each method's published shape in models::heads.

#include <selfsup/models/batch_norm.hpp>

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::models {

struct ProjectorOptions {
  int64_t hidden_dim = 512;
  int64_t out_dim = 128;
  int64_t layers = 2;            ///< linear layers; every one but the last is followed by BN + ReLU
  bool batch_norm = true;        ///< BN after the hidden linear layers
  bool last_batch_norm = false;  ///< BN (without affine) after the last layer (SimSiam)
};

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
      layers_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      in = options.hidden_dim;
    }
    layers_->push_back(torch::nn::Linear(
        torch::nn::LinearOptions(in, options.out_dim).bias(!options.last_batch_norm)));
    if (options.last_batch_norm) {
      layers_->push_back(
          BatchNorm1d(torch::nn::BatchNormOptions(options.out_dim).affine(false)));
    }
    register_module("layers", layers_);
  }

  torch::Tensor forward(const torch::Tensor& x) { return layers_->forward(x); }
  int64_t out_dim() const { return options_.out_dim; }

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
}  // namespace heads

}  // namespace selfsup::models
