#pragma once
/// \file
/// JSON output through nlohmann-json (strings escaped, a non-finite number written as null):
/// the ablation runner's results, and hooks::JsonLines, a JSON-lines training log. Part of
/// selfsup::report (CMake), outside the core: link selfsup::report to use it.

#include <selfsup/report/file.hpp>
#include <selfsup/train/ablation.hpp>
#include <selfsup/train/hooks.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::report {

/// Keys in the order they are inserted, as people read them.
using Json = nlohmann::ordered_json;

/// `x`, or null when it is NaN or infinite (JSON has no such numbers).
inline Json number(double x) { return std::isfinite(x) ? Json(x) : Json(nullptr); }
inline Json number(const std::optional<double>& x) { return x ? number(*x) : Json(nullptr); }

/// A Summary's 95 % half-width, or null (one run has no interval).
inline Json half_width(const stats::Summary& s) { return s.ci95 ? number(*s.ci95) : Json(nullptr); }

/// The ablation results: an array with one object per variant, the untrained network's
/// (`"variant": "untrained"`) first when the runner evaluated it. Its keys: `variant`;
/// `knn_top1`, `shifted_knn_top1` (null without a shifted split), `linear_top1` and
/// `images_per_s` (null for the untrained network), each the mean over the seeds; `seeds` (the
/// list used); for each of the three accuracies `<metric>_runs` (one value per seed, in the order
/// of `seeds`), `<metric>_sd` and `<metric>_ci95` (the half-width of the 95 % interval of the
/// mean; null for one seed); for every variant but the baseline `vs_<baseline>`: for each
/// accuracy the paired difference from the baseline, {"mean", "ci95"} (null without a shifted
/// split); and for every trained variant `vs_untrained`, the same from the untrained network. The
/// per-seed differences are those of the two variants' `_runs`.
inline Json to_json(const std::vector<ablation::Result>& results) {
  Json out = Json::array();
  for (const auto& r : results) {
    Json j{{"variant", r.variant},
           {"knn_top1", number(r.knn_top1)},
           {"shifted_knn_top1", number(r.shifted_knn_top1)},
           {"linear_top1", number(r.linear_top1)},
           {"images_per_s", r.untrained ? Json(nullptr) : number(r.images_per_s)}};
    j["seeds"] = r.seeds();
    auto runs = [&](auto get) {
      Json a = Json::array();
      for (const auto& run : r.runs) a.push_back(number(get(run)));
      return a;
    };
    using ablation::Run;
    j["knn_top1_runs"] = runs([](const Run& x) { return x.knn_top1; });
    j["shifted_knn_top1_runs"] =
        r.summary.shifted_knn_top1 ? runs([](const Run& x) { return *x.shifted_knn_top1; }) : Json(nullptr);
    j["linear_top1_runs"] = runs([](const Run& x) { return x.linear_top1; });
    auto spread = [&](const std::string& name, const std::optional<stats::Summary>& s) {
      j[name + "_sd"] = s ? number(s->sd) : Json(nullptr);
      j[name + "_ci95"] = s ? half_width(*s) : Json(nullptr);
    };
    spread("knn_top1", r.summary.knn_top1);
    spread("shifted_knn_top1", r.summary.shifted_knn_top1);
    spread("linear_top1", r.summary.linear_top1);
    auto differences = [](const ablation::Metrics& m) {
      auto difference = [](const std::optional<stats::Summary>& d) -> Json {
        if (!d) return nullptr;
        return Json{{"mean", number(d->mean)}, {"ci95", half_width(*d)}};
      };
      return Json{{"knn_top1", difference(m.knn_top1)},
                  {"shifted_knn_top1", difference(m.shifted_knn_top1)},
                  {"linear_top1", difference(m.linear_top1)}};
    };
    if (r.vs_baseline) j["vs_" + r.baseline] = differences(*r.vs_baseline);
    if (r.vs_untrained) j["vs_untrained"] = differences(*r.vs_untrained);
    out.push_back(std::move(j));
  }
  return out;
}

/// `json` as text, indented by `indent` (-1: one line). Bytes that are not UTF-8 (a path on a
/// Latin-1 file system) become U+FFFD, so the text is always valid JSON.
inline std::string dump(const Json& json, int indent = 2) {
  return json.dump(indent, ' ', false, Json::error_handler_t::replace);
}

/// Writes `json` to `path`, indented, atomically (write_file_atomically).
inline void write_json(const Json& json, const std::string& path) {
  write_file_atomically(path, dump(json) + "\n");
}

/// Writes the ablation results (to_json) to `path`, atomically.
inline void write_json(const std::vector<ablation::Result>& results, const std::string& path) {
  write_json(to_json(results), path);
}

}  // namespace selfsup::report

namespace selfsup::hooks {

/// Appends one JSON object a line to `path`: at every logging step
/// {"event":"step","epoch","step","loss","lr","images_per_s"}, and at every epoch end
/// {"event":"epoch","epoch","step"} with the metrics other hooks handed it with
/// `record(name, value)` (a KNNMonitor given this log). Epochs are 0-based, as in StepLog and
/// EpochEnd. Each line is flushed as it is written; a failed write throws, naming the path.
/// (A log grows as training runs, so it is appended to rather than written atomically.)
class JsonLines : public MetricSink {
 public:
  explicit JsonLines(const std::string& path) : path_(path), main_(distributed::current().is_main()) {
    if (!main_) return;  // a data-parallel run: rank 0 alone writes the log
    out_.open(path, std::ios::app);
    if (!out_.good()) {
      throw std::runtime_error("selfsup::hooks::JsonLines: cannot open '" + path + "' for appending: " +
                               std::strerror(errno));
    }
  }

  template <class T>
  void on_log(T&, const StepLog& s) {
    if (!main_) return;
    write(report::Json{{"event", "step"},
                       {"epoch", s.epoch},
                       {"step", s.step},
                       {"loss", report::number(s.loss)},
                       {"lr", report::number(s.learning_rate)},
                       {"images_per_s", report::number(s.images_per_second)}});
  }

  template <class T>
  void on_epoch_end(T&, const EpochEnd& e) {
    if (!main_) return;
    report::Json line{{"event", "epoch"}, {"epoch", e.epoch}, {"step", e.step}};
    for (const auto& [name, value] : pending_) line[name] = report::number(value);
    pending_.clear();
    write(line);
  }

  /// A metric written with the next epoch record.
  void record(const std::string& name, double value) override { pending_.emplace_back(name, value); }

  const std::string& path() const { return path_; }

 private:
  void write(const report::Json& line) {
    out_ << report::dump(line, -1) << '\n';
    out_.flush();
    if (!out_.good()) {
      throw std::runtime_error("selfsup::hooks::JsonLines: writing to '" + path_ + "' failed: " +
                               std::strerror(errno));
    }
  }

  std::string path_;
  std::ofstream out_;
  bool main_ = true;
  std::vector<std::pair<std::string, double>> pending_;
};

}  // namespace selfsup::hooks

namespace selfsup::ablation {
/// The ablation results as JSON, in <selfsup/report/json.hpp> since nlohmann-json is not a core
/// dependency.
using report::write_json;
}  // namespace selfsup::ablation
