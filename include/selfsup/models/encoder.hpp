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
  /// SwAV: K prototypes, a Linear(projection width -> K) without bias whose rows are L2-normalised
  /// before every step (0: none). The loss reads them (LossInput::prototypes).
  int64_t prototypes = 0;
  /// Steps at the start of training during which the last layer (DINO's head.last_layer, SwAV's
  /// prototypes) takes no optimiser step: its gradient is dropped (DINO: the first epoch; SwAV:
  /// the first 313 iterations).
  int64_t freeze_last_layer_steps = 0;
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
    TORCH_CHECK(options.prototypes >= 0 && options.freeze_last_layer_steps >= 0, "selfsup::models::ProjectedEncoder: "
                "prototypes and freeze_last_layer_steps must be >= 0, got ", options.prototypes, " and ",
                options.freeze_last_layer_steps);
    if (options.predictor) {
      predictor = register_module("predictor", Projector(projector->out_dim(), *options.predictor));
    }
    if (options.prototypes > 0) {
      prototype_layer = register_module(
          "prototypes", torch::nn::Linear(torch::nn::LinearOptions(projector->out_dim(), options.prototypes).bias(false)));
      normalize_prototypes();
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

  bool has_prototypes() const { return !prototype_layer.is_empty(); }
  /// The prototypes (K, D), with gradient.
  torch::Tensor prototypes() {
    TORCH_CHECK(has_prototypes(), "selfsup::models::ProjectedEncoder::prototypes: the encoder has no prototypes; "
                "set EncoderOptions::prototypes");
    return prototype_layer->weight;
  }

  /// Before step `step` (0-based): the prototypes' rows L2-normalised (SwAV).
  void before_step(int64_t /*step*/) {
    if (has_prototypes()) normalize_prototypes();
  }

  /// Between the backward pass and the optimiser step of step `step`: during the first
  /// freeze_last_layer_steps steps, the last layer's gradients are dropped, so that the optimiser
  /// leaves it (and its state) as it is.
  void after_backward(int64_t step) {
    if (step >= options_.freeze_last_layer_steps) return;
    for (auto& p : last_layer_parameters()) p.mutable_grad() = torch::Tensor();
  }

  /// DINO's head.last_layer and SwAV's prototypes: what freeze_last_layer_steps freezes.
  std::vector<torch::Tensor> last_layer_parameters() {
    std::vector<torch::Tensor> out;
    if (!projector->last_layer.is_empty()) {
      for (auto& p : projector->last_layer->parameters()) {
        if (p.requires_grad()) out.push_back(p);
      }
    }
    if (has_prototypes()) out.push_back(prototype_layer->weight);
    return out;
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
  torch::nn::Linear prototype_layer{nullptr};

 private:
  void normalize_prototypes() {
    torch::NoGradGuard no_grad;
    auto& w = prototype_layer->weight;
    w.div_(w.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12));
  }

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
