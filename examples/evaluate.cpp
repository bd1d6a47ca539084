// evaluate and mine_pairs: a frozen backbone from a state dict file, put to work on any dataset.
// One program under two names (the build makes both from this file).
//
//   evaluate --init PATH|--checkpoint PATH [--data synthetic|synthetic:unreachable|cifar10:PATH|cifar100:PATH|stl10:PATH|folder:PATH]
//            [--device cpu|cuda] [--batch-size B] [--knn-k K] [--knn-temperature T] [--json PATH]
//            [--per-class K] [--image-size S] [--seed S] [--quiet]
//     kNN top-1/top-5 and linear-probe top-1/top-5 of the backbone's features (train split as
//     the memory and the probe's training set, test split for the scores; the embedded dataset's
//     shifted split too), and the diagnostics: alignment of two augmented views of each test
//     image, uniformity and effective rank of the test features. The transfer test: pretrain on
//     one dataset, evaluate on another.
//
//   mine_pairs --init PATH|--checkpoint PATH --out FILE [--data ...] [--k K] [--mutual] [--threshold X]
//              [--block B] [--device cpu|cuda] [--batch-size B] [--json PATH] [--per-class K]
//              [--image-size S] [--seed S] [--quiet]
//     SePP-ID's semantic pairs: embeds the training split, takes each image's k nearest
//     neighbours by cosine similarity (mutual ones only with --mutual, at least --threshold),
//     and writes them as a pair table (CSV) that --pairs reads: indices of the full training
//     split, or paths under PATH/train for image folders. Prints and writes (--json) the pair
//     count, the images covered and, with labels, the pairs' precision overall and per class.
//
// --init takes a state dict saved by Python's torch.save(model.state_dict(), PATH) from
// torchvision's ResNet-18/34/50, or written by `train --export`; the backbone (depth, stem,
// width, or a SmallCNN) is read from the file's tensors. --checkpoint takes a checkpoint of
// `train --checkpoint` instead: its run record names the backbone.
#include "common/backbone.hpp"
#include "common/example_support.hpp"

#include <selfsup/eval/diagnostics.hpp>
#include <selfsup/models/weights.hpp>
#include <selfsup/report/json.hpp>
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ss = selfsup;
namespace ex = selfsup::examples;

namespace {

int evaluate(int argc, char** argv) {
  constexpr std::string_view program = "evaluate";
  ex::Common c;
  ss::eval::KNNOptions knn{};
  CLI::App app{"Evaluates a frozen backbone from a state dict on any dataset: kNN and linear-probe accuracy, "
               "alignment, uniformity and effective rank.", "evaluate"};
  ex::name_errors(app);
  ex::add_common(app, c);
  app.add_option("--knn-k", knn.k, "neighbours of the weighted kNN")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000}));
  app.add_option("--knn-temperature", knn.temperature, "temperature of the kNN's weights")->capture_default_str()
      ->check(CLI::Range(1e-6, 1e6));
  if (auto exit = ex::parse(app, argc, argv)) return *exit;
  const auto device = ex::parse_device(program, c.device);
  ex::check_output(program, "--json", c.json);
  std::string description;
  auto model = ex::load_backbone(program, c, device, description);
  const auto d = ex::load_data(program, c.data, device);
  if (!c.quiet) fmt::print("evaluate: {} from {} on {} ({} training, {} test images)\n", description, c.init.empty() ? c.checkpoint : c.init, d.name,
                           d.train.size(), d.test.size());
  auto all = [](const auto& data) {
    return torch::arange(static_cast<int64_t>(data.size()), torch::TensorOptions().dtype(torch::kLong).device(data.device()));
  };
  const auto train_f = ex::embed(model, d.train, c.batch_size, "train", c.quiet);
  const auto test_f = ex::embed(model, d.test, c.batch_size, "test", c.quiet);
  const auto train_y = d.train.labels(all(d.train));
  const auto test_y = d.test.labels(all(d.test));
  if (!train_y.defined() || !test_y.defined()) {
    throw std::invalid_argument(fmt::format("evaluate: --data {} has no labels; kNN and the linear probe need them",
                                            c.data.spec));
  }
  if (knn.k > static_cast<int64_t>(d.train.size())) {
    throw std::invalid_argument(fmt::format("evaluate: --knn-k {} exceeds the {} training images of --data {}; give "
                                            "--knn-k {} or less", knn.k, d.train.size(), c.data.spec, d.train.size()));
  }
  const auto knn_result = ss::eval::knn_classify(train_f, train_y, test_f, test_y, knn);
  std::optional<double> shifted;
  if (d.shifted) {
    const auto shifted_f = ex::embed(model, *d.shifted, c.batch_size, "shifted", c.quiet);
    shifted = ss::eval::knn_classify(train_f, train_y, shifted_f, d.shifted->labels(all(*d.shifted)), knn).top1;
  }
  const auto probe = ss::eval::linear_probe(train_f, train_y, test_f, test_y, {.seed = c.data.seed});
  // Diagnostics on the test split: alignment of two augmented views of each image (SimCLR's
  // views at the data's size), uniformity and effective rank of the plain features.
  const int64_t size = d.test.all_images().size(2);
  auto options = size >= 96 ? ss::views::SimCLRViewOptions::imagenet(size) : ss::views::SimCLRViewOptions::cifar(size);
  options.seed = ss::derive_seed(c.data.seed, 1);
  ss::views::SimCLRViews views(options);
  // Two views of each test image, embedded in evaluation mode as every feature is.
  const auto z0 = ss::data::embed(model, d.test, c.batch_size, {}, [&](const torch::Tensor& x) { return views(x); });
  const auto z1 = ss::data::embed(model, d.test, c.batch_size, {}, [&](const torch::Tensor& x) { return views(x); });
  const double alignment = ss::eval::alignment(z0, z1);
  // Uniformity compares all pairs of rows: on at most 4096 of them, a seeded sample.
  torch::Tensor sample = test_f;
  if (test_f.size(0) > 4096) {
    auto generator = ss::detail::make_generator(torch::kCPU, c.data.seed);
    sample = test_f.index_select(0, torch::randperm(test_f.size(0), generator, torch::kLong).narrow(0, 0, 4096)
                                        .to(test_f.device()));
  }
  const double uniformity = ss::eval::uniformity(sample);
  const double rank = ss::eval::effective_rank(test_f);

  fmt::print("\n{:<12}{:>10}{:>10}{:>14}{:>14}{:>14}{:>12}{:>12}{:>10}\n", "data", "kNN top-1", "kNN top-5",
             "shifted kNN", "linear top-1", "linear top-5", "alignment", "uniformity", "eff. rank");
  fmt::print("{:<12}{:>10.4f}{:>10.4f}{:>14}{:>14.4f}{:>14.4f}{:>12.4f}{:>12.4f}{:>10.2f}\n", c.data.spec.substr(0, 11),
             knn_result.top1, knn_result.top5, shifted ? fmt::format("{:.4f}", *shifted) : std::string("-"), probe.top1,
             probe.top5, alignment, uniformity, rank);
  fmt::print("kNN: weighted vote of the k = {} nearest training images (cosine), temperature {}\n", knn.k,
             knn.temperature);
  if (!c.json.empty()) {
    using ss::report::number;
    const ss::report::Json json{{"init", c.init.empty() ? c.checkpoint : c.init},
                                {"backbone", description},
                                {"data", c.data.spec},
                                {"train_images", d.train.size()},
                                {"test_images", d.test.size()},
                                {"knn_top1", number(knn_result.top1)},
                                {"knn_top5", number(knn_result.top5)},
                                {"shifted_knn_top1", number(shifted)},
                                {"linear_top1", number(probe.top1)},
                                {"linear_top5", number(probe.top5)},
                                {"alignment", number(alignment)},
                                {"uniformity", number(uniformity)},
                                {"effective_rank", number(rank)},
                                {"knn", {{"k", knn.k}, {"temperature", knn.temperature}}}};
    ex::write_output(program, c.json, [&](const std::string& path) { ss::report::write_json(json, path); });
  }
  return EXIT_SUCCESS;
}

int mine(int argc, char** argv) {
  constexpr std::string_view program = "mine_pairs";
  ex::Common c;
  ss::pairs::MineOptions mine{};
  std::string out;
  CLI::App app{"Mines semantic pairs (SePP-ID) with a pretrained backbone: each training image's nearest "
               "neighbours, written as a pair table for --pairs.", "mine_pairs"};
  ex::name_errors(app);
  ex::add_common(app, c);
  app.add_option("--out", out, "the pair table (CSV) to write")->required();
  app.add_option("--k", mine.k, "neighbours per image")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{10'000}));
  app.add_flag("--mutual", mine.mutual, "keep a pair only when each image is among the other's k nearest");
  app.add_option("--threshold", mine.threshold, "keep pairs with cosine similarity at least this")
      ->capture_default_str()->check(CLI::Range(-1.0, 1.0));
  app.add_option("--block", mine.block, "images compared with the whole set at once (memory: block x N floats)")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  if (auto exit = ex::parse(app, argc, argv)) return *exit;
  const auto device = ex::parse_device(program, c.device);
  ex::check_output(program, "--out", out);
  ex::check_output(program, "--json", c.json);
  std::string description;
  auto model = ex::load_backbone(program, c, device, description);
  const auto d = ex::load_data(program, c.data, device);
  if (!c.quiet) fmt::print("mine_pairs: {} from {} on {} ({} training images), k {}{}, threshold {}\n", description,
                           c.init.empty() ? c.checkpoint : c.init, d.name, d.train.size(), mine.k, mine.mutual ? ", mutual" : "", mine.threshold);
  const auto features = ex::embed(model, d.train, c.batch_size, "train", c.quiet);
  const auto n = static_cast<int64_t>(d.train.size());
  const auto labels = d.train.labels(torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(device)));
  auto mined = ss::pairs::mine_pairs(features, mine, labels.defined() ? labels : torch::Tensor());
  const auto stats = ss::data::pair_table_stats(mined.table, n);

  // Per class: of the pair ends on an image of class c, the share whose partner is of class c.
  std::vector<std::pair<std::string, double>> per_class;
  if (labels.defined() && mined.table.size() > 0) {
    const auto y = labels.to(torch::kCPU);
    const auto a = y.index_select(0, mined.table.first.cpu());
    const auto b = y.index_select(0, mined.table.second.cpu());
    const auto ends = torch::cat({a, b});
    const auto same = torch::cat({a.eq(b), a.eq(b)}).to(torch::kFloat64);
    const int64_t classes = y.max().item<int64_t>() + 1;
    const auto count = torch::zeros({classes}, torch::kFloat64).index_add_(0, ends, torch::ones_like(same));
    const auto hit = torch::zeros({classes}, torch::kFloat64).index_add_(0, ends, same);
    const auto share = hit.div(count);  // NaN for a class without pair ends
    const auto values = share.accessor<double, 1>();
    for (int64_t k = 0; k < classes; ++k) per_class.emplace_back(std::to_string(k), values[k]);
  }
  // The table: image paths under PATH/train for folders (train_paths follows the training
  // split, subset or not), else indices of the full training split (a --per-class subset's
  // indices mapped back), the form --pairs reads.
  auto table = mined.table;
  table.first = table.first.cpu();
  table.second = table.second.cpu();
  if (d.train_paths.empty() && d.chosen.defined()) {
    table.first = d.chosen.index_select(0, table.first);
    table.second = d.chosen.index_select(0, table.second);
  }
  const std::vector<std::string>& paths = d.train_paths;
  ex::write_output(program, out, [&](const std::string& path) { ss::data::write_pair_table(path, table, paths); });
  const double coverage = static_cast<double>(stats.anchors_with_partner) / static_cast<double>(n);
  fmt::print("{} pairs; {} of {} training images ({:.1f}%) have a partner", mined.table.size(), stats.anchors_with_partner,
             n, 100.0 * coverage);
  if (std::isfinite(mined.precision)) fmt::print("; precision (same label) {:.4f}", mined.precision);
  fmt::print("\n");
  if (!per_class.empty()) {
    fmt::print("precision per class:");
    for (const auto& [name, p] : per_class) fmt::print(" {}:{}", name, std::isfinite(p) ? fmt::format("{:.3f}", p) : "-");
    fmt::print("\n");
  }
  if (!c.json.empty()) {
    using ss::report::number;
    ss::report::Json per = ss::report::Json::object();
    for (const auto& [name, p] : per_class) per[name] = number(p);
    const ss::report::Json json{{"init", c.init.empty() ? c.checkpoint : c.init},
                                {"backbone", description},
                                {"data", c.data.spec},
                                {"out", out},
                                {"k", mine.k},
                                {"mutual", mine.mutual},
                                {"threshold", mine.threshold},
                                {"images", n},
                                {"pairs", mined.table.size()},
                                {"anchors_covered", stats.anchors_with_partner},
                                {"coverage", number(coverage)},
                                {"precision", number(mined.precision)},
                                {"precision_per_class", labels.defined() ? per : ss::report::Json(nullptr)}};
    ex::write_output(program, c.json, [&](const std::string& path) { ss::report::write_json(json, path); });
  }
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) try {
  selfsup::runtime::tune_cpu_training();
  const std::string name = std::filesystem::path(argv[0]).filename().string();
  return name.rfind("mine_pairs", 0) == 0 ? mine(argc, argv) : evaluate(argc, argv);
} catch (...) {
  return selfsup::examples::print_error();
}
