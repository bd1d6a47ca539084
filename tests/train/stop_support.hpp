#pragma once
// Shared by the trainer tests: a temporary path, and a hook that checkpoints and stops a run.

#include <selfsup/train/options.hpp>

#include <filesystem>
#include <string>

namespace selfsup::test {

/// `name` in a folder of the system's temporary directory kept for the tests.
inline std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "selfsup-tests";
  std::filesystem::create_directories(dir);
  return dir / name;
}

/// Stops the run after `at` steps with a checkpoint at `path`, as a crash after a checkpoint would.
struct StopAfter {
  int64_t at;
  std::string path;
  template <class T>
  void on_log(T& trainer, const selfsup::StepLog& s) {
    if (s.step == at) {
      trainer.save_checkpoint(path);
      trainer.request_stop();
    }
  }
};

}  // namespace selfsup::test
