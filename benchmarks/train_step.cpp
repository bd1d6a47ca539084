// train_step: where the time of one SimCLR training step goes, on the embedded dataset.
//
//   train_step [--device cpu|cuda] [--batch B] [--width W] [--steps N]
//
// Prints, per step, the time of the encoder's forward and backward alone and of the whole step
// (pairs, views, encoder, loss, optimiser), and the share of the step spent outside the encoder.
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <chrono>
#include <string>
#include <string_view>

namespace ss = selfsup;

int main(int argc, char** argv) {
  std::string device_name = "cpu";
  int64_t batch = 256, width = 16, steps = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--device") device_name = argv[i + 1];
    else if (flag == "--batch") batch = std::stoll(argv[i + 1]);
    else if (flag == "--width") width = std::stoll(argv[i + 1]);
    else if (flag == "--steps") steps = std::stoll(argv[i + 1]);
  }
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  auto sync = [&] { if (device.is_cuda()) torch::cuda::synchronize(); };
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 2 * batch / 10 + 1, .size = 32}, ss::data::SyntheticSplit::train, device);
  auto encoder = ss::models::make_small_cnn_encoder({.width = width}, {.hidden_dim = 512, .out_dim = 128});
  ss::Trainer trainer(ss::recipes::SimCLR{.views = ss::views::CropFlip({.size = 32})}, encoder,
                      {.batch_size = batch});
  encoder->to(device);
  auto anchors = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto views = torch::rand({2 * batch, 3, 32, 32}, device);
  using clock = std::chrono::steady_clock;
  auto time = [&](auto&& fn) {
    fn();  // warm-up
    sync();
    const auto start = clock::now();
    for (int64_t i = 0; i < steps; ++i) fn();
    sync();
    return std::chrono::duration<double>(clock::now() - start).count() / static_cast<double>(steps);
  };
  const double encoder_s = time([&] {
    encoder->zero_grad();
    encoder->forward(views).sum().backward();
  });
  const double step_s = time([&] { trainer.step(data, anchors); });
  fmt::print("device {}, batch {} (x2 views), SmallCNN width {}, torch threads {}\n", device_name,
             batch, width, torch::get_num_threads());
  fmt::print("encoder forward+backward {:8.2f} ms\n", encoder_s * 1e3);
  fmt::print("whole training step      {:8.2f} ms  ({:.0f} images/s)\n", step_s * 1e3, batch / step_s);
  fmt::print("outside the encoder      {:8.1f} %\n", 100.0 * (step_s - encoder_s) / step_s);
}
