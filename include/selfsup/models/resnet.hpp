#pragma once
/// \file
/// models::ResNet: ResNet-18, -34 and -50 (He et al., "Deep Residual Learning for Image
/// Recognition", CVPR 2016) as representation backbones, with the ImageNet stem or the CIFAR
/// stem (a 3x3 stride-1 convolution and no max-pool, as SimCLR uses on CIFAR-10).

#include <selfsup/models/batch_norm.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>

namespace selfsup::models {

struct ResNetOptions {
  int64_t depth = 18;          ///< 18, 34 or 50
  bool cifar_stem = false;     ///< 3x3 stride-1 stem without max-pool, for 32x32 images
  int64_t width = 64;          ///< channels of the first stage (64 in the paper)
  int64_t in_channels = 3;
  bool zero_init_residual = false;  ///< start each residual branch's last BN at zero
};

namespace detail {

inline torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// A residual block: BasicBlock (two 3x3) or Bottleneck (1x1, 3x3, 1x1 with 4x expansion).
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t planes, int64_t stride, bool bottleneck) {
    const int64_t out = bottleneck ? planes * 4 : planes;
    if (bottleneck) {
      body_->push_back(conv(in, planes, 1, 1));
      body_->push_back(BatchNorm2d(planes));
      body_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      body_->push_back(conv(planes, planes, 3, stride));
      body_->push_back(BatchNorm2d(planes));
      body_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      body_->push_back(conv(planes, out, 1, 1));
    } else {
      body_->push_back(conv(in, planes, 3, stride));
      body_->push_back(BatchNorm2d(planes));
      body_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      body_->push_back(conv(planes, out, 3, 1));
    }
    last_bn_ = BatchNorm2d(out);
    body_->push_back(last_bn_);
    register_module("body", body_);
    if (stride != 1 || in != out) {
      shortcut_->push_back(conv(in, out, 1, stride));
      shortcut_->push_back(BatchNorm2d(out));
      register_module("shortcut", shortcut_);
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto identity = shortcut_->is_empty() ? x : shortcut_->forward(x);
    return torch::relu(body_->forward(x) + identity);
  }

  BatchNorm2d last_bn() { return last_bn_; }

 private:
  torch::nn::Sequential body_;
  torch::nn::Sequential shortcut_;
  BatchNorm2d last_bn_{nullptr};
};
TORCH_MODULE(ResidualBlock);

}  // namespace detail

/// (B, C, H, W) -> (B, F) after global average pooling; F = 8·width (18, 34) or 32·width (50).
class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options = {}) : options_(options) {
    constexpr std::string_view fn = "selfsup::models::ResNet";
    std::array<int64_t, 4> blocks{};
    if (options.depth == 18) blocks = {2, 2, 2, 2};
    else if (options.depth == 34 || options.depth == 50) blocks = {3, 4, 6, 3};
    else TORCH_CHECK(false, fn, ": depth must be 18, 34 or 50, got ", options.depth);
    TORCH_CHECK(options.width > 0 && options.in_channels > 0, fn,
                ": width and in_channels must be positive, got ", options.width, " and ",
                options.in_channels);
    const bool bottleneck = options.depth == 50;
    if (options.cifar_stem) {
      stem_->push_back(detail::conv(options.in_channels, options.width, 3, 1));
    } else {
      stem_->push_back(detail::conv(options.in_channels, options.width, 7, 2));
    }
    stem_->push_back(BatchNorm2d(options.width));
    stem_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
    if (!options.cifar_stem) {
      stem_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
    }
    register_module("stem", stem_);
    int64_t in = options.width;
    for (int64_t stage = 0; stage < 4; ++stage) {
      const int64_t planes = options.width << stage;
      for (int64_t b = 0; b < blocks[stage]; ++b) {
        detail::ResidualBlock block(in, planes, (b == 0 && stage > 0) ? 2 : 1, bottleneck);
        if (options.zero_init_residual) torch::nn::init::zeros_(block->last_bn()->weight);
        stages_->push_back(block);
        in = bottleneck ? planes * 4 : planes;
      }
    }
    register_module("stages", stages_);
    out_dim_ = in;
    // torchvision's initialisation: Kaiming normal (fan out) for convolutions.
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      }
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels,
                "selfsup::models::ResNet: expected input (B, ", options_.in_channels,
                ", H, W), got ", x.sizes());
    return stages_->forward(stem_->forward(x)).mean({2, 3});
  }

  int64_t out_dim() const { return out_dim_; }
  const ResNetOptions& options() const { return options_; }

 private:
  ResNetOptions options_;
  torch::nn::Sequential stem_;
  torch::nn::Sequential stages_;
  int64_t out_dim_ = 0;
};
TORCH_MODULE(ResNet);

}  // namespace selfsup::models
