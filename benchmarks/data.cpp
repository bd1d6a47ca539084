// bench_data: images/s of an image folder's whole input path (data::ImageFolder: read, decode what
// the view needs, resample, batch), side by side in one run with torchvision's ImageFolder +
// DataLoader doing the same transform with as many workers as threads (benchmarks/data_peer.py),
// and with the decoder alone (every file decoded whole by libjpeg-turbo on the same threads: the
// floor a pipeline that decodes whole images cannot beat). For 1, 2 and all cores.
//
//   bench_data --folder DIR [--size 224] [--batch 256] [--batches 8] [--threads 1,2,N] [--no-peer]
//   bench_data --folder DIR --scan-only      the scan alone (python3 benchmarks/data_peer.py
//                                            headers DIR --files N makes a tree of header-only JPEGs)
//
// Views: `random` draws torchvision's RandomResizedCrop boxes on each full image (scale 0.08-1,
// ratio 3/4-4/3) and flips half, as the papers' views; `centre` is the evaluation read, Resize
// then CenterCrop. Make a folder like ImageNet's (2,000 JPEGs of 500 x 375, ~94 KB) with
//   python3 benchmarks/data_peer.py make DIR

#include "cli.hpp"
#include "peer.hpp"

#include <selfsup/data/image_folder.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/views/random_resized_crop.hpp>

#include <fmt/core.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Args {
  std::string folder;
  int64_t size = 224;
  int64_t batch = 256;
  int batches = 8;
  std::vector<int> threads;
  bool peer = true;
  bool scan_only = false;
};

std::optional<int> parse(int argc, char** argv, Args& a) {
  CLI::App app{"Times an image folder's input path against torchvision's and against the decoder alone.", "bench_data"};
  app.add_option("--folder", a.folder, "root/<class>/<image>.jpg (python3 benchmarks/data_peer.py make DIR)")
      ->required()->check(CLI::ExistingDirectory);
  app.add_option("--size", a.size, "output side")->capture_default_str()->check(CLI::Range(int64_t{8}, int64_t{1024}));
  app.add_option("--batch", a.batch)->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{4096}));
  app.add_option("--batches", a.batches, "batches timed after one of warm-up")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--threads", a.threads, "thread counts to time (default: 1, 2 and all cores)")->delimiter(',')
      ->check(CLI::Range(1, 1024));
  app.add_flag("!--no-peer", a.peer, "skip torchvision");
  app.add_flag("--scan-only", a.scan_only, "time the folder's scan (headers only) and stop");
  return bench::parse(app, argc, argv);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int run(const Args& a);

int main(int argc, char** argv) {
  Args a;
  if (auto exit = parse(argc, argv, a)) return *exit;
  try {
    return run(a);
  } catch (const c10::Error& e) {
    fmt::print(stderr, "bench_data: {}\n", e.what_without_backtrace());
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_data: {}\n", e.what());
  }
  return 1;
}

int run(const Args& given) {
  namespace data = selfsup::data;
  Args a = given;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (a.threads.empty()) a.threads = {1, 2, cores};
  std::sort(a.threads.begin(), a.threads.end());
  a.threads.erase(std::unique(a.threads.begin(), a.threads.end()), a.threads.end());
  torch::set_num_threads(1);

  const auto scan_start = std::chrono::steady_clock::now();
  data::ImageFolder probe(a.folder, {.size = a.size, .threads = cores, .warn = false});
  const double scan = seconds_since(scan_start);
  const int64_t n = probe.size();
  fmt::print("bench_data: scanned {} files (headers only, {} threads) in {:.2f} s: {:.0f} files/s; peak memory {:.0f} MiB\n",
             n + probe.skipped(), cores, scan, static_cast<double>(n + probe.skipped()) / scan, peak_mib());
  if (a.scan_only) return 0;
  const int64_t total = a.batch * a.batches;
  fmt::print("bench_data: {} ({} images), {} px, batches of {}, {} timed batches, {} core(s)\n", a.folder, n, a.size,
             a.batch, a.batches, cores);
  std::vector<std::string> files;
  for (const auto& p : probe.paths()) files.push_back((std::filesystem::path(a.folder) / p).string());

  for (int t : a.threads) {
    // The floor: whole decodes of as many files as the timed batches hold, on t threads.
    const auto start_floor = std::chrono::steady_clock::now();
    selfsup::data::detail::parallel_for(total, t, [&](int64_t i) {
      auto d = selfsup::data::detail::decode_file(files[static_cast<size_t>(i % n)], false);
      if (!d.error.empty()) throw std::runtime_error(files[static_cast<size_t>(i % n)] + ": " + d.error);
    });
    const double floor = static_cast<double>(total) / seconds_since(start_floor);

    data::ImageFolder folder(a.folder, {.size = a.size, .threads = t, .warn = false});
    auto gen = selfsup::detail::make_generator(torch::kCPU, 1);
    auto order = torch::randperm(n, gen, torch::kLong);
    auto batch_of = [&](int64_t k) {
      auto idx = torch::arange(k * a.batch, (k + 1) * a.batch, torch::kLong).remainder(n);
      return order.index_select(0, idx);
    };
    auto time_reads = [&](auto&& read) {
      read(batch_of(0));  // warm-up
      const auto start = std::chrono::steady_clock::now();
      for (int64_t k = 1; k <= a.batches; ++k) read(batch_of(k));
      return static_cast<double>(total) / seconds_since(start);
    };
    const double random = time_reads([&](const torch::Tensor& idx) {
      auto hw = folder.sizes(idx);
      auto boxes = selfsup::views::sample_resized_crop_boxes(hw.select(1, 0), hw.select(1, 1), {}, gen);
      auto flip = torch::rand({idx.size(0)}, gen).lt(0.5);
      return folder.crops(idx, boxes, a.size, flip);
    });
    const double centre = time_reads([&](const torch::Tensor& idx) { return folder.images(idx); });
    fmt::print("threads {}: decoder alone (whole images) {:.0f} images/s; selfsup random crops {:.0f} images/s "
               "({:.2f} of the decoder alone); selfsup centre reads {:.0f} images/s ({:.2f}); peak memory {:.0f} MiB\n",
               t, floor, random, random / floor, centre, centre / floor, peak_mib());
    if (!a.peer) continue;
    for (const char* transform : {"random", "centre"}) {
      const auto args = fmt::format("run '{}' --transform {} --size {} --workers {} --batch {} --batches {}", a.folder,
                                    transform, a.size, t, a.batch, a.batches);
      if (auto peer = bench::run_peer("data_peer.py", args)) {
        const double ours = std::string(transform) == "random" ? random : centre;
        fmt::print("  torchvision {}: {:.0f} images/s; selfsup / torchvision {:.2f}x\n", transform, peer->value,
                   ours / peer->value);
      }
    }
  }
  if (a.peer) {
    if (auto pil = bench::run_peer("data_peer.py", fmt::format("decode '{}' --images {}", a.folder, std::min<int64_t>(n, 500)))) {
      fmt::print("PIL full decode alone, one core: {:.0f} images/s\n", pil->value);
    }
  }
  return 0;
}
