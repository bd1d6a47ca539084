#pragma once
/// \file
/// The trainer's optimisers (SGD with momentum, LARS, AdamW) made from TrainerOptions, and
/// clipping of the global gradient norm, all on the parameters' device.

#include <selfsup/train/lars.hpp>
#include <selfsup/train/options.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

namespace selfsup::optim {

/// The optimiser `o.optimizer` over `params`, at `o.learning_rate` (the schedule sets the rate of
/// every step). LARS puts parameters of more than one dimension in an adapted group (weight decay
/// and trust ratio) and the rest (biases, batch-norm) in a plain one; AdamW puts them in a group
/// with weight decay and one without. The first group is always the one with weight decay
/// (set_weight_decay).
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
    case OptimizerKind::adamw: {
      std::vector<torch::Tensor> decayed, plain;
      for (const auto& p : params) (p.dim() > 1 ? decayed : plain).push_back(p);
      const auto defaults = torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay);
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(defaults));
      groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(defaults).weight_decay(0)));
      return std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
    }
  }
  TORCH_CHECK(false, "selfsup::optim::make_optimizer: unknown OptimizerKind ", static_cast<int>(o.optimizer));
}

/// Sets the weight decay of the decayed group (the first) of an optimiser from make_optimizer.
inline void set_weight_decay(torch::optim::Optimizer& optimizer, OptimizerKind kind, double weight_decay) {
  auto& options = optimizer.param_groups().front().options();
  switch (kind) {
    case OptimizerKind::sgd: static_cast<torch::optim::SGDOptions&>(options).weight_decay(weight_decay); return;
    case OptimizerKind::lars: static_cast<LARSOptions&>(options).weight_decay(weight_decay); return;
    case OptimizerKind::adamw: static_cast<torch::optim::AdamWOptions&>(options).weight_decay(weight_decay); return;
  }
}

/// The weight decay at step `step` of `total`: constant, or a cosine to o.final_weight_decay.
inline double weight_decay_at(const TrainerOptions& o, int64_t step, int64_t total) {
  if (o.final_weight_decay < 0) return o.weight_decay;
  const double progress = total > 1 ? std::min(1.0, static_cast<double>(step) / static_cast<double>(total - 1)) : 1.0;
  return o.final_weight_decay + 0.5 * (o.weight_decay - o.final_weight_decay) * (1.0 + std::cos(std::numbers::pi * progress));
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
