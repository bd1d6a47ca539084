#pragma once
/// \file
/// Internal: what the random transforms and the augmentation pipeline share: the checks of their
/// input and of their options, and per-sample draws on the images' device.

#include <selfsup/views/detail/images.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

namespace selfsup::views::detail {

// The checks every transform's operator() makes, then the input as float in [0, 1].
inline torch::Tensor checked_unit_images(std::string_view fn, const torch::Tensor& images) {
  check_images(fn, images);
  return to_unit(images);
}

inline void check_probability(std::string_view fn, std::string_view name, double p) {
  TORCH_CHECK(p >= 0.0 && p <= 1.0, fn, ": ", name, " must be in [0, 1], got ", p);
}

// One Bernoulli(p) draw a sample: bool (B).
inline torch::Tensor coin(int64_t batch, double p, at::Generator& gen, const torch::Device& device) {
  return torch::rand({batch}, gen, torch::TensorOptions().dtype(torch::kFloat64).device(device)).lt(p);
}

// Uniform draws in [lo, hi], float64 (B).
inline torch::Tensor uniform(int64_t batch, double lo, double hi, at::Generator& gen,
                             const torch::Device& device) {
  auto u = torch::rand({batch}, gen, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  return u.mul_(hi - lo).add_(lo);
}

}  // namespace selfsup::views::detail
