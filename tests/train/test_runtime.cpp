// The process settings a CPU training run makes (train/runtime.hpp), checked by their effect.
#include "../support.hpp"

#include <selfsup/train/runtime.hpp>

#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace ss = selfsup;

BOOST_AUTO_TEST_SUITE(train_tests)

#if defined(__SANITIZE_ADDRESS__)
#define SELFSUP_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SELFSUP_TEST_UNDER_ASAN 1
#endif
#endif

#if defined(__GLIBC__) && defined(SELFSUP_TEST_UNDER_ASAN)
// AddressSanitizer's allocator stands in for glibc's malloc: the tuning does not apply, and
// says so instead of claiming success.
BOOST_AUTO_TEST_CASE(freed_memory_is_kept_for_the_next_step) {
  BOOST_TEST((ss::runtime::keep_freed_memory() == ss::runtime::Tuning::unsupported));
}
#elif defined(__GLIBC__)
BOOST_AUTO_TEST_CASE(freed_memory_is_kept_for_the_next_step) {
  BOOST_TEST_REQUIRE((ss::runtime::keep_freed_memory() == ss::runtime::Tuning::applied));
  BOOST_TEST((ss::runtime::keep_freed_memory() == ss::runtime::Tuning::applied));  // once, and again
  // glibc's default would map a 64 MiB block on its own (mmap) and unmap it on free; now it comes
  // from the heap, and stays there once freed.
  const auto mapped_before = mallinfo2().hblkhd;
  constexpr size_t size = size_t{64} << 20;
  auto* block = static_cast<char*>(std::malloc(size));
  BOOST_TEST_REQUIRE(block != nullptr);
  std::memset(block, 1, size);
  BOOST_TEST(mallinfo2().hblkhd == mapped_before);
  std::free(block);
  BOOST_TEST(mallinfo2().fordblks >= size);  // kept free in the heap, not returned
}
#endif

BOOST_AUTO_TEST_CASE(openblas_runs_products_on_the_calling_thread) {
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  const auto result = ss::runtime::serial_blas();
  if (get == nullptr) {  // LibTorch's BLAS is not OpenBLAS: nothing to change
    BOOST_TEST((result == ss::runtime::Tuning::unsupported));
    return;
  }
  BOOST_TEST((result == ss::runtime::Tuning::applied));
  BOOST_TEST(get() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
