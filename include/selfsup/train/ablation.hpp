#pragma once
/// \file
/// The ablation runner: trains several recipes on the same data under the same seeds and budget,
/// and compares them (kNN and linear-probe accuracy, throughput, the kNN curve over epochs) with
/// error bars. Every variant runs once per seed; run s of every variant starts from the same
/// initial weights, and the seed also sets its views, its pairs and its epoch order, so the
/// per-seed differences between two variants are paired. Each seed's initial weights are also
/// evaluated, untrained, as the variant `untrained`, and every trained variant is compared with
/// them seed by seed (`vs_untrained`): a method that ends below the network it started from has
/// learnt nothing the evaluation can see. selfsup's main job uses it to compare where positive
/// pairs come from.
///
///   ablation::Options options{.trainer = {...}, .seeds = {0, 1, 2}, .baseline = "augmented"};
///   auto results = ablation::run(make_encoder, train, test, &shifted, options,
///       ablation::variant("augmented", [&](std::uint64_t seed) { return SimCLR{...seed...}; }),
///       ablation::variant("semantic", [&](std::uint64_t seed) { return SemanticSimCLR{...}; }));
///   ablation::print_table(results);  // mean ± 95 % half-width, and the paired differences
///                                    // from the baseline and from the untrained network
///
/// A variant given as a fixed recipe (`Variant<R>{"name", recipe}`) runs under one seed only.
/// Results as JSON and the kNN curves as SVG: selfsup::report (<selfsup/report/json.hpp>,
/// <selfsup/report/svg.hpp>).

#include <selfsup/eval/knn.hpp>
#include <selfsup/eval/linear_probe.hpp>
#include <selfsup/eval/statistics.hpp>
#include <selfsup/train/hooks.hpp>
#include <selfsup/train/trainer.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace selfsup::ablation {

/// One arm of the comparison: a name and its recipe, fixed (one seed) or made for each seed.
template <class R>
struct Variant {
  std::string name;
  std::optional<R> recipe;                    ///< used as is when there is no `make` (one seed only)
  std::function<R(std::uint64_t seed)> make;  ///< the recipe for a seed: its views' and pairs' seeds from it
};

/// A variant whose recipe `make(seed)` builds for each seed.
template <class Make>
auto variant(std::string name, Make make) -> Variant<std::invoke_result_t<Make&, std::uint64_t>> {
  using R = std::invoke_result_t<Make&, std::uint64_t>;
  return Variant<R>{std::move(name), std::nullopt, std::function<R(std::uint64_t)>(std::move(make))};
}

/// The name of the untrained network's row (Options::untrained).
inline constexpr std::string_view untrained_variant = "untrained";

struct Options {
  TrainerOptions trainer{};   ///< its `seed` is replaced by each run's seed
  eval::KNNOptions knn{};
  eval::LinearProbeOptions probe{};  ///< the same probe (and its held-out split) for every run
  int64_t knn_every = 1;      ///< epochs between points of the kNN curve
  std::uint64_t seed = 0;     ///< the one seed when `seeds` is empty
  /// The seeds every variant runs under (distinct). Seed s sets torch::manual_seed(s) before the
  /// encoder is made (its initial weights), the trainer's epoch order, and the recipe
  /// (Variant::make(s)). Empty: {seed}.
  std::vector<std::uint64_t> seeds{};
  std::string baseline{};     ///< the variant the others are compared with, per seed; empty: the first
  bool verbose = true;        ///< print progress (hooks::Progress) and each result as it comes
  /// Evaluate each seed's initial weights, before any training, as the variant `untrained` (the
  /// first result), and give every trained variant its paired difference from them.
  bool untrained = true;
  hooks::ProgressOptions progress{};  ///< where and how often progress is printed when verbose

  /// `seeds`, or {seed} when it is empty.
  std::vector<std::uint64_t> seed_list() const { return seeds.empty() ? std::vector<std::uint64_t>{seed} : seeds; }
};

/// One variant trained and evaluated under one seed.
struct Run {
  std::uint64_t seed = 0;
  double knn_top1 = 0.0;
  std::optional<double> shifted_knn_top1;  ///< when a shifted split is given
  double linear_top1 = 0.0;
  double images_per_s = 0.0;               ///< training images per second, evaluation excluded
                                           ///< (0 for the untrained network)
  std::vector<double> knn_curve;           ///< kNN top-1 on the test split after each point
  std::vector<int64_t> knn_epochs;         ///< the 0-based epoch of each point; the untrained
                                           ///< network's one point is at epoch -1 (before the first)
};

/// The three accuracies summarised over seeds (or their paired differences from a baseline).
struct Metrics {
  stats::Summary knn_top1;
  std::optional<stats::Summary> shifted_knn_top1;  ///< when a shifted split is given
  stats::Summary linear_top1;
};

/// One variant over all its seeds. The plain numbers are means over the runs; with one seed they
/// are that run's.
struct Result {
  std::string variant;
  double knn_top1 = 0.0;
  std::optional<double> shifted_knn_top1;
  double linear_top1 = 0.0;
  double images_per_s = 0.0;
  std::vector<double> knn_curve;       ///< the mean kNN curve
  std::vector<double> knn_curve_ci95;  ///< its 95 % half-width at each point (empty for one seed)
  std::vector<int64_t> knn_epochs;
  std::vector<Run> runs;               ///< one per seed, in the order of the seeds
  Metrics summary;                     ///< mean, standard deviation and 95 % interval of each accuracy
  std::string baseline;                ///< the variant `vs_baseline` compares with (empty for the baseline)
  std::optional<Metrics> vs_baseline;  ///< paired differences, this − baseline, seed by seed
  std::optional<Metrics> vs_untrained; ///< paired differences, this − the untrained network (trained variants)
  bool untrained = false;              ///< this is the untrained network's row: no training, no images/s

  std::vector<std::uint64_t> seeds() const {
    std::vector<std::uint64_t> out;
    for (const auto& r : runs) out.push_back(r.seed);
    return out;
  }
};

namespace detail {

/// The items of `v`, formatted and separated by ", ".
template <class T>
std::string join(const std::vector<T>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + fmt::format("{}", v[i]);
  return out;
}

template <class Get>
std::vector<double> column(const std::vector<Run>& runs, Get get) {
  std::vector<double> out;
  out.reserve(runs.size());
  for (const auto& r : runs) out.push_back(get(r));
  return out;
}

inline bool all_shifted(const std::vector<Run>& runs) {
  return !runs.empty() && std::all_of(runs.begin(), runs.end(), [](const Run& r) { return r.shifted_knn_top1.has_value(); });
}

inline Metrics metrics(const std::vector<Run>& runs, const std::string& name) {
  Metrics m;
  m.knn_top1 = stats::summarize(column(runs, [](const Run& r) { return r.knn_top1; }), name + " knn_top1");
  if (all_shifted(runs)) {
    m.shifted_knn_top1 = stats::summarize(column(runs, [](const Run& r) { return *r.shifted_knn_top1; }),
                                          name + " shifted_knn_top1");
  }
  m.linear_top1 = stats::summarize(column(runs, [](const Run& r) { return r.linear_top1; }), name + " linear_top1");
  return m;
}

inline Metrics paired(const std::vector<Run>& runs, const std::vector<Run>& base, const std::string& name) {
  Metrics m;
  auto get_knn = [](const Run& r) { return r.knn_top1; };
  auto get_linear = [](const Run& r) { return r.linear_top1; };
  m.knn_top1 = stats::paired_difference(column(runs, get_knn), column(base, get_knn), name + " knn_top1");
  if (all_shifted(runs) && all_shifted(base)) {
    auto get = [](const Run& r) { return *r.shifted_knn_top1; };
    m.shifted_knn_top1 = stats::paired_difference(column(runs, get), column(base, get), name + " shifted_knn_top1");
  }
  m.linear_top1 = stats::paired_difference(column(runs, get_linear), column(base, get_linear), name + " linear_top1");
  return m;
}

/// paired(runs, base), after checking that run i of both is under the same seed.
inline Metrics paired_checked(const std::vector<Run>& runs, const std::vector<Run>& base, const std::string& variant,
                              const std::string& base_name) {
  if (base.size() != runs.size()) {
    throw std::invalid_argument(fmt::format("selfsup::ablation::summarize: variant '{}' has {} runs and its baseline '{}' {}",
                                            variant, runs.size(), base_name, base.size()));
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].seed != base[i].seed) {
      throw std::invalid_argument(fmt::format(
          "selfsup::ablation::summarize: run {} of variant '{}' has seed {} and that of its baseline '{}' seed {}; "
          "paired differences need the same seed", i, variant, runs[i].seed, base_name, base[i].seed));
    }
  }
  return paired(runs, base, variant);
}

}  // namespace detail

/// A variant's Result from its runs (in the order of the seeds). With `baseline` (the baseline
/// variant's runs under the same seeds, in the same order) it adds the paired differences; a
/// baseline run under another seed is an error. compare_with_untrained adds those from the
/// untrained network.
inline Result summarize(std::string variant, std::vector<Run> runs, const std::vector<Run>* baseline = nullptr,
                        std::string baseline_name = {}) {
  if (runs.empty()) throw std::invalid_argument("selfsup::ablation::summarize: variant '" + variant + "' has no runs");
  Result r;
  r.variant = std::move(variant);
  r.summary = detail::metrics(runs, r.variant);
  r.knn_top1 = r.summary.knn_top1.mean;
  if (r.summary.shifted_knn_top1) r.shifted_knn_top1 = r.summary.shifted_knn_top1->mean;
  r.linear_top1 = r.summary.linear_top1.mean;
  double ips = 0.0;
  for (const auto& run : runs) ips += run.images_per_s;
  r.images_per_s = ips / static_cast<double>(runs.size());
  // The mean curve over the points every run has.
  size_t points = runs.front().knn_curve.size();
  for (const auto& run : runs) points = std::min({points, run.knn_curve.size(), run.knn_epochs.size()});
  r.knn_epochs.assign(runs.front().knn_epochs.begin(), runs.front().knn_epochs.begin() + static_cast<std::ptrdiff_t>(points));
  for (size_t k = 0; k < points; ++k) {
    std::vector<double> at;
    for (const auto& run : runs) at.push_back(run.knn_curve[k]);
    const auto s = stats::summarize(at, r.variant + " knn_curve");
    r.knn_curve.push_back(s.mean);
    if (s.ci95) r.knn_curve_ci95.push_back(*s.ci95);
  }
  if (baseline != nullptr) {
    r.baseline = std::move(baseline_name);
    r.vs_baseline = detail::paired_checked(runs, *baseline, r.variant, r.baseline);
  }
  r.runs = std::move(runs);
  return r;
}

/// Gives `trained` its paired differences from the untrained network's runs (the same seeds, in
/// the same order).
inline void compare_with_untrained(Result& trained, const std::vector<Run>& untrained) {
  trained.vs_untrained = detail::paired_checked(trained.runs, untrained, trained.variant, std::string(untrained_variant));
}

/// The kNN accuracy (test split, and `shifted` if not null) and the linear probe's of `encoder`'s
/// features, as one run under `seed` (training figures left empty).
template <class E, class Train, class Test, class Shifted>
Run evaluate(E& encoder, const Train& train, const Test& test, const Shifted* shifted, const Options& options,
             std::uint64_t seed) {
  Run r;
  r.seed = seed;
  r.knn_top1 = eval::knn_evaluate(encoder, train, test, options.knn).top1;
  if (shifted != nullptr) r.shifted_knn_top1 = eval::knn_evaluate(encoder, train, *shifted, options.knn).top1;
  r.linear_top1 = eval::linear_probe(encoder, train, test, options.probe).top1;
  return r;
}

/// Trains every variant under every seed with an encoder from `make_encoder()` (called after
/// torch::manual_seed(seed), so run s of every variant starts from the same weights) and evaluates
/// it on `test` (and `shifted`, if not null). Seeds run in the outer loop: after the first seed,
/// every variant has one result. The results come in the order of the variants, each with its
/// runs, their summary and (but for the baseline) the paired differences from the baseline.
template <class MakeEncoder, class Train, class Test, class Shifted, class... Rs>
std::vector<Result> run(MakeEncoder make_encoder, const Train& train, const Test& test, const Shifted* shifted,
                        const Options& options, Variant<Rs>... variants) {
  constexpr const char* fn = "selfsup::ablation::run";
  static_assert(sizeof...(Rs) >= 1, "selfsup::ablation::run: give at least one variant");
  const auto seeds = options.seed_list();
  if (std::set<std::uint64_t>(seeds.begin(), seeds.end()).size() != seeds.size()) {
    throw std::invalid_argument(fmt::format("{}: the seeds must be distinct, got {} with repeats", fn, detail::join(seeds)));
  }
  std::vector<std::string> names;
  auto check = [&](const auto& v) {
    if (options.untrained && v.name == untrained_variant) {
      throw std::invalid_argument(fmt::format("{}: a variant is named '{}', the name of the untrained network's row; "
                                              "rename it, or set Options::untrained = false", fn, v.name));
    }
    if (std::find(names.begin(), names.end(), v.name) != names.end()) {
      throw std::invalid_argument(fmt::format("{}: two variants are named '{}'; names must be distinct", fn, v.name));
    }
    names.push_back(v.name);
    if (!v.make && !v.recipe) {
      throw std::invalid_argument(fmt::format("{}: variant '{}' has neither a recipe nor a way to make one", fn, v.name));
    }
    if (!v.make && seeds.size() > 1) {
      throw std::invalid_argument(fmt::format(
          "{}: variant '{}' is one fixed recipe, whose views and pairs cannot change with the seed; with {} seeds give "
          "it a recipe per seed: ablation::variant(\"{}\", [&](std::uint64_t seed) {{ return R{{...}}; }})",
          fn, v.name, seeds.size(), v.name));
    }
  };
  (check(variants), ...);
  const std::string baseline = options.baseline.empty() ? names.front() : options.baseline;
  const auto base_at = std::find(names.begin(), names.end(), baseline);
  if (base_at == names.end()) {
    throw std::invalid_argument(fmt::format("{}: the baseline '{}' is not one of the variants ({})", fn, baseline,
                                            detail::join(names)));
  }

  auto label_of = [&](std::string_view name, size_t s) {
    return seeds.size() > 1 ? fmt::format("[{}, seed {} ({}/{})]", name, seeds[s], s + 1, seeds.size())
                            : fmt::format("[{}]", name);
  };
  auto report = [&](const std::string& label, const Run& r) {
    if (!options.verbose) return;
    fmt::print("{} kNN top-1 {:.4f}, shifted {}, linear top-1 {:.4f}{}\n", label, r.knn_top1,
               r.shifted_knn_top1 ? fmt::format("{:.4f}", *r.shifted_knn_top1) : "-", r.linear_top1,
               r.images_per_s > 0 ? fmt::format(", {:.0f} images/s", r.images_per_s) : std::string());
    std::fflush(stdout);
  };
  std::vector<std::vector<Run>> runs(names.size());
  std::vector<Run> untrained;
  for (size_t s = 0; s < seeds.size(); ++s) {
    const std::uint64_t seed = seeds[s];
    if (options.untrained) {  // the weights every variant's run s starts from
      torch::manual_seed(seed);
      auto encoder = make_encoder();
      encoder->to(train.device());
      Run r = evaluate(encoder, train, test, shifted, options, seed);
      r.knn_epochs = {-1};
      r.knn_curve = {r.knn_top1};
      report(label_of(untrained_variant, s), r);
      untrained.push_back(std::move(r));
    }
    size_t index = 0;
    auto one = [&](auto& v) {
      const size_t i = index++;
      auto recipe = v.make ? v.make(seed) : std::move(*v.recipe);
      torch::manual_seed(seed);
      auto encoder = make_encoder();
      TrainerOptions trainer_options = options.trainer;
      trainer_options.seed = seed;
      Trainer trainer(std::move(recipe), encoder, trainer_options);
      hooks::KNNMonitor monitor(train, test, options.knn_every, options.knn);
      const std::string label = label_of(v.name, s);
      TrainResult fit;
      if (options.verbose) {
        fmt::print("{} training {} epochs\n", label, options.trainer.epochs);
        std::fflush(stdout);
        hooks::Progress progress(options.progress);
        fit = trainer.fit(train, monitor, progress);
      } else {
        fit = trainer.fit(train, monitor);
      }
      Run r = evaluate(trainer.encoder(), train, test, shifted, options, seed);
      for (const auto& entry : monitor.history()) {
        r.knn_epochs.push_back(entry.epoch);
        r.knn_curve.push_back(entry.result.top1);
      }
      const double training_seconds = fit.seconds - monitor.seconds();
      r.images_per_s = training_seconds > 0 ? fit.images / training_seconds : 0.0;
      report(label, r);
      runs[i].push_back(std::move(r));
    };
    (one(variants), ...);
  }

  const size_t b = static_cast<size_t>(base_at - names.begin());
  std::vector<Result> results;
  if (options.untrained) {
    results.push_back(summarize(std::string(untrained_variant), untrained, &runs[b], names[b]));
    results.back().untrained = true;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    results.push_back(i == b ? summarize(names[i], runs[i]) : summarize(names[i], runs[i], &runs[b], names[b]));
    if (options.untrained) compare_with_untrained(results.back(), untrained);
  }
  return results;
}

namespace detail {

/// "0.2540" for one run, "0.2540 ± 0.0123" for several; `sign` writes "+0.0120".
inline std::string cell(const stats::Summary& s, bool sign = false) {
  const std::string mean = sign ? fmt::format("{:+.4f}", s.mean) : fmt::format("{:.4f}", s.mean);
  return s.ci95 ? fmt::format("{} ± {:.4f}", mean, *s.ci95) : mean;
}

}  // namespace detail

namespace detail {

/// One block of paired differences: `*of(r)` for each result where `of(r)` is not null.
template <class Of>
void print_differences(const std::vector<Result>& results, std::FILE* out, const std::string& from, Of of) {
  constexpr int w = 19;
  fmt::print(out, "\nPaired differences from {} (the same seed's run of both), mean ± 95 % half-width:\n", from);
  fmt::print(out, "{:<14}{:>{}}{:>{}}{:>{}}  {}\n", "variant", "kNN top-1", w, "shifted kNN", w, "linear top-1", w,
             "interval includes 0");
  for (const auto& r : results) {
    const Metrics* m = of(r);
    if (m == nullptr) continue;
    const auto& d = *m;
    std::vector<std::string> zero;
    if (!d.knn_top1.interval_excludes_zero()) zero.emplace_back("kNN");
    if (d.shifted_knn_top1 && !d.shifted_knn_top1->interval_excludes_zero()) zero.emplace_back("shifted");
    if (!d.linear_top1.interval_excludes_zero()) zero.emplace_back("linear");
    fmt::print(out, "{:<14}{:>{}}{:>{}}{:>{}}  {}\n", r.variant, cell(d.knn_top1, true), w,
               d.shifted_knn_top1 ? cell(*d.shifted_knn_top1, true) : "-", w, cell(d.linear_top1, true), w,
               zero.empty() ? std::string("none") : join(zero));
  }
}

}  // namespace detail

/// The comparison table: each accuracy as its mean ± the half-width of its 95 % interval over the
/// seeds (the mean alone for one seed), the untrained network's row first; then the paired
/// differences of the trained variants from the baseline and from the untrained network, naming
/// the intervals that include zero (a difference the seeds do not resolve).
inline void print_table(const std::vector<Result>& results, std::FILE* out = stdout) {
  if (results.empty()) return;
  const auto seeds = results.front().seeds();
  // "±" is two bytes and one column: fmt pads by code points.
  constexpr int w = 19;
  fmt::print(out, "\n");
  if (seeds.size() > 1) {
    fmt::print(out, "{} seeds ({}): mean ± half-width of the 95 % interval (Student t, {} degree{} of freedom)\n",
               seeds.size(), detail::join(seeds), seeds.size() - 1, seeds.size() == 2 ? "" : "s");
  }
  fmt::print(out, "{:<14}{:>{}}{:>{}}{:>{}}{:>12}\n", "variant", "kNN top-1", w, "shifted kNN", w, "linear top-1", w, "images/s");
  for (const auto& r : results) {
    fmt::print(out, "{:<14}{:>{}}{:>{}}{:>{}}{:>12}\n", r.variant, detail::cell(r.summary.knn_top1), w,
               r.summary.shifted_knn_top1 ? detail::cell(*r.summary.shifted_knn_top1) : "-", w,
               detail::cell(r.summary.linear_top1), w,
               r.untrained ? std::string("-") : fmt::format("{:.0f}", r.images_per_s));
  }
  if (seeds.size() < 2) return;
  std::string baseline;
  for (const auto& r : results) {
    if (r.vs_baseline && !r.untrained) baseline = r.baseline;
  }
  if (!baseline.empty()) {
    detail::print_differences(results, out, baseline, [](const Result& r) -> const Metrics* {
      return r.vs_baseline && !r.untrained ? &*r.vs_baseline : nullptr;
    });
  }
  const bool any_untrained = std::any_of(results.begin(), results.end(), [](const Result& r) { return r.vs_untrained.has_value(); });
  if (any_untrained) {
    detail::print_differences(results, out, "the untrained network", [](const Result& r) -> const Metrics* {
      return r.vs_untrained ? &*r.vs_untrained : nullptr;
    });
  }
}

}  // namespace selfsup::ablation
