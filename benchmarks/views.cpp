// bench_views: views per second of selfsup's batched SimCLR augmentation, side by side with
// torchvision's transforms applied image by image (benchmarks/views_peer.py, same recipe, same
// thread count), and the ratio.
//
//   bench_views [--device cpu|cuda] [--batch 256] [--side 32] [--recipe cifar|imagenet]
//               [--iterations 40] [--threads 1] [--no-peer]
//
// The peer runs only for the CPU and the CIFAR recipe; it needs Debian's python3-torchvision.

#include "cli.hpp"
#include "peer.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace {

struct Args {
  std::string device = "cpu";
  std::string recipe = "cifar";
  int64_t batch = 256;
  int64_t side = 32;
  int iterations = 40;
  int threads = 1;
  bool peer = true;
};

/// The command line into `a`; the exit status when the program should stop now.
std::optional<int> parse(int argc, char** argv, Args& a) {
  CLI::App app{"Times SimCLR's views on a batch of uint8 images.", "bench_views"};
  app.add_option("--device", a.device)->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--recipe", a.recipe, "cifar: side --side; imagenet: 256 px to 224 px")
      ->capture_default_str()->check(CLI::IsMember({"cifar", "imagenet"}));
  app.add_option("--batch", a.batch)->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--side", a.side, "image side (cifar recipe)")->capture_default_str()->check(CLI::Range(int64_t{8}, int64_t{4096}));
  app.add_option("--iterations", a.iterations)->capture_default_str()->check(CLI::Range(1, 1'000'000));
  app.add_option("--threads", a.threads, "torch CPU threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_flag("!--no-peer", a.peer, "skip the torchvision peer");
  return bench::parse(app, argc, argv);
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

int main(int argc, char** argv) {
  namespace views = selfsup::views;
  Args a;
  if (auto exit = parse(argc, argv, a)) return *exit;
  torch::set_num_threads(a.threads);
  if (a.device == "cuda" && !torch::cuda::is_available()) {
    fmt::print(stderr, "bench_views: --device cuda, but no CUDA device is available\n");
    return 1;
  }
  const torch::Device device(a.device);
  const bool imagenet = a.recipe == "imagenet";
  const int64_t out = imagenet ? 224 : a.side;
  const int64_t in = imagenet ? 256 : a.side;
  auto options = imagenet ? views::SimCLRViewOptions::imagenet(out) : views::SimCLRViewOptions::cifar(out);
  options.seed = 1;
  views::SimCLRViews generate(options);
  auto images = torch::randint(0, 256, {a.batch, 3, in, in}, torch::TensorOptions().dtype(torch::kByte).device(device));

  for (int i = 0; i < 3; ++i) generate(images);  // warm-up
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  torch::Tensor v;
  for (int i = 0; i < a.iterations; ++i) v = generate(images);
  synchronize(device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = static_cast<double>(a.batch) * a.iterations / seconds;
  fmt::print("selfsup SimCLRViews ({} recipe) device {}, batch {} of 3x{}x{} uint8 -> 3x{}x{}, "
             "torch threads {}: {:.3f} ms/batch, views_per_s={:.1f}\n",
             a.recipe, device.str(), a.batch, in, in, out, out, torch::get_num_threads(),
             1e3 * seconds / a.iterations, rate);

  if (a.peer && device.is_cpu() && !imagenet && a.threads == 1) {
    if (auto peer = bench::run_peer("views_peer.py", fmt::format("--batch {} --size {}", a.batch, a.side))) {
      fmt::print("torchvision per image: views_per_s={:.1f} ({})\n", peer->value, peer->description);
      fmt::print("ratio selfsup / torchvision per image: {:.1f}x\n", rate / peer->value);
    }
  }
  return 0;
}
