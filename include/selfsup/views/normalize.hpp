#pragma once
/// \file
/// views::Normalize: torchvision's Normalize, per channel; deterministic.

#include <selfsup/views/detail/transform.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace selfsup::views {

namespace detail {

// A per-channel constant (1, C, 1, 1) built on the device, without copying host memory there
// (a host-to-device copy of pageable memory would wait for the device).
inline torch::Tensor channel_constant(const std::vector<double>& values, const torch::Tensor& like) {
  std::vector<torch::Tensor> parts;
  parts.reserve(values.size());
  for (double v : values) parts.push_back(torch::full({1}, v, like.options()));
  return torch::cat(parts).view({1, -1, 1, 1});
}

}  // namespace detail

/// torchvision's Normalize: (x - mean[c]) / std[c]. Empty mean and std turn it off.
struct NormalizeOptions {
  std::vector<double> mean = {};
  std::vector<double> std = {};
};

/// Deterministic; needs no generator.
class Normalize {
 public:
  Normalize() = default;
  explicit Normalize(const NormalizeOptions& options) : options_(options) {
    constexpr std::string_view fn = "selfsup::views::Normalize";
    TORCH_CHECK(options.mean.size() == options.std.size(), fn,
                ": mean and std must have the same length, got ", options.mean.size(), " and ",
                options.std.size());
    for (double s : options.std) TORCH_CHECK(s > 0, fn, ": every std must be positive, got ", s);
  }
  const NormalizeOptions& options() const { return options_; }
  bool enabled() const { return !options_.mean.empty(); }

  torch::Tensor operator()(const torch::Tensor& images) const {
    constexpr std::string_view fn = "selfsup::views::Normalize";
    auto x = detail::checked_unit_images(fn, images);
    TORCH_CHECK(!enabled() || static_cast<int64_t>(options_.mean.size()) == x.size(1), fn,
                ": mean and std have ", options_.mean.size(), " entries but images have ",
                x.size(1), " channels");
    return apply(x);
  }

  torch::Tensor apply(const torch::Tensor& x) const {
    if (!enabled()) return x;
    return (x - detail::channel_constant(options_.mean, x)).div_(detail::channel_constant(options_.std, x));
  }

 private:
  NormalizeOptions options_;
};

}  // namespace selfsup::views
