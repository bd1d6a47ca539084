#pragma once
/// \file
/// selfsup::distributed::Context: which process this is among how many, and the communicator
/// that joins them. This header is light (no c10d): the trainer, the losses' gathers and the
/// models' synchronised BatchNorm use it. The communicator itself is made by `init_from_env`
/// (<selfsup/distributed/init.hpp>, on LibTorch's c10d); without it, or with a world of one
/// process, there is no communicator and nothing communicates.

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace selfsup::distributed {

/// The collective backend: NCCL for CUDA tensors, Gloo otherwise (`automatic`), or one named.
enum class Backend { automatic, gloo, nccl };

/// How `init_from_env` joins the processes of a run.
struct InitOptions {
  Backend backend = Backend::automatic;
  /// How long the rendezvous may take, and how long any collective may wait for another rank;
  /// past it, the run stops with an error naming the ranks that did not answer.
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  /// A rank that waits for the others (the rendezvous, a collective) longer than this says so
  /// on stderr, again every this long: what it waits for, for how long, and the timeout.
  std::chrono::milliseconds notice_every{std::chrono::seconds(30)};
};

/// A collective in flight (an asynchronous all-reduce of a gradient bucket).
class Pending {
 public:
  virtual ~Pending() = default;
  /// Blocks until it is done; throws (naming the ranks that did not answer) when it failed.
  virtual void wait() = 0;
};

/// The operations the trainer needs between processes. Every rank must call the same
/// collectives in the same order with tensors of the same shapes. Implemented over c10d by
/// init_from_env; tests may supply their own.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// `out` (W·B, ...) receives every rank's `in` (B, ...), rank r's at rows [r·B, (r+1)·B).
  virtual void all_gather(const torch::Tensor& in, torch::Tensor& out) = 0;
  /// Sums `t` over ranks, in place.
  virtual void all_reduce_sum(torch::Tensor& t) = 0;
  /// Starts the sum of `t` over ranks, in place; `wait()` before reading `t`.
  virtual std::unique_ptr<Pending> all_reduce_sum_async(torch::Tensor& t) = 0;
  /// Overwrites `t` with rank `root`'s.
  virtual void broadcast(torch::Tensor& t, int64_t root) = 0;
  /// The backend's name ("gloo", "nccl").
  virtual std::string backend_name() const = 0;
  /// Seconds spent blocked in collectives since the communicator was made.
  virtual double blocked_seconds() const = 0;
};

/// This process's place in the run. A default Context is a run of one process.
class Context {
 public:
  Context() = default;
  Context(int64_t rank, int64_t world_size, int64_t local_rank, std::shared_ptr<Communicator> comm,
          std::chrono::milliseconds timeout = std::chrono::minutes(10))
      : rank_(rank), world_size_(world_size), local_rank_(local_rank), comm_(std::move(comm)),
        timeout_(timeout) {
    TORCH_CHECK(world_size >= 1 && rank >= 0 && rank < world_size && local_rank >= 0,
                "selfsup::distributed::Context: rank must be in [0, world_size) and local_rank >= 0, got rank ",
                rank, ", world_size ", world_size, ", local_rank ", local_rank);
    TORCH_CHECK(world_size == 1 || comm_ != nullptr,
                "selfsup::distributed::Context: a world of ", world_size, " processes needs a communicator");
  }

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  /// The process's index on its node (torchrun's LOCAL_RANK): which GPU it uses.
  int64_t local_rank() const { return local_rank_; }
  /// True on the one rank that writes: logs, progress, JSON, plots and checkpoints.
  bool is_main() const { return rank_ == 0; }
  /// True when there is more than one process (and so a communicator).
  bool distributed() const { return world_size_ > 1; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  /// The communicator, or null for a run of one process.
  Communicator* communicator() const { return comm_.get(); }

 private:
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
  int64_t local_rank_ = 0;
  std::shared_ptr<Communicator> comm_;
  std::chrono::milliseconds timeout_{std::chrono::minutes(10)};
};

namespace detail {
inline Context& current_context() {
  static Context context;
  return context;
}
}  // namespace detail

/// The context made by the most recent init_from_env (or set_current) in this process; a run
/// of one process before either.
inline const Context& current() { return detail::current_context(); }

/// Makes `context` the current one (init_from_env calls it; tests may too). Returns the previous.
inline Context set_current(Context context) {
  return std::exchange(detail::current_context(), std::move(context));
}

}  // namespace selfsup::distributed
