#pragma once
/// \file
/// selfsup::Trainer: runs a Recipe with an Encoder on a Dataset.
///
/// One step: the pair source picks partners for a batch of anchors, the view generators turn both
/// sides into views on the data's device, the encoder embeds both in one forward pass, the
/// optional embedding hook runs, the negative strategy says what to contrast against, the loss is
/// computed, then backward, SGD, and the optional after-step hooks of every policy. Scalars are
/// read back from the device only every `log_every` steps.

#include <selfsup/concepts.hpp>
#include <selfsup/data/sampler.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/types.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace selfsup {

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t batch_size = 256;
  double learning_rate = 0.05;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::uint64_t seed = 0;      ///< seeds the epoch permutations
  int64_t log_every = 10;      ///< read the loss back (and print it) every this many steps
  int64_t max_steps = -1;      ///< stop after this many steps in all (-1: run every epoch)
  bool verbose = false;        ///< print a line at each logging step
};

/// The loss read back at one logging step.
struct StepLog {
  int64_t epoch = 0;
  int64_t step = 0;   ///< 1-based count of optimiser steps so far
  double loss = 0.0;
};

struct TrainResult {
  std::vector<StepLog> log;
  int64_t steps = 0;
  int64_t images = 0;          ///< anchors trained on
  double seconds = 0.0;        ///< wall time of training
  double images_per_second() const { return seconds > 0 ? images / seconds : 0.0; }
};

namespace detail {
template <class T>
concept HasBind = requires(T& t, const DatasetInfo& info) { t.bind(info); };
template <class T>
concept HasEligibleAnchors = requires(const T& t) {
  { t.eligible_anchors() } -> std::same_as<torch::Tensor>;
};
template <class T>
concept HasOnEmbeddings = requires(T& t, LossInput& in, const PairBatch& p) { t.on_embeddings(in, p); };
template <class T>
concept HasAfterStep = requires(T& t, const LossInput& in) { t.after_step(in); };

template <class T>
void after_step(T& policy, const LossInput& in) {
  if constexpr (HasAfterStep<T>) policy.after_step(in);
}
}  // namespace detail

/// Trains `E` (a selfsup::Encoder) with the recipe `R` (a selfsup::Recipe<...>).
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
      : recipe_(std::move(recipe)),
        encoder_(std::move(encoder)),
        options_(options),
        optimizer_(encoder_->parameters(),
                   torch::optim::SGDOptions(options.learning_rate)
                       .momentum(options.momentum)
                       .weight_decay(options.weight_decay)) {
    TORCH_CHECK(options.epochs >= 1, "selfsup::Trainer: epochs must be >= 1, got ", options.epochs);
    TORCH_CHECK(options.learning_rate > 0, "selfsup::Trainer: learning_rate must be positive, got ",
                options.learning_rate);
    TORCH_CHECK(options.log_every >= 1, "selfsup::Trainer: log_every must be >= 1, got ",
                options.log_every);
  }

  R& recipe() { return recipe_; }
  E& encoder() { return encoder_; }
  torch::optim::SGD& optimizer() { return optimizer_; }
  int64_t steps_done() const { return steps_; }

  /// Trains for `options.epochs` epochs (or `max_steps` steps) on `data`.
  template <class D>
  TrainResult fit(const D& data) {
    static_assert(Dataset<D>, "selfsup::Trainer::fit: the data must satisfy selfsup::Dataset "
                              "(size(), images(indices), labels(indices), device())");
    const auto device = data.device();
    encoder_->to(device);
    if constexpr (detail::HasBind<typename R::pairs_type>) {
      auto all = torch::arange(static_cast<int64_t>(data.size()),
                               torch::TensorOptions().dtype(torch::kLong).device(device));
      recipe_.pairs.bind(DatasetInfo{.size = static_cast<int64_t>(data.size()),
                                     .labels = data.labels(all),
                                     .device = device});
    }
    torch::Tensor subset;
    if constexpr (detail::HasEligibleAnchors<typename R::pairs_type>) {
      subset = recipe_.pairs.eligible_anchors();
    }
    data::EpochSampler sampler(static_cast<int64_t>(data.size()),
                               {.batch_size = options_.batch_size, .drop_last = true,
                                .seed = options_.seed},
                               device, subset);
    TrainResult result;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t epoch = 0; epoch < options_.epochs; ++epoch) {
      for (const auto& anchors : sampler.epoch(epoch)) {
        if (options_.max_steps >= 0 && result.steps >= options_.max_steps) break;
        auto loss = step(data, anchors);
        ++result.steps;
        result.images += anchors.size(0);
        if (steps_ % options_.log_every == 0) result.log.push_back(read_loss(epoch, loss));
      }
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  /// One optimiser step on the pairs of `anchors` (int64 (B)). Returns the detached loss on the
  /// device, without reading it back.
  template <class D>
  torch::Tensor step(const D& data, const torch::Tensor& anchors) {
    static_assert(Dataset<D>, "selfsup::Trainer::step: the data must satisfy selfsup::Dataset");
    encoder_->train(true);
    PairBatch pairs = recipe_.pairs.sample(anchors);
    auto first = data.images(pairs.anchors);
    auto second = pairs.partners.is_same(pairs.anchors) ? first : data.images(pairs.partners);
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
    auto z = encoder_->forward(torch::cat({v0, v1}, 0));               // (2B, D)
    LossInput in;
    in.z0 = z.narrow(0, 0, b);
    in.z1 = z.narrow(0, b, b);
    in.groups = pairs.groups;
    if constexpr (detail::HasOnEmbeddings<typename R::pairs_type>) {
      recipe_.pairs.on_embeddings(in, pairs);
    }
    in.negatives = recipe_.negatives.negatives(in, pairs);
    auto loss = recipe_.loss(in);
    optimizer_.zero_grad();
    loss.backward();
    optimizer_.step();
    ++steps_;
    detail::after_step(recipe_.pairs, in);
    detail::after_step(recipe_.negatives, in);
    detail::after_step(recipe_.loss, in);
    return loss.detach();
  }

 private:
  StepLog read_loss(int64_t epoch, const torch::Tensor& loss) {
    const double value = loss.item<double>();
    TORCH_CHECK(std::isfinite(value), "selfsup::Trainer: the loss became ", value, " at step ",
                steps_, " (epoch ", epoch, "); training stopped");
    if (options_.verbose) fmt::print("epoch {:>3}  step {:>6}  loss {:.4f}\n", epoch, steps_, value);
    return {epoch, steps_, value};
  }

  R recipe_;
  E encoder_;
  TrainerOptions options_;
  torch::optim::SGD optimizer_;
  int64_t steps_ = 0;
};

}  // namespace selfsup
