#pragma once
/// \file
/// models::SmallCNN: a four-stage convolutional backbone for fast runs on CPU and in tests.

#include <selfsup/models/batch_norm.hpp>

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::models {

struct SmallCNNOptions {
  int64_t in_channels = 3;
  int64_t width = 32;  ///< channels of the first stage; each later stage doubles them
};

/// conv3x3-BN-ReLU stages of width w, 2w (stride 2), 4w (stride 2), 8w (stride 2), then global
/// average pooling: (B, C, H, W) -> (B, 8w).
class SmallCNNImpl : public torch::nn::Module {
 public:
  explicit SmallCNNImpl(const SmallCNNOptions& options = {}) : options_(options) {
    TORCH_CHECK(options.in_channels > 0 && options.width > 0,
                "selfsup::models::SmallCNN: in_channels and width must be positive, got ",
                options.in_channels, " and ", options.width);
    int64_t in = options.in_channels;
    for (int64_t stage = 0; stage < 4; ++stage) {
      const int64_t out = options.width << stage;
      layers_->push_back(torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, 3).stride(stage == 0 ? 1 : 2).padding(1).bias(false)));
      layers_->push_back(BatchNorm2d(out));
      layers_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      in = out;
    }
    register_module("layers", layers_);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels,
                "selfsup::models::SmallCNN: expected input (B, ", options_.in_channels,
                ", H, W), got ", x.sizes());
    return layers_->forward(x).mean({2, 3});  // (B, 8w)
  }

  /// Width of the representation.
  int64_t out_dim() const { return options_.width * 8; }

 private:
  SmallCNNOptions options_;
  torch::nn::Sequential layers_;
};
TORCH_MODULE(SmallCNN);

}  // namespace selfsup::models
