#pragma once
/// \file
/// models::ProjectedEncoder: a backbone with a projector on top; satisfies selfsup::Encoder.

#include <selfsup/models/projector.hpp>
#include <selfsup/models/small_cnn.hpp>

#include <torch/torch.h>

#include <utility>

namespace selfsup::models {

/// `Backbone` is a module holder with `forward(x) -> (B, F)` and `out_dim() -> F`.
template <class Backbone>
class ProjectedEncoderImpl : public torch::nn::Module {
 public:
  ProjectedEncoderImpl(Backbone backbone, const ProjectorOptions& head)
      : backbone(register_module("backbone", std::move(backbone))),
        projector(register_module("projector", Projector(this->backbone->out_dim(), head))) {}

  /// The representation used for evaluation: (B, F).
  torch::Tensor features(const torch::Tensor& x) { return backbone->forward(x); }

  /// The projection the loss consumes: (B, D).
  torch::Tensor forward(const torch::Tensor& x) { return projector->forward(features(x)); }

  Backbone backbone;
  Projector projector;
};

template <class Backbone>
class ProjectedEncoder : public torch::nn::ModuleHolder<ProjectedEncoderImpl<Backbone>> {
 public:
  using torch::nn::ModuleHolder<ProjectedEncoderImpl<Backbone>>::ModuleHolder;
};

using SmallCNNEncoder = ProjectedEncoder<SmallCNN>;

/// SmallCNN backbone + projector.
inline SmallCNNEncoder make_small_cnn_encoder(const SmallCNNOptions& backbone = {},
                                              const ProjectorOptions& head = {}) {
  return SmallCNNEncoder(SmallCNN(backbone), head);
}

}  // namespace selfsup::models
