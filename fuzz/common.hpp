// Shared by the fuzz targets.
#pragma once

#include <cstdio>
#include <cstdlib>

// A parse that succeeded but broke an invariant of its format: stop, so libFuzzer reports it.
#define SELFSUP_FUZZ_REQUIRE(cond)                                              \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "invariant broken: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)
