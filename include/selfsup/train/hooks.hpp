#pragma once
/// \file
/// Ready-made trainer hooks: pass any of them to Trainer::fit(data, hooks...).

#include <selfsup/eval/knn.hpp>
#include <selfsup/train/trainer.hpp>

#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace selfsup::hooks {

/// A progress line: epoch, step, loss, images per second and the time left. On a terminal it
/// rewrites one line; otherwise (a log file, CI) it prints plain lines.
class Progress {
 public:
  explicit Progress(std::FILE* out = stdout) : out_(out), terminal_(isatty(fileno(out)) != 0) {}

  template <class T>
  void on_log(T&, const StepLog& s) {
    const double left = s.images_per_second > 0 && s.total_steps > s.step
                            ? static_cast<double>((s.total_steps - s.step) * s.batch_size) / s.images_per_second
                            : 0.0;
    fmt::print(out_, "{}epoch {:>3}  step {:>6}/{}  loss {:.4f}  {:.0f} img/s  ETA {:.0f}:{:02.0f}{}",
               terminal_ ? "\r" : "", s.epoch, s.step, s.total_steps, s.loss, s.images_per_second,
               std::floor(left / 60), std::fmod(left, 60.0), terminal_ ? "" : "\n");
    if (terminal_ && s.step >= s.total_steps) fmt::print(out_, "\n");
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  bool terminal_;
};

/// Appends one JSON object a line to `path`: at every logging step
/// {"event":"step","epoch","step","loss","lr","images_per_s"}, and at every epoch end the
/// metrics other hooks added with `record(name, value)`.
class JsonLines {
 public:
  explicit JsonLines(const std::string& path) : path_(path), out_(path, std::ios::app) {
    TORCH_CHECK(out_.good(), "selfsup::hooks::JsonLines: cannot open '", path, "' for writing");
  }

  template <class T>
  void on_log(T&, const StepLog& s) {
    out_ << fmt::format(R"({{"event":"step","epoch":{},"step":{},"loss":{},"lr":{},"images_per_s":{}}})",
                        s.epoch, s.step, s.loss, s.learning_rate, s.images_per_second)
         << '\n';
    out_.flush();
  }

  template <class T>
  void on_epoch_end(T&, const EpochEnd& e) {
    std::string fields;
    for (const auto& [name, value] : pending_) fields += fmt::format(R"(,"{}":{})", name, value);
    pending_.clear();
    out_ << fmt::format(R"({{"event":"epoch","epoch":{},"step":{}{}}})", e.epoch, e.step, fields) << '\n';
    out_.flush();
  }

  /// A metric written with the next epoch record.
  void record(const std::string& name, double value) { pending_.emplace_back(name, value); }

 private:
  std::string path_;
  std::ofstream out_;
  std::vector<std::pair<std::string, double>> pending_;
};

/// Writes a checkpoint to `path` every `every` epochs (atomically: see save_checkpoint).
struct Checkpoint {
  std::string path;
  int64_t every = 1;

  template <class T>
  void on_epoch_end(T& trainer, const EpochEnd& e) {
    if ((e.epoch + 1) % every == 0) trainer.save_checkpoint(path);
  }
};

/// kNN accuracy of the frozen features every `every` epochs, kept in `history` (and printed when
/// `verbose`; added to a JsonLines log's epoch record when one is given: pass the monitor to
/// fit() before the log).
template <class Train, class Test>
class KNNMonitor {
 public:
  struct Entry {
    int64_t epoch;
    eval::KNNResult result;
  };

  KNNMonitor(const Train& train, const Test& test, int64_t every = 1, eval::KNNOptions options = {},
             JsonLines* log = nullptr, bool verbose = false)
      : train_(train), test_(test), every_(every), options_(options), log_(log), verbose_(verbose) {
    TORCH_CHECK(every >= 1, "selfsup::hooks::KNNMonitor: every must be >= 1, got ", every);
  }

  template <class T>
  void on_epoch_end(T& trainer, const EpochEnd& e) {
    if ((e.epoch + 1) % every_ != 0) return;
    const auto start = std::chrono::steady_clock::now();
    auto r = eval::knn_evaluate(trainer.encoder(), train_, test_, options_);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history_.push_back({e.epoch, r});
    if (log_ != nullptr) {
      log_->record("knn_top1", r.top1);
      log_->record("knn_top5", r.top5);
    }
    if (verbose_) fmt::print("epoch {:>3}  kNN top-1 {:.4f}  top-5 {:.4f}\n", e.epoch, r.top1, r.top5);
  }

  const std::vector<Entry>& history() const { return history_; }
  /// Wall time spent evaluating, to tell training throughput from evaluation.
  double seconds() const { return seconds_; }

 private:
  const Train& train_;
  const Test& test_;
  int64_t every_;
  eval::KNNOptions options_;
  JsonLines* log_;
  bool verbose_;
  std::vector<Entry> history_;
  double seconds_ = 0.0;
};

}  // namespace selfsup::hooks
