#pragma once
/// \file
/// The trainer's optimisers (SGD with momentum, LARS, AdamW, or the user's
/// TrainerOptions::custom_optimizer) made from TrainerOptions, their scheduled weight decay, and
/// clipping of the global gradient norm, all on the parameters' device.

#include <selfsup/train/lars.hpp>
#include <selfsup/train/options.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

namespace selfsup::optim {

/// The optimiser `o.optimizer` over `params`, at `o.learning_rate` (the schedule sets the rate of
/// every step). LARS puts parameters of more than one dimension in an adapted group (weight decay
/// and trust ratio) and the rest (biases, batch-norm) in a plain one; AdamW puts them in a group
/// with weight decay and one without. The first group is always the one with weight decay
/// (set_weight_decay).
inline std::unique_ptr<torch::optim::Optimizer> builtin_optimizer(const std::vector<torch::Tensor>& params,
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

namespace detail {
template <class O>
bool set_weight_decay_as(torch::optim::OptimizerOptions& options, double weight_decay) {
  auto* o = dynamic_cast<O*>(&options);
  if (o != nullptr) o->weight_decay(weight_decay);
  return o != nullptr;
}
}  // namespace detail

/// Sets the weight decay of the first param group (the decayed one of make_optimizer's), when
/// its options are of a kind that has one (SGD, LARS, Adam, AdamW, RMSprop, Adagrad); false for
/// any other.
inline bool set_weight_decay(torch::optim::Optimizer& optimizer, double weight_decay) {
  auto& o = optimizer.param_groups().front().options();
  namespace to = torch::optim;
  return detail::set_weight_decay_as<LARSOptions>(o, weight_decay) ||
         detail::set_weight_decay_as<to::SGDOptions>(o, weight_decay) ||
         detail::set_weight_decay_as<to::AdamWOptions>(o, weight_decay) ||
         detail::set_weight_decay_as<to::AdamOptions>(o, weight_decay) ||
         detail::set_weight_decay_as<to::RMSpropOptions>(o, weight_decay) ||
         detail::set_weight_decay_as<to::AdagradOptions>(o, weight_decay);
}

/// The trainer's optimiser: the user's (TrainerOptions::custom_optimizer), checked, or the
/// built-in one that `o.optimizer` names.
inline std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                               const TrainerOptions& o) {
  if (!o.custom_optimizer) return builtin_optimizer(params, o);
  constexpr const char* fn = "selfsup::optim::make_optimizer";
  auto optimizer = o.custom_optimizer(params, o);
  TORCH_CHECK(optimizer != nullptr, fn, ": TrainerOptions::custom_optimizer ('", o.optimizer_label,
              "') returned no optimiser");
  TORCH_CHECK(!optimizer->param_groups().empty(), fn, ": TrainerOptions::custom_optimizer ('", o.optimizer_label,
              "') made an optimiser without parameter groups");
  if (o.final_weight_decay >= 0) {
    TORCH_CHECK(set_weight_decay(*optimizer, o.weight_decay), fn, ": TrainerOptions::final_weight_decay schedules "
                "the weight decay of the first parameter group, and the options of '", o.optimizer_label,
                "' are of a kind selfsup cannot set it on (SGD, LARS, Adam, AdamW, RMSprop and Adagrad options "
                "can be); set final_weight_decay to -1 and schedule it in the optimiser");
  }
  return optimizer;
}

/// The learning rate of step `step` (0-based) of `total`: the user's schedule, checked, or
/// `o.schedule`'s warm-up and cosine.
inline double learning_rate(const TrainerOptions& o, int64_t step, int64_t total) {
  if (!o.custom_schedule) return learning_rate_at(o.learning_rate, step, total, o.schedule);
  const double lr = o.custom_schedule(o.learning_rate, step, total);
  TORCH_CHECK(std::isfinite(lr) && lr >= 0, "selfsup::Trainer: TrainerOptions::custom_schedule ('", o.schedule_label,
              "') gave the learning rate ", lr, " for step ", step, " of ", total, "; it must be finite and >= 0");
  return lr;
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
