#pragma once
/// \file
/// Internal: a rank that waits for the others says so. While a wait is open (the rendezvous, a
/// collective), a background thread prints to stderr, every `every`, what this rank waits for,
/// for how long, and the timeout that will end it; nothing is printed for waits shorter than
/// `every`. A wait opened with a deadline (the rendezvous, whose socket calls LibTorch may block
/// on forever when something other than a rendezvous store answers on the port) ends the
/// process with an error past it.

#include <fmt/core.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace selfsup::distributed::detail {

class WaitNotices {
 public:
  /// `who` starts each line ("selfsup::distributed: rank 1 of 2").
  WaitNotices(std::string who, std::chrono::milliseconds timeout, std::chrono::milliseconds every)
      : who_(std::move(who)), timeout_(timeout), every_(every) {
    thread_ = std::thread([this] { run(); });
  }
  ~WaitNotices() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  WaitNotices(const WaitNotices&) = delete;
  WaitNotices& operator=(const WaitNotices&) = delete;

  /// Opens a wait for `what` until the guard goes out of scope.
  class Guard {
   public:
    /// With `deadline` > 0 and `fatal` given: past the deadline, prints `fatal` and ends the
    /// process with EXIT_FAILURE.
    Guard(WaitNotices& owner, std::string what, std::chrono::milliseconds deadline = std::chrono::milliseconds(0),
          std::string fatal = {})
        : owner_(owner) {
      std::lock_guard<std::mutex> lock(owner_.mutex_);
      owner_.what_ = std::move(what);
      owner_.since_ = std::chrono::steady_clock::now();
      owner_.deadline_ = deadline;
      owner_.fatal_ = std::move(fatal);
      owner_.open_ = true;
    }
    ~Guard() {
      std::lock_guard<std::mutex> lock(owner_.mutex_);
      owner_.open_ = false;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    WaitNotices& owner_;
  };

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    auto last = std::chrono::steady_clock::time_point{};
    while (!cv_.wait_for(lock, std::min<std::chrono::milliseconds>(every_, std::chrono::seconds(1)),
                         [this] { return stop_; })) {
      if (!open_) continue;
      const auto now = std::chrono::steady_clock::now();
      if (deadline_.count() > 0 && !fatal_.empty() && now - since_ > deadline_) {
        fmt::print(stderr, "{}\n", fatal_);
        std::fflush(stderr);
        std::_Exit(EXIT_FAILURE);  // the waiting thread is blocked in a socket call: nothing else can end it
      }
      if (now - since_ < every_ || now - std::max(last, since_) < every_) continue;
      last = now;
      const double waited = std::chrono::duration<double>(now - since_).count();
      const auto limit = deadline_.count() > 0 ? deadline_ : timeout_;
      fmt::print(stderr, "{}: still waiting for {} after {:.0f} s (it gives up after {:g} s)\n", who_, what_, waited,
                 static_cast<double>(limit.count()) / 1000.0);
      std::fflush(stderr);
    }
  }

  std::string who_;
  std::chrono::milliseconds timeout_, every_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false, open_ = false;
  std::string what_, fatal_;
  std::chrono::milliseconds deadline_{0};
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

}  // namespace selfsup::distributed::detail
