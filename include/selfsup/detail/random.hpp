#pragma once
/// \file
/// Internal: a seeded random generator per device, owned by a policy, so that no policy draws
/// from LibTorch's hidden global generator.

#include <selfsup/detail/torch_compat.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace selfsup::detail {

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
    generators_.emplace_back(device, make_generator(device, seed_));
    return generators_.back().second;
  }

 private:
  void copy_from(const DeviceGenerators& other) {
    for (const auto& [d, g] : other.generators_) generators_.emplace_back(d, g.clone());
  }

  std::uint64_t seed_;
  std::vector<std::pair<torch::Device, at::Generator>> generators_;
};

}  // namespace selfsup::detail
