#pragma once
/// \file
/// Internal: the unchecked Gaussian blur with a per-sample sigma that views::functional and
/// views::GaussianBlur share. It never synchronises with the host.

#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace selfsup::views::detail {

/// Normalised 1-D Gaussian kernels, one a sample: (B, k) from sigmas (B), in `dtype`.
inline torch::Tensor gaussian_kernels(int64_t kernel_size, const torch::Tensor& sigmas,
                                      torch::ScalarType dtype) {
  const double half = (kernel_size - 1) * 0.5;
  auto t = torch::linspace(-half, half, kernel_size, sigmas.options().dtype(torch::kFloat64));
  auto z = t.unsqueeze(0) / sigmas.to(torch::kFloat64).unsqueeze(1);  // (B, k)
  auto pdf = torch::exp(-0.5 * z * z);
  return (pdf / pdf.sum(1, /*keepdim=*/true)).to(dtype);
}

/// Gaussian blur with a per-sample sigma and reflect padding. torchvision convolves with the
/// outer product of two 1-D kernels; the two passes here give the same sums.
inline torch::Tensor gaussian_blur(const torch::Tensor& x, int64_t kernel_size,
                                   const torch::Tensor& sigmas) {
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t pad = kernel_size / 2;
  auto k = gaussian_kernels(kernel_size, sigmas, x.scalar_type());      // (B, k)
  // expand, not repeat_interleave: the latter sizes its output on the host (a device sync).
  auto kernels = k.unsqueeze(1).expand({b, c, kernel_size}).reshape({b * c, kernel_size});  // (B*C, k)
  auto padded = torch::reflection_pad2d(x.reshape({1, b * c, h, w}), {pad, pad, pad, pad});
  const std::array<int64_t, 2> one = {1, 1}, zero = {0, 0};
  auto conv = [&](const torch::Tensor& in, const torch::Tensor& weight) {
    return torch::conv2d(in, weight, torch::Tensor(), torch::IntArrayRef(one),
                         torch::IntArrayRef(zero), torch::IntArrayRef(one), b * c);
  };
  auto rows = conv(padded, kernels.view({b * c, 1, kernel_size, 1}));  // (1, B*C, H, W + 2 pad)
  auto out = conv(rows, kernels.view({b * c, 1, 1, kernel_size}));     // (1, B*C, H, W)
  return out.view({b, c, h, w});
}

}  // namespace selfsup::views::detail
