// train_step: where the time of one SimCLR training step goes.
//
//   bench_train_step [--device cpu|cuda] [--model smallcnn|resnet18|resnet50] [--batch B]
//                    [--width W] [--size S] [--steps N] [--threads T] [--bf16] [--channels-last]
//                    [--views simclr|cropflip] [--no-peer]
//
// Times, per step, the whole Trainer::step (pairs, views, encoder, loss, optimiser, hooks) and
// its parts measured alone: view generation for both sides, the encoder's forward and backward,
// the loss's forward and backward, the optimiser step. The share outside the encoder is what the
// library adds to the network's own cost. Views are SimCLR's (the CIFAR recipe up to 64 px, the
// ImageNet recipe above), or crop-and-flip only. On the CPU with the SmallCNN and SimCLR's views,
// the peer (benchmarks/train_step_peer.py) runs the same step the usual way in PyTorch, with
// torchvision's transforms per image in a DataLoader, and the ratio is printed.
#include "peer.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <chrono>
#include <string>
#include <stdexcept>
#include <string_view>
#include <type_traits>

namespace ss = selfsup;

struct Settings {
  std::string device = "cpu", model = "smallcnn", views = "simclr";
  int64_t batch = 256, width = 16, size = 32, steps = 10;
  int threads = 0;
  bool bf16 = false, channels_last = false, peer = true;
};

template <class Views>
Views make_views(int64_t size) {
  if constexpr (std::is_same_v<Views, ss::views::SimCLRViews>) {
    return Views(size > 64 ? ss::views::SimCLRViewOptions::imagenet(size) : ss::views::SimCLRViewOptions::cifar(size));
  } else {
    return Views({.size = size});
  }
}

template <class Views, class Encoder>
int run(Encoder encoder, const Settings& s, const std::string& model) {
  const auto& device_name = s.device;
  const int64_t batch = s.batch, size = s.size, steps = s.steps;
  const bool bf16 = s.bf16, channels_last = s.channels_last;
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  auto sync = [&] { if (device.is_cuda()) torch::cuda::synchronize(); };
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 2 * batch / 10 + 1, .size = size},
                                       ss::data::SyntheticSplit::train, device);
  using Recipe = ss::recipes::SimCLR::with_views<Views>;
  ss::Trainer trainer(Recipe{.views = make_views<Views>(size)}, encoder,
                      {.batch_size = batch, .bf16_autocast = bf16, .channels_last = channels_last});
  encoder->to(device);
  if (channels_last && device.is_cuda()) ss::detail::to_channels_last(*encoder);
  auto anchors = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto images = data.images(anchors);
  auto views = make_views<Views>(size);
  auto x = torch::cat({views(images), views(images)});
  if (channels_last && device.is_cuda()) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  auto z0 = torch::randn({batch, 128}, device).requires_grad_(true);
  auto z1 = torch::randn({batch, 128}, device).requires_grad_(true);
  using clock = std::chrono::steady_clock;
  auto time_ms = [&](auto&& fn) {
    fn();  // warm-up
    fn();
    sync();
    const auto start = clock::now();
    for (int64_t i = 0; i < steps; ++i) fn();
    sync();
    return std::chrono::duration<double, std::milli>(clock::now() - start).count() / static_cast<double>(steps);
  };
  const double step_ms = time_ms([&] { trainer.step(data, anchors); });
  const double views_ms = time_ms([&] { views(images); views(images); });
  const double encoder_ms = time_ms([&] {
    encoder->zero_grad();
    ss::detail::CudaBf16Autocast autocast(bf16 && device.is_cuda());
    encoder->forward(x).sum().backward();
  });
  const double loss_ms = time_ms([&] { ss::functional::nt_xent(z0, z1, {.temperature = 0.5}).backward(); });
  const double optimizer_ms = time_ms([&] { trainer.optimizer().step(); });
  fmt::print("SimCLR step: device {}, {} at {}x{}, {} views, batch {} (x2 views), torch threads {}{}{}\n",
             device_name, model, size, size, s.views, batch, torch::get_num_threads(), bf16 ? ", bf16 autocast" : "",
             channels_last ? ", channels-last" : "");
  auto row = [&](const char* what, double ms) {
    fmt::print("  {:<34}{:9.2f} ms  {:5.1f} % of the step\n", what, ms, 100.0 * ms / step_ms);
  };
  row("whole training step", step_ms);
  row("encoder forward + backward", encoder_ms);
  row("  views, both sides (alone)", views_ms);
  row("  NT-Xent forward + backward (alone)", loss_ms);
  row("  optimiser step (alone)", optimizer_ms);
  row("outside the encoder (step - encoder)", step_ms - encoder_ms);
  fmt::print("  {:.0f} training images per second\n", 1000.0 * batch / step_ms);
  if (s.peer && device.is_cpu() && s.model == "smallcnn" && s.views == "simclr") {
    const auto args = fmt::format("--batch {} --width {} --size {} --steps {} --threads {}", s.batch, s.width, s.size,
                                  s.steps, torch::get_num_threads());
    if (auto peer = bench::run_peer("train_step_peer.py", args)) {
      fmt::print("  peer: {}\n", peer->description);
      fmt::print("  ratio PyTorch step / selfsup step: {:.1f}x\n", peer->value / step_ms);
    }
  }
  return 0;
}

template <class Views>
int dispatch(const Settings& s) {
  torch::manual_seed(0);
  const ss::models::EncoderOptions heads{.projector = {.hidden_dim = 512, .out_dim = 128}};
  if (s.model == "resnet18" || s.model == "resnet50") {
    const int64_t depth = s.model == "resnet18" ? 18 : 50;
    return run<Views>(ss::models::make_resnet_encoder({.depth = depth, .cifar_stem = s.size <= 64}, heads), s,
                      depth == 18 ? "ResNet-18" : "ResNet-50");
  }
  if (s.model != "smallcnn") {
    fmt::print(stderr, "bench_train_step: --model must be smallcnn, resnet18 or resnet50, got '{}'\n", s.model);
    return 2;
  }
  return run<Views>(ss::models::make_small_cnn_encoder({.width = s.width}, heads), s,
                    fmt::format("SmallCNN width {}", s.width));
}

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto next = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("bench_train_step: {} needs a value", flag));
      return std::string(argv[++i]);
    };
    if (flag == "--device") s.device = next();
    else if (flag == "--model") s.model = next();
    else if (flag == "--views") s.views = next();
    else if (flag == "--batch") s.batch = std::stoll(next());
    else if (flag == "--width") s.width = std::stoll(next());
    else if (flag == "--size") s.size = std::stoll(next());
    else if (flag == "--steps") s.steps = std::stoll(next());
    else if (flag == "--threads") s.threads = std::stoi(next());
    else if (flag == "--bf16") s.bf16 = true;
    else if (flag == "--channels-last") s.channels_last = true;
    else if (flag == "--no-peer") s.peer = false;
    else { fmt::print(stderr, "bench_train_step: unknown argument '{}'\n", flag); return 2; }
  }
  if (s.threads > 0) torch::set_num_threads(s.threads);
  if (s.views == "simclr") return dispatch<ss::views::SimCLRViews>(s);
  if (s.views == "cropflip") return dispatch<ss::views::CropFlip>(s);
  fmt::print(stderr, "bench_train_step: --views must be simclr or cropflip, got '{}'\n", s.views);
  return 2;
}
