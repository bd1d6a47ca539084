#pragma once
/// \file
/// selfsup::Trainer: runs a Recipe with an Encoder on a Dataset.
///
/// One step: the pair source picks partners for a batch of anchors, the view generators turn both
/// sides into views on the data's device, the encoder embeds both in one forward pass (and its
/// predictor and momentum target, when it has them), the optional embedding hook of the pair
/// source runs, the negative strategy says what to contrast against, the loss is computed, then
/// backward, gradient clipping, the learning-rate schedule and the optimiser step, the momentum
/// target's update, and the optional after-step hooks of every policy. Scalars are read back from
/// the device only every `log_every` steps.

#include <selfsup/concepts.hpp>
#include <selfsup/data/sampler.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/detail/type_name.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/train/schedule.hpp>
#include <selfsup/types.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace selfsup {

enum class OptimizerKind {
  sgd,    ///< SGD with momentum
  lars,   ///< LARS (You et al. 2017): layer-wise trust ratio on weights; biases and batch-norm
          ///< parameters (1-D) take neither adaptation nor weight decay, as SimCLR and BYOL do
  adamw,  ///< AdamW (Loshchilov & Hutter, ICLR 2019)
};

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t batch_size = 256;
  OptimizerKind optimizer = OptimizerKind::sgd;
  double learning_rate = 0.05;
  double momentum = 0.9;         ///< SGD and LARS momentum
  double weight_decay = 5e-4;
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
};

/// The loss read back at one logging step.
struct StepLog {
  int64_t epoch = 0;
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

namespace detail {
template <class T>
concept HasBind = requires(T& t, const DatasetInfo& info) { t.bind(info); };
template <class T>
concept HasEligibleAnchors = requires(const T& t) {
  { t.eligible_anchors() } -> std::same_as<torch::Tensor>;
};
template <class D>
concept HasPrefetch = requires(const D& d, const torch::Tensor& indices) { d.prefetch(indices); };
template <class T>
concept HasOnEmbeddings = requires(T& t, LossInput& in, const PairBatch& p) { t.on_embeddings(in, p); };
template <class T>
concept HasAfterStep = requires(T& t, const LossInput& in) { t.after_step(in); };
template <class T>
concept HasSave = requires(const T& t, torch::serialize::OutputArchive& a) { t.save(a); };
template <class T>
concept HasLoad = requires(T& t, torch::serialize::InputArchive& a) { t.load(a); };
template <class E>
concept HasPredictor = requires(E& e, const torch::Tensor& z) {
  { e->has_predictor() } -> std::convertible_to<bool>;
  { e->predict(z) } -> std::same_as<torch::Tensor>;
};
template <class E>
concept HasTarget = requires(E& e, const torch::Tensor& x, double progress) {
  { e->has_target() } -> std::convertible_to<bool>;
  { e->target_forward(x) } -> std::same_as<torch::Tensor>;
  e->update_target(progress);
};

template <class T>
void after_step(T& policy, const LossInput& in) {
  if constexpr (HasAfterStep<T>) policy.after_step(in);
}

// "name [shape]" of every parameter and buffer, to compare a checkpoint with a model.
inline std::vector<std::string> describe(torch::nn::Module& module) {
  std::vector<std::string> out;
  for (const auto& item : module.named_parameters()) {
    std::ostringstream s;
    s << item.key() << " " << item.value().sizes();
    out.push_back(s.str());
  }
  for (const auto& item : module.named_buffers()) {
    std::ostringstream s;
    s << item.key() << " " << item.value().sizes();
    out.push_back(s.str());
  }
  return out;
}
}  // namespace detail

/// Trains `E` (a selfsup::Encoder) with the recipe `R` (a selfsup::Recipe<...>).
///
/// Hooks are optional objects passed to fit(); each member is detected at compile time:
///   h.on_log(Trainer&, const StepLog&)       every `log_every` steps
///   h.on_epoch_end(Trainer&, const EpochEnd&)
/// (selfsup/train/hooks.hpp has a progress line, a JSON-lines log, checkpoints and a kNN monitor.)
template <class R, class E>
class Trainer {
  static_assert(is_recipe_v<R>,
                "selfsup::Trainer: the first template argument must be a selfsup::Recipe<Views, "
                "PairSource, NegativeStrategy, Loss>");
  static_assert(detail::check_recipe_type<R>());
  static_assert(Encoder<E>,
                "selfsup::Trainer: the encoder must be a module holder with forward(x), "
                "features(x), parameters(), train(bool) and to(device)");

 public:
  Trainer(R recipe, E encoder, const TrainerOptions& options = {})
      : recipe_(std::move(recipe)), encoder_(std::move(encoder)), options_(options) {
    constexpr std::string_view fn = "selfsup::Trainer";
    TORCH_CHECK(options.epochs >= 1, fn, ": epochs must be >= 1, got ", options.epochs);
    TORCH_CHECK(options.batch_size >= 2, fn, ": batch_size must be >= 2, got ", options.batch_size);
    TORCH_CHECK(options.learning_rate > 0, fn, ": learning_rate must be positive, got ",
                options.learning_rate);
    TORCH_CHECK(options.weight_decay >= 0 && options.momentum >= 0 && options.clip_grad_norm >= 0,
                fn, ": weight_decay, momentum and clip_grad_norm must be non-negative");
    TORCH_CHECK(options.log_every >= 1, fn, ": log_every must be >= 1, got ", options.log_every);
    make_optimizer();
  }

  R& recipe() { return recipe_; }
  E& encoder() { return encoder_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const TrainerOptions& options() const { return options_; }
  int64_t steps_done() const { return steps_; }
  int64_t epoch() const { return epoch_; }
  /// Asks fit() to return after the current step (from a hook, e.g. at a time budget).
  void request_stop() { stop_requested_ = true; }

  /// The last checkpoint written or read, empty if none.
  const std::string& last_checkpoint() const { return last_checkpoint_; }

  /// Trains on `data` until `options.epochs` epochs (or `max_steps` steps) are done in all,
  /// continuing from where a loaded checkpoint left off.
  template <class D, class... Hooks>
  TrainResult fit(const D& data, Hooks&... hooks) {
    static_assert(Dataset<D>, "selfsup::Trainer::fit: the data must satisfy selfsup::Dataset "
                              "(size(), images(indices), labels(indices), device())");
    const auto device = data.device();
    encoder_->to(device);
    if (options_.channels_last && device.is_cuda()) detail::to_channels_last(*encoder_);
    if constexpr (detail::HasBind<typename R::pairs_type>) {
      auto all = torch::arange(static_cast<int64_t>(data.size()),
                               torch::TensorOptions().dtype(torch::kLong).device(device));
      recipe_.pairs.bind(DatasetInfo{.size = static_cast<int64_t>(data.size()),
                                     .labels = data.labels(all),
                                     .device = device});
    }
    // A pair source's state from a checkpoint is restored once it is bound to the data.
    if (pending_pairs_state_) {
      if constexpr (detail::HasLoad<typename R::pairs_type>) recipe_.pairs.load(*pending_pairs_state_);
      pending_pairs_state_.reset();
    }
    torch::Tensor subset;
    if constexpr (detail::HasEligibleAnchors<typename R::pairs_type>) {
      subset = recipe_.pairs.eligible_anchors();
    }
    data::EpochSampler sampler(static_cast<int64_t>(data.size()),
                               {.batch_size = options_.batch_size, .drop_last = true,
                                .seed = options_.seed},
                               device, subset);
    total_steps_ = sampler.batches_per_epoch() * options_.epochs;
    if (options_.max_steps >= 0) total_steps_ = std::min(total_steps_, options_.max_steps);

    stop_requested_ = false;
    TrainResult result;
    const auto start = std::chrono::steady_clock::now();
    auto last_log = start;
    int64_t images_since_log = 0;
    while (epoch_ < options_.epochs) {
      const auto batches = sampler.epoch(epoch_);
      const auto count = static_cast<int64_t>(batches.size());
      if constexpr (detail::HasPrefetch<D>) {
        if (batch_in_epoch_ < count) data.prefetch(batches[batch_in_epoch_]);
      }
      while (batch_in_epoch_ < count && steps_ < total_steps_ && !stop_requested_) {
        const auto& anchors = batches[batch_in_epoch_];
        auto loss = step(data, anchors,
                         batch_in_epoch_ + 1 < count ? batches[batch_in_epoch_ + 1] : torch::Tensor());
        ++batch_in_epoch_;  // before the hooks: a checkpoint they write resumes after this batch
        ++result.steps;
        result.images += anchors.size(0);
        images_since_log += anchors.size(0);
        if (steps_ % options_.log_every == 0) {
          const auto now = std::chrono::steady_clock::now();
          const double seconds = std::chrono::duration<double>(now - last_log).count();
          auto entry = read_loss(loss, seconds > 0 ? images_since_log / seconds : 0.0);
          last_log = now;
          images_since_log = 0;
          result.log.push_back(entry);
          (call_on_log(hooks, entry), ...);
        }
      }
      if (batch_in_epoch_ < count) break;  // max_steps or a stop request inside the epoch
      // The epoch is complete: a checkpoint written by a hook resumes at the next one.
      batch_in_epoch_ = 0;
      ++epoch_;
      const EpochEnd end{.epoch = epoch_ - 1, .step = steps_};
      (call_on_epoch_end(hooks, end), ...);
      if (steps_ >= total_steps_ || stop_requested_) break;
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  /// One optimiser step on the pairs of `anchors` (int64 (B)). Returns the detached loss on the
  /// device, without reading it back. A dataset with `prefetch(indices)` (an image folder) starts
  /// decoding `next_anchors` once this batch's images are in hand, overlapping the encoder's work.
  template <class D>
  torch::Tensor step(const D& data, const torch::Tensor& anchors,
                     const torch::Tensor& next_anchors = {}) {
    static_assert(Dataset<D>, "selfsup::Trainer::step: the data must satisfy selfsup::Dataset");
    encoder_->train(true);
    PairBatch pairs = recipe_.pairs.sample(anchors);
    auto first = data.images(pairs.anchors);
    auto second = pairs.partners.is_same(pairs.anchors) ? first : data.images(pairs.partners);
    if constexpr (detail::HasPrefetch<D>) {
      if (next_anchors.defined()) data.prefetch(next_anchors);
    }
    torch::Tensor v0, v1;
    if constexpr (ViewPairGenerator<typename R::views_type>) {
      v0 = recipe_.views.first(first);
      v1 = recipe_.views.second(second);
    } else {
      v0 = recipe_.views(first);
      v1 = recipe_.views(second);
    }
    TORCH_CHECK(v0.sizes() == v1.sizes(), "selfsup::Trainer: the two views of a pair must have "
                "the same shape to share one forward pass, got ", v0.sizes(), " and ", v1.sizes());
    const auto b = v0.size(0);
    auto x = torch::cat({v0, v1}, 0);
    const bool cuda = x.is_cuda();
    if (options_.channels_last && cuda) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor z, p, t;
    {
      detail::CudaBf16Autocast autocast(options_.bf16_autocast && cuda);
      z = encoder_->forward(x);                                         // (2B, D)
      if constexpr (detail::HasPredictor<E>) {
        if (encoder_->has_predictor()) p = encoder_->predict(z);
      }
      if constexpr (detail::HasTarget<E>) {
        if (encoder_->has_target()) t = encoder_->target_forward(x);
      }
    }
    // Losses in float32 whatever precision the encoder ran in.
    auto as_float = [](const torch::Tensor& v) {
      return v.defined() && v.scalar_type() != torch::kFloat64 ? v.to(torch::kFloat32) : v;
    };
    z = as_float(z), p = as_float(p), t = as_float(t);
    LossInput in;
    in.z0 = z.narrow(0, 0, b);
    in.z1 = z.narrow(0, b, b);
    in.groups = pairs.groups;
    if (p.defined()) {
      in.p0 = p.narrow(0, 0, b);
      in.p1 = p.narrow(0, b, b);
    }
    if (t.defined()) {
      in.t0 = t.narrow(0, 0, b);
      in.t1 = t.narrow(0, b, b);
    }
    if constexpr (detail::HasOnEmbeddings<typename R::pairs_type>) {
      recipe_.pairs.on_embeddings(in, pairs);
    }
    in.negatives = recipe_.negatives.negatives(in, pairs);
    torch::Tensor loss;
    {
      detail::SkipFiniteChecks no_sync;  // read_loss checks the loss at logging steps instead
      loss = recipe_.loss(in);
    }
    optimizer_->zero_grad();
    loss.backward();
    apply_gradient_transforms();
    const double lr = current_learning_rate();
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
    optimizer_->step();
    ++steps_;
    if constexpr (detail::HasTarget<E>) {
      const double progress = total_steps_ > 0 ? static_cast<double>(steps_) / total_steps_ : 1.0;
      encoder_->update_target(std::min(progress, 1.0));
    }
    detail::after_step(recipe_.views, in);
    detail::after_step(recipe_.pairs, in);
    detail::after_step(recipe_.negatives, in);
    detail::after_step(recipe_.loss, in);
    return loss.detach();
  }

  /// The learning rate of the next step.
  double current_learning_rate() const {
    const int64_t total = total_steps_ > 0 ? total_steps_ : std::max<int64_t>(steps_ + 1, 1);
    return learning_rate_at(options_.learning_rate, steps_, total, options_.schedule);
  }

  /// Writes everything needed to resume exactly: encoder (online and target), optimiser state,
  /// the policies' state (queues, support sets, random generators), epoch, step and position in
  /// the epoch. Written to `path` + ".tmp" and then renamed, so a crash mid-write leaves the
  /// previous checkpoint intact.
  void save_checkpoint(const std::string& path) {
    torch::serialize::OutputArchive archive;
    archive.write("selfsup.recipe", c10::IValue(detail::type_name<R>()));
    archive.write("selfsup.parameters", c10::IValue(join(detail::describe(*encoder_))));
    archive.write("selfsup.progress", torch::tensor({epoch_, batch_in_epoch_, steps_}), true);
    torch::serialize::OutputArchive encoder_archive, optimizer_archive;
    encoder_->save(encoder_archive);
    optimizer_->save(optimizer_archive);
    archive.write("encoder", encoder_archive);
    archive.write("optimizer", optimizer_archive);
    save_policy("views", recipe_.views, archive);
    save_policy("pairs", recipe_.pairs, archive);
    save_policy("negatives", recipe_.negatives, archive);
    save_policy("loss", recipe_.loss, archive);
    const std::string tmp = path + ".tmp";
    archive.save_to(tmp);
    std::filesystem::rename(tmp, path);
    last_checkpoint_ = path;
  }

  /// Restores a checkpoint written by save_checkpoint for the same recipe and model. A checkpoint
  /// of another recipe or model is refused with the differences listed; nothing is changed then.
  void load_checkpoint(const std::string& path) {
    constexpr std::string_view fn = "selfsup::Trainer::load_checkpoint";
    TORCH_CHECK(std::filesystem::exists(path), fn, ": no checkpoint at '", path, "'");
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(path);
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, fn, ": cannot read '", path, "' (truncated or not a selfsup checkpoint): ",
                  e.what_without_backtrace());
    }
    c10::IValue recipe_name, parameters;
    TORCH_CHECK(archive.try_read("selfsup.recipe", recipe_name) &&
                    archive.try_read("selfsup.parameters", parameters),
                fn, ": '", path, "' is not a selfsup checkpoint");
    const auto expected = detail::type_name<R>();
    TORCH_CHECK(recipe_name.toStringRef() == expected, fn, ": '", path,
                "' was written by another recipe:\n  checkpoint: ", recipe_name.toStringRef(),
                "\n  this trainer: ", expected);
    const auto differences = diff(split(parameters.toStringRef()), detail::describe(*encoder_));
    TORCH_CHECK(differences.empty(), fn, ": '", path, "' holds another model:", differences);
    torch::Tensor progress;
    archive.read("selfsup.progress", progress, true);
    torch::serialize::InputArchive encoder_archive, optimizer_archive;
    archive.read("encoder", encoder_archive);
    archive.read("optimizer", optimizer_archive);
    encoder_->load(encoder_archive);
    optimizer_->load(optimizer_archive);
    load_policy("views", recipe_.views, archive);
    if constexpr (detail::HasLoad<typename R::pairs_type>) {
      torch::serialize::InputArchive pairs_state;
      TORCH_CHECK(archive.try_read("pairs", pairs_state), fn,
                  ": the checkpoint has no state for the pairs policy");
      if constexpr (detail::HasBind<typename R::pairs_type>) {
        pending_pairs_state_ = std::move(pairs_state);  // restored by fit(), after bind()
      } else {
        recipe_.pairs.load(pairs_state);
      }
    }
    load_policy("negatives", recipe_.negatives, archive);
    load_policy("loss", recipe_.loss, archive);
    epoch_ = progress[0].item<int64_t>();
    batch_in_epoch_ = progress[1].item<int64_t>();
    steps_ = progress[2].item<int64_t>();
    last_checkpoint_ = path;
  }

 private:
  void make_optimizer() {
    std::vector<torch::Tensor> params;
    for (auto& p : encoder_->parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    TORCH_CHECK(!params.empty(), "selfsup::Trainer: the encoder has no trainable parameters");
    switch (options_.optimizer) {
      case OptimizerKind::sgd:
        optimizer_ = std::make_unique<torch::optim::SGD>(
            params, torch::optim::SGDOptions(options_.learning_rate)
                        .momentum(options_.momentum)
                        .weight_decay(options_.weight_decay));
        break;
      case OptimizerKind::lars: {
        // Weight decay and the trust ratio are applied to the gradients of the adapted
        // parameters before an SGD-with-momentum step (see apply_gradient_transforms).
        for (auto& p : params) (p.dim() > 1 ? lars_adapted_ : lars_excluded_).push_back(p);
        std::vector<torch::optim::OptimizerParamGroup> groups;
        groups.emplace_back(lars_adapted_);
        groups.emplace_back(lars_excluded_);
        optimizer_ = std::make_unique<torch::optim::SGD>(
            groups, torch::optim::SGDOptions(options_.learning_rate).momentum(options_.momentum));
        break;
      }
      case OptimizerKind::adamw:
        optimizer_ = std::make_unique<torch::optim::AdamW>(
            params, torch::optim::AdamWOptions(options_.learning_rate).weight_decay(options_.weight_decay));
        break;
    }
  }

  // Gradient clipping (global norm) and LARS's per-layer trust ratio, all on the device.
  void apply_gradient_transforms() {
    if (options_.clip_grad_norm > 0) {
      std::vector<torch::Tensor> norms;
      for (auto& group : optimizer_->param_groups()) {
        for (auto& p : group.params()) {
          if (p.grad().defined()) norms.push_back(p.grad().norm().to(torch::kFloat32).reshape({1}));
        }
      }
      if (!norms.empty()) {
        auto total = torch::cat(norms).norm();
        auto scale = (options_.clip_grad_norm / (total + 1e-6)).clamp_max(1.0);
        for (auto& group : optimizer_->param_groups()) {
          for (auto& p : group.params()) {
            if (p.grad().defined()) p.mutable_grad().mul_(scale.to(p.grad().scalar_type()));
          }
        }
      }
    }
    if (options_.optimizer == OptimizerKind::lars) {
      for (auto& p : lars_adapted_) {
        if (!p.grad().defined()) continue;
        auto g = p.grad().add(p.detach(), options_.weight_decay);
        auto w_norm = p.detach().norm(), g_norm = g.norm();
        auto trust = torch::where(w_norm.gt(0) & g_norm.gt(0),
                                  options_.lars_trust * w_norm / g_norm, torch::ones_like(w_norm));
        p.mutable_grad() = g.mul_(trust);
      }
    }
  }

  template <class Hook>
  void call_on_log(Hook& hook, const StepLog& entry) {
    if constexpr (requires { hook.on_log(*this, entry); }) hook.on_log(*this, entry);
  }
  template <class Hook>
  void call_on_epoch_end(Hook& hook, const EpochEnd& end) {
    if constexpr (requires { hook.on_epoch_end(*this, end); }) hook.on_epoch_end(*this, end);
  }

  template <class P>
  static void save_policy(const char* key, const P& policy, torch::serialize::OutputArchive& archive) {
    if constexpr (detail::HasSave<P>) {
      torch::serialize::OutputArchive sub;
      policy.save(sub);
      archive.write(key, sub);
    }
  }
  template <class P>
  static void load_policy(const char* key, P& policy, torch::serialize::InputArchive& archive) {
    if constexpr (detail::HasLoad<P>) {
      torch::serialize::InputArchive sub;
      TORCH_CHECK(archive.try_read(key, sub), "selfsup::Trainer::load_checkpoint: the checkpoint "
                  "has no state for the ", key, " policy");
      policy.load(sub);
    }
  }

  static std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  static std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // The entries only one side has, one per line.
  static std::string diff(const std::vector<std::string>& checkpoint, const std::vector<std::string>& model) {
    std::string out;
    for (const auto& c : checkpoint) {
      if (std::find(model.begin(), model.end(), c) == model.end()) out += "\n  checkpoint only: " + c;
    }
    for (const auto& m : model) {
      if (std::find(checkpoint.begin(), checkpoint.end(), m) == checkpoint.end()) out += "\n  model only: " + m;
    }
    return out;
  }

  StepLog read_loss(const torch::Tensor& loss, double images_per_second) {
    const double value = loss.item<double>();
    TORCH_CHECK(std::isfinite(value), "selfsup::Trainer: the loss became ", value, " at step ",
                steps_, " (epoch ", epoch_, "); training stopped. ",
                last_checkpoint_.empty() ? std::string("No checkpoint was written.")
                                         : "The last good checkpoint is '" + last_checkpoint_ + "'.");
    StepLog entry{.epoch = epoch_, .step = steps_, .loss = value,
                  .learning_rate = optimizer_->param_groups().front().options().get_lr(),
                  .images_per_second = images_per_second, .total_steps = total_steps_,
                  .batch_size = options_.batch_size};
    if (options_.verbose) {
      fmt::print("epoch {:>3}  step {:>6}  loss {:.4f}  lr {:.4g}\n", epoch_, steps_, value,
                 entry.learning_rate);
    }
    return entry;
  }

  R recipe_;
  E encoder_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> lars_adapted_, lars_excluded_;
  int64_t steps_ = 0;
  int64_t epoch_ = 0;
  int64_t batch_in_epoch_ = 0;
  int64_t total_steps_ = 0;
  bool stop_requested_ = false;
  std::string last_checkpoint_;
  std::optional<torch::serialize::InputArchive> pending_pairs_state_;
};

}  // namespace selfsup
