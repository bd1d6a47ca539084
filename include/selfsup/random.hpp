#pragma once
/// \file
/// Randomness for policies: a seeded generator per device, owned by the policy, so that no policy
/// draws from LibTorch's hidden global generator, and its state saved with checkpoints. A policy
/// of your own holds one, draws with `generators.on(tensor.device())`, and forwards its `save` and
/// `load` (see docs/policies.md).

#include <selfsup/detail/torch_compat.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace selfsup {

/// A seed for stream `stream` of a run seeded with `seed`: SplitMix64's output function applied to
/// the two combined, so that the policies of one run (its views, its pairs, ...) draw from
/// unrelated streams, and run s's pair stream is not run s + 1's view stream as `seed + k` would
/// make it.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Holds one generator for each device it was asked for, all seeded from one seed, so that a
/// policy gives the same draws on the same device for the same seed.
class DeviceGenerators {
 public:
  explicit DeviceGenerators(std::uint64_t seed = 0) : seed_(seed) {}

  // A copy continues from the same state but draws independently of the original.
  DeviceGenerators(const DeviceGenerators& other) : seed_(other.seed_) { copy_from(other); }
  DeviceGenerators& operator=(const DeviceGenerators& other) {
    if (this != &other) {
      seed_ = other.seed_;
      generators_.clear();
      copy_from(other);
    }
    return *this;
  }
  DeviceGenerators(DeviceGenerators&&) noexcept = default;
  DeviceGenerators& operator=(DeviceGenerators&&) noexcept = default;

  std::uint64_t seed() const { return seed_; }

  /// The generator for `device`, created on first use.
  at::Generator& on(const torch::Device& device) {
    for (auto& [d, g] : generators_) {
      if (d == device) return g;
    }
    generators_.emplace_back(device, detail::make_generator(device, seed_));
    return generators_.back().second;
  }

  /// Every generator's state, for checkpoints: one entry per device it was used on.
  void save(torch::serialize::OutputArchive& archive) const {
    archive.write("seed", torch::tensor(static_cast<int64_t>(seed_)), /*is_buffer=*/true);
    for (const auto& [d, g] : generators_) {
      archive.write("generator." + d.str(), detail::generator_state(g), /*is_buffer=*/true);
    }
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor seed;
    archive.read("seed", seed, /*is_buffer=*/true);
    seed_ = static_cast<std::uint64_t>(seed.item<int64_t>());
    generators_.clear();
    for (const auto& key : archive.keys()) {
      if (key.rfind("generator.", 0) != 0) continue;
      torch::Tensor state;
      archive.read(key, state, /*is_buffer=*/true);
      auto& gen = on(torch::Device(key.substr(10)));
      detail::set_generator_state(gen, state);
    }
  }

 private:
  void copy_from(const DeviceGenerators& other) {
    for (const auto& [d, g] : other.generators_) generators_.emplace_back(d, g.clone());
  }

  std::uint64_t seed_;
  std::vector<std::pair<torch::Device, at::Generator>> generators_;
};

}  // namespace selfsup
