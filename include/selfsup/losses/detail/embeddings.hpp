#pragma once
/// \file
/// Internal: the checks and the L2 normalisation of embedding batches that the functional losses
/// share.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <string_view>

namespace selfsup::losses::detail {

// Checks shared by the two-view losses: z0 and z1 defined, floating, 2-D, same shape, dtype and
// device, at least two rows, finite.
inline void check_two_views(std::string_view fn, const torch::Tensor& z0, const torch::Tensor& z1,
                            const char* a = "z0", const char* b = "z1") {
  selfsup::detail::check_floating(fn, a, z0);
  selfsup::detail::check_floating(fn, b, z1);
  selfsup::detail::check_dim(fn, a, z0, 2);
  selfsup::detail::check_dim(fn, b, z1, 2);
  TORCH_CHECK(z0.sizes() == z1.sizes(), fn, ": ", a, " and ", b,
              " must have the same shape, got ", z0.sizes(), " and ", z1.sizes());
  TORCH_CHECK(z0.scalar_type() == z1.scalar_type(), fn, ": ", a, " and ", b,
              " must have the same dtype, got ", z0.scalar_type(), " and ", z1.scalar_type());
  selfsup::detail::check_same_device(fn, a, z0, b, z1);
  TORCH_CHECK(z0.size(0) >= 2, fn, ": needs at least 2 samples (rows), got ", z0.size(0));
  TORCH_CHECK(z0.size(1) >= 1, fn, ": embeddings must have at least one dimension, got shape ",
              z0.sizes());
  selfsup::detail::check_finite(fn, a, z0);
  selfsup::detail::check_finite(fn, b, z1);
}

inline torch::Tensor l2_normalize(const torch::Tensor& z) {
  namespace F = torch::nn::functional;
  return F::normalize(z, F::NormalizeFuncOptions().dim(-1));
}

// [z0; z1] normalised: rows i and i + N are the two views of pair i.
inline torch::Tensor stacked_views(const torch::Tensor& z0, const torch::Tensor& z1) {
  return l2_normalize(torch::cat({z0, z1}, 0));                        // (2N, D)
}

}  // namespace selfsup::losses::detail
