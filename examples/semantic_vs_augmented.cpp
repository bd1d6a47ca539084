// semantic_vs_augmented: where should positive pairs come from?
//
//   semantic_vs_augmented [--device cpu|cuda] [--epochs N] [--seed S]
//                         [--data synthetic|cifar10:PATH|stl10:PATH] [--pairs FILE]
//                         [--json PATH] [--plot PATH] [--per-class K]
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
// CIFAR-10 or STL-10, --pairs FILE gives the table (indices into the training split); without it
// the semantic and mix variants are skipped. Those datasets have no shifted split.
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ss = selfsup;

struct Args {
  std::string device = "cpu";
  int64_t epochs = 15;
  std::uint64_t seed = 0;
  std::string data = "synthetic";
  std::string pairs;
  std::string json;
  std::string plot = "semantic_vs_augmented.svg";
  int64_t per_class = 300;
};

static Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("semantic_vs_augmented: {} needs a value", flag));
      return argv[++i];
    };
    auto number = [&](const std::string& v) {
      try {
        size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used != v.size() || n < 0) throw std::invalid_argument("");
        return n;
      } catch (const std::exception&) {
        throw std::invalid_argument(fmt::format("semantic_vs_augmented: {} expects a non-negative integer, got '{}'", flag, v));
      }
    };
    if (flag == "--device") a.device = value();
    else if (flag == "--epochs") a.epochs = number(value());
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(number(value()));
    else if (flag == "--data") a.data = value();
    else if (flag == "--pairs") a.pairs = value();
    else if (flag == "--json") a.json = value();
    else if (flag == "--plot") a.plot = value();
    else if (flag == "--per-class") a.per_class = number(value());
    else throw std::invalid_argument(fmt::format("semantic_vs_augmented: unknown argument '{}'", flag));
  }
  if (a.device != "cpu" && a.device != "cuda")
    throw std::invalid_argument(fmt::format("semantic_vs_augmented: --device must be cpu or cuda, got '{}'", a.device));
  if (a.device == "cuda" && !torch::cuda::is_available())
    throw std::invalid_argument("semantic_vs_augmented: --device cuda, but no CUDA device is available");
  if (a.epochs < 1) throw std::invalid_argument("semantic_vs_augmented: --epochs must be >= 1");
  return a;
}

struct Data {
  ss::data::InMemoryDataset train, test;
  std::optional<ss::data::InMemoryDataset> shifted;
  std::optional<ss::data::PairTable> pairs;
  std::string name;
};

static Data load(const Args& a, torch::Device device) {
  Data d;
  if (a.data == "synthetic") {
    const ss::data::SyntheticOptions train{.classes = 10, .per_class = a.per_class, .size = 32, .seed = a.seed};
    const ss::data::SyntheticOptions eval{.classes = 10, .per_class = 100, .size = 32, .seed = a.seed};
    d.train = ss::data::make_synthetic(train, ss::data::SyntheticSplit::train, device);
    d.test = ss::data::make_synthetic(eval, ss::data::SyntheticSplit::test, device);
    d.shifted = ss::data::make_synthetic(eval, ss::data::SyntheticSplit::shifted, device);
    d.pairs = ss::data::make_synthetic_pairs(train, {.seed = a.seed});
    d.name = "the embedded dataset";
  } else if (a.data.rfind("cifar10:", 0) == 0) {
    const auto root = a.data.substr(8);
    d.train = ss::data::read_cifar10(root, ss::data::CifarSplit::train, device);
    d.test = ss::data::read_cifar10(root, ss::data::CifarSplit::test, device);
    d.name = "CIFAR-10";
  } else if (a.data.rfind("stl10:", 0) == 0) {
    const auto root = a.data.substr(6);
    d.train = ss::data::read_stl10(root, ss::data::Stl10Split::train, device);
    d.test = ss::data::read_stl10(root, ss::data::Stl10Split::test, device);
    d.name = "STL-10";
  } else {
    throw std::invalid_argument(fmt::format(
        "semantic_vs_augmented: --data must be synthetic, cifar10:PATH or stl10:PATH, got '{}'", a.data));
  }
  if (!a.pairs.empty()) d.pairs = ss::data::read_pair_table(a.pairs, {.dataset_size = d.train.size()});
  return d;
}

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  const torch::Device device(args.device == "cuda" ? torch::kCUDA : torch::kCPU);
  const Data d = load(args, device);
  const int64_t size = d.train.all_images().size(2);

  using SimCLR = ss::Recipe<ss::views::SimCLRViews, ss::pairs::Augmented, ss::negatives::InBatch, ss::losses::NTXent>;
  using Semantic = SimCLR::with_pairs<ss::pairs::Semantic>;
  using Mix = SimCLR::with_pairs<ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>>;
  using SameLabel = SimCLR::with_pairs<ss::pairs::SameLabel>;
  const ss::views::SimCLRViewOptions views{.size = size, .seed = args.seed};
  const ss::losses::NTXent loss{{.temperature = 0.2}};

  ss::ablation::Options options{
      .trainer = {.epochs = args.epochs, .batch_size = 128, .learning_rate = 0.1,
                  .schedule = {.warmup_steps = 10}, .seed = args.seed, .log_every = 1000},
      .knn = {.k = 20, .temperature = 0.1},
      .probe = {.max_iterations = 100, .seed = args.seed},
      .seed = args.seed};
  auto make_encoder = [&] {
    return ss::models::make_small_cnn_encoder({.width = 16}, ss::models::EncoderOptions{.projector = {.hidden_dim = 256, .out_dim = 64}});
  };
  fmt::print("Where do positive pairs come from? SimCLR on {} ({} training images), {} epochs, seed {}, device {}\n",
             d.name, d.train.size(), args.epochs, args.seed, args.device);
  const auto* shifted = d.shifted ? &*d.shifted : nullptr;
  std::vector<ss::ablation::Result> results;
  if (d.pairs) {
    const ss::pairs::SemanticOptions semantic{.seed = args.seed + 1};
    results = ss::ablation::run(
        make_encoder, d.train, d.test, shifted, options,
        ss::ablation::Variant<SimCLR>{"augmented", SimCLR{.views = ss::views::SimCLRViews(views), .loss = loss}},
        ss::ablation::Variant<Semantic>{"semantic", Semantic{.views = ss::views::SimCLRViews(views),
                                                              .pairs = ss::pairs::Semantic(*d.pairs, semantic), .loss = loss}},
        ss::ablation::Variant<Mix>{"mix", Mix{.views = ss::views::SimCLRViews(views),
                                             .pairs = {ss::pairs::Semantic(*d.pairs, semantic), ss::pairs::Augmented{},
                                                       {.p = 0.5, .seed = args.seed + 2}},
                                             .loss = loss}},
        ss::ablation::Variant<SameLabel>{"same_label", SameLabel{.views = ss::views::SimCLRViews(views),
                                                                  .pairs = ss::pairs::SameLabel({.seed = args.seed + 3}), .loss = loss}});
  } else {
    fmt::print("No semantic pair table (--pairs FILE): the semantic and mix variants are skipped.\n");
    results = ss::ablation::run(
        make_encoder, d.train, d.test, shifted, options,
        ss::ablation::Variant<SimCLR>{"augmented", SimCLR{.views = ss::views::SimCLRViews(views), .loss = loss}},
        ss::ablation::Variant<SameLabel>{"same_label", SameLabel{.views = ss::views::SimCLRViews(views),
                                                                  .pairs = ss::pairs::SameLabel({.seed = args.seed + 3}), .loss = loss}});
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
