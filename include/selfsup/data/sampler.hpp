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
  int64_t rank = 0;        ///< this process's shard, in [0, world_size) (torchrun's RANK)
  int64_t world_size = 1;  ///< number of shards (torchrun's WORLD_SIZE)
};

/// The permutation of epoch e depends only on (seed, e), so a run resumed at any epoch sees the
/// same batches as an uninterrupted one. With `subset` (int64 dataset indices), an epoch is a
/// permutation of those anchors only (a pair source that leaves anchors without a partner out).
/// With world_size > 1 every rank draws the same permutation and takes every world_size-th
/// anchor from position `rank`, after dropping the last (size mod world_size) anchors of the
/// permutation: the shards are disjoint and equally long, so every rank runs the same number of
/// steps (a collective in the loss would otherwise wait forever).
class EpochSampler {
 public:
  EpochSampler(int64_t dataset_size, const EpochSamplerOptions& options, torch::Device device,
               torch::Tensor subset = {})
      : total_(subset.defined() ? subset.numel() : dataset_size),
        size_(options.world_size >= 1 ? total_ / options.world_size : 0),
        options_(options),
        device_(device),
        subset_(subset.defined() ? subset.to(device) : subset) {
    TORCH_CHECK(options.batch_size > 0, "selfsup::data::EpochSampler: batch_size must be "
                "positive, got ", options.batch_size);
    TORCH_CHECK(options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
                "selfsup::data::EpochSampler: rank must be in [0, world_size), got rank ",
                options.rank, " and world_size ", options.world_size);
    TORCH_CHECK(total_ == 0 || size_ > 0, "selfsup::data::EpochSampler: ", total_,
                subset.defined() ? " anchors" : " images", " cannot be shared among ",
                options.world_size, " ranks");
    TORCH_CHECK(size_ > 0, "selfsup::data::EpochSampler: ",
                subset.defined() ? "the subset of anchors is empty" : "the dataset is empty");
    TORCH_CHECK(size_ >= options.batch_size || !options.drop_last,
                "selfsup::data::EpochSampler: batch_size ", options.batch_size,
                " is larger than the dataset (", size_, subset.defined() ? " anchors)" : " images)");
  }

  int64_t batches_per_epoch() const {
    return options_.drop_last ? size_ / options_.batch_size
                              : (size_ + options_.batch_size - 1) / options_.batch_size;
  }

  /// The anchors of every batch of epoch `epoch`, int64 on the sampler's device.
  std::vector<torch::Tensor> epoch(int64_t epoch) const {
    auto gen = selfsup::detail::make_generator(
        torch::kCPU, options_.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    auto perm = torch::randperm(total_, gen, torch::TensorOptions().dtype(torch::kLong));
    if (options_.world_size > 1) {
      perm = perm.narrow(0, 0, size_ * options_.world_size)
                 .view({size_, options_.world_size})
                 .select(1, options_.rank)
                 .contiguous();                                                    // (size / W)
    }
    perm = perm.to(device_);
    if (subset_.defined()) perm = subset_.index_select(0, perm);
    std::vector<torch::Tensor> batches;
    for (int64_t b = 0; b < batches_per_epoch(); ++b) {
      const int64_t start = b * options_.batch_size;
      batches.push_back(perm.narrow(0, start, std::min(options_.batch_size, size_ - start)));
    }
    return batches;
  }

 private:
  int64_t total_;  // anchors before sharding
  int64_t size_;   // anchors of this rank
  EpochSamplerOptions options_;
  torch::Device device_;
  torch::Tensor subset_;
};

}  // namespace selfsup::data
