#pragma once
/// \file
/// Budgets on a dataset: a seeded, class-balanced subset of K images per class, the dataset
/// restricted to it, and a pair table of the full split remapped to the subset's indices.

#include <selfsup/data/in_memory.hpp>
#include <selfsup/data/pair_table.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/torch_compat.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace selfsup::data {

/// `per_class` indices of every class of `labels` (int64 (N); negative labels, e.g. STL-10's
/// unlabeled images, are never chosen), drawn at random with `seed`: int64 (C · per_class),
/// ascending, on the CPU. The same labels and seed give the same subset. A class with fewer than
/// `per_class` images is an error (std::invalid_argument) naming `option` (e.g. "--per-class"),
/// the value, the class and its count.
inline torch::Tensor class_balanced_subset(const torch::Tensor& labels, int64_t per_class, std::uint64_t seed,
                                           std::string_view option = "per_class") {
  constexpr std::string_view fn = "selfsup::data::class_balanced_subset";
  selfsup::detail::check_dim(fn, "labels", labels, 1);
  TORCH_CHECK(labels.scalar_type() == torch::kLong, fn, ": labels must be int64, got ", labels.scalar_type());
  if (per_class < 1) {
    throw std::invalid_argument(fmt::format("{}: {} must be at least 1, got {}", fn, option, per_class));
  }
  const auto y = labels.cpu();
  const auto labelled = torch::nonzero(y >= 0).flatten();  // (L)
  if (labelled.numel() == 0) throw std::invalid_argument(fmt::format("{}: the split has no labelled images", fn));
  const int64_t classes = y.max().item<int64_t>() + 1;
  const auto counts = torch::bincount(y.index_select(0, labelled), {}, classes);  // (C)
  const auto present = counts > 0;
  const auto smallest = torch::where(present, counts, counts.max() + 1).argmin().item<int64_t>();
  const int64_t fewest = counts[smallest].item<int64_t>();
  if (per_class > fewest) {
    throw std::invalid_argument(fmt::format(
        "{}: {} {} exceeds the {} images of class {} (the smallest of the {} classes of the training split, {} "
        "images in all); choose {} {} or less",
        fn, option, per_class, fewest, smallest, present.sum().item<int64_t>(), labelled.numel(), option, fewest));
  }
  // A seeded permutation, then a stable sort by class: each class's first `per_class` in
  // permuted order are a uniform draw without replacement.
  auto generator = selfsup::detail::make_generator(torch::kCPU, seed);
  const auto order = labelled.index_select(0, torch::randperm(labelled.numel(), generator, torch::kLong));
  const auto by_class = std::get<1>(torch::sort(y.index_select(0, order), /*stable=*/true, 0, false));
  const auto sorted = order.index_select(0, by_class);                       // (L) grouped by class
  const auto sorted_labels = y.index_select(0, sorted);
  const auto starts = torch::cumsum(counts, 0) - counts;                     // (C)
  const auto rank = torch::arange(sorted.numel(), torch::kLong) - starts.index_select(0, sorted_labels);
  return std::get<0>(torch::sort(sorted.masked_select(rank < per_class)));
}

/// `data` restricted to `indices` (int64 positions), in that order, on its device.
inline InMemoryDataset subset(const InMemoryDataset& data, const torch::Tensor& indices) {
  const auto i = indices.to(data.device(), torch::kLong);
  InMemoryDataset out{data.all_images().index_select(0, i),
                      data.has_labels() ? data.all_labels().index_select(0, i) : torch::Tensor{}};
  if (!data.has_sources()) return out;
  // Views of the subset's image k are cut from the source of the dataset's image indices[k].
  return out.with_sources([data, i](const torch::Tensor& which) {
    return *data.sources(i.index_select(0, which.to(i.device())));
  });
}

struct RemappedPairs {
  PairTable table;      ///< the pairs with both images in the subset, in the subset's indices
  int64_t dropped = 0;  ///< pairs with an image outside the subset
};

/// A pair table of a split of `dataset_size` images, remapped to the subset at `indices` (the
/// position of each kept image in the subset): pairs with an image outside the subset dropped.
inline RemappedPairs remap_pairs(const PairTable& table, const torch::Tensor& indices, int64_t dataset_size) {
  constexpr std::string_view fn = "selfsup::data::remap_pairs";
  selfsup::detail::check_dim(fn, "indices", indices, 1);
  const auto device = table.device();
  const auto kept = indices.to(device, torch::kLong);
  TORCH_CHECK(kept.numel() == 0 || (kept.min().item<int64_t>() >= 0 && kept.max().item<int64_t>() < dataset_size),
              fn, ": indices must lie in [0, ", dataset_size, ")");
  if (table.size() == 0) return {table, 0};
  const auto opt = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto position = torch::full({dataset_size}, -1, opt).index_put_({kept}, torch::arange(kept.numel(), opt));
  const auto first = position.index_select(0, table.first), second = position.index_select(0, table.second);
  const auto keep = torch::nonzero((first >= 0).logical_and(second >= 0)).flatten();
  RemappedPairs out;
  out.table.first = first.index_select(0, keep);
  out.table.second = second.index_select(0, keep);
  if (table.has_classes()) out.table.classes = table.classes.index_select(0, keep);
  out.table.class_names = table.class_names;
  out.dropped = table.size() - keep.numel();
  return out;
}

}  // namespace selfsup::data
