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

#include <selfsup/eval/knn.hpp>
#include <selfsup/eval/linear_probe.hpp>
#include <selfsup/train/hooks.hpp>
#include <selfsup/train/trainer.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
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
  bool verbose = true;        ///< print progress and each result as it comes
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
    if (options.verbose) fmt::print("[{}] training {} epochs\n", variant.name, options.trainer.epochs);
    auto fit = trainer.fit(train, monitor);
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

/// A JSON array, one object per variant with the keys variant, knn_top1, shifted_knn_top1
/// (null without a shifted split), linear_top1 and images_per_s.
inline void write_json(const std::vector<Result>& results, const std::string& path) {
  std::ofstream out(path);
  TORCH_CHECK(out.good(), "selfsup::ablation::write_json: cannot open '", path, "' for writing");
  out << "[\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    out << fmt::format(R"(  {{"variant": "{}", "knn_top1": {:.6f}, "shifted_knn_top1": {}, "linear_top1": {:.6f}, "images_per_s": {:.2f}}})",
                       r.variant, r.knn_top1, r.shifted_knn_top1 ? fmt::format("{:.6f}", *r.shifted_knn_top1) : "null",
                       r.linear_top1, r.images_per_s)
        << (i + 1 < results.size() ? ",\n" : "\n");
  }
  out << "]\n";
  TORCH_CHECK(out.good(), "selfsup::ablation::write_json: writing '", path, "' failed");
}

/// An SVG line chart of the kNN curves, one line per variant.
inline void write_svg(const std::vector<Result>& results, const std::string& path,
                      const std::string& title = "kNN top-1 on the test split per epoch") {
  constexpr double w = 640, h = 400, left = 60, right = 150, top = 40, bottom = 50;
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  int64_t max_epoch = 1;
  double hi = 0.0;
  for (const auto& r : results) {
    for (auto e : r.knn_epochs) max_epoch = std::max(max_epoch, e + 1);
    for (auto v : r.knn_curve) hi = std::max(hi, v);
  }
  hi = std::min(1.0, std::ceil(hi * 10 + 0.5) / 10);
  auto x = [&](double epoch) { return left + (w - left - right) * epoch / static_cast<double>(max_epoch); };
  auto y = [&](double v) { return h - bottom - (h - top - bottom) * v / hi; };
  std::ofstream out(path);
  TORCH_CHECK(out.good(), "selfsup::ablation::write_svg: cannot open '", path, "' for writing");
  out << fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)", w, h) << "\n";
  out << fmt::format(R"(<rect width="{}" height="{}" fill="white"/><text x="{}" y="22" font-size="14">{}</text>)", w, h, left, title) << "\n";
  for (int i = 0; i <= 5; ++i) {
    const double v = hi * i / 5.0;
    out << fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#ddd"/><text x="{}" y="{:.1f}" text-anchor="end">{:.2f}</text>)",
                       left, w - right, y(v), y(v), left - 6, y(v) + 4, v) << "\n";
  }
  out << fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">epoch</text>)", (left + w - right) / 2, h - 12) << "\n";
  for (int64_t e = 0; e <= max_epoch; e += std::max<int64_t>(1, max_epoch / 10)) {
    out << fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", x(static_cast<double>(e)), h - bottom + 16, e) << "\n";
  }
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const char* c = colours[i % 6];
    std::string points;
    for (size_t k = 0; k < r.knn_curve.size(); ++k) {
      points += fmt::format("{:.1f},{:.1f} ", x(static_cast<double>(r.knn_epochs[k] + 1)), y(r.knn_curve[k]));
    }
    out << fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>)", c, points) << "\n";
    out << fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}</text>)",
                       w - right + 10, w - right + 30, top + 20 * i, top + 20 * i, c, w - right + 36, top + 20 * i + 4, r.variant)
        << "\n";
  }
  out << "</svg>\n";
}

}  // namespace selfsup::ablation
