// semantic_vs_augmented: where should positive pairs come from?
//
//   semantic_vs_augmented [--device cpu|cuda] [--epochs N] [--seed S] [--seeds N]
//                         [--data synthetic|synthetic:unreachable|cifar10:PATH|cifar100:PATH|stl10:PATH|folder:PATH]
//                         [--pairs FILE] [--json PATH] [--plot PATH] [--per-class K]
//                         [--image-size S] [--batch-size B] [--log-every S] [--progress-every SECONDS]
//   semantic_vs_augmented --help
//
// The study of Alkhalefi, Leontidis & Zhong (2025) in one command: the same SimCLR recipe
// (SimCLR's views with colour distortion of strength 1 and crops of 40-100 % of the image,
// in-batch negatives, NT-Xent at temperature 0.5, AdamW), the same encoder, seed and budget,
// trained with positives from four sources:
//   augmented    two augmented views of one image (instance discrimination)
//   semantic     an image and a listed semantic partner: a different image of the same class
//   mix          each anchor takes a semantic partner with probability 0.5, else itself
//   same_label   an image and a random other image of its label
// Every variant runs under --seeds N seeds (S, S+1, ...; default 3): seed s sets the initial
// weights (the same for every variant), the views, the pairs and the epoch order; the dataset is
// the one --seed S makes. Each seed's initial weights are evaluated too, as the row `untrained`:
// the network every variant's run of that seed starts from. It prints kNN top-1 on the test
// split and on a shifted split (nuisance factors outside the training range: the stand-in for
// transfer), linear-probe top-1 and training images per second, each as its mean over the seeds
// ± the half-width of its 95 % interval, and each variant's paired difference from `augmented`
// and from `untrained`, seed by seed; writes the same as JSON (--json) and an SVG of the mean kNN
// curves with their bands (--plot). While it trains it shows progress: a live line on a
// terminal; in a log file a line at every epoch end and at least every 30 seconds
// (--progress-every).
//
// On the embedded dataset (the default) the semantic pairs are its curated pair table. For
// CIFAR, STL-10 or an image folder (PATH/train/<class>/<image> and PATH/val/..., decoded at
// --image-size, default 64), --pairs FILE gives the table (indices into the training split, or
// paths relative to PATH/train); without it the semantic and mix variants are skipped. Those
// datasets have no shifted split.
#include "common/example_support.hpp"

#include <selfsup/distributed/init.hpp>
#include <selfsup/report/json.hpp>
#include <selfsup/report/svg.hpp>
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

namespace ss = selfsup;

struct Args {
  std::string device = "cpu";
  int64_t epochs = 12;
  int64_t seeds = 3;
  int64_t batch_size = 128;
  ss::examples::DataOptions data{};
  std::string json;
  std::string plot = "semantic_vs_augmented.svg";
  int64_t log_every = 5;
  double progress_seconds = 30.0;
};

/// The command line into `a`; the exit status when the program should stop now.
static std::optional<int> parse(int argc, char** argv, Args& a) {
  namespace ex = ss::examples;
  using CLI::Range;
  CLI::App app{"Where should positive pairs come from? SimCLR trained with augmented, semantic, mixed and "
               "same-label positives, compared by kNN and linear-probe accuracy.", "semantic_vs_augmented"};
  ex::name_errors(app);
  ex::add_device(app, a.device);
  app.add_option("--epochs", a.epochs)->capture_default_str()->check(Range(int64_t{1}, ex::max_epochs));
  app.add_option("--seeds", a.seeds, "train every variant under this many seeds: --seed, --seed + 1, ...")
      ->capture_default_str()->check(Range(int64_t{1}, int64_t{1000}));
  app.add_option("--batch-size", a.batch_size, "anchors per step")
      ->capture_default_str()->check(Range(int64_t{2}, ex::max_batch));
  ex::add_data_options(app, a.data);
  app.add_option("--json", a.json, "write the results to this JSON file");
  app.add_option("--plot", a.plot, "write an SVG of the kNN curves here (empty: none)")->capture_default_str();
  app.add_option("--log-every", a.log_every, "read the loss back every this many steps (progress lines)")
      ->capture_default_str()->check(Range(int64_t{1}, ex::max_steps));
  app.add_option("--progress-every", a.progress_seconds,
                 "without a terminal: a progress line at least this often (seconds), besides every epoch end")
      ->capture_default_str()->check(Range(0.0, 86400.0));
  return ex::parse(app, argc, argv);
}

int main(int argc, char** argv) try {
  selfsup::runtime::tune_cpu_training();  // from the start: data loading and evaluation too
  Args args;
  if (auto exit = parse(argc, argv, args)) return *exit;
  constexpr std::string_view program = "semantic_vs_augmented";
  const torch::Device device = ss::examples::parse_device(program, args.device);
  ss::examples::check_output(program, "--json", args.json);
  ss::examples::check_output(program, "--plot", args.plot);
  // Under torchrun: data parallel (--batch-size per process), rank 0 the one that prints and writes.
  const auto ctx = ss::distributed::init_from_env();
  const auto d = ss::examples::load_data("semantic_vs_augmented", args.data, device);
  const std::uint64_t seed = args.data.seed;
  const int64_t size = d.train.all_images().size(2);

  using SimCLR = ss::Recipe<ss::views::SimCLRViews, ss::pairs::Augmented, ss::negatives::InBatch, ss::losses::NTXent>;
  using Semantic = SimCLR::with_pairs<ss::pairs::Semantic>;
  using Mix = SimCLR::with_pairs<ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>>;
  using SameLabel = SimCLR::with_pairs<ss::pairs::SameLabel>;
  const ss::losses::NTXent loss{{.temperature = 0.5}};  // SimCLR's CIFAR-10 temperature

  std::vector<std::uint64_t> seeds;
  for (int64_t i = 0; i < args.seeds; ++i) seeds.push_back(seed + static_cast<std::uint64_t>(i));
  ss::ablation::Options options{
      // AdamW: at a budget of a few hundred steps it trains the SmallCNN much further than SGD.
      .trainer = {.epochs = args.epochs, .batch_size = args.batch_size, .optimizer = ss::OptimizerKind::adamw,
                  .learning_rate = 2e-3, .weight_decay = 1e-4, .schedule = {.warmup_steps = 10},
                  .log_every = args.log_every},
      .knn = {},  // k = 20, T = 0.1: the setting every program shares
      .probe = {.max_iterations = 100, .seed = seed},
      .seeds = seeds,
      .baseline = "augmented",
      .verbose = ctx.is_main(),
      .progress = {.interval_seconds = args.progress_seconds}};
  auto make_encoder = [&] {
    return ss::models::make_small_cnn_encoder({.width = 16}, ss::models::EncoderOptions{.projector = {.hidden_dim = 256, .out_dim = 64}});
  };
  if (ctx.is_main()) {
    fmt::print("Where do positive pairs come from? SimCLR on {} ({} training images), {} epochs, {}, device {}{}\n",
               d.name, d.train.size(), args.epochs,
               seeds.size() == 1 ? fmt::format("seed {}", seed) : fmt::format("seeds {} to {}", seeds.front(), seeds.back()),
               args.device,
               ctx.distributed() ? fmt::format(", {} processes (global batch {})", ctx.world_size(),
                                               args.batch_size * ctx.world_size())
                                 : std::string());
  }
  const auto* shifted = d.shifted ? &*d.shifted : nullptr;
  // Each variant's recipe for a seed: its views and its pairs draw from streams of that seed.
  // Rank 0 (and a run of one process) draws the seed's streams; every other rank a stream of its own.
  auto stream = [&](std::uint64_t s, std::uint64_t k) {
    const auto base = ss::derive_seed(s, k);
    return ctx.rank() == 0 ? base : ss::derive_seed(base, 0x5e1f0000ULL + static_cast<std::uint64_t>(ctx.rank()));
  };
  auto views = [&](std::uint64_t s) {
    // SimCLR's views with its ImageNet colour distortion (strength 1: jitter 0.8, 0.8, 0.8, 0.2)
    // and crops of at least 40 % of the image (DINO's global crops): smaller crops of a 32-pixel
    // image often miss the object, and leave the pair nothing in common but its colours.
    ss::views::SimCLRViewOptions o{.size = size, .seed = stream(s, 1)};
    o.augmentation.scale = {0.4, 1.0};
    o.augmentation.brightness = o.augmentation.contrast = o.augmentation.saturation = 0.8;
    o.augmentation.hue = 0.2;
    return ss::views::SimCLRViews(o);
  };
  auto augmented = ss::ablation::variant("augmented", [&](std::uint64_t s) { return SimCLR{.views = views(s), .loss = loss}; });
  auto same_label = ss::ablation::variant("same_label", [&](std::uint64_t s) {
    return SameLabel{.views = views(s), .pairs = ss::pairs::SameLabel({.seed = stream(s, 4)}), .loss = loss};
  });
  std::vector<ss::ablation::Result> results;
  if (d.pairs) {
    const auto& table = *d.pairs;
    results = ss::ablation::run(
        make_encoder, d.train, d.test, shifted, options, augmented,
        ss::ablation::variant("semantic", [&](std::uint64_t s) {
          return Semantic{.views = views(s), .pairs = ss::pairs::Semantic(table, {.seed = stream(s, 2)}), .loss = loss};
        }),
        ss::ablation::variant("mix", [&](std::uint64_t s) {
          return Mix{.views = views(s),
                     .pairs = {ss::pairs::Semantic(table, {.seed = stream(s, 2)}), ss::pairs::Augmented{}, {.p = 0.5, .seed = stream(s, 3)}},
                     .loss = loss};
        }),
        same_label);
  } else {
    if (ctx.is_main()) fmt::print("No semantic pair table (--pairs FILE): the semantic and mix variants are skipped.\n");
    results = ss::ablation::run(make_encoder, d.train, d.test, shifted, options, augmented, same_label);
  }
  if (!ctx.is_main()) return EXIT_SUCCESS;
  ss::ablation::print_table(results);
  if (!args.json.empty()) {
    auto json = ss::report::to_json(results);
    for (auto& variant : json) {
      variant["world_size"] = ctx.world_size();
      variant["global_batch_size"] = args.batch_size * ctx.world_size();
    }
    ss::examples::write_output(program, args.json, [&](const std::string& p) { ss::report::write_json(json, p); });
  }
  if (!args.plot.empty()) {
    ss::examples::write_output(program, args.plot, [&](const std::string& p) { ss::report::write_svg(results, p); });
  }
  return EXIT_SUCCESS;
} catch (...) {
  return selfsup::examples::print_error();
}
