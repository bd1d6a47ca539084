#pragma once
/// \file
/// negatives::Queue: MoCo's FIFO dictionary of past keys (He et al., "Momentum Contrast for
/// Unsupervised Visual Representation Learning", CVPR 2020).

#include <selfsup/detail/random.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace selfsup::negatives {

struct QueueOptions {
  int64_t size = 4096;      ///< K, the number of stored keys; at least the batch size
  std::uint64_t seed = 0;   ///< seeds the random unit vectors the queue starts with
};

/// A device-resident ring buffer of K normalised keys, the negatives of losses::InfoNCE. It
/// starts with random unit vectors (as MoCo does), and after each optimiser step enqueues the
/// batch's keys (the momentum-target projections t1, or z1 without a target), replacing the
/// oldest. The buffer and the write position are saved and restored with checkpoints.
class Queue {
 public:
  static constexpr bool provides_negatives = true;
  static constexpr bool needs_groups = false;
  static constexpr bool provides_bank = true;

  Queue() : Queue(QueueOptions{}) {}
  explicit Queue(const QueueOptions& options) : options_(options), generators_(options.seed) {
    TORCH_CHECK(options.size >= 1, "selfsup::negatives::Queue: size must be >= 1, got ",
                options.size);
  }

  NegativeSet negatives(const LossInput& in, const PairBatch&) {
    ensure(in.z0);
    NegativeSet out;
    out.bank = keys_;
    return out;
  }

  void after_step(const LossInput& in) { enqueue((in.t1.defined() ? in.t1 : in.z1).detach()); }

  /// Writes `keys` (B, D), normalised, over the oldest entries.
  void enqueue(const torch::Tensor& keys) {
    ensure(keys);
    namespace F = torch::nn::functional;
    auto k = F::normalize(keys.detach().to(keys_.scalar_type()), F::NormalizeFuncOptions().dim(1));
    const int64_t b = k.size(0), size = options_.size;
    const int64_t first = std::min(b, size - position_);
    keys_.narrow(0, position_, first).copy_(k.narrow(0, 0, first));
    if (first < b) keys_.narrow(0, 0, b - first).copy_(k.narrow(0, first, b - first));
    position_ = (position_ + b) % size;
  }

  /// The stored keys (K, D), undefined before the first step.
  const torch::Tensor& keys() const { return keys_; }
  /// Where the next key is written.
  int64_t position() const { return position_; }
  const QueueOptions& options() const { return options_; }

  void save(torch::serialize::OutputArchive& archive) const {
    // An empty tensor stands for a queue that has not seen its first batch yet.
    archive.write("keys", keys_.defined() ? keys_ : torch::empty({0}), /*is_buffer=*/true);
    archive.write("position", torch::tensor(position_), /*is_buffer=*/true);
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor keys, position;
    archive.read("keys", keys, /*is_buffer=*/true);
    archive.read("position", position, /*is_buffer=*/true);
    TORCH_CHECK(keys.numel() == 0 || (keys.dim() == 2 && keys.size(0) == options_.size),
                "selfsup::negatives::Queue::load: the checkpoint holds a queue of shape ",
                keys.sizes(), ", this queue has size ", options_.size);
    keys_ = keys.numel() == 0 ? torch::Tensor{} : keys;
    position_ = position.item<int64_t>();
  }

 private:
  // Creates the buffer on the first batch, on its device and dtype, and checks the batch fits.
  void ensure(const torch::Tensor& like) {
    TORCH_CHECK(like.dim() == 2, "selfsup::negatives::Queue: embeddings must be (B, D), got ",
                like.sizes());
    TORCH_CHECK(like.size(0) <= options_.size, "selfsup::negatives::Queue: the batch (",
                like.size(0), " keys) is larger than the queue (size ", options_.size,
                "); a batch would overwrite its own keys");
    if (keys_.defined()) {
      TORCH_CHECK(keys_.size(1) == like.size(1), "selfsup::negatives::Queue: keys have ",
                  like.size(1), " dimensions, the queue holds ", keys_.size(1));
      if (keys_.device() != like.device()) keys_ = keys_.to(like.device());
      return;
    }
    auto& gen = generators_.on(like.device());
    namespace F = torch::nn::functional;
    keys_ = F::normalize(torch::randn({options_.size, like.size(1)}, gen,
                                      like.options().requires_grad(false)),
                         F::NormalizeFuncOptions().dim(1));
  }

  QueueOptions options_;
  selfsup::detail::DeviceGenerators generators_;
  torch::Tensor keys_;
  int64_t position_ = 0;
};

}  // namespace selfsup::negatives
