#pragma once
/// \file
/// Steady-state CPU training without page-fault churn. Every training step allocates and frees
/// the same large activation and gradient buffers. glibc's malloc serves blocks above its mmap
/// threshold (128 KiB to 32 MiB, adapting) with mmap and returns them to the kernel on free, and
/// trims the top of its heap; the next step then faults every page back in, which costs about a
/// third of a CPU step in the kernel. keep_freed_memory() makes glibc serve such blocks from its
/// heap and keep freed memory for reuse, once per process: the same effect as starting the
/// program with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set high.
///
/// selfsup::Trainer calls it unless TrainerOptions::keep_freed_memory is false, or the
/// environment variable SELFSUP_KEEP_FREED_MEMORY is 0. The process then keeps the memory of
/// its largest step mapped until it exits (its peak resident size does not grow beyond what
/// the step needs at once). Other C libraries and platforms: nothing is changed.

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace selfsup::memory {

/// What keep_freed_memory() did.
enum class MallocTuning {
  applied,      ///< glibc keeps freed memory (this call or an earlier one)
  disabled,     ///< SELFSUP_KEEP_FREED_MEMORY=0 in the environment
  unsupported,  ///< not glibc, or glibc refused a setting
};

/// Makes glibc serve large blocks from its heap and keep freed memory (see the file comment).
/// Thread-safe; the settings are made once per process.
inline MallocTuning keep_freed_memory() {
  static const MallocTuning result = [] {
    const char* env = std::getenv("SELFSUP_KEEP_FREED_MEMORY");
    if (env != nullptr && std::strcmp(env, "0") == 0) return MallocTuning::disabled;
#if defined(__GLIBC__)
    // The largest values mallopt takes (an int): blocks up to 2 GiB from the heap, and up to
    // 2 GiB free at the top of the heap kept rather than returned.
    const bool ok = mallopt(M_MMAP_THRESHOLD, INT_MAX) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
    return ok ? MallocTuning::applied : MallocTuning::unsupported;
#else
    return MallocTuning::unsupported;
#endif
  }();
  return result;
}

}  // namespace selfsup::memory
