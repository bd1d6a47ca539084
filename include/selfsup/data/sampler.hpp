#pragma once
/// \file
/// data::EpochSampler: each epoch a seeded permutation of the dataset, cut into batches.

#include <selfsup/detail/torch_compat.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace selfsup::data {

struct EpochSamplerOptions {
  int64_t batch_size = 256;
  bool drop_last = true;   ///< drop the last, smaller batch (contrastive losses depend on B)
  std::uint64_t seed = 0;
};

/// The permutation of epoch e depends only on (seed, e), so a run resumed at any epoch sees the
/// same batches as an uninterrupted one.
class EpochSampler {
 public:
  EpochSampler(int64_t dataset_size, const EpochSamplerOptions& options, torch::Device device)
      : size_(dataset_size), options_(options), device_(device) {
    TORCH_CHECK(options.batch_size > 0, "selfsup::data::EpochSampler: batch_size must be "
                "positive, got ", options.batch_size);
    TORCH_CHECK(dataset_size > 0, "selfsup::data::EpochSampler: the dataset is empty");
    TORCH_CHECK(dataset_size >= options.batch_size || !options.drop_last,
                "selfsup::data::EpochSampler: batch_size ", options.batch_size,
                " is larger than the dataset (", dataset_size, " images)");
  }

  int64_t batches_per_epoch() const {
    return options_.drop_last ? size_ / options_.batch_size
                              : (size_ + options_.batch_size - 1) / options_.batch_size;
  }

  /// The anchors of every batch of epoch `epoch`, int64 on the sampler's device.
  std::vector<torch::Tensor> epoch(int64_t epoch) const {
    auto gen = selfsup::detail::make_generator(
        torch::kCPU, options_.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    auto perm = torch::randperm(size_, gen, torch::TensorOptions().dtype(torch::kLong))
                    .to(device_);
    std::vector<torch::Tensor> batches;
    for (int64_t b = 0; b < batches_per_epoch(); ++b) {
      const int64_t start = b * options_.batch_size;
      batches.push_back(perm.narrow(0, start, std::min(options_.batch_size, size_ - start)));
    }
    return batches;
  }

 private:
  int64_t size_;
  EpochSamplerOptions options_;
  torch::Device device_;
};

}  // namespace selfsup::data
