#pragma once
/// \file
/// The trainer's optimisers (SGD with momentum, LARS, AdamW) made from TrainerOptions, and
/// clipping of the global gradient norm, all on the parameters' device.

#include <selfsup/train/lars.hpp>
#include <selfsup/train/options.hpp>

#include <torch/torch.h>

#include <memory>
#include <vector>

namespace selfsup::optim {

/// The optimiser `o.optimizer` over `params`, at `o.learning_rate` (the schedule sets the rate of
/// every step). LARS puts parameters of more than one dimension in an adapted group (weight decay
/// and trust ratio) and the rest (biases, batch-norm) in a plain one.
inline std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                               const TrainerOptions& o) {
  switch (o.optimizer) {
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(o.learning_rate).momentum(o.momentum).weight_decay(o.weight_decay));
    case OptimizerKind::lars: {
      std::vector<torch::Tensor> adapted, plain;
      for (const auto& p : params) (p.dim() > 1 ? adapted : plain).push_back(p);
      const auto defaults =
          LARSOptions(o.learning_rate).momentum(o.momentum).weight_decay(o.weight_decay).trust_coefficient(o.lars_trust);
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(adapted, std::make_unique<LARSOptions>(defaults));
      groups.emplace_back(plain, std::make_unique<LARSOptions>(LARSOptions(defaults).weight_decay(0).adapt(false)));
      return std::make_unique<LARS>(std::move(groups), defaults);
    }
    case OptimizerKind::adamw:
      return std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
  }
  TORCH_CHECK(false, "selfsup::optim::make_optimizer: unknown OptimizerKind ", static_cast<int>(o.optimizer));
}

/// Scales every gradient so that their global 2-norm is at most `max_norm`, without reading
/// anything back to the host.
inline void clip_grad_norm(torch::optim::Optimizer& optimizer, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) norms.push_back(p.grad().norm().to(torch::kFloat32).reshape({1}));
    }
  }
  if (norms.empty()) return;
  auto scale = (max_norm / (torch::cat(norms).norm() + 1e-6)).clamp_max(1.0);
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) p.mutable_grad().mul_(scale.to(p.grad().scalar_type()));
    }
  }
}

}  // namespace selfsup::optim
