// train_step: where the time of one SimCLR training step goes, and what the kernel takes of it.
//
//   bench_train_step [--device cpu|cuda] [--model smallcnn|resnet18|resnet50|vit_tiny|vit_small]
//                    [--batch B] [--width W] [--size S] [--steps N] [--threads T] [--bf16]
//                    [--channels-last] [--views simclr|cropflip] [--keep-freed-memory on|off]
//                    [--serial-blas on|off] [--no-peer] [--patch P] [--local-crops K] [--prototypes K]
//
// With a ViT (--model vit_tiny|vit_small) the step is DINO's instead: multi-crop (2 global views
// at --size, --local-crops local ones at 96/224 of it), the student on every view, the momentum
// teacher on the global ones, DINO's head (K = --prototypes outputs), the loss, AdamW, the
// teacher's update; phases as below, "encoder" being the student's and the teacher's networks.
//
// Every iteration runs, one after the other in the same allocator state, (a) Trainer::step as a
// user runs it, and (b) the same step done by hand with a clock between its phases: pairs and
// images, both sides' views, the encoder's forward, the loss's forward and backward (to the
// projections), the encoder's backward, the optimiser. The phases of (b) add up to (b) by
// construction, and (b) is compared with (a). Around the Trainer::step calls alone it reports
// minor page faults per step and the kernel's share of the process's CPU time (getrusage).
// On the CPU the encoder's forward + backward is also timed alone, in contiguous and
// channels-last memory format, against the same encoder in python3-torch
// (benchmarks/encoder_peer.py); with the SmallCNN and SimCLR's views the whole step is compared
// with the usual PyTorch step (benchmarks/train_step_peer.py).
#include "cli.hpp"
#include "peer.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

namespace ss = selfsup;

struct Settings {
  std::string device = "cpu", model = "smallcnn", views = "simclr", keep_freed_memory = "on", serial_blas = "on";
  int64_t batch = 256, width = 16, size = 32, steps = 10, patch = 0, local_crops = 8, prototypes = 65536;
  int threads = 0;
  bool bf16 = false, channels_last = false, peer = true;
};

struct Usage {
  double user = 0, system = 0;
  long minor_faults = 0;
  static Usage now() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
    return {seconds(u.ru_utime), seconds(u.ru_stime), u.ru_minflt};
  }
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
  const int64_t batch = s.batch, size = s.size, steps = s.steps;
  const torch::Device device(s.device == "cuda" ? torch::kCUDA : torch::kCPU);
  const bool cuda = device.is_cuda(), bf16 = s.bf16 && cuda, channels_last = s.channels_last && cuda;
  auto sync = [&] { if (cuda) torch::cuda::synchronize(); };
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };

  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 2 * batch / 10 + 1, .size = size},
                                       ss::data::SyntheticSplit::train, device);
  using Recipe = ss::recipes::SimCLR::with_views<Views>;
  ss::Trainer trainer(Recipe{.views = make_views<Views>(size)}, encoder,
                      {.batch_size = batch, .bf16_autocast = bf16, .channels_last = channels_last});
  encoder->to(device);
  if (channels_last) ss::detail::to_channels_last(*encoder);
  auto anchors = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device));
  auto views = make_views<Views>(size);
  const ss::functional::NTXentOptions loss_options{.temperature = 0.5};

  // (b): the step by hand, phase by phase.
  enum Phase { pairs_images, view_phase, forward_phase, loss_phase, backward_phase, optimiser_phase, phases };
  const std::array<const char*, phases> names = {"pairs and images", "views, both sides", "encoder forward",
                                                 "NT-Xent forward + backward", "encoder backward", "optimiser step"};
  std::array<double, phases> phase_ms{};
  auto by_hand = [&](bool record) {
    auto t = Clock::now();
    auto mark = [&](Phase p) {
      sync();
      if (record) phase_ms[p] += ms_since(t);
      t = Clock::now();
    };
    auto pairs = trainer.recipe().pairs.sample(anchors);
    auto images = data.images(pairs.anchors);
    mark(pairs_images);
    auto x = torch::cat({views(images), views(images)});
    if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    mark(view_phase);
    torch::Tensor z;
    {
      ss::detail::CudaBf16Autocast autocast(bf16);
      z = encoder->forward(x);
    }
    mark(forward_phase);
    auto zf = z.detach().to(torch::kFloat32).requires_grad_(true);
    auto loss = ss::functional::nt_xent(zf.narrow(0, 0, batch), zf.narrow(0, batch, batch), loss_options);
    auto dz = torch::autograd::grad({loss}, {zf}).front();
    mark(loss_phase);
    trainer.optimizer().zero_grad();
    z.backward(dz.to(z.scalar_type()));
    mark(backward_phase);
    trainer.optimizer().step();
    mark(optimiser_phase);
  };

  for (int i = 0; i < 2; ++i) trainer.step(data, anchors), by_hand(false);  // warm-up
  sync();
  double step_ms = 0, by_hand_ms = 0;
  Usage in_steps{};
  for (int64_t i = 0; i < steps; ++i) {
    const auto before = Usage::now();
    const auto t = Clock::now();
    trainer.step(data, anchors);
    sync();
    step_ms += ms_since(t);
    const auto after = Usage::now();
    in_steps.user += after.user - before.user;
    in_steps.system += after.system - before.system;
    in_steps.minor_faults += after.minor_faults - before.minor_faults;
    const auto t2 = Clock::now();
    by_hand(true);
    by_hand_ms += ms_since(t2);
  }
  step_ms /= static_cast<double>(steps);
  by_hand_ms /= static_cast<double>(steps);
  for (auto& p : phase_ms) p /= static_cast<double>(steps);

  fmt::print("SimCLR step: device {}, {} at {}x{}, {} views, batch {} (x2 views), torch threads {}{}{}, "
             "glibc keeps freed memory: {}, serial BLAS: {}\n",
             s.device, model, size, size, s.views, batch, torch::get_num_threads(), bf16 ? ", bf16 autocast" : "",
             channels_last ? ", channels-last" : "",
             s.keep_freed_memory == "on" && ss::runtime::keep_freed_memory() == ss::runtime::Tuning::applied ? "yes" : "no",
             s.serial_blas == "on" && ss::runtime::serial_blas() == ss::runtime::Tuning::applied ? "yes" : "no");
  fmt::print("  {:<36}{:9.2f} ms   {:.0f} training images per second\n", "Trainer::step", step_ms, 1000.0 * batch / step_ms);
  fmt::print("  {:<36}{:9.2f} ms   ({:+.1f} % against Trainer::step)\n", "the same step by hand, phases:", by_hand_ms,
             100.0 * (by_hand_ms - step_ms) / step_ms);
  for (int p = 0; p < phases; ++p) {
    fmt::print("    {:<34}{:9.2f} ms  {:5.1f} %\n", names[p], phase_ms[p], 100.0 * phase_ms[p] / by_hand_ms);
  }
  const double encoder_share = (phase_ms[forward_phase] + phase_ms[backward_phase]) / by_hand_ms;
  fmt::print("    {:<34}{:>12}  {:5.1f} %\n", "outside the encoder", "", 100.0 * (1.0 - encoder_share));
  const double cpu = in_steps.user + in_steps.system;
  fmt::print("  in Trainer::step: {:.1f} minor page faults per step; kernel {:.1f} % of the process's CPU time\n",
             static_cast<double>(in_steps.minor_faults) / static_cast<double>(steps),
             cpu > 0 ? 100.0 * in_steps.system / cpu : 0.0);

  if (!cuda) {
    auto x = torch::rand({2 * batch, 3, size, size});
    auto time_encoder = [&](const torch::Tensor& input) {
      std::vector<double> times;
      for (int64_t i = 0; i < steps + 2; ++i) {
        const auto t = Clock::now();
        encoder->zero_grad();
        encoder->forward(input).sum().backward();
        if (i >= 2) times.push_back(ms_since(t));
      }
      std::sort(times.begin(), times.end());
      return times[times.size() / 2];
    };
    const double contiguous = time_encoder(x);
    ss::detail::to_channels_last(*encoder);
    const double nhwc = time_encoder(x.contiguous(at::MemoryFormat::ChannelsLast));
    fmt::print("  encoder forward + backward alone (median): {:.2f} ms contiguous, {:.2f} ms channels-last\n",
               contiguous, nhwc);
    if (s.peer) {
      const auto args = fmt::format("--model {} --batch {} --width {} --size {} --steps {} --threads {}", s.model,
                                    batch, s.width, size, steps, torch::get_num_threads());
      if (auto peer = bench::run_peer("encoder_peer.py", args)) {
        fmt::print("  peer: {}\n", peer->description);
        fmt::print("  ratio PyTorch encoder / selfsup encoder (contiguous): {:.2f}x\n", peer->value / contiguous);
      }
      if (s.model == "smallcnn" && s.views == "simclr") {
        const auto step_args = fmt::format("--batch {} --width {} --size {} --steps {} --threads {}", batch, s.width,
                                           size, steps, torch::get_num_threads());
        if (auto peer = bench::run_peer("train_step_peer.py", step_args)) {
          fmt::print("  peer: {}\n", peer->description);
          fmt::print("  ratio PyTorch step / selfsup step: {:.1f}x\n", peer->value / step_ms);
        }
      }
    }
  }
  return 0;
}

/// DINO's step with a ViT: Trainer::step, then the same step by hand, phase by phase.
int run_dino(const Settings& s) {
  const int64_t batch = s.batch, size = s.size, steps = s.steps;
  const torch::Device device(s.device == "cuda" ? torch::kCUDA : torch::kCPU);
  const bool cuda = device.is_cuda(), bf16 = s.bf16 && cuda;
  auto sync = [&] { if (cuda) torch::cuda::synchronize(); };
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
  const auto vit = s.model == "vit_tiny" ? ss::models::vit_tiny(size, s.patch) : ss::models::vit_small(size, s.patch);
  const int64_t patch = vit.patch_size;
  const int64_t local = ss::views::local_crop_size(size, patch);
  torch::manual_seed(0);
  using Encoder = ss::models::ProjectedEncoder<ss::models::VisionTransformer>;
  Encoder encoder(ss::models::BackboneFactory<ss::models::VisionTransformer>{[vit] { return ss::models::VisionTransformer(vit); }},
                  ss::models::EncoderOptions{.projector = ss::models::heads::dino(s.prototypes), .momentum_target = true,
                                             .momentum = 0.996});
  auto crop_options = ss::views::MultiCropOptions{.global_size = size, .local_size = local, .local_views = s.local_crops,
                                                  .global_scale = {0.4, 1.0}, .local_scale = {0.05, 0.4}};
  if (size < 96) crop_options.blur_probability = 0;
  using Recipe = ss::Recipe<ss::views::MultiCrop, ss::pairs::Augmented, ss::negatives::None, ss::losses::DINO>;
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 2 * batch / 10 + 1, .size = size},
                                       ss::data::SyntheticSplit::train, device);
  ss::Trainer trainer(Recipe{.views = ss::views::MultiCrop(crop_options)}, encoder,
                      {.batch_size = batch, .optimizer = ss::OptimizerKind::adamw, .learning_rate = 5e-4,
                       .weight_decay = 0.04, .final_weight_decay = 0.4, .clip_grad_norm = 3.0, .bf16_autocast = bf16});
  encoder->to(device);
  auto anchors = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device));
  ss::views::MultiCrop views(crop_options);
  ss::losses::DINO loss_policy;

  enum Phase { pairs_images, view_phase, student_forward, teacher_forward, loss_phase, backward_phase,
               optimiser_phase, phases };
  const std::array<const char*, phases> names = {"pairs and images", "multi-crop views", "student forward (all views)",
                                                 "teacher forward (global views)", "DINO loss fwd + bwd, centre",
                                                 "student backward", "clip, AdamW, teacher EMA"};
  std::array<double, phases> phase_ms{};
  auto by_hand = [&](bool record) {
    auto t = Clock::now();
    auto mark = [&](Phase p) {
      sync();
      if (record) phase_ms[p] += ms_since(t);
      t = Clock::now();
    };
    auto pairs = trainer.recipe().pairs.sample(anchors);
    auto images = data.images(pairs.anchors);
    mark(pairs_images);
    auto v = views.crops(images, images);
    mark(view_phase);
    torch::Tensor zg, zl, tg;
    {
      ss::detail::CudaBf16Autocast autocast(bf16);
      zg = encoder->forward(v.global.flatten(0, 1));
      if (s.local_crops > 0) zl = encoder->forward(v.local.flatten(0, 1));
    }
    mark(student_forward);
    {
      ss::detail::CudaBf16Autocast autocast(bf16);
      tg = encoder->target_forward(v.global.flatten(0, 1));
    }
    mark(teacher_forward);
    auto leaf_g = zg.detach().to(torch::kFloat32).requires_grad_(true);
    auto leaf_l = zl.defined() ? zl.detach().to(torch::kFloat32).requires_grad_(true) : torch::Tensor();
    ss::LossInput in;
    in.z0 = leaf_g.narrow(0, 0, batch), in.z1 = leaf_g.narrow(0, batch, batch);
    auto t32 = tg.to(torch::kFloat32);
    in.t0 = t32.narrow(0, 0, batch), in.t1 = t32.narrow(0, batch, batch);
    for (int64_t k = 0; k < s.local_crops; ++k) in.local.push_back(leaf_l.narrow(0, k * batch, batch));
    auto loss = loss_policy(in);
    std::vector<torch::Tensor> leaves{leaf_g};
    if (leaf_l.defined()) leaves.push_back(leaf_l);
    auto grads = torch::autograd::grad({loss}, leaves);
    loss_policy.after_step(in);
    mark(loss_phase);
    trainer.optimizer().zero_grad();
    std::vector<torch::Tensor> outs{zg}, douts{grads[0].to(zg.scalar_type())};
    if (zl.defined()) outs.push_back(zl), douts.push_back(grads[1].to(zl.scalar_type()));
    torch::autograd::backward(outs, douts);
    mark(backward_phase);
    ss::optim::clip_grad_norm(trainer.optimizer(), 3.0);
    trainer.optimizer().step();
    encoder->update_target(0.5);
    mark(optimiser_phase);
  };

  for (int i = 0; i < 2; ++i) trainer.step(data, anchors), by_hand(false);  // warm-up
  sync();
  double step_ms = 0, by_hand_ms = 0;
  for (int64_t i = 0; i < steps; ++i) {
    const auto t = Clock::now();
    trainer.step(data, anchors);
    sync();
    step_ms += ms_since(t);
    const auto t2 = Clock::now();
    by_hand(true);
    by_hand_ms += ms_since(t2);
  }
  step_ms /= static_cast<double>(steps);
  by_hand_ms /= static_cast<double>(steps);
  for (auto& p : phase_ms) p /= static_cast<double>(steps);
  fmt::print("DINO step: device {}, {} patch {} at {}x{} (2 global views) + {} local views at {}x{}, head K = {}, "
             "batch {}, torch threads {}{}, attention {}\n",
             s.device, s.model, patch, size, size, s.local_crops, local, local, s.prototypes, batch,
             torch::get_num_threads(), bf16 ? ", bf16 autocast" : "",
             ss::detail::fused_attention_available ? "fused (scaled_dot_product_attention)" : "by its formula (LibTorch 1.x)");
  fmt::print("  {:<36}{:9.1f} ms   {:.1f} training images per second\n", "Trainer::step", step_ms, 1000.0 * batch / step_ms);
  fmt::print("  {:<36}{:9.1f} ms   ({:+.1f} % against Trainer::step)\n", "the same step by hand, phases:", by_hand_ms,
             100.0 * (by_hand_ms - step_ms) / step_ms);
  for (int p = 0; p < phases; ++p) {
    fmt::print("    {:<34}{:9.1f} ms  {:5.1f} %\n", names[p], phase_ms[p], 100.0 * phase_ms[p] / by_hand_ms);
  }
  const double networks = phase_ms[student_forward] + phase_ms[teacher_forward] + phase_ms[backward_phase];
  fmt::print("    {:<34}{:>12}  {:5.1f} %\n", "outside the encoder", "", 100.0 * (1.0 - networks / by_hand_ms));
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
  return run<Views>(ss::models::make_small_cnn_encoder({.width = s.width}, heads), s,
                    fmt::format("SmallCNN width {}", s.width));
}

int main(int argc, char** argv) try {
  Settings s;
  CLI::App app("Where the time of one SimCLR training step goes, and the kernel's share of it.",
               "bench_train_step");
  app.add_option("--device", s.device, "where to train")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--model", s.model, "the encoder's backbone")
      ->check(CLI::IsMember({"smallcnn", "resnet18", "resnet50", "vit_tiny", "vit_small"}))
      ->capture_default_str();
  app.add_option("--patch", s.patch, "ViT patch size (0: 16 from 96 px up, 4 below)")->check(CLI::Range(0, 64))->capture_default_str();
  app.add_option("--local-crops", s.local_crops, "ViT (DINO step): local views")->check(CLI::Range(0, 64))->capture_default_str();
  app.add_option("--prototypes", s.prototypes, "ViT (DINO step): the head's outputs K")
      ->check(CLI::Range(2, 1 << 20))->capture_default_str();
  app.add_option("--views", s.views, "SimCLR's views, or crop and flip only")
      ->check(CLI::IsMember({"simclr", "cropflip"}))
      ->capture_default_str();
  app.add_option("--batch", s.batch, "anchors per step (two views each)")->check(CLI::Range(2, 1 << 16))->capture_default_str();
  app.add_option("--width", s.width, "SmallCNN width")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--size", s.size, "image side")->check(CLI::Range(8, 1024))->capture_default_str();
  app.add_option("--steps", s.steps, "timed steps")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--threads", s.threads, "LibTorch threads (0: its default)")->check(CLI::Range(0, 1024))->capture_default_str();
  app.add_option("--keep-freed-memory", s.keep_freed_memory,
                 "glibc keeps freed memory for the next step (runtime::keep_freed_memory)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--serial-blas", s.serial_blas,
                 "OpenBLAS runs each product on the calling thread (runtime::serial_blas)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_flag("--bf16", s.bf16, "CUDA: bfloat16 autocast for the encoder");
  app.add_flag("--channels-last", s.channels_last, "CUDA: channels-last images and weights");
  app.add_flag("!--no-peer", s.peer, "skip the Python peers");
  if (auto code = bench::parse(app, argc, argv)) return *code;
  if (s.device == "cuda" && !torch::cuda::is_available()) {
    fmt::print(stderr, "bench_train_step: --device cuda, but no CUDA device is available\n");
    return 2;
  }
  if (s.threads > 0) torch::set_num_threads(s.threads);
  // The two process settings the example programs make at start (train/runtime.hpp), unless off.
  if (s.keep_freed_memory == "on") ss::runtime::keep_freed_memory();
  if (s.serial_blas == "on") ss::runtime::serial_blas();
  if (s.model.starts_with("vit_")) return run_dino(s);
  if (s.views == "simclr") return dispatch<ss::views::SimCLRViews>(s);
  return dispatch<ss::views::CropFlip>(s);
} catch (const std::exception& e) {
  fmt::print(stderr, "bench_train_step: {}\n", e.what());
  return 1;
}
