#pragma once
/// \file
/// models::AnyBackbone: any backbone behind one type, chosen at run time.
///
/// `ProjectedEncoder<SmallCNN>` and `ProjectedEncoder<ResNet>` are different types, so a program
/// that picks its backbone from a command line would instantiate every recipe once per backbone.
/// `ProjectedEncoder<AnyBackbone>` instantiates them once: the backbone is called through one
/// indirect call per forward pass, nothing else changes. The wrapped module is registered as the
/// submodule `inner`, so parameters, buffers, `to(device)`, `train()`/`eval()`, serialisation and
/// the momentum target's parameter-by-parameter copy all see it.
///
///   auto encoder = ProjectedEncoder<AnyBackbone>(
///       BackboneFactory<AnyBackbone>{[] { return AnyBackbone(ResNet(ResNetOptions{})); }}, options);

#include <torch/torch.h>

#include <concepts>
#include <functional>
#include <memory>
#include <utility>

namespace selfsup::models {

class AnyBackboneImpl : public torch::nn::Module {
 public:
  /// `backbone` is a module holder (SmallCNN, ResNet or a user's) with `forward(x) -> (B, F)` and
  /// `out_dim() -> F`.
  template <class Holder>
    requires requires(Holder h, const torch::Tensor& x) {
      { h->forward(x) } -> std::convertible_to<torch::Tensor>;
      { h->out_dim() } -> std::convertible_to<int64_t>;
      h.ptr();
    }
  explicit AnyBackboneImpl(Holder backbone) {
    TORCH_CHECK(!backbone.is_empty(), "selfsup::models::AnyBackbone: the backbone is empty (a null "
                "module holder)");
    out_dim_ = backbone->out_dim();
    TORCH_CHECK(out_dim_ >= 1, "selfsup::models::AnyBackbone: the backbone's out_dim() must be "
                ">= 1, got ", out_dim_);
    inner_ = register_module("inner", backbone.ptr());
    forward_ = [b = std::move(backbone)](const torch::Tensor& x) mutable -> torch::Tensor {
      return b->forward(x);
    };
  }

  /// (B, C, H, W) images to (B, out_dim()) features.
  torch::Tensor forward(const torch::Tensor& x) { return forward_(x); }

  int64_t out_dim() const { return out_dim_; }

  /// The wrapped module.
  const std::shared_ptr<torch::nn::Module>& inner() const { return inner_; }

 private:
  std::shared_ptr<torch::nn::Module> inner_;
  std::function<torch::Tensor(const torch::Tensor&)> forward_;
  int64_t out_dim_ = 0;
};

TORCH_MODULE(AnyBackbone);

}  // namespace selfsup::models
