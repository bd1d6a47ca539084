#pragma once
/// \file
/// What travels between the ranks of a data-parallel run, over the current context's
/// communicator (context.hpp):
///  - `all_gather` and `all_reduce_sum`, differentiable: a loss computed by every rank on gathered
///    tensors is the loss of the global batch, and its gradient reaches each rank's own rows;
///  - `sync_batch_norm`: BatchNorm over the global batch (SyncBatchNorm's semantics);
///  - `GradientAverager`: gradients averaged over ranks in buckets, each bucket's all-reduce
///    started from gradient hooks while the backward pass goes on;
///  - `broadcast_state`, `gather_bytes`, `gather(LossInput)` and `gather(PairBatch)` for the
///    trainer.
/// With a world of one process every function returns its input and nothing communicates.

#include <selfsup/distributed/context.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::distributed {

namespace detail {

inline Communicator& communicator(const char* fn) {
  auto* comm = current().communicator();
  TORCH_CHECK(comm != nullptr, fn, ": the current context has ", current().world_size(),
              " processes but no communicator");
  return *comm;
}

struct AllGather : torch::autograd::Function<AllGather> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    ctx->saved_data["rows"] = x.size(0);
    return gather_rows(x);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto rows = ctx->saved_data["rows"].toInt();
    // Every rank computed the same loss from the gathered rows: the sum over ranks of the
    // gradient of this rank's rows is W times the single-process gradient (see all_gather).
    auto g = grads[0].contiguous().clone();
    communicator("selfsup::distributed::all_gather (backward)").all_reduce_sum(g);
    return {g.narrow(0, current().rank() * rows, rows)};
  }
  static torch::Tensor gather_rows(const torch::Tensor& x) {
    auto in = x.contiguous();
    auto sizes = in.sizes().vec();
    sizes[0] *= current().world_size();
    auto out = torch::empty(sizes, in.options());
    communicator("selfsup::distributed::all_gather").all_gather(in, out);
    return out;
  }
};

struct AllReduceSum : torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) {
    auto out = x.contiguous().clone();
    communicator("selfsup::distributed::all_reduce_sum").all_reduce_sum(out);
    return out;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext*,
                                               torch::autograd::tensor_list grads) {
    auto g = grads[0].contiguous().clone();
    communicator("selfsup::distributed::all_reduce_sum (backward)").all_reduce_sum(g);
    return {g};
  }
};

/// True while the trainer runs the encoder's forward pass of a step (SyncBatchNormScope).
inline bool& sync_batch_norm_flag() {
  thread_local bool on = false;
  return on;
}

}  // namespace detail

/// Every rank's `x` (B, ...), concatenated in rank order: (W·B, ...), rank r's rows at
/// [r·B, (r+1)·B). Every rank must pass the same shape. Differentiable: the backward pass sums
/// the incoming gradient over ranks and returns this rank's rows, so when every rank computes the
/// same global loss from gathered tensors, the gradient of its own rows is W times the
/// single-process one, and averaging parameter gradients over the W ranks gives exactly the
/// single-process parameter gradient. With one process, returns `x`.
inline torch::Tensor all_gather(const torch::Tensor& x) {
  if (!current().distributed() || !x.defined()) return x;
  TORCH_CHECK(x.dim() >= 1, "selfsup::distributed::all_gather: the tensor needs a batch dimension, got ",
              x.dim(), " dimensions");
  if (!x.requires_grad() || !torch::GradMode::is_enabled()) return detail::AllGather::gather_rows(x);
  return detail::AllGather::apply(x);
}

/// The sum of `x` over ranks (batch statistics). Differentiable: the backward pass sums the
/// gradient over ranks. With one process, returns `x`.
inline torch::Tensor all_reduce_sum(const torch::Tensor& x) {
  if (!current().distributed() || !x.defined()) return x;
  if (!x.requires_grad() || !torch::GradMode::is_enabled()) {
    auto out = x.contiguous().clone();
    detail::communicator("selfsup::distributed::all_reduce_sum").all_reduce_sum(out);
    return out;
  }
  return detail::AllReduceSum::apply(x);
}

/// While alive (and enabled), BatchNorm layers of selfsup's models (models::BatchNorm1d/2d) in
/// training mode normalise with the statistics of the global batch. The trainer opens one around
/// the forward pass of each step; a forward pass outside it (evaluation, a probe) stays local, so
/// that a rank alone never waits for the others.
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(bool enabled = true)
      : previous_(std::exchange(detail::sync_batch_norm_flag(), enabled && current().distributed())) {}
  ~SyncBatchNormScope() { detail::sync_batch_norm_flag() = previous_; }
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  bool previous_;
};

/// True when a BatchNorm layer in training mode should use the global batch's statistics.
inline bool sync_batch_norm_active() { return detail::sync_batch_norm_flag() && current().distributed(); }

/// BatchNorm over the batch of every rank, for `x` (N, C, ...), the same N on every rank: the
/// per-channel sums of x and x² are summed over ranks (one all-reduce, differentiable), the running statistics
/// are updated with the global mean and unbiased variance, identically on every rank. `momentum`
/// < 0 is a cumulative average (BatchNorm's momentum = None). Equal to BatchNorm on the
/// concatenated batch of one process.
inline torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                     torch::Tensor running_mean, torch::Tensor running_var,
                                     torch::Tensor num_batches_tracked, double momentum, double eps) {
  TORCH_CHECK(x.dim() >= 2, "selfsup::distributed::sync_batch_norm: expected (N, C, ...), got ", x.sizes());
  const auto channels = x.size(1);
  std::vector<int64_t> dims{0}, shape(static_cast<size_t>(x.dim()), 1);
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  shape[1] = channels;
  // Sums about the running mean (a constant): keeps x² - mean² from cancelling when |mean| is large.
  const bool shifted = running_mean.defined();
  auto centred = shifted ? x - running_mean.detach().to(x.scalar_type()).view(shape) : x;
  // Every rank passes the same shape (as for all_gather): the global count needs no message.
  const double n = static_cast<double>(x.numel() / std::max<int64_t>(channels, 1)) *
                   static_cast<double>(current().world_size());
  auto stats = all_reduce_sum(torch::cat({centred.sum(dims), centred.square().sum(dims)}));
  TORCH_CHECK(n > 1, "selfsup::distributed::sync_batch_norm: the global batch has ", n,
              " values per channel; BatchNorm needs more than one");
  auto shift_mean = stats.narrow(0, 0, channels) / n;
  auto var = (stats.narrow(0, channels, channels) / n - shift_mean.square()).clamp_min(0);
  auto mean = shifted ? shift_mean + running_mean.detach().to(x.scalar_type()) : shift_mean;
  auto y = (x - mean.view(shape)) * torch::rsqrt(var + eps).view(shape);
  if (weight.defined()) y = y * weight.view(shape);
  if (bias.defined()) y = y + bias.view(shape);
  if (running_mean.defined()) {
    torch::NoGradGuard no_grad;
    double factor = momentum;
    if (num_batches_tracked.defined()) {
      num_batches_tracked.add_(1);
      if (momentum < 0) factor = 1.0 / num_batches_tracked.item<double>();
    }
    running_mean.mul_(1 - factor).add_(mean.detach().to(running_mean.scalar_type()), factor);
    running_var.mul_(1 - factor).add_((var.detach() * (n / (n - 1))).to(running_var.scalar_type()), factor);
  }
  return y;
}

/// Overwrites every parameter and buffer of `module` with rank `root`'s (the same initial
/// weights on every rank).
inline void broadcast_state(torch::nn::Module& module, int64_t root = 0) {
  if (!current().distributed()) return;
  auto& comm = detail::communicator("selfsup::distributed::broadcast_state");
  torch::NoGradGuard no_grad;
  auto send = [&](torch::Tensor t) {
    if (!t.defined() || t.numel() == 0) return;
    if (t.is_contiguous()) {
      comm.broadcast(t, root);
    } else {
      auto c = t.contiguous();
      comm.broadcast(c, root);
      t.copy_(c);
    }
  };
  for (auto& p : module.parameters()) send(p);
  for (auto& b : module.buffers()) send(b);
}

/// Every rank's `bytes`, in rank order (policies' states for a checkpoint).
inline std::vector<std::string> gather_bytes(const std::string& bytes) {
  if (!current().distributed()) return {bytes};
  const auto world = current().world_size();
  auto sizes = all_gather(torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kLong));
  const auto longest = sizes.max().item<int64_t>();
  auto mine = torch::zeros({1, std::max<int64_t>(longest, 1)}, torch::kUInt8);
  if (!bytes.empty()) std::memcpy(mine.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  auto all = all_gather(mine);
  std::vector<std::string> out;
  for (int64_t r = 0; r < world; ++r) {
    const auto* row = all[r].data_ptr<uint8_t>();
    out.emplace_back(reinterpret_cast<const char*>(row), static_cast<size_t>(sizes[r].item<int64_t>()));
  }
  return out;
}

/// The loss's inputs of the global batch: every defined (B, ...) tensor gathered (differentiably).
/// Negatives are left as they are: the negative strategy makes them from the gathered inputs.
inline LossInput gather(const LossInput& in) {
  if (!current().distributed()) return in;
  LossInput out = in;
  for (auto* t : {&out.z0, &out.z1, &out.p0, &out.p1, &out.t0, &out.t1, &out.groups}) *t = all_gather(*t);
  for (auto& t : out.local) t = all_gather(t);  // the prototypes are the same on every rank
  return out;
}

/// The pairs of the global batch (dataset indices, group ids and kinds of every rank's pairs).
inline PairBatch gather(const PairBatch& pairs) {
  if (!current().distributed()) return pairs;
  PairBatch out;
  out.anchors = all_gather(pairs.anchors);
  out.partners = pairs.partners.defined() && pairs.partners.is_same(pairs.anchors) ? out.anchors
                                                                                 : all_gather(pairs.partners);
  out.groups = all_gather(pairs.groups);
  out.sources = all_gather(pairs.sources);
  return out;
}

/// Averages the gradients of `parameters` over ranks, in buckets of about `bucket_bytes`: a
/// gradient hook copies each gradient into its bucket as the backward pass produces it, and a
/// bucket's all-reduce starts as soon as its last gradient arrives, while the backward pass goes on
/// (buckets follow the reverse order of the parameters, which is about the order of the backward
/// pass). `arm()` before a backward pass whose gradients are to be averaged; `finish()` after it
/// writes the averages into each parameter's `grad()`. The hooks do nothing unless armed, so a
/// backward pass elsewhere (a probe) never starts a collective.
class GradientAverager {
 public:
  explicit GradientAverager(std::vector<torch::Tensor> parameters, int64_t bucket_bytes = 25 << 20)
      : state_(std::make_shared<State>()) {
    TORCH_CHECK(bucket_bytes > 0, "selfsup::distributed::GradientAverager: bucket_bytes must be positive, got ",
                bucket_bytes);
    auto& s = *state_;
    s.params = std::move(parameters);
    s.slots.resize(s.params.size());
    // Reverse order: the last layers' gradients come first in the backward pass.
    for (size_t k = s.params.size(); k-- > 0;) {
      const auto& p = s.params[k];
      const auto options = p.options().requires_grad(false);
      const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
      if (s.buckets.empty() || s.buckets.back().options.dtype() != options.dtype() ||
          s.buckets.back().options.device() != options.device() || s.buckets.back().bytes + bytes > bucket_bytes) {
        s.buckets.push_back(Bucket{.options = options});
      }
      auto& b = s.buckets.back();
      s.slots[k] = Slot{.bucket = s.buckets.size() - 1, .offset = b.elements};
      b.members.push_back(k);
      b.elements += p.numel();
      b.bytes += bytes;
    }
    for (auto& b : s.buckets) b.buffer = torch::zeros({b.elements}, b.options);
    std::weak_ptr<State> weak = state_;
    for (size_t k = 0; k < s.params.size(); ++k) {
      hooks_.push_back(s.params[k].register_hook([weak, k](const torch::Tensor& g) {
        if (auto st = weak.lock()) st->arrived(k, g);
      }));
    }
  }
  ~GradientAverager() {
    if (!state_) return;
    for (size_t k = 0; k < hooks_.size(); ++k) state_->params[k].remove_hook(hooks_[k]);
  }
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;
  GradientAverager(GradientAverager&&) = default;
  GradientAverager& operator=(GradientAverager&&) = default;

  size_t buckets() const { return state_->buckets.size(); }

  /// The next backward pass's gradients are averaged.
  void arm() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->armed = current().distributed();
    for (auto& slot : state_->slots) slot.arrived = false;
    for (auto& b : state_->buckets) {
      b.arrived = 0, b.pending.reset();
      // The model may have moved (to(device), to(dtype)) since the buckets were laid out.
      const auto& first = state_->params[b.members.front()];
      if (b.buffer.device() != first.device() || b.buffer.scalar_type() != first.scalar_type()) {
        b.buffer = torch::zeros({b.elements}, first.options().requires_grad(false));
      }
    }
  }

  /// Waits for every bucket (starting those whose gradients did not all arrive: a parameter
  /// without a gradient adds zeros) and writes the averages into the parameters' `grad()`.
  void finish() {
    auto& s = *state_;
    std::unique_lock<std::mutex> lock(s.mutex);
    if (!s.armed) return;
    s.armed = false;
    for (auto& b : s.buckets) {
      if (b.pending) continue;
      for (auto k : b.members) {
        if (!s.slots[k].arrived) b.buffer.narrow(0, s.slots[k].offset, s.params[k].numel()).zero_();
      }
      b.pending = current().communicator()->all_reduce_sum_async(b.buffer);
    }
    const double world = static_cast<double>(current().world_size());
    torch::NoGradGuard no_grad;
    for (auto& b : s.buckets) {
      b.pending->wait();
      b.pending.reset();
      b.buffer.div_(world);
      for (auto k : b.members) {
        auto& p = s.params[k];
        if (!p.grad().defined()) continue;
        p.mutable_grad().copy_(b.buffer.narrow(0, s.slots[k].offset, p.numel()).view_as(p));
      }
    }
  }

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;
    bool arrived = false;
  };
  struct Bucket {
    torch::TensorOptions options;
    std::vector<size_t> members;
    int64_t elements = 0;
    int64_t bytes = 0;
    torch::Tensor buffer;
    size_t arrived = 0;
    std::unique_ptr<Pending> pending;
  };
  struct State {
    std::vector<torch::Tensor> params;
    std::vector<Slot> slots;
    std::vector<Bucket> buckets;
    std::mutex mutex;
    bool armed = false;

    void arrived(size_t k, const torch::Tensor& g) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!armed) return;
      auto& slot = slots[k];
      auto& b = buckets[slot.bucket];
      torch::NoGradGuard no_grad;
      auto dst = b.buffer.narrow(0, slot.offset, params[k].numel());
      if (slot.arrived) {
        dst.add_(g.reshape(-1));  // a second gradient for the same parameter in one pass
        return;
      }
      dst.copy_(g.reshape(-1));
      slot.arrived = true;
      if (++b.arrived == b.members.size()) b.pending = current().communicator()->all_reduce_sum_async(b.buffer);
    }
  };

  std::shared_ptr<State> state_;
  std::vector<unsigned> hooks_;
};

}  // namespace selfsup::distributed
