#pragma once
/// \file
/// LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, "Large Batch Training of
/// Convolutional Networks", 2017), as a torch::optim::Optimizer with its own state, saved and
/// restored like SGD's.
///
/// For each parameter p of a group with `adapt` set, the gradient g is first given weight decay,
/// g ← g + λ·p, then scaled by the trust ratio η·‖p‖ / ‖g‖ (1 when either norm is 0); groups
/// without `adapt` (biases and batch-norm parameters, as SimCLR and BYOL do it) take neither.
/// Then SGD with momentum: b ← μ·b + g (b = g at the first step), p ← p − lr·b. Every operation
/// stays on the parameter's device; nothing is read back to the host.

#include <selfsup/detail/torch_compat.hpp>

#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>
#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

namespace selfsup::optim {

struct LARSOptions : public torch::optim::OptimizerCloneableOptions<LARSOptions> {
  LARSOptions(double lr = 0.1) : lr_(lr) {}  // NOLINT: implicit, as torch::optim's options
  TORCH_ARG(double, lr);
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 0.0;
  TORCH_ARG(double, trust_coefficient) = 0.001;  ///< η
  TORCH_ARG(bool, adapt) = true;                 ///< weight decay and trust ratio for this group

 public:
  void serialize(torch::serialize::InputArchive& archive) override {
    _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
    _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, momentum);
    _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
    _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, trust_coefficient);
    _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(bool, adapt);
  }
  void serialize(torch::serialize::OutputArchive& archive) const override {
    _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
    _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum);
    _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
    _TORCH_OPTIM_SERIALIZE_TORCH_ARG(trust_coefficient);
    _TORCH_OPTIM_SERIALIZE_TORCH_ARG(adapt);
  }
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

struct LARSParamState : public torch::optim::OptimizerCloneableParamState<LARSParamState> {
  TORCH_ARG(torch::Tensor, momentum_buffer);

 public:
  void serialize(torch::serialize::InputArchive& archive) override {
    _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, momentum_buffer);
  }
  void serialize(torch::serialize::OutputArchive& archive) const override {
    _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum_buffer);
  }
};

class LARS : public torch::optim::Optimizer {
 public:
  LARS(std::vector<torch::optim::OptimizerParamGroup> groups, LARSOptions defaults)
      : Optimizer(std::move(groups), std::make_unique<LARSOptions>(defaults)) {
    TORCH_CHECK(defaults.lr() >= 0, "selfsup::optim::LARS: lr must be >= 0, got ", defaults.lr());
    TORCH_CHECK(defaults.momentum() >= 0, "selfsup::optim::LARS: momentum must be >= 0, got ",
                defaults.momentum());
    TORCH_CHECK(defaults.weight_decay() >= 0, "selfsup::optim::LARS: weight_decay must be >= 0, got ",
                defaults.weight_decay());
    TORCH_CHECK(defaults.trust_coefficient() > 0,
                "selfsup::optim::LARS: trust_coefficient must be positive, got ",
                defaults.trust_coefficient());
  }

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::NoGradGuard no_grad;
    torch::Tensor loss;
    if (closure != nullptr) {
      torch::AutoGradMode enable_grad(true);
      loss = closure();
    }
    for (auto& group : param_groups_) {
      const auto& o = static_cast<const LARSOptions&>(group.options());
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto g = p.grad();
        if (o.adapt()) {
          g = g.add(p, o.weight_decay());
          auto w_norm = p.norm(), g_norm = g.norm();
          auto trust = torch::where(w_norm.gt(0) & g_norm.gt(0), o.trust_coefficient() * w_norm / g_norm,
                                    torch::ones_like(w_norm));
          g = g.mul(trust);
        }
        if (o.momentum() != 0) {
          auto key = detail::optimizer_state_key(p);
          auto it = state_.find(key);
          if (it == state_.end()) {
            auto s = std::make_unique<LARSParamState>();
            s->momentum_buffer(torch::clone(g).detach());
            g = s->momentum_buffer();
            state_[key] = std::move(s);
          } else {
            auto& buf = static_cast<LARSParamState&>(*it->second).momentum_buffer();
            buf.mul_(o.momentum()).add_(g);
            g = buf;
          }
        }
        p.add_(g, -o.lr());
      }
    }
    return loss;
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    torch::optim::serialize<LARSParamState, LARSOptions>(archive, *this);
  }
  void load(torch::serialize::InputArchive& archive) override {
    torch::optim::serialize<LARSParamState, LARSOptions>(archive, *this);
  }
};

}  // namespace selfsup::optim
