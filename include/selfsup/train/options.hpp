#pragma once
/// \file
/// What selfsup::Trainer takes and hands back: its options, the log of a step, an epoch's end
/// and the result of fit().

#include <selfsup/train/schedule.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup {

enum class OptimizerKind {
  sgd,    ///< SGD with momentum
  lars,   ///< LARS (You et al. 2017): layer-wise trust ratio on weights; biases and batch-norm
          ///< parameters (1-D) take neither adaptation nor weight decay, as SimCLR and BYOL do
  adamw,  ///< AdamW (Loshchilov & Hutter, ICLR 2019); biases and normalisation parameters (1-D)
          ///< without weight decay, as DINO and MoCo v3 train vision transformers
};

/// The optimiser's name as flags and checkpoints spell it: "sgd", "lars" or "adamw".
constexpr std::string_view optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::lars: return "lars";
    case OptimizerKind::adamw: return "adamw";
  }
  return "?";
}

struct TrainerOptions;

/// A user's optimiser: made once, over the parameters the trainer trains (every parameter of the
/// encoder that takes gradients), with the trainer's options.
using OptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(const std::vector<torch::Tensor>& params,
                                                           const TrainerOptions& options)>;

/// A user's learning-rate schedule: the rate of step `step` (0-based) of `total`, for the base
/// rate `base` (TrainerOptions::learning_rate).
using LearningRateSchedule = std::function<double(double base, int64_t step, int64_t total)>;

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t batch_size = 256;
  OptimizerKind optimizer = OptimizerKind::sgd;
  double learning_rate = 0.05;
  double momentum = 0.9;         ///< SGD and LARS momentum
  double weight_decay = 5e-4;
  /// >= 0: the weight decay follows a cosine from `weight_decay` at the first step to this at the
  /// last (DINO: 0.04 to 0.4); negative: constant.
  double final_weight_decay = -1.0;
  double lars_trust = 0.001;     ///< LARS trust coefficient η
  ScheduleOptions schedule{};    ///< warm-up, then cosine decay over the whole run
  double clip_grad_norm = 0.0;   ///< clip the global gradient norm to this (0: off)
  std::uint64_t seed = 0;        ///< seeds the epoch permutations
  int64_t log_every = 10;        ///< read the loss back (and call on_log hooks) every this many steps
  int64_t max_steps = -1;        ///< stop after this many steps in all (-1: run every epoch)
  bool verbose = false;          ///< print a line at each logging step
  bool bf16_autocast = false;    ///< CUDA only: the encoder's forward in bfloat16 autocast; the
                                 ///< loss is computed in float32
  bool channels_last = false;    ///< CUDA only: images and convolution weights in channels-last
  /// What else shapes the run, by name (the dataset, the method's temperature, ...): stored in
  /// every checkpoint with the options above under "run.<name>" (checkpoint::record), compared
  /// on resume.
  std::map<std::string, std::string> run{};
  /// The recorded options a resume may change, by their record names ("epochs", "max_steps",
  /// "run.<name>"); a resume that changes any other is refused with the differences listed.
  /// "optimizer" cannot be listed: another optimiser cannot take over the saved state.
  std::set<std::string> may_change_on_resume{};
  /// A user's optimiser in place of `optimizer`'s (any torch::optim::Optimizer). Before each step
  /// the schedule sets every group's learning rate and, with final_weight_decay >= 0, the first
  /// group's weight decay (for SGD, LARS, Adam, AdamW, RMSprop and Adagrad options; another kind
  /// is refused). Checkpoints record "optimizer" as `optimizer_label`.
  OptimizerFactory custom_optimizer{};
  std::string optimizer_label = "custom";
  /// A user's learning-rate schedule in place of `schedule`; each rate must be finite and >= 0.
  /// Checkpoints record "schedule" as `schedule_label`.
  LearningRateSchedule custom_schedule{};
  std::string schedule_label = "custom";
};

/// The loss read back at one logging step.
struct StepLog {
  int64_t epoch = 0;            ///< 0-based epoch of the step
  int64_t step = 0;             ///< 1-based count of optimiser steps so far
  double loss = 0.0;
  double learning_rate = 0.0;
  double images_per_second = 0.0;  ///< since the previous logging step
  int64_t total_steps = 0;
  int64_t batch_size = 0;
};

/// Passed to on_epoch_end hooks.
struct EpochEnd {
  int64_t epoch = 0;            ///< the epoch just finished (0-based)
  int64_t step = 0;
};

struct TrainResult {
  std::vector<StepLog> log;
  int64_t steps = 0;            ///< optimiser steps taken by this call
  int64_t images = 0;           ///< anchors trained on by this call
  double seconds = 0.0;         ///< wall time of training, hooks included
  double images_per_second() const { return seconds > 0 ? images / seconds : 0.0; }
};

}  // namespace selfsup
