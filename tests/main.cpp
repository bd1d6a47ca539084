#define BOOST_TEST_MODULE selfsup
#include <boost/test/unit_test.hpp>

#include <selfsup/train/runtime.hpp>

// The process settings the example programs make at start (a Trainer does not make them).
struct CpuTraining {
  CpuTraining() { selfsup::runtime::tune_cpu_training(); }
};
BOOST_TEST_GLOBAL_FIXTURE(CpuTraining);
