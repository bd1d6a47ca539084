#pragma once
// Shared by the unit tests and the rank program: an encoder with LibTorch's own BatchNorm.

#include <torch/torch.h>

namespace selfsup::test {

/// An encoder (features = forward) with LibTorch's own BatchNorm2d: in training mode its
/// features depend on the batch around them, and under data parallel it would keep per-rank
/// statistics.
struct PlainNormEncoderImpl : torch::nn::Module {
  PlainNormEncoderImpl()
      : conv(register_module("conv", torch::nn::Conv2d(3, 4, 3))),
        norm(register_module("norm", torch::nn::BatchNorm2d(4))) {}
  torch::Tensor features(const torch::Tensor& x) { return norm(conv(x)).mean({2, 3}); }
  torch::Tensor forward(const torch::Tensor& x) { return features(x); }
  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d norm;
};
TORCH_MODULE(PlainNormEncoder);

}  // namespace selfsup::test
