#pragma once
/// \file
/// Internal: rows of a matrix shared among LibTorch's threads, for the fused CPU loops of the
/// contrastive losses (similarity_cpu.hpp).

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>

namespace selfsup::losses::detail::cpu {

/// Below this many LibTorch threads the fused passes run on the calling thread. Right after a
/// matrix product the BLAS library's own threads keep the other cores busy for a while, and on
/// two cores handing rows to a second thread then cost more than it saved (both measured with
/// benchmarks/losses.cpp).
inline constexpr int64_t min_threads = 3;

/// Runs f(first, last) over [begin, end) in pieces of at least `grain` indices, on up to
/// at::get_num_threads() threads (on the calling thread alone below min_threads). LibTorch's own
/// at::parallel_for only runs in parallel in code compiled with OpenMP when LibTorch uses OpenMP;
/// otherwise the pieces go to LibTorch's inter-op thread pool, and the calling thread takes pieces
/// too, so it never waits on a piece that no thread has started.
template <class F>
void parallel_rows(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (end <= begin) return;
  const int64_t threads = at::get_num_threads();
#ifdef _OPENMP
  if (threads < min_threads) {
    f(begin, end);
    return;
  }
  at::parallel_for(begin, end, grain, f);
#else
  const int64_t total = end - begin;
  const int64_t max_pieces = (total + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  if (threads < min_threads || max_pieces <= 1 || at::in_parallel_region()) {
    f(begin, end);
    return;
  }
  // A few pieces per thread, so that a thread slowed down by other work hands its share over.
  const int64_t pieces = std::min<int64_t>(max_pieces, 4 * threads);
  const int64_t size = (total + pieces - 1) / pieces;
  struct State {
    std::atomic<int64_t> next{0};
    std::mutex mutex;
    std::condition_variable finished;
    int64_t done = 0;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>();
  // A helper that starts after every piece is taken returns at once without touching `f`.
  auto work = [state, begin, end, size, pieces, &f] {
    for (int64_t piece; (piece = state->next.fetch_add(1)) < pieces;) {
      const int64_t first = begin + piece * size;
      try {
        if (first < end) f(first, std::min(end, first + size));
      } catch (...) {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (!state->error) state->error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(state->mutex);
      if (++state->done == pieces) state->finished.notify_all();
    }
  };
  for (int64_t t = 1; t < std::min(threads, pieces); ++t) at::launch(work);
  work();
  std::unique_lock<std::mutex> lock(state->mutex);
  state->finished.wait(lock, [&] { return state->done == pieces; });
  if (state->error) std::rethrow_exception(state->error);
#endif
}

}  // namespace selfsup::losses::detail::cpu
