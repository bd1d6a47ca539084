#pragma once
/// \file
/// selfsup::DivergenceGuard: how a run that diverges stops. The trainer notes every step's loss;
/// on the CPU a loss that is not finite stops the run before its backward pass (the model stays
/// as the last finite step left it), on a GPU a flag kept on the device records the first such
/// step without a sync, and is read at logging steps, epoch ends and checkpoints. A model whose
/// parameters or buffers are not all finite is never written. Every error names the step and the
/// last good checkpoint.

#include <fmt/core.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup {

/// The divergence checks of one run, and the last checkpoint they point the user to.
class DivergenceGuard {
 public:
  /// A checkpoint written or read at step `step`: the one a later error names.
  void note_checkpoint(const std::string& path, int64_t step) {
    last_checkpoint_ = path;
    last_checkpoint_step_ = step;
  }
  /// The last checkpoint noted, empty if none.
  const std::string& last_checkpoint() const { return last_checkpoint_; }

  /// The loss of step `step` (1-based), before its backward pass: checked now on the CPU; on a
  /// device, kept in the device flag when it is the first that is not finite.
  void note_loss(const torch::Tensor& loss, int64_t step, int64_t epoch) {
    if (loss.device().is_cpu()) {
      check_value(loss.item<double>(), step, epoch);
      return;
    }
    if (!first_bad_step_.defined() || first_bad_step_.device() != loss.device()) {
      first_bad_step_ = torch::full({}, -1, torch::TensorOptions().dtype(torch::kLong).device(loss.device()));
    }
    first_bad_step_.masked_fill_(torch::isfinite(loss.detach()).logical_not().logical_and(first_bad_step_.lt(0)),
                                 step);
  }

  /// Throws when `value`, the loss of step `step`, is not finite.
  void check_value(double value, int64_t step, int64_t epoch) const {
    if (!std::isfinite(value)) diverged(value, step, epoch, /*exact_value=*/true);
  }

  /// Throws when the device flag has caught a loss that was not finite (reads it: a sync).
  void check(int64_t epoch) const {
    if (!first_bad_step_.defined()) return;
    const auto step = first_bad_step_.item<int64_t>();
    if (step >= 0) diverged(std::numeric_limits<double>::quiet_NaN(), step, epoch, /*exact_value=*/false);
  }

  /// Refuses, naming `fn`, `path` and the first bad tensor, to write `module` when one of its
  /// parameters or buffers is not finite (one reduction on the device). `steps`: steps done.
  void check_finite_state(torch::nn::Module& module, const std::string& path, std::string_view fn,
                          int64_t steps) const {
    std::vector<std::string> names;
    std::vector<torch::Tensor> flags;
    auto add = [&](const std::string& name, const torch::Tensor& t) {
      if (t.defined() && t.is_floating_point() && t.numel() > 0) {
        names.push_back(name);
        flags.push_back(torch::isfinite(t.detach()).all());
      }
    };
    for (const auto& item : module.named_parameters()) add(item.key(), item.value());
    for (const auto& item : module.named_buffers()) add(item.key(), item.value());
    if (flags.empty()) return;
    auto finite = torch::stack(flags).cpu();
    if (finite.all().item<bool>()) return;
    const auto bad = finite.logical_not().nonzero()[0][0].item<int64_t>();
    TORCH_CHECK(false, fn, ": not writing '", path, "': the model's '", names[static_cast<size_t>(bad)],
                "' is not finite after step ", steps, " (the run has diverged). ",
                last_checkpoint_.empty()
                    ? std::string("No checkpoint was written before it.")
                    : fmt::format("The last good checkpoint, '{}' (step {}), is unchanged.", last_checkpoint_,
                                  last_checkpoint_step_));
  }

 private:
  [[noreturn]] void diverged(double value, int64_t step, int64_t epoch, bool exact_value) const {
    TORCH_CHECK(false, "selfsup::Trainer: the loss became ", exact_value ? fmt::format("{}", value) : std::string("not finite"),
                " at step ", step, " (epoch ", epoch + 1, "); training stopped, and no checkpoint is written from "
                "this state. ",
                last_checkpoint_.empty()
                    ? std::string("No checkpoint was written before it.")
                    : fmt::format("The last good checkpoint is '{}' (step {}).", last_checkpoint_, last_checkpoint_step_),
                " A lower learning rate, warm-up or gradient clipping (TrainerOptions::clip_grad_norm) may help.");
    std::abort();  // unreachable: TORCH_CHECK(false) throws
  }

  std::string last_checkpoint_;
  int64_t last_checkpoint_step_ = 0;
  torch::Tensor first_bad_step_;  ///< on a device: the first step whose loss was not finite, or -1
};

}  // namespace selfsup
