#pragma once
/// \file
/// Internal: what the library's seeded policies share (see selfsup/random.hpp).

#include <selfsup/detail/state.hpp>
#include <selfsup/random.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::detail {

/// The public generator set (selfsup/random.hpp), under the name the library's policies use.
using DeviceGenerators = selfsup::DeviceGenerators;

/// The state a seeded random policy (a view transform) shares: its options, with a `seed`
/// member, and the generators seeded from it, saved and restored with checkpoints.
template <class Options>
class Seeded {
 public:
  const Options& options() const { return options_; }

  /// The generators' state, for checkpoints (Trainer::save_checkpoint).
  void save(torch::serialize::OutputArchive& archive) const { generators_.save(archive); }
  void load(torch::serialize::InputArchive& archive) { generators_.load(archive); }

 protected:
  explicit Seeded(const Options& options) : options_(options), generators_(options.seed) {}

  Options options_;
  DeviceGenerators generators_;
};

}  // namespace selfsup::detail
