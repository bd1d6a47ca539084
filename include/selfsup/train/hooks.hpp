#pragma once
/// \file
/// Ready-made trainer hooks: pass any of them to Trainer::fit(data, hooks...). A JSON-lines log
/// (hooks::JsonLines) is in <selfsup/report/json.hpp>, outside the core.
/// In a data-parallel run the hooks are called on every rank: Progress prints on rank 0 only,
/// KNNMonitor evaluates on every rank (the same weights, the same result) and prints on rank 0,
/// and Checkpoint calls the collective Trainer::save_checkpoint on all.

#include <selfsup/distributed/context.hpp>
#include <selfsup/eval/knn.hpp>
#include <selfsup/train/trainer.hpp>

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace selfsup::hooks {

/// Where a hook that measures something (KNNMonitor) hands its metrics, to be written with the
/// next epoch record: selfsup::hooks::JsonLines in <selfsup/report/json.hpp> is one.
class MetricSink {
 public:
  virtual ~MetricSink() = default;
  virtual void record(const std::string& name, double value) = 0;
};

struct ProgressOptions {
  std::FILE* out = stdout;
  /// Without a terminal: a plain line at least this often (seconds), besides the first step,
  /// every epoch end and the last step. Lines come only at the trainer's logging steps
  /// (TrainerOptions::log_every) and epoch ends, so a small log_every keeps this interval.
  double interval_seconds = 30.0;
  /// A terminal gets one live line, redrawn at most this often (seconds).
  double redraw_seconds = 0.2;
};

/// Progress a person sees: epoch (from 1), step of the total, loss, images per second and the
/// time left. On a terminal one live line rewritten in place (`\r`); otherwise (a log file, a
/// pipe, a batch job) plain flushed lines at the first step, at least every
/// `interval_seconds`, at every epoch end and at the last step.
class Progress {
 public:
  explicit Progress(std::FILE* out = stdout) : Progress(ProgressOptions{.out = out}) {}
  explicit Progress(const ProgressOptions& options)
      : options_(options), terminal_(isatty(fileno(options.out)) != 0), created_(Clock::now()) {
    TORCH_CHECK(options.interval_seconds >= 0 && options.redraw_seconds >= 0,
                "selfsup::hooks::Progress: interval_seconds and redraw_seconds must be >= 0, got ",
                options.interval_seconds, " and ", options.redraw_seconds);
  }

  template <class T>
  void on_log(T& trainer, const StepLog& s) {
    if (!distributed::current().is_main()) return;  // one rank prints
    const auto now = Clock::now();
    if (!started_) start(now, s.step);
    last_ = s;
    have_loss_ = true;
    epochs_ = total_epochs(trainer);
    const bool last_step = s.step >= s.total_steps;
    const double since = std::chrono::duration<double>(now - printed_).count();
    if (terminal_) {
      if (!printed_once_ || last_step || since >= options_.redraw_seconds) {
        print(now, s.epoch, s.step, s.total_steps, s.batch_size, s.images_per_second, last_step ? "\n" : "");
      }
    } else if (!printed_once_ || last_step || since >= options_.interval_seconds) {
      print(now, s.epoch, s.step, s.total_steps, s.batch_size, s.images_per_second, "\n");
    }
  }

  template <class T>
  void on_epoch_end(T& trainer, const EpochEnd& e) {
    if (!distributed::current().is_main()) return;
    const auto now = Clock::now();
    epochs_ = total_epochs(trainer);
    // Every epoch has the same number of steps, and e.step counts them from the run's start.
    const int64_t per_epoch = e.step / (e.epoch + 1);
    if (!started_) {  // no logging step yet: the epoch began about when this hook was made
      start(created_, e.step - per_epoch);
    }
    if (printed_step_ == e.step && !line_open_) return;  // this step's line is already there
    int64_t total = have_loss_ ? last_.total_steps : 0, batch = have_loss_ ? last_.batch_size : 0;
    if constexpr (requires { trainer.total_steps(); trainer.options().batch_size; }) {
      if (!have_loss_) total = trainer.total_steps(), batch = trainer.options().batch_size * distributed::current().world_size();
    }
    print(now, e.epoch, e.step, total, batch, 0.0, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;

  template <class T>
  static int64_t total_epochs(T& trainer) {
    if constexpr (requires { trainer.options().epochs; }) return trainer.options().epochs;
    else return 0;
  }

  void start(Clock::time_point now, int64_t step) {
    started_ = true;
    start_time_ = now;
    printed_ = now;
    first_step_ = step;
  }

  /// Formats seconds as M:SS, or H:MM:SS from an hour on.
  static std::string clock(double seconds) {
    const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
    if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
  }

  void print(Clock::time_point now, int64_t epoch, int64_t step, int64_t total, int64_t batch,
             double recent_rate, const char* end) {
    // Images per second since the first line (steadier than one logging interval's rate).
    const double elapsed = std::chrono::duration<double>(now - start_time_).count();
    const double rate = elapsed > 0 && step > first_step_
                            ? static_cast<double>((step - first_step_) * batch) / elapsed
                            : recent_rate;
    const std::string eta = rate > 0 && total > step
                                ? clock(static_cast<double>((total - step) * batch) / rate)
                                : std::string(total > 0 && step >= total ? "0:00" : "?");
    const std::string epochs = epochs_ > 0 ? fmt::format("{}/{}", epoch + 1, epochs_) : fmt::format("{}", epoch + 1);
    const std::string steps = total > 0 ? fmt::format("{:>6}/{}", step, total) : fmt::format("{:>6}", step);
    const std::string loss = have_loss_ ? fmt::format("{:.4f}", last_.loss) : std::string("-");
    if (terminal_) {
      constexpr int width = 20;
      const int filled = total > 0 ? static_cast<int>(width * std::min<int64_t>(step, total) / total) : 0;
      fmt::print(options_.out, "\r[{}{}] epoch {}  step {}  loss {}  {:.0f} img/s  ETA {}\x1b[K{}",
                 std::string(static_cast<size_t>(filled), '#'), std::string(static_cast<size_t>(width - filled), '.'),
                 epochs, steps, loss, rate, eta, end);
    } else {
      fmt::print(options_.out, "epoch {}  step {}  loss {}  {:.0f} img/s  ETA {}{}", epochs, steps, loss, rate, eta, end);
    }
    std::fflush(options_.out);
    printed_ = now;
    printed_once_ = true;
    printed_step_ = step;
    line_open_ = terminal_ && *end == '\0';
  }

  ProgressOptions options_;
  bool terminal_;
  bool started_ = false;
  bool printed_once_ = false;
  bool have_loss_ = false;
  bool line_open_ = false;  ///< a terminal line not yet ended with a newline
  StepLog last_{};
  int64_t epochs_ = 0;
  int64_t first_step_ = -1;
  int64_t printed_step_ = -1;
  Clock::time_point created_, start_time_{}, printed_{};
};

/// Writes a checkpoint to `path` every `every` epochs (atomically: see save_checkpoint).
struct Checkpoint {
  std::string path;
  int64_t every = 1;
  /// A checkpoint that cannot be written (checkpoint::WriteError: a full disk) stops training
  /// (true), or is reported on stderr and counted in `failed_writes` while training goes on with
  /// the previous checkpoint kept (false: for long runs that a full disk should not end). A
  /// diverged model is never saved either way.
  bool stop_on_write_error = true;
  int64_t failed_writes = 0;

  template <class T>
  void on_epoch_end(T& trainer, const EpochEnd& e) {
    if ((e.epoch + 1) % every != 0) return;
    try {
      trainer.save_checkpoint(path);
    } catch (const checkpoint::WriteError& error) {
      if (stop_on_write_error) throw;
      ++failed_writes;
      if (distributed::current().is_main()) fmt::print(stderr, "selfsup::hooks::Checkpoint: epoch {}: {}; training goes on\n", e.epoch + 1, error.what());
    }
  }
};

/// kNN accuracy of the frozen features every `every` epochs, kept in `history` (and printed when
/// `verbose`; handed to a MetricSink when one is given, e.g. the epoch record of a JsonLines log
/// from <selfsup/report/json.hpp>: pass the monitor to fit() before the log).
template <class Train, class Test>
class KNNMonitor {
 public:
  struct Entry {
    int64_t epoch;
    eval::KNNResult result;
  };

  KNNMonitor(const Train& train, const Test& test, int64_t every = 1, eval::KNNOptions options = {},
             MetricSink* log = nullptr, bool verbose = false)
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
    if (verbose_ && distributed::current().is_main()) fmt::print("epoch {:>3}  kNN top-1 {:.4f}  top-5 {:.4f}\n", e.epoch + 1, r.top1, r.top5);
  }

  const std::vector<Entry>& history() const { return history_; }
  /// Wall time spent evaluating, to tell training throughput from evaluation.
  double seconds() const { return seconds_; }

 private:
  const Train& train_;
  const Test& test_;
  int64_t every_;
  eval::KNNOptions options_;
  MetricSink* log_;
  bool verbose_;
  std::vector<Entry> history_;
  double seconds_ = 0.0;
};

}  // namespace selfsup::hooks
