// losses: NT-Xent forward + backward against the least an exact method needs, and against plain
// PyTorch.
//
//   bench_losses [--n 1024] [--d 128] [--threads 2] [--reps 20] [--block 256] [--no-peer]
//   bench_losses --memory [--n 32768] [--block 1024] [--device cpu|cuda]
//
// An exact NT-Xent needs two matrix products of its size: the similarities Z·Zᵀ (2N x D x 2N)
// and the gradient G·Z (2N x 2N x D). The benchmark times both products, selfsup's nt_xent
// (forward + backward), its blocked variant, the same loss written with autograd in C++ the usual
// way, and the peer script benchmarks/losses_peer.py (the usual PyTorch formulation, Debian's
// python3-torch, same thread count), and prints the ratios. With --memory it runs one forward +
// backward of the blocked loss alone at a large N and prints the process's peak resident memory
// (on the CPU), to show memory growing as O(N · block) rather than O(N²).
#include "cli.hpp"
#include "peer.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace ss = selfsup;

namespace {

template <class F>
double median_ms(int reps, F&& fn) {
  fn();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// NT-Xent as it is usually written: masked similarity matrix, cross-entropy, autograd.
torch::Tensor textbook_nt_xent(const torch::Tensor& z0, const torch::Tensor& z1, double t) {
  namespace F = torch::nn::functional;
  const auto n = z0.size(0);
  auto z = F::normalize(torch::cat({z0, z1}), F::NormalizeFuncOptions().dim(1));
  auto logits = z.mm(z.t()) / t;
  logits = logits.masked_fill(torch::eye(2 * n, logits.options().dtype(torch::kBool)),
                              -std::numeric_limits<double>::infinity());
  auto targets = torch::cat({torch::arange(n, 2 * n), torch::arange(0, n)});
  return F::cross_entropy(logits, targets);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 1024, d = 128, block = 256;
  int threads = 2, reps = 20;
  bool peer = true, memory = false;
  std::string device_name = "cpu";
  CLI::App app{"Times NT-Xent (fused, blocked and the plain composition) forward and backward.", "bench_losses"};
  app.add_option("--n", n, "rows per view")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  app.add_option("--d", d, "embedding width")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  app.add_option("--threads", threads, "torch CPU threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--reps", reps, "timed repetitions")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  app.add_option("--block", block, "rows per block of the blocked loss")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_flag("!--no-peer", peer, "skip the Python peer");
  app.add_flag("--memory", memory, "measure peak memory of the blocked loss instead");
  app.add_option("--device", device_name)->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  if (auto exit = bench::parse(app, argc, argv)) return *exit;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  if (memory) {
    auto peak_mib = [] {
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      return usage.ru_maxrss / 1024.0;  // kilobytes on Linux
    };
    const double before = peak_mib();
    auto a = torch::randn({n, d}, device).requires_grad_(true);
    auto b = torch::randn({n, d}, device).requires_grad_(true);
    const auto start = std::chrono::steady_clock::now();
    auto loss = ss::functional::nt_xent_blocked(a, b, {.temperature = 0.5}, block);
    loss.backward();
    if (device.is_cuda()) torch::cuda::synchronize();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double m = 2.0 * static_cast<double>(n);
    fmt::print("nt_xent_blocked forward + backward, N = {} per view, D = {}, {}-row blocks, {}: {:.2f} s, loss {:.4f}\n",
               n, d, block, device_name, seconds, loss.item<double>());
    fmt::print("  a single 2N x 2N float32 similarity matrix would take {:.0f} MiB\n", 4.0 * m * m / (1 << 20));
    fmt::print("  one {}-row block takes {:.0f} MiB\n", block, 4.0 * block * m / (1 << 20));
    if (!device.is_cuda()) {
      fmt::print("  peak resident memory of the process: {:.0f} MiB before, {:.0f} MiB after\n", before, peak_mib());
    }
    return 0;
  }
  auto z0 = torch::randn({n, d}).requires_grad_(true);
  auto z1 = torch::randn({n, d}).requires_grad_(true);
  auto z = torch::randn({2 * n, d});
  auto g = torch::randn({2 * n, 2 * n});

  const double mm = median_ms(reps, [&] {
    auto s = z.mm(z.t());
    auto grad = g.mm(z);
  });
  auto time_loss = [&](auto&& loss) {
    return median_ms(reps, [&] {
      z0.mutable_grad() = torch::Tensor();
      z1.mutable_grad() = torch::Tensor();
      loss().backward();
    });
  };
  const double ours = time_loss([&] { return ss::functional::nt_xent(z0, z1, {.temperature = 0.5}); });
  const double blocked =
      time_loss([&] { return ss::functional::nt_xent_blocked(z0, z1, {.temperature = 0.5}, block); });
  const double textbook = time_loss([&] { return textbook_nt_xent(z0, z1, 0.5); });

  fmt::print("NT-Xent forward + backward, N = {} per view, D = {}, float32, CPU, {} threads, median of {}\n",
             n, d, threads, reps);
  fmt::print("  two matrix products (Z·Zᵀ, G·Z)     {:8.2f} ms\n", mm);
  fmt::print("  selfsup nt_xent                     {:8.2f} ms   {:.2f}x the two products\n", ours, ours / mm);
  fmt::print("  selfsup nt_xent_blocked ({:>5} rows) {:8.2f} ms   {:.2f}x\n", block, blocked, blocked / mm);
  fmt::print("  C++ autograd, textbook formulation  {:8.2f} ms   {:.2f}x\n", textbook, textbook / mm);
  if (peer) {
    if (auto peer = bench::run_peer("losses_peer.py", fmt::format("--n {} --d {} --threads {} --reps {}", n, d, threads, reps))) {
      const double python_ms = peer->value;
      fmt::print("  PyTorch (python3-torch), same loss  {:8.2f} ms   {:.2f}x; selfsup is {:.2f}x faster\n",
                 python_ms, python_ms / mm, python_ms / ours);
    }
  }
  const double full_mb = 4.0 * (2 * n) * (2 * n) / (1 << 20);
  fmt::print("Largest similarity buffer: {:.1f} MiB in one block, {:.1f} MiB with {}-row blocks\n",
             full_mb, 4.0 * block * (2 * n) / (1 << 20), block);
}
