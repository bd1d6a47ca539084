#pragma once
/// \file
/// models::ProjectedEncoder: backbone + projector, optionally a predictor (BYOL, SimSiam) and a
/// momentum target (BYOL, MoCo); satisfies selfsup::Encoder.

#include <selfsup/models/projector.hpp>
#include <selfsup/models/resnet.hpp>
#include <selfsup/models/small_cnn.hpp>

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <optional>
#include <utility>

namespace selfsup::models {

struct EncoderOptions {
  ProjectorOptions projector{};
  std::optional<ProjectorOptions> predictor{};  ///< BYOL, SimSiam: a head on the projection
  bool momentum_target = false;  ///< keep an exponential moving average of backbone + projector
  double momentum = 0.99;        ///< the EMA coefficient at the start of training
  bool cosine_momentum = true;   ///< raise the coefficient to 1 along a cosine (BYOL)
};

/// Builds a fresh backbone: once for the online network, once more for a momentum target.
template <class Backbone>
struct BackboneFactory {
  std::function<Backbone()> make;
};

/// `Backbone` is a module holder with `forward(x) -> (B, F)` and `out_dim() -> F`.
///
/// The momentum target (Grill et al., BYOL, NeurIPS 2020; He et al., MoCo, CVPR 2020) is a copy
/// of backbone + projector updated after each optimiser step as ξ ← m·ξ + (1 − m)·θ, with
/// m = 1 − (1 − m₀)·(cos(π·k/K) + 1)/2 at progress k/K when `cosine_momentum` is set; batch-norm
/// statistics are copied. It receives no gradient.
template <class Backbone>
class ProjectedEncoderImpl : public torch::nn::Module {
 public:
  /// Backbone + projector, no predictor and no target.
  ProjectedEncoderImpl(Backbone backbone, const ProjectorOptions& head)
      : ProjectedEncoderImpl(
            BackboneFactory<Backbone>{[b = std::move(backbone)]() mutable {
              return std::exchange(b, Backbone(nullptr));
            }},
            EncoderOptions{.projector = head}) {}

  /// Backbones from `factory`, heads and target as `options` say.
  ProjectedEncoderImpl(const BackboneFactory<Backbone>& factory, const EncoderOptions& options)
      : options_(options) {
    TORCH_CHECK(options.momentum >= 0.0 && options.momentum <= 1.0,
                "selfsup::models::ProjectedEncoder: momentum must be in [0, 1], got ",
                options.momentum);
    backbone = register_module("backbone", factory.make());
    projector = register_module("projector", Projector(backbone->out_dim(), options.projector));
    if (options.predictor) {
      predictor = register_module("predictor", Projector(options.projector.out_dim, *options.predictor));
    }
    if (options.momentum_target) {
      target_backbone = register_module("target_backbone", factory.make());
      target_projector = register_module("target_projector",
                                         Projector(backbone->out_dim(), options.projector));
      torch::NoGradGuard no_grad;
      copy_into_target(1.0);
      for (auto& p : target_parameters()) p.set_requires_grad(false);
    }
  }

  /// The representation used for evaluation: (B, F).
  torch::Tensor features(const torch::Tensor& x) { return backbone->forward(x); }

  /// The projection the loss consumes: (B, D).
  torch::Tensor forward(const torch::Tensor& x) { return projector->forward(features(x)); }

  bool has_predictor() const { return !predictor.is_empty(); }
  /// The predictor's output for projections `z`.
  torch::Tensor predict(const torch::Tensor& z) {
    TORCH_CHECK(has_predictor(), "selfsup::models::ProjectedEncoder::predict: the encoder has no "
                "predictor; set EncoderOptions::predictor");
    return predictor->forward(z);
  }

  bool has_target() const { return !target_backbone.is_empty(); }
  /// The momentum target's projection of `x`, without gradient.
  torch::Tensor target_forward(const torch::Tensor& x) {
    TORCH_CHECK(has_target(), "selfsup::models::ProjectedEncoder::target_forward: the encoder "
                "has no momentum target; set EncoderOptions::momentum_target");
    torch::NoGradGuard no_grad;
    return target_projector->forward(target_backbone->forward(x));
  }

  /// The EMA coefficient at training progress `progress` in [0, 1].
  double momentum_at(double progress) const {
    if (!options_.cosine_momentum) return options_.momentum;
    return 1.0 - (1.0 - options_.momentum) * (std::cos(std::numbers::pi * progress) + 1.0) / 2.0;
  }

  /// One EMA step of the target towards the online network, at `progress` in [0, 1].
  void update_target(double progress) {
    if (!has_target()) return;
    torch::NoGradGuard no_grad;
    copy_into_target(1.0 - momentum_at(progress));
  }

  const EncoderOptions& options() const { return options_; }

  Backbone backbone{nullptr};
  Projector projector{nullptr};
  Projector predictor{nullptr};
  Backbone target_backbone{nullptr};
  Projector target_projector{nullptr};

 private:
  std::vector<torch::Tensor> target_parameters() {
    auto a = target_backbone->parameters();
    auto b = target_projector->parameters();
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  // target ← (1 − w)·target + w·online for parameters; buffers copied.
  void copy_into_target(double w) {
    auto copy = [&](torch::nn::Module& online, torch::nn::Module& target) {
      auto op = online.parameters(), tp = target.parameters();
      for (size_t i = 0; i < op.size(); ++i) tp[i].lerp_(op[i].detach(), w);
      auto ob = online.buffers(), tb = target.buffers();
      for (size_t i = 0; i < ob.size(); ++i) tb[i].copy_(ob[i]);
    };
    copy(*backbone, *target_backbone);
    copy(*projector, *target_projector);
  }

  EncoderOptions options_;
};

template <class Backbone>
class ProjectedEncoder : public torch::nn::ModuleHolder<ProjectedEncoderImpl<Backbone>> {
 public:
  using torch::nn::ModuleHolder<ProjectedEncoderImpl<Backbone>>::ModuleHolder;
};

using SmallCNNEncoder = ProjectedEncoder<SmallCNN>;
using ResNetEncoder = ProjectedEncoder<ResNet>;

/// SmallCNN backbone + projector.
inline SmallCNNEncoder make_small_cnn_encoder(const SmallCNNOptions& backbone = {},
                                              const ProjectorOptions& head = {}) {
  return SmallCNNEncoder(SmallCNN(backbone), head);
}

/// SmallCNN backbone with any heads and an optional momentum target.
inline SmallCNNEncoder make_small_cnn_encoder(const SmallCNNOptions& backbone,
                                              const EncoderOptions& options) {
  return SmallCNNEncoder(BackboneFactory<SmallCNN>{[backbone] { return SmallCNN(backbone); }}, options);
}

/// ResNet backbone with any heads and an optional momentum target.
inline ResNetEncoder make_resnet_encoder(const ResNetOptions& backbone, const EncoderOptions& options) {
  return ResNetEncoder(BackboneFactory<ResNet>{[backbone] { return ResNet(backbone); }}, options);
}

}  // namespace selfsup::models
