#pragma once
/// \file
/// Internal: every difference between the LibTorch versions selfsup supports lives here
/// (Debian's LibTorch 1.13 on CPU machines, PyTorch 2.x with CUDA on GPU machines).

#include <torch/torch.h>
#include <torch/version.h>

#include <cstdint>
#include <mutex>

namespace selfsup::detail {

/// LibTorch's version as one comparable number, e.g. 11300 for 1.13.0 and 21100 for 2.11.0.
inline constexpr int torch_version =
    TORCH_VERSION_MAJOR * 10000 + TORCH_VERSION_MINOR * 100 + TORCH_VERSION_PATCH;

/// A new random generator of the device's kind, seeded with `seed`, independent of LibTorch's
/// global default generator. Cloning the default generator works on CPU and CUDA alike in every
/// supported version, without naming a CUDA-specific factory.
inline at::Generator make_generator(const torch::Device& device, std::uint64_t seed) {
  at::Generator gen = at::globalContext().defaultGenerator(device).clone();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(seed);
  return gen;
}

/// The generator's full state as a CPU uint8 tensor, and its inverse, for checkpoints.
inline torch::Tensor generator_state(const at::Generator& gen) {
  std::lock_guard<std::mutex> lock(const_cast<at::Generator&>(gen).mutex());
  return gen.get_state();
}
inline void set_generator_state(at::Generator& gen, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace selfsup::detail
