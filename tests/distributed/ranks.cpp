// The rank program of the distributed tests: launched W times by launch.py (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT set as torchrun sets them), it joins the run with init_from_env and
// checks one thing per mode:
//   collectives  all_gather / all_reduce_sum values and gradients, broadcast_state, gather_bytes
//   losses       W ranks of batch B against one process of batch W·B in float64 (computed by every
//                rank on its own, without communication): the loss and the gradient of every
//                parameter equal to 1e-10 after the gradient average, for nt_xent, info_nce with a
//                queue (two steps: the queue is filled with gathered keys), supcon with semantic
//                groups, barlow_twins and vicreg, through a SmallCNN and a projector with
//                synchronised BatchNorm
//   batch_norm   a Trainer refuses an encoder with LibTorch's own BatchNorm (per-rank statistics),
//                naming the layer, and accepts one with selfsup's synchronised BatchNorm
//   stall        all-reduces in a loop (the driver kills or stops one rank; the others must stop
//                with an error naming it)
// Exit status 0 when every check passed; failures are printed.

#include "../plain_norm_encoder.hpp"

#include <selfsup/distributed/collectives.hpp>
#include <selfsup/distributed/init.hpp>
#include <selfsup/losses/losses.hpp>
#include <selfsup/models/encoder.hpp>
#include <selfsup/negatives/negatives.hpp>
#include <selfsup/recipes.hpp>
#include <selfsup/train/trainer.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace dist = selfsup::distributed;
using selfsup::LossInput;
using selfsup::PairBatch;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    fmt::print(stderr, "rank {}: FAILED: {}\n", dist::current().rank(), what);
  }
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

void collectives() {
  const auto& ctx = dist::current();
  const auto r = ctx.rank(), w = ctx.world_size();
  // all_gather: rank r's rows at [r·B, (r+1)·B); the backward pass returns W times the own rows'
  // gradient when every rank computes the same loss.
  auto x = torch::full({2, 3}, static_cast<double>(r + 1), torch::kDouble).requires_grad_(true);
  auto g = dist::all_gather(x);
  check(g.size(0) == 2 * w, "all_gather shape");
  for (int64_t k = 0; k < w; ++k) {
    check(g.narrow(0, 2 * k, 2).eq(static_cast<double>(k + 1)).all().item<bool>(), fmt::format("all_gather rows of rank {}", k));
  }
  auto weights = torch::arange(2 * w * 3, torch::kDouble).view({2 * w, 3});
  (g * weights).sum().backward();
  check(max_abs_diff(x.grad(), w * weights.narrow(0, 2 * r, 2)) == 0, "all_gather backward: W times the own rows' gradient");
  // all_reduce_sum: the sum, and its backward the sum of the ranks' gradients.
  auto y = torch::full({4}, static_cast<double>(r + 1), torch::kDouble).requires_grad_(true);
  auto s = dist::all_reduce_sum(y);
  check(s.eq(static_cast<double>(w * (w + 1) / 2)).all().item<bool>(), "all_reduce_sum value");
  (s * static_cast<double>(r + 1)).sum().backward();
  check(y.grad().eq(static_cast<double>(w * (w + 1) / 2)).all().item<bool>(), "all_reduce_sum backward");
  // Integer tensors pass through too (group ids).
  auto ids = dist::all_gather(torch::full({3}, r, torch::kLong));
  check(ids.equal(torch::arange(w, torch::kLong).repeat_interleave(3)), "all_gather of int64");
  // broadcast_state: every rank ends with rank 0's weights.
  torch::manual_seed(static_cast<uint64_t>(100 + r));
  torch::nn::Linear lin(5, 4);
  dist::broadcast_state(*lin);
  torch::manual_seed(100);
  torch::nn::Linear zero(5, 4);
  check(lin->weight.equal(zero->weight) && lin->bias.equal(zero->bias), "broadcast_state gives rank 0's weights");
  // gather_bytes with lengths that differ between ranks.
  const auto all = dist::gather_bytes(std::string(static_cast<size_t>(r * 3), static_cast<char>('a' + r)));
  check(static_cast<int64_t>(all.size()) == w, "gather_bytes count");
  for (int64_t k = 0; k < w && k < static_cast<int64_t>(all.size()); ++k) {
    check(all[static_cast<size_t>(k)] == std::string(static_cast<size_t>(k * 3), static_cast<char>('a' + k)),
          fmt::format("gather_bytes from rank {}", k));
  }
}

selfsup::models::SmallCNNEncoder make_model() {
  torch::manual_seed(7);
  auto model = selfsup::models::make_small_cnn_encoder(
      {.in_channels = 3, .width = 4},
      selfsup::models::EncoderOptions{.projector = {.hidden_dim = 16, .out_dim = 8, .layers = 2}});
  model->to(torch::kDouble);
  model->train(true);
  return model;
}

struct Result {
  std::vector<double> losses;
  std::vector<torch::Tensor> grads;  // of the last step
};

/// `steps` forward and backward passes of `loss` with `negatives` (no optimiser step: the same
/// weights, the strategy's after_step between passes). `distributed`: this rank's rows, gathered
/// for the loss, BatchNorm synchronised, gradients averaged; else one process on every row.
template <class Neg, class Loss>
Result run(Neg negatives, Loss loss, const torch::Tensor& v0, const torch::Tensor& v1, const torch::Tensor& groups,
           bool distributed, int steps) {
  auto model = make_model();
  const auto& ctx = dist::current();
  std::vector<torch::Tensor> params = model->parameters();
  dist::GradientAverager averager(params, /*bucket_bytes=*/4096);  // several buckets
  Result out;
  for (int s = 0; s < steps; ++s) {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    torch::Tensor a = v0[s], b = v1[s], gr = groups;
    if (distributed) {
      const auto rows = a.size(0) / ctx.world_size();
      a = a.narrow(0, ctx.rank() * rows, rows), b = b.narrow(0, ctx.rank() * rows, rows);
      gr = gr.narrow(0, ctx.rank() * rows, rows);
    }
    const auto n = a.size(0);
    LossInput in;
    {
      dist::SyncBatchNormScope scope(distributed);
      auto z = model->forward(torch::cat({a, b}, 0));
      in.z0 = z.narrow(0, 0, n), in.z1 = z.narrow(0, n, n);
    }
    in.groups = gr;
    PairBatch pairs{.anchors = torch::arange(n), .partners = torch::arange(n) + n, .groups = gr};
    if (distributed) in = dist::gather(in), pairs = dist::gather(pairs);
    in.negatives = negatives.negatives(in, pairs);
    auto value = loss(in);
    if (distributed) averager.arm();
    value.backward();
    if (distributed) averager.finish();
    out.losses.push_back(value.template item<double>());
    if constexpr (requires { negatives.after_step(in); }) negatives.after_step(in);
  }
  for (auto& p : params) out.grads.push_back(p.grad().clone());
  // BatchNorm's running statistics follow the global batch too.
  for (auto& b : model->buffers()) out.grads.push_back(b.to(torch::kDouble).clone());
  return out;
}

template <class Neg, class Loss>
void compare(const char* name, Neg negatives, Loss loss) {
  const auto w = dist::current().world_size();
  constexpr int64_t per_rank = 4;
  constexpr int steps = 2;
  torch::manual_seed(11);
  auto v0 = torch::randn({steps, per_rank * w, 3, 8, 8}, torch::kDouble);
  auto v1 = torch::randn({steps, per_rank * w, 3, 8, 8}, torch::kDouble);
  auto groups = torch::arange(per_rank * w, torch::kLong).remainder(3);  // semantic groups across ranks
  const auto single = run(negatives, loss, v0, v1, groups, /*distributed=*/false, steps);
  const auto ranks = run(negatives, loss, v0, v1, groups, /*distributed=*/true, steps);
  for (int s = 0; s < steps; ++s) {
    const double d = std::abs(single.losses[s] - ranks.losses[s]);
    check(d <= 1e-10, fmt::format("{}: step {} loss {} against {} in one process (difference {:.3g})", name, s + 1,
                                  ranks.losses[s], single.losses[s], d));
  }
  double worst = 0;
  for (size_t k = 0; k < single.grads.size(); ++k) worst = std::max(worst, max_abs_diff(single.grads[k], ranks.grads[k]));
  check(worst <= 1e-10, fmt::format("{}: largest difference of a parameter's gradient or a BatchNorm statistic "
                                    "from one process: {:.3g}", name, worst));
  if (dist::current().is_main()) fmt::print("{}: loss {:.12f}, largest gradient difference {:.3g}\n", name, ranks.losses.back(), worst);
}

void losses() {
  namespace L = selfsup::losses;
  namespace N = selfsup::negatives;
  compare("nt_xent", N::InBatch{}, L::NTXent{});
  compare("info_nce with a queue", N::Queue({.size = 64, .seed = 3}), L::InfoNCE{});
  compare("supcon with semantic groups", N::InBatchMasked{}, L::SupCon{});
  compare("barlow_twins", N::None{}, L::BarlowTwins{});
  compare("vicreg", N::None{}, L::VICReg{});
}

void stall() {
  auto t = torch::ones({16});
  for (int64_t i = 0;; ++i) {
    auto x = dist::all_reduce_sum(t);
    if (i == 0) fmt::print("rank {}: ready\n", dist::current().rank());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// An encoder whose BatchNorm is LibTorch's own: it would keep per-rank statistics.
using PlainNorm = selfsup::test::PlainNormEncoder;

void batch_norm() {
  std::string message;
  try {
    selfsup::Trainer trainer(selfsup::recipes::SimCLR{}, PlainNorm(), {.batch_size = 4});
  } catch (const std::exception& error) {
    message = error.what();
  }
  check(message.find("selfsup::Trainer: data parallel: the encoder's layer norm (torch::nn::BatchNorm2d)") !=
            std::string::npos && message.find("selfsup::models::BatchNorm1d/BatchNorm2d") != std::string::npos,
        "an encoder with torch::nn::BatchNorm2d is refused, naming the layer; got: " +
            (message.empty() ? std::string("no error") : message));
  // selfsup's own layers are accepted (the constructor's rank agreement and broadcast run).
  selfsup::Trainer trainer(selfsup::recipes::SimCLR{}, selfsup::models::make_small_cnn_encoder(),
                           {.batch_size = 4});
  check(trainer.steps_done() == 0, "a Trainer with selfsup's BatchNorm is made");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: {} collectives|losses|batch_norm|stall|init\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  try {
    dist::InitOptions options;
    if (const char* ms = std::getenv("SELFSUP_TEST_TIMEOUT_MS")) options.timeout = std::chrono::milliseconds(std::atol(ms));
    if (const char* ms = std::getenv("SELFSUP_TEST_NOTICE_MS")) options.notice_every = std::chrono::milliseconds(std::atol(ms));
    const auto ctx = dist::init_from_env(options);
    if (mode == "init") {
      fmt::print("rank {} of {}, local rank {}, main {}\n", ctx.rank(), ctx.world_size(), ctx.local_rank(), ctx.is_main());
      return 0;
    }
    torch::set_num_threads(1);
    if (mode == "collectives") collectives();
    else if (mode == "losses") losses();
    else if (mode == "batch_norm") batch_norm();
    else if (mode == "stall") stall();
    else {
      fmt::print(stderr, "unknown mode '{}'\n", mode);
      return 2;
    }
  } catch (const std::exception& error) {
    std::string message = error.what();
    if (const auto bt = message.find("\nException raised from"); bt != std::string::npos) message.resize(bt);
    fmt::print(stderr, "error: {}\n", message);
    return 1;
  }
  if (failures > 0) return 1;
  fmt::print("rank {}: {} passed\n", dist::current().rank(), mode);
  return 0;
}
