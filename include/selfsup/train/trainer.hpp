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
///
/// A run that diverges stops with an error naming the step whose loss was not finite and the last
/// good checkpoint, whatever `log_every` is: on the CPU every loss is checked before its backward
/// pass; on a GPU a flag kept on the device is read at logging steps and epoch ends. A checkpoint
/// is never written from parameters or buffers that are not finite.
///
/// Data parallel (distributed::current() has more than one process, after init_from_env): every
/// rank starts from rank 0's weights, draws its own shard of each epoch's anchors (batch_size is
/// per process), and runs the encoder on its shard with BatchNorm over the global batch (selfsup's
/// models::BatchNorm1d/2d; an encoder with LibTorch's own torch::nn::BatchNorm is refused); the loss's
/// inputs and the pairs are gathered, so the loss, its negatives (in-batch, queue, support set) and
/// its batch statistics are those of the global batch, computed identically by every rank; gradients
/// are averaged in buckets during the backward pass. W ranks of batch B take the steps one process
/// of batch W·B would. Hooks run on every rank (distributed::current().is_main() tells the one that
/// writes); save_checkpoint is collective: rank 0 writes, with every rank's policy state.

#include <selfsup/concepts.hpp>
#include <selfsup/detail/crc32c.hpp>
#include <selfsup/data/sampler.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/state.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/detail/type_name.hpp>
#include <selfsup/distributed/agreement.hpp>
#include <selfsup/distributed/collectives.hpp>
#include <selfsup/models/batch_norm.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/train/checkpoint.hpp>
#include <selfsup/train/checkpoint_archive.hpp>
#include <selfsup/train/divergence.hpp>
#include <selfsup/train/forward.hpp>
#include <selfsup/train/optimizers.hpp>
#include <selfsup/train/options.hpp>
#include <selfsup/train/schedule.hpp>
#include <selfsup/types.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace selfsup {

/// Trains `E` (a selfsup::Encoder) with the recipe `R` (a selfsup::Recipe<...>).
///
/// Hooks are objects passed to fit(); each has one or both of (concepts.hpp, contract::on_log):
///   void on_log(Trainer&, const StepLog&)        every `log_every` steps
///   void on_epoch_end(Trainer&, const EpochEnd&)
/// (selfsup/train/hooks.hpp has a progress bar, checkpoints and a kNN monitor; selfsup/report/json.hpp
/// a JSON-lines log.)
template <class R, class E>
class Trainer {
  static_assert(is_recipe_v<R>,
                "selfsup::Trainer: the first template argument must be a selfsup::Recipe<Views, "
                "PairSource, NegativeStrategy, Loss>");
  static_assert(detail::check_recipe_type<R>());
  static_assert(Encoder<E>,
                "selfsup::Trainer: the encoder must be a module holder with forward(x), "
                "features(x), parameters(), train(bool) and to(device)");
  static_assert(contract::optional_members<E, contract::has_predictor_of<E>, contract::predict_of<E>,
                                           contract::has_target_of<E>, contract::target_forward_of<E>,
                                           contract::update_target_of<E>, contract::has_prototypes_of<E>,
                                           contract::prototypes_of<E>, contract::before_step_of<E>,
                                           contract::after_backward_of<E>>());
  using Pairs = typename R::pairs_type;
  using LossTraits = loss_traits<typename R::loss_type>;
  static_assert(!LossTraits::needs_predictor || has_predictor_members_v<E>,
                "selfsup::Trainer: the loss reads the predictor's outputs p0, p1 (BYOL, SimSiam), but "
                "the encoder has no predictor: it needs `bool has_predictor() const` and "
                "`torch::Tensor predict(const torch::Tensor& z)` (models::ProjectedEncoder with "
                "EncoderOptions::predictor)");
  static_assert(!LossTraits::needs_target || has_target_members_v<E>,
                "selfsup::Trainer: the loss reads the momentum target's outputs t0, t1 (DINO's teacher, MoCo v3's "
                "keys), but the encoder has no momentum target: it needs `bool has_target() const`, "
                "`torch::Tensor target_forward(const torch::Tensor& x)` and `void update_target(double progress)` "
                "(models::ProjectedEncoder with EncoderOptions::momentum_target)");
  static_assert(!LossTraits::needs_prototypes || has_prototype_members_v<E>,
                "selfsup::Trainer: the loss scores projections against prototypes (SwAV), but the encoder has no "
                "prototypes: it needs `bool has_prototypes() const` and `torch::Tensor prototypes()` "
                "(models::ProjectedEncoder with EncoderOptions::prototypes)");

 public:
  Trainer(R recipe, E encoder, const TrainerOptions& options = {})
      : recipe_(std::move(recipe)), encoder_(std::move(encoder)), options_(options) {
    constexpr std::string_view fn = "selfsup::Trainer";
    const auto recorded = checkpoint::check_options(options, fn);
    if constexpr (LossTraits::needs_predictor) {
      TORCH_CHECK(encoder_->has_predictor(), fn, ": the loss reads the predictor's outputs (BYOL, "
                  "SimSiam, MoCo v3), but this encoder was made without a predictor; set EncoderOptions::predictor");
    }
    if constexpr (LossTraits::needs_target) {
      TORCH_CHECK(encoder_->has_target(), fn, ": the loss reads the momentum target's outputs (DINO, MoCo v3), "
                  "but this encoder was made without a momentum target; set EncoderOptions::momentum_target");
    }
    if constexpr (LossTraits::needs_prototypes) {
      TORCH_CHECK(encoder_->has_prototypes(), fn, ": the loss scores projections against prototypes (SwAV), "
                  "but this encoder was made without them; set EncoderOptions::prototypes");
    }
    std::vector<torch::Tensor> params;
    for (auto& p : encoder_->parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    TORCH_CHECK(!params.empty(), fn, ": the encoder has no trainable parameters");
    if (distributed::current().distributed()) {
      if (const auto plain = models::plain_batch_norm(*encoder_)) {
        TORCH_CHECK(false, fn, ": data parallel: the encoder's layer ", *plain, " normalises with this "
                    "rank's statistics only, not the global batch's, so W ranks would not train as one process "
                    "of batch W*B; build the encoder with selfsup::models::BatchNorm1d/BatchNorm2d (the same "
                    "parameters, buffers and checkpoint names), which synchronise inside the trainer's step");
      }
      // Before anything whose size depends on them: the run's options and the model's layout.
      auto facts = recorded;
      const auto layout = checkpoint::describe(*encoder_);
      facts["model_layout_crc32c"] = fmt::format("{:08x}", detail::crc32c(layout));
      distributed::check_ranks_alike(facts, fn);
      distributed::broadcast_state(*encoder_);  // rank 0's initial weights everywhere
      averager_ = std::make_unique<distributed::GradientAverager>(params);
    }
    optimizer_ = optim::make_optimizer(params, options_);
  }

  using trainer_type = Trainer;
  R& recipe() { return recipe_; }
  E& encoder() { return encoder_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const TrainerOptions& options() const { return options_; }
  int64_t steps_done() const { return steps_; }
  int64_t epoch() const { return epoch_; }
  /// The steps of the whole run (epochs, or max_steps), known once fit() has seen the data.
  int64_t total_steps() const { return total_steps_; }
  /// Asks fit() to return after the current step (from a hook, e.g. at a time budget).
  void request_stop() { stop_requested_ = true; }
  /// The last checkpoint written or read, empty if none.
  const std::string& last_checkpoint() const { return divergence_.last_checkpoint(); }

  /// Trains on `data` until `options.epochs` epochs (or `max_steps` steps) are done in all,
  /// continuing from where a loaded checkpoint left off.
  template <class D, class... Hooks>
  TrainResult fit(const D& data, Hooks&... hooks) {
    static_assert(Dataset<D>, "selfsup::Trainer::fit: the data must satisfy selfsup::Dataset "
                              "(size(), images(indices), labels(indices), device())");
    static_assert(contract::optional_members<D, contract::prefetch<D>, contract::sources<D>>());
    (check_hook<Hooks>(), ...);
    const auto device = data.device();
    encoder_->to(device);
    if (options_.channels_last && device.is_cuda()) detail::to_channels_last(*encoder_);
    if constexpr (contract::bind<Pairs>::valid) {
      auto all = torch::arange(static_cast<int64_t>(data.size()),
                               torch::TensorOptions().dtype(torch::kLong).device(device));
      recipe_.pairs.bind(DatasetInfo{.size = static_cast<int64_t>(data.size()), .labels = data.labels(all),
                                     .device = device});
    }
    // A pair source's state from a checkpoint is restored once it is bound to the data.
    if (pending_pairs_state_) {
      if constexpr (contract::load<Pairs>::valid) recipe_.pairs.load(*pending_pairs_state_);
      pending_pairs_state_.reset();
    }
    const auto& ctx = distributed::current();
    if (ctx.distributed()) {  // the data's identity: its size and labels on every rank
      auto labels = data.labels(torch::arange(static_cast<int64_t>(data.size()),
                                              torch::TensorOptions().dtype(torch::kLong).device(device)));
      uint32_t crc = 0;
      if (labels.defined() && labels.numel() > 0) {
        labels = labels.to(torch::kCPU, torch::kLong).contiguous();
        crc = detail::crc32c(std::string_view(static_cast<const char*>(labels.data_ptr()), labels.nbytes()));
      }
      distributed::check_ranks_alike({{"data.size", std::to_string(data.size())},
                                      {"data.labels_crc32c", labels.defined() ? fmt::format("{:08x}", crc) : "none"}},
                                     "selfsup::Trainer::fit");
    }
    torch::Tensor subset;
    if constexpr (contract::eligible_anchors<Pairs>::valid) subset = recipe_.pairs.eligible_anchors();
    data::EpochSampler sampler(static_cast<int64_t>(data.size()),
                               {.batch_size = options_.batch_size, .drop_last = true, .seed = options_.seed,
                                .rank = ctx.rank(), .world_size = ctx.world_size()},
                               device, subset);
    const int64_t world = ctx.world_size();
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
      if constexpr (contract::prefetch<D>::valid) {
        if (batch_in_epoch_ < count) data.prefetch(batches[batch_in_epoch_]);
      }
      while (batch_in_epoch_ < count && steps_ < total_steps_ && !stop_requested_) {
        const auto& anchors = batches[batch_in_epoch_];
        auto loss = step(data, anchors, batch_in_epoch_ + 1 < count ? batches[batch_in_epoch_ + 1] : torch::Tensor());
        ++batch_in_epoch_;  // before the hooks: a checkpoint they write resumes after this batch
        ++result.steps;
        result.images += anchors.size(0) * world;  // the global batch
        images_since_log += anchors.size(0) * world;
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
      divergence_.check(epoch_);
      if (batch_in_epoch_ < count) break;  // max_steps or a stop request inside the epoch
      // The epoch is complete: a checkpoint written by a hook resumes at the next one.
      batch_in_epoch_ = 0;
      ++epoch_;
      [[maybe_unused]] const EpochEnd end{.epoch = epoch_ - 1, .step = steps_};
      (call_on_epoch_end(hooks, end), ...);
      if (steps_ >= total_steps_ || stop_requested_) break;
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (ctx.distributed()) check_ranks_agree();
    return result;
  }

  /// One optimiser step on the pairs of `anchors` (int64 (B)). Returns the detached loss on the
  /// device, without reading it back. A dataset with `prefetch(indices)` (an image folder) starts
  /// decoding `next_anchors` once this batch's images are in hand, overlapping the encoder's work.
  template <class D>
  torch::Tensor step(const D& data, const torch::Tensor& anchors, const torch::Tensor& next_anchors = {}) {
    static_assert(Dataset<D>, "selfsup::Trainer::step: the data must satisfy selfsup::Dataset");
    encoder_->train(true);
    if constexpr (contract::before_step_of<E>::valid) encoder_->before_step(steps_);
    PairBatch pairs = recipe_.pairs.sample(anchors);
    const bool parallel = distributed::current().distributed();
    LossInput in;
    {
      distributed::SyncBatchNormScope sync(parallel);
      in = embed_batch(data, pairs, next_anchors);
    }
    in.groups = pairs.groups;
    if constexpr (LossTraits::needs_prototypes) in.prototypes = encoder_->prototypes();
    if (parallel) {  // the loss of the global batch, on every rank
      in = distributed::gather(in);
      pairs = distributed::gather(pairs);
    }
    if constexpr (contract::on_embeddings<Pairs>::valid) recipe_.pairs.on_embeddings(in, pairs);
    in.negatives = recipe_.negatives.negatives(in, pairs);
    torch::Tensor loss;
    {
      detail::SkipFiniteChecks no_sync;  // divergence_ checks it, without a sync on a GPU
      loss = recipe_.loss(in);
    }
    divergence_.note_loss(loss, steps_ + 1, epoch_);
    optimizer_->zero_grad();
    if (averager_) averager_->arm();
    loss.backward();
    if (averager_) averager_->finish();
    if constexpr (contract::after_backward_of<E>::valid) encoder_->after_backward(steps_);
    if (options_.clip_grad_norm > 0) optim::clip_grad_norm(*optimizer_, options_.clip_grad_norm);
    const double lr = current_learning_rate();
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
    if (options_.final_weight_decay >= 0) {
      const int64_t total = total_steps_ > 0 ? total_steps_ : steps_ + 1;
      optim::set_weight_decay(*optimizer_, optim::weight_decay_at(options_, steps_, total));
    }
    optimizer_->step();
    ++steps_;
    if constexpr (has_target_members_v<E>) {
      const double progress = total_steps_ > 0 ? static_cast<double>(steps_) / total_steps_ : 1.0;
      encoder_->update_target(std::min(progress, 1.0));
    }
    detail::after_step(recipe_.views, in);
    detail::after_step(recipe_.pairs, in);
    detail::after_step(recipe_.negatives, in);
    detail::after_step(recipe_.loss, in);
    return loss.detach();
  }

  /// Both sides' views through the encoder: cut from the data's full images where it names them
  /// (an image folder) and the view generator takes them, else from its images().
  template <class D>
  LossInput embed_batch(const D& data, const PairBatch& pairs, const torch::Tensor& next_anchors) {
    if constexpr (contract::sources<D>::valid && detail::takes_sources<typename R::views_type>()) {
      auto sources = [&](const torch::Tensor& indices) -> std::optional<views::ImageSources> {
        return data.sources(indices);
      };
      if (auto first = sources(pairs.anchors)) {
        // Augmented pairs: the same images on both sides, each view drawn on its own.
        auto second = pairs.partners.is_same(pairs.anchors) ? first : sources(pairs.partners);
        TORCH_CHECK(second.has_value(), "selfsup::Trainer: the data names the sources of the anchors' images but "
                    "not of their partners'");
        return detail::embed_pair(recipe_.views, encoder_, *first, *second, options_);
      }
    }
    auto first = data.images(pairs.anchors);
    auto second = pairs.partners.is_same(pairs.anchors) ? first : data.images(pairs.partners);
    if constexpr (contract::prefetch<D>::valid) {
      if (next_anchors.defined()) data.prefetch(next_anchors);
    }
    return detail::embed_pair(recipe_.views, encoder_, first, second, options_);
  }

  /// Data parallel: throws unless every rank holds bit-identical parameters and buffers (a CRC-32C
  /// of their bytes, compared across ranks). Collective; save_checkpoint and the end of fit() call
  /// it. Returns the checksum (of this rank's model in a run of one process).
  uint32_t check_ranks_agree() {
    return distributed::check_states_agree(*encoder_, steps_, "selfsup::Trainer");
  }

  /// The learning rate of the next step.
  double current_learning_rate() const {
    const int64_t total = total_steps_ > 0 ? total_steps_ : std::max<int64_t>(steps_ + 1, 1);
    return optim::learning_rate(options_, steps_, total);
  }

  /// Writes everything needed to resume exactly: encoder (online and target), optimiser state,
  /// the policies' state (queues, support sets, random generators), epoch, step and position in
  /// the epoch, and the options that shape the run (checkpoint::record). Written atomically
  /// (checkpoint::write): a crash mid-write leaves the previous checkpoint intact. Refused, with
  /// the previous checkpoint left as it was, when a parameter or buffer is not finite or the run
  /// has diverged.
  void save_checkpoint(const std::string& path) {
    constexpr std::string_view fn = "selfsup::Trainer::save_checkpoint";
    divergence_.check(epoch_);
    divergence_.check_finite_state(*encoder_, path, fn, steps_);
    const auto& ctx = distributed::current();
    check_ranks_agree();
    std::vector<std::string> rank_states;
    if (ctx.distributed()) {  // every rank's own policy state (its random streams), for rank 0 to write
      torch::serialize::OutputArchive mine;
      save_policies(mine);
      std::ostringstream bytes;
      mine.save_to(bytes);
      rank_states = distributed::gather_bytes(bytes.str());
    }
    if (!ctx.is_main()) {
      if (!written_by_main()) {
        throw checkpoint::WriteError(fmt::format("{}: rank 0 could not write '{}' (its error says why); the previous "
                                                 "checkpoint, if any, is unchanged", fn, path));
      }
      divergence_.note_checkpoint(path, steps_);
      return;
    }
    torch::serialize::OutputArchive archive;
    checkpoint::write_run(archive, detail::type_name<R>(), options_, *encoder_, *optimizer_,
                          {.epoch = epoch_, .batch_in_epoch = batch_in_epoch_, .steps = steps_});
    save_policies(archive);
    if (ctx.distributed()) checkpoint::write_rank_states(archive, ctx.world_size(), rank_states);
    try {
      checkpoint::write(archive, path, fn);
    } catch (...) {
      if (ctx.distributed()) written_by_main(false);
      throw;
    }
    if (ctx.distributed()) written_by_main(true);
    divergence_.note_checkpoint(path, steps_);
  }

  /// Restores a checkpoint written by save_checkpoint for the same recipe and model. A checkpoint
  /// of another recipe or model is refused with the differences listed; nothing is changed then.
  void load_checkpoint(const std::string& path) {
    constexpr std::string_view fn = "selfsup::Trainer::load_checkpoint";
    auto archive = checkpoint::read(path, fn);
    // Every rank reads the file (on one node, or a shared file system); each restores its own
    // policy state, and a run on another number of processes is refused. Nothing is changed
    // until every check has passed.
    const auto& ctx = distributed::current();
    checkpoint::check_run(archive, path, fn, detail::type_name<R>(), options_, *encoder_, ctx.world_size());
    torch::serialize::InputArchive own_state;
    torch::serialize::InputArchive* policies = &archive;
    if (ctx.rank() > 0) {
      own_state = checkpoint::read_rank_state(archive, ctx.rank(), path, fn);
      policies = &own_state;
    }
    const auto progress = checkpoint::read_run(archive, *encoder_, *optimizer_, fn);
    checkpoint::load_policy(*policies, "views", recipe_.views);
    if constexpr (contract::load<Pairs>::valid) {
      torch::serialize::InputArchive pairs_state;
      TORCH_CHECK(policies->try_read("pairs", pairs_state), fn, ": the checkpoint has no state for 'pairs'");
      if constexpr (contract::bind<Pairs>::valid) {
        pending_pairs_state_ = std::move(pairs_state);  // restored by fit(), after bind()
      } else {
        recipe_.pairs.load(pairs_state);
      }
    }
    checkpoint::load_policy(*policies, "negatives", recipe_.negatives);
    checkpoint::load_policy(*policies, "loss", recipe_.loss);
    epoch_ = progress.epoch;
    batch_in_epoch_ = progress.batch_in_epoch;
    steps_ = progress.steps;
    divergence_.note_checkpoint(path, steps_);
  }

 private:
  void save_policies(torch::serialize::OutputArchive& archive) {
    checkpoint::save_policy(archive, "views", recipe_.views);
    checkpoint::save_policy(archive, "pairs", recipe_.pairs);
    checkpoint::save_policy(archive, "negatives", recipe_.negatives);
    checkpoint::save_policy(archive, "loss", recipe_.loss);
  }

  /// Rank 0 tells every rank whether its checkpoint write succeeded (`ok` on rank 0; the answer
  /// elsewhere), so that all ranks go on, or stop, together.
  bool written_by_main(bool ok = false) {
    auto flag = torch::tensor({ok ? int64_t{1} : int64_t{0}});
    distributed::current().communicator()->broadcast(flag, 0);
    return flag.item<int64_t>() == 1;
  }

  template <class Hook>
  static void check_hook() {
    static_assert(contract::on_log<Hook, Trainer>::present || contract::on_epoch_end<Hook, Trainer>::present,
                  "selfsup::Trainer::fit: a hook has neither `on_log(Trainer&, const StepLog&)` nor "
                  "`on_epoch_end(Trainer&, const EpochEnd&)`");
    contract::optional_members<Hook, contract::on_log<Hook, Trainer>, contract::on_epoch_end<Hook, Trainer>>();
  }
  template <class Hook>
  void call_on_log(Hook& hook, const StepLog& entry) {
    if constexpr (contract::on_log<Hook, Trainer>::valid) hook.on_log(*this, entry);
  }
  template <class Hook>
  void call_on_epoch_end(Hook& hook, const EpochEnd& end) {
    if constexpr (contract::on_epoch_end<Hook, Trainer>::valid) hook.on_epoch_end(*this, end);
  }

  StepLog read_loss(const torch::Tensor& loss, double images_per_second) {
    divergence_.check(epoch_);
    const double value = loss.item<double>();
    divergence_.check_value(value, steps_, epoch_);
    StepLog entry{.epoch = epoch_, .step = steps_, .loss = value,
                  .learning_rate = optimizer_->param_groups().front().options().get_lr(),
                  .images_per_second = images_per_second, .total_steps = total_steps_,
                  .batch_size = options_.batch_size * distributed::current().world_size()};
    if (options_.verbose && distributed::current().is_main()) {
      fmt::print("epoch {:>3}  step {:>6}  loss {:.4f}  lr {:.4g}\n", epoch_ + 1, steps_, value, entry.learning_rate);
    }
    return entry;
  }

  R recipe_;
  E encoder_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<distributed::GradientAverager> averager_;  ///< data parallel: the gradient average
  int64_t steps_ = 0;
  int64_t epoch_ = 0;
  int64_t batch_in_epoch_ = 0;
  int64_t total_steps_ = 0;
  bool stop_requested_ = false;
  DivergenceGuard divergence_;
  std::optional<torch::serialize::InputArchive> pending_pairs_state_;
};

}  // namespace selfsup
