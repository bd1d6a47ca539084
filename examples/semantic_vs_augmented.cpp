// semantic_vs_augmented: where should positive pairs come from?
//
//   semantic_vs_augmented [--device cpu|cuda] [--epochs N] [--seed S]
//                         [--data synthetic|cifar10:PATH|cifar100:PATH|stl10:PATH|folder:PATH]
//                         [--pairs FILE] [--json PATH] [--plot PATH] [--per-class K]
//                         [--image-size S] [--batch-size B]
//
// The study of Alkhalefi, Leontidis & Zhong (2025) in one command: the same SimCLR recipe
// (SimCLR's views, in-batch negatives, NT-Xent), the same encoder, seed and budget, trained with
// positives from four sources:
//   augmented    two augmented views of one image (instance discrimination)
//   semantic     an image and a listed semantic partner: a different image of the same class
//   mix          each anchor takes a semantic partner with probability 0.5, else itself
//   same_label   an image and a random other image of its label
// It prints kNN top-1 on the test split and on a shifted split (nuisance factors outside the
// training range: the stand-in for transfer), linear-probe top-1 and training images per second;
// writes the same as JSON (--json) and an SVG of the kNN curves (--plot).
//
// On the embedded dataset (the default) the semantic pairs are its curated pair table. For
// CIFAR, STL-10 or an image folder (PATH/train/<class>/<image> and PATH/val/..., decoded at
// --image-size, default 64), --pairs FILE gives the table (indices into the training split, or
// paths relative to PATH/train); without it the semantic and mix variants are skipped. Those
// datasets have no shifted split.
#include "common/example_support.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

namespace ss = selfsup;

struct Args {
  std::string device = "cpu";
  int64_t epochs = 15;
  int64_t batch_size = 128;
  ss::examples::DataOptions data{};
  std::string json;
  std::string plot = "semantic_vs_augmented.svg";
};

static Args parse(int argc, char** argv) {
  Args a;
  ss::examples::Cli cli("semantic_vs_augmented", argc, argv);
  while (cli.next()) {
    if (cli.is("--device")) a.device = cli.value();
    else if (cli.is("--epochs")) a.epochs = cli.integer(1);
    else if (cli.is("--seed")) a.data.seed = static_cast<std::uint64_t>(cli.integer(0));
    else if (cli.is("--data")) a.data.spec = cli.value();
    else if (cli.is("--pairs")) a.data.pairs = cli.value();
    else if (cli.is("--json")) a.json = cli.value();
    else if (cli.is("--plot")) a.plot = cli.value();
    else if (cli.is("--per-class")) a.data.per_class = cli.integer(2);
    else if (cli.is("--batch-size")) a.batch_size = cli.integer(2);
    else if (cli.is("--image-size")) a.data.image_size = cli.integer(8, 1024);
    else cli.unknown();
  }
  return a;
}

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  const torch::Device device = ss::examples::parse_device("semantic_vs_augmented", args.device);
  const auto d = ss::examples::load_data("semantic_vs_augmented", args.data, device);
  const std::uint64_t seed = args.data.seed;
  const int64_t size = d.train.all_images().size(2);

  using SimCLR = ss::Recipe<ss::views::SimCLRViews, ss::pairs::Augmented, ss::negatives::InBatch, ss::losses::NTXent>;
  using Semantic = SimCLR::with_pairs<ss::pairs::Semantic>;
  using Mix = SimCLR::with_pairs<ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>>;
  using SameLabel = SimCLR::with_pairs<ss::pairs::SameLabel>;
  const ss::views::SimCLRViewOptions views{.size = size, .seed = seed};
  const ss::losses::NTXent loss{{.temperature = 0.2}};

  ss::ablation::Options options{
      .trainer = {.epochs = args.epochs, .batch_size = args.batch_size, .learning_rate = 0.1,
                  .schedule = {.warmup_steps = 10}, .seed = seed, .log_every = 1000},
      .knn = {.k = 20, .temperature = 0.1},
      .probe = {.max_iterations = 100, .seed = seed},
      .seed = seed};
  auto make_encoder = [&] {
    return ss::models::make_small_cnn_encoder({.width = 16}, ss::models::EncoderOptions{.projector = {.hidden_dim = 256, .out_dim = 64}});
  };
  fmt::print("Where do positive pairs come from? SimCLR on {} ({} training images), {} epochs, seed {}, device {}\n",
             d.name, d.train.size(), args.epochs, seed, args.device);
  const auto* shifted = d.shifted ? &*d.shifted : nullptr;
  std::vector<ss::ablation::Result> results;
  if (d.pairs) {
    const ss::pairs::SemanticOptions semantic{.seed = seed + 1};
    results = ss::ablation::run(
        make_encoder, d.train, d.test, shifted, options,
        ss::ablation::Variant<SimCLR>{"augmented", SimCLR{.views = ss::views::SimCLRViews(views), .loss = loss}},
        ss::ablation::Variant<Semantic>{"semantic", Semantic{.views = ss::views::SimCLRViews(views),
                                                              .pairs = ss::pairs::Semantic(*d.pairs, semantic), .loss = loss}},
        ss::ablation::Variant<Mix>{"mix", Mix{.views = ss::views::SimCLRViews(views),
                                             .pairs = {ss::pairs::Semantic(*d.pairs, semantic), ss::pairs::Augmented{},
                                                       {.p = 0.5, .seed = seed + 2}},
                                             .loss = loss}},
        ss::ablation::Variant<SameLabel>{"same_label", SameLabel{.views = ss::views::SimCLRViews(views),
                                                                  .pairs = ss::pairs::SameLabel({.seed = seed + 3}), .loss = loss}});
  } else {
    fmt::print("No semantic pair table (--pairs FILE): the semantic and mix variants are skipped.\n");
    results = ss::ablation::run(
        make_encoder, d.train, d.test, shifted, options,
        ss::ablation::Variant<SimCLR>{"augmented", SimCLR{.views = ss::views::SimCLRViews(views), .loss = loss}},
        ss::ablation::Variant<SameLabel>{"same_label", SameLabel{.views = ss::views::SimCLRViews(views),
                                                                  .pairs = ss::pairs::SameLabel({.seed = seed + 3}), .loss = loss}});
  }
  ss::ablation::print_table(results);
  if (!args.json.empty()) {
    ss::ablation::write_json(results, args.json);
    fmt::print("wrote {}\n", args.json);
  }
  if (!args.plot.empty()) {
    ss::ablation::write_svg(results, args.plot);
    fmt::print("wrote {}\n", args.plot);
  }
  return EXIT_SUCCESS;
} catch (const c10::Error& e) {
  fmt::print(stderr, "{}\n", e.what_without_backtrace());
  return EXIT_FAILURE;
} catch (const std::exception& e) {
  fmt::print(stderr, "{}\n", e.what());
  return EXIT_FAILURE;
}
