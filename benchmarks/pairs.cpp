// pairs: the cost of drawing partners. Samples batches of anchors from a semantic pair table of
// 10⁶ pairs (pairs::Semantic, CSR adjacency on the device) and from labels (pairs::SameLabel),
// and times building the adjacency once.
//
//   bench_pairs [--pairs 1000000] [--images 500000] [--batch 4096] [--reps 2000] [--threads 2]
//               [--device cpu|cuda|all] [--no-peer]
//
// Each rep samples one batch of `batch` anchors (a fresh permutation slice, as an epoch does) and,
// on CUDA, waits for the device, so a time is the full cost of one call. Prints the median and
// the 10th/90th percentiles in microseconds, per device. On the CPU, the peer
// (benchmarks/pairs_peer.py, Debian's python3) draws the same partners the usual way, from a
// Python dict of partner lists, and the ratio is printed (--no-peer skips it).
#include "cli.hpp"
#include "peer.hpp"

#include <selfsup/data/pair_table.hpp>
#include <selfsup/pairs/mixed.hpp>
#include <selfsup/pairs/augmented.hpp>
#include <selfsup/pairs/same_label.hpp>
#include <selfsup/pairs/semantic.hpp>
#include <selfsup/detail/torch_compat.hpp>

#include <fmt/core.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace ss = selfsup;

namespace {

struct Timing {
  double p10, median, p90;  // microseconds
};

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

template <class F>
Timing time_us(int reps, const torch::Device& device, F&& fn) {
  for (int i = 0; i < 10; ++i) fn(i);  // warm-up (allocator, kernels)
  synchronize(device);
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn(i);
    synchronize(device);
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 10], t[t.size() / 2], t[t.size() * 9 / 10]};
}

/// Returns the median of pairs::Semantic::sample in microseconds.
double run(const torch::Device& device, int64_t n_pairs, int64_t images, int64_t batch, int reps) {
  const auto lopt = torch::TensorOptions().dtype(torch::kLong);
  torch::manual_seed(0);
  // A table of same-class pairs over `images` images of 1000 classes (image i has class i % 1000).
  auto first = torch::randint(images, {n_pairs}, lopt);
  auto offset = torch::randint(1, images / 1000, {n_pairs}, lopt) * 1000;
  auto second = (first + offset).remainder(images);
  ss::data::PairTable table{first, second, first.remainder(1000), {}};
  auto labels = torch::arange(images, lopt).remainder(1000);
  const ss::DatasetInfo info{.size = images, .labels = labels.to(device), .device = device};

  const auto bind_start = std::chrono::steady_clock::now();
  ss::pairs::Semantic semantic(table, {.seed = 1});
  semantic.bind(info);
  synchronize(device);
  const double bind_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - bind_start).count();
  ss::pairs::SameLabel same_label({.seed = 1});
  same_label.bind(info);
  ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented> mixed(semantic, {}, {.p = 0.5, .seed = 1});

  // Anchors as an epoch hands them out: slices of a permutation, already on the device.
  auto perm = torch::randperm(images, lopt).to(device);
  const int64_t slices = images / batch;
  auto anchors = [&](int i) { return perm.narrow(0, (i % slices) * batch, batch); };

  fmt::print("device {}: table of {} pairs over {} images (adjacency {} entries, built in {:.1f} ms), "
             "batch {}, {} reps\n",
             device.str(), n_pairs, images, semantic.adjacency().edges(), bind_ms, batch, reps);
  auto report = [&](std::string_view what, const Timing& t) {
    fmt::print("  {:<34} median {:>8.1f} us   p10 {:>8.1f}   p90 {:>8.1f}\n", what, t.median, t.p10, t.p90);
  };
  const auto semantic_time = time_us(reps, device, [&](int i) { semantic.sample(anchors(i)); });
  report("pairs::Semantic::sample", semantic_time);
  report("pairs::SameLabel::sample", time_us(reps, device, [&](int i) { same_label.sample(anchors(i)); }));
  report("pairs::Mixed<Semantic, Augmented>", time_us(reps, device, [&](int i) { mixed.sample(anchors(i)); }));
  auto gen = ss::detail::make_generator(device, 3);
  report("data::draw_partners (CSR only)", time_us(reps, device, [&](int i) {
           ss::data::draw_partners(semantic.adjacency(), anchors(i), gen);
         }));
  return semantic_time.median;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n_pairs = 1000000, images = 500000, batch = 4096;
  int reps = 2000, threads = 2;
  std::string which = "all";
  bool peer = true;
  CLI::App app{"Times drawing semantic partners (pairs::Semantic) from a large pair table.", "bench_pairs"};
  app.add_option("--pairs", n_pairs, "pairs in the table")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  app.add_option("--images", images, "images in the dataset")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 32));
  app.add_option("--batch", batch, "anchors per draw")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--reps", reps, "timed draws")->capture_default_str()->check(CLI::Range(1, 100'000'000));
  app.add_option("--threads", threads, "torch CPU threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--device", which)->capture_default_str()->check(CLI::IsMember({"cpu", "cuda", "all"}));
  app.add_flag("!--no-peer", peer, "skip the Python peer");
  if (auto exit = bench::parse(app, argc, argv)) return *exit;
  torch::set_num_threads(threads);
  fmt::print("bench_pairs: LibTorch {}.{}.{}, {} CPU threads\n", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR,
             TORCH_VERSION_PATCH, threads);
  if (which == "cpu" || which == "all") {
    const double ours = run(torch::kCPU, n_pairs, images, batch, reps);
    if (peer) {
      if (auto theirs = bench::run_peer("pairs_peer.py", fmt::format("--pairs {} --images {} --batch {}", n_pairs, images, batch))) {
        fmt::print("  peer: {}\n", theirs->description);
        fmt::print("  ratio python / pairs::Semantic (CPU): {:.1f}x\n", theirs->value / ours);
      }
    }
  }
  if (which == "cuda" || which == "all") {
    if (torch::cuda::is_available()) {
      run(torch::kCUDA, n_pairs, images, batch, reps);
    } else {
      fmt::print("device cuda: not available on this machine\n");
    }
  }
  return 0;
}
