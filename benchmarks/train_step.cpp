// train_step: where the time of one SimCLR training step goes.
//
//   bench_train_step [--device cpu|cuda] [--model smallcnn|resnet18] [--batch B] [--width W]
//                    [--size S] [--steps N] [--threads T] [--bf16] [--channels-last]
//
// Times, per step, the whole Trainer::step (pairs, views, encoder, loss, optimiser, hooks) and
// its parts measured alone: view generation for both sides, the encoder's forward and backward,
// the loss's forward and backward, the optimiser step. The share outside the encoder is what the
// library adds to the network's own cost.
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <chrono>
#include <string>
#include <string_view>

namespace ss = selfsup;

template <class Encoder>
int run(Encoder encoder, const std::string& device_name, int64_t batch, int64_t size, int64_t steps,
        bool bf16, bool channels_last, const std::string& model) {
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  auto sync = [&] { if (device.is_cuda()) torch::cuda::synchronize(); };
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 2 * batch / 10 + 1, .size = size},
                                       ss::data::SyntheticSplit::train, device);
  ss::Trainer trainer(ss::recipes::SimCLR{.views = ss::views::CropFlip({.size = size})}, encoder,
                      {.batch_size = batch, .bf16_autocast = bf16, .channels_last = channels_last});
  encoder->to(device);
  if (channels_last && device.is_cuda()) ss::detail::to_channels_last(*encoder);
  auto anchors = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto images = data.images(anchors);
  ss::views::CropFlip views({.size = size});
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
  fmt::print("SimCLR step: device {}, {} at {}x{}, batch {} (x2 views), torch threads {}{}{}\n", device_name,
             model, size, size, batch, torch::get_num_threads(), bf16 ? ", bf16 autocast" : "",
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
  return 0;
}

int main(int argc, char** argv) {
  std::string device_name = "cpu", model = "smallcnn";
  int64_t batch = 256, width = 16, size = 32, steps = 10;
  int threads = 0;
  bool bf16 = false, channels_last = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto next = [&] { return std::string(argv[++i]); };
    if (flag == "--device") device_name = next();
    else if (flag == "--model") model = next();
    else if (flag == "--batch") batch = std::stoll(next());
    else if (flag == "--width") width = std::stoll(next());
    else if (flag == "--size") size = std::stoll(next());
    else if (flag == "--steps") steps = std::stoll(next());
    else if (flag == "--threads") threads = std::stoi(next());
    else if (flag == "--bf16") bf16 = true;
    else if (flag == "--channels-last") channels_last = true;
    else { fmt::print(stderr, "bench_train_step: unknown argument '{}'\n", flag); return 2; }
  }
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(0);
  const ss::models::EncoderOptions heads{.projector = {.hidden_dim = 512, .out_dim = 128}};
  if (model == "resnet18") {
    return run(ss::models::make_resnet_encoder({.depth = 18, .cifar_stem = size <= 64}, heads), device_name,
               batch, size, steps, bf16, channels_last, "ResNet-18");
  }
  return run(ss::models::make_small_cnn_encoder({.width = width}, heads), device_name, batch, size, steps,
             bf16, channels_last, fmt::format("SmallCNN width {}", width));
}
