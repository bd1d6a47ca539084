#pragma once
/// \file
/// Internal: the one way per-run state is nested in a checkpoint. A part with
/// `save(OutputArchive&) const` and `load(InputArchive&)` (a policy, a random generator, a
/// transform inside a view generator) is written to a sub-archive under its key.

#include <torch/torch.h>

#include <string>
#include <string_view>

namespace selfsup::detail {

/// Saves `part`'s state (its `save` member) under `key` of `archive`.
template <class T>
void save_nested(torch::serialize::OutputArchive& archive, const std::string& key, const T& part) {
  torch::serialize::OutputArchive sub;
  part.save(sub);
  archive.write(key, sub);
}

/// Restores what save_nested wrote; a missing key is an error that names `fn` and the key.
template <class T>
void load_nested(torch::serialize::InputArchive& archive, const std::string& key, T& part,
                 std::string_view fn = "selfsup::load_checkpoint") {
  torch::serialize::InputArchive sub;
  TORCH_CHECK(archive.try_read(key, sub), fn, ": the checkpoint has no state for '", key, "'");
  part.load(sub);
}

}  // namespace selfsup::detail
