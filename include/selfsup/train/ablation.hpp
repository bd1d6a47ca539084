#pragma once
/// \file
/// The ablation runner: trains several recipes on the same data, from the same initial weights,
/// with the same seeds and budget, and compares them (kNN and linear-probe accuracy, throughput,
/// the kNN curve over epochs). selfsup's flagship example uses it to compare where positive pairs
/// come from.
///
///   auto results = ablation::run(make_encoder, train, test, &shifted, options,
///                                ablation::Variant<SimCLR>{"augmented", SimCLR{...}},
///                                ablation::Variant<SemanticSimCLR>{"semantic", ...});
///   ablation::print_table(results);
///
/// Results as JSON and the kNN curves as SVG: selfsup::report (<selfsup/report/json.hpp>,
/// <selfsup/report/svg.hpp>).

#include <selfsup/eval/knn.hpp>
#include <selfsup/eval/linear_probe.hpp>
#include <selfsup/train/hooks.hpp>
#include <selfsup/train/trainer.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace selfsup::ablation {

template <class R>
struct Variant {
  std::string name;
  R recipe;
};

struct Options {
  TrainerOptions trainer{};
  eval::KNNOptions knn{};
  eval::LinearProbeOptions probe{};
  int64_t knn_every = 1;      ///< epochs between points of the kNN curve
  std::uint64_t seed = 0;     ///< the encoder's initial weights (torch::manual_seed before each)
  bool verbose = true;        ///< print progress (hooks::Progress) and each result as it comes
  hooks::ProgressOptions progress{};  ///< where and how often progress is printed when verbose
};

struct Result {
  std::string variant;
  double knn_top1 = 0.0;
  std::optional<double> shifted_knn_top1;  ///< when a shifted split is given
  double linear_top1 = 0.0;
  double images_per_s = 0.0;               ///< training images per second, evaluation excluded
  std::vector<double> knn_curve;           ///< kNN top-1 on the test split after each point
  std::vector<int64_t> knn_epochs;
};

/// Trains every variant with an encoder from `make_encoder()` (called after seeding, so every
/// variant starts from the same weights) and evaluates it on `test` (and `shifted`, if not null).
template <class MakeEncoder, class Train, class Test, class Shifted, class... Rs>
std::vector<Result> run(MakeEncoder make_encoder, const Train& train, const Test& test,
                        const Shifted* shifted, const Options& options, Variant<Rs>... variants) {
  std::vector<Result> results;
  auto one = [&](auto& variant) {
    torch::manual_seed(options.seed);
    auto encoder = make_encoder();
    Trainer trainer(std::move(variant.recipe), encoder, options.trainer);
    hooks::KNNMonitor monitor(train, test, options.knn_every, options.knn);
    TrainResult fit;
    if (options.verbose) {
      fmt::print("[{}] training {} epochs\n", variant.name, options.trainer.epochs);
      std::fflush(stdout);
      hooks::Progress progress(options.progress);
      fit = trainer.fit(train, monitor, progress);
    } else {
      fit = trainer.fit(train, monitor);
    }
    Result r;
    r.variant = variant.name;
    for (const auto& entry : monitor.history()) {
      r.knn_epochs.push_back(entry.epoch);
      r.knn_curve.push_back(entry.result.top1);
    }
    const double training_seconds = fit.seconds - monitor.seconds();
    r.images_per_s = training_seconds > 0 ? fit.images / training_seconds : 0.0;
    r.knn_top1 = eval::knn_evaluate(trainer.encoder(), train, test, options.knn).top1;
    if (shifted != nullptr) r.shifted_knn_top1 = eval::knn_evaluate(trainer.encoder(), train, *shifted, options.knn).top1;
    r.linear_top1 = eval::linear_probe(trainer.encoder(), train, test, options.probe).top1;
    if (options.verbose) {
      fmt::print("[{}] kNN top-1 {:.4f}, shifted {}, linear top-1 {:.4f}, {:.0f} images/s\n", r.variant,
                 r.knn_top1, r.shifted_knn_top1 ? fmt::format("{:.4f}", *r.shifted_knn_top1) : "-",
                 r.linear_top1, r.images_per_s);
      std::fflush(stdout);
    }
    results.push_back(std::move(r));
  };
  (one(variants), ...);
  return results;
}

/// The comparison table.
inline void print_table(const std::vector<Result>& results, std::FILE* out = stdout) {
  fmt::print(out, "\n{:<14}{:>12}{:>16}{:>14}{:>12}\n", "variant", "kNN top-1", "shifted kNN", "linear top-1", "images/s");
  for (const auto& r : results) {
    fmt::print(out, "{:<14}{:>12.4f}{:>16}{:>14.4f}{:>12.0f}\n", r.variant, r.knn_top1,
               r.shifted_knn_top1 ? fmt::format("{:.4f}", *r.shifted_knn_top1) : "-", r.linear_top1,
               r.images_per_s);
  }
}

}  // namespace selfsup::ablation
