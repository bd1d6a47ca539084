#pragma once
/// \file
/// models::Projector: the MLP head between the representation and the loss.

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::models {

struct ProjectorOptions {
  int64_t hidden_dim = 512;
  int64_t out_dim = 128;
  int64_t layers = 2;       ///< linear layers; every one but the last is followed by BN + ReLU
  bool batch_norm = true;
};

/// SimCLR's projection head (Chen et al. 2020): Linear-BN-ReLU blocks, then a Linear layer.
class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(int64_t in_dim, const ProjectorOptions& options) {
    TORCH_CHECK(in_dim > 0 && options.hidden_dim > 0 && options.out_dim > 0 && options.layers >= 1,
                "selfsup::models::Projector: dimensions must be positive and layers >= 1, got "
                "in_dim ", in_dim, ", hidden_dim ", options.hidden_dim, ", out_dim ",
                options.out_dim, ", layers ", options.layers);
    int64_t in = in_dim;
    for (int64_t i = 0; i + 1 < options.layers; ++i) {
      layers_->push_back(torch::nn::Linear(
          torch::nn::LinearOptions(in, options.hidden_dim).bias(!options.batch_norm)));
      if (options.batch_norm) layers_->push_back(torch::nn::BatchNorm1d(options.hidden_dim));
      layers_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      in = options.hidden_dim;
    }
    layers_->push_back(torch::nn::Linear(in, options.out_dim));
    register_module("layers", layers_);
  }

  torch::Tensor forward(const torch::Tensor& x) { return layers_->forward(x); }

 private:
  torch::nn::Sequential layers_;
};
TORCH_MODULE(Projector);

}  // namespace selfsup::models
