#pragma once
/// \file
/// A CPU training process without kernel churn. Two process-wide settings, each made once:
///
/// keep_freed_memory(): every training step allocates and frees the same large activation and
/// gradient buffers. glibc's malloc serves blocks above its mmap threshold (128 KiB to 32 MiB,
/// adapting) with mmap and returns them to the kernel on free, and trims the top of its heap;
/// the next step then faults every page back in. This makes glibc serve such blocks from its
/// heap and keep freed memory for reuse (as MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_
/// set high would). The process keeps the memory of its largest step until it exits.
///
/// serial_blas(): LibTorch parallelises its CPU operators itself, and calls BLAS from inside
/// those parallel regions (convolutions as matrix products, batch by batch). OpenBLAS's own
/// worker threads then compete with LibTorch's for the cores and wait for work with
/// sched_yield, which shows as kernel time (a quarter of a training run's CPU time on two
/// cores). This runs each OpenBLAS product on its calling thread (openblas_set_num_threads(1),
/// as OPENBLAS_NUM_THREADS=1 would). With another BLAS nothing is changed.
///
/// They are process-wide, so a program makes them itself, at start (tune_cpu_training(), as the
/// example programs do); constructing a selfsup::Trainer changes nothing of the process. The
/// environment variables SELFSUP_KEEP_FREED_MEMORY=0 and SELFSUP_SERIAL_BLAS=0 turn them off for
/// any program that makes them.

#include <climits>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace selfsup::runtime {

/// What a setting did.
enum class Tuning {
  applied,      ///< in effect (made by this call or an earlier one)
  disabled,     ///< turned off by its environment variable
  unsupported,  ///< not glibc / not OpenBLAS, or the library refused it
};

namespace detail {
inline bool disabled_by(const char* variable) {
  const char* value = std::getenv(variable);
  return value != nullptr && std::strcmp(value, "0") == 0;
}
}  // namespace detail

/// glibc keeps freed memory for the next step (see the file comment). Thread-safe.
inline Tuning keep_freed_memory() {
  static const Tuning result = [] {
    if (detail::disabled_by("SELFSUP_KEEP_FREED_MEMORY")) return Tuning::disabled;
#if defined(__GLIBC__)
    // The largest values mallopt takes (an int): blocks up to 2 GiB from the heap, and up to
    // 2 GiB free at the top of the heap kept rather than returned.
    const bool ok = mallopt(M_MMAP_THRESHOLD, INT_MAX) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
    return ok ? Tuning::applied : Tuning::unsupported;
#else
    return Tuning::unsupported;
#endif
  }();
  return result;
}

/// OpenBLAS runs each product on its calling thread (see the file comment). Thread-safe.
inline Tuning serial_blas() {
  static const Tuning result = [] {
    if (detail::disabled_by("SELFSUP_SERIAL_BLAS")) return Tuning::disabled;
    // Looked up at run time: the program does not link OpenBLAS itself, LibTorch's BLAS may be
    // another one.
    using SetThreads = void (*)(int);
    auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (set == nullptr) return Tuning::unsupported;
    set(1);
    return Tuning::applied;
  }();
  return result;
}

/// Both settings, as the example programs make them at start.
inline void tune_cpu_training() {
  keep_freed_memory();
  serial_blas();
}

}  // namespace selfsup::runtime
