#pragma once
/// \file
/// Mined semantic pairs: SePP-ID's semantic sampler (Alkhalefi, Leontidis and Zhong, "Semantic
/// Positive Pairs for Enhancing Visual Representation Learning of Instance Discrimination
/// Methods", TMLR 2024). Embed the dataset with a (pretrained) encoder, take each image's k most
/// cosine-similar images, optionally only mutual neighbours and only above a similarity
/// threshold, and emit the pairs as a data::PairTable; pairs::Mined then draws from it like
/// pairs::Semantic. Where labels exist, the table's precision (pairs whose two images share a
/// label) says how clean the mined positives are.

#include <selfsup/concepts.hpp>
#include <selfsup/data/pair_table.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/cosine_neighbours.hpp>
#include <selfsup/data/embed.hpp>
#include <selfsup/pairs/semantic.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace selfsup::pairs {

struct MineOptions {
  int64_t k = 5;            ///< neighbours per image, >= 1
  bool mutual = false;      ///< keep (i, j) only when each is among the other's k nearest
  double threshold = -1.0;  ///< keep only pairs with cosine similarity >= threshold (-1: all)
  int64_t block = 1024;     ///< rows compared with the whole set at once (memory O(block · N))
};

struct MinedPairs {
  data::PairTable table;       ///< unordered pairs (first < second), no repeats
  torch::Tensor similarity;    ///< float32 (P): cosine similarity of each pair
  double precision = std::numeric_limits<double>::quiet_NaN();  ///< share of pairs with equal
                                                                ///< labels; NaN without labels
};

/// Fraction of the table's pairs whose two images share a label (labels int64 (N), any device).
inline double pair_precision(const data::PairTable& table, const torch::Tensor& labels) {
  constexpr std::string_view fn = "selfsup::pairs::pair_precision";
  selfsup::detail::check_dim(fn, "labels", labels, 1);
  TORCH_CHECK(table.size() > 0, fn, ": the pair table is empty");
  auto y = labels.to(table.device());
  return y.index_select(0, table.first).eq(y.index_select(0, table.second))
      .to(torch::kFloat64).mean().item<double>();
}

/// Mines pairs from features (N, F) (any floating dtype and device; compared by cosine).
/// labels int64 (N) or undefined: with labels, MinedPairs::precision is filled.
inline MinedPairs mine_pairs(const torch::Tensor& features, const MineOptions& options = {},
                             const torch::Tensor& labels = {}) {
  constexpr std::string_view fn = "selfsup::pairs::mine_pairs";
  selfsup::detail::check_dim(fn, "features", features, 2);
  selfsup::detail::check_floating(fn, "features", features);
  const int64_t n = features.size(0);
  TORCH_CHECK(n >= 2, fn, ": needs at least 2 images, got ", n);
  TORCH_CHECK(options.k >= 1 && options.block >= 1, fn, ": k and block must be >= 1, got ",
              options.k, " and ", options.block);
  TORCH_CHECK(options.threshold >= -1.0 && options.threshold <= 1.0, fn,
              ": threshold must be a cosine similarity in [-1, 1], got ", options.threshold);
  if (labels.defined()) {
    selfsup::detail::check_dim(fn, "labels", labels, 1);
    TORCH_CHECK(labels.size(0) == n, fn, ": ", n, " feature rows but ", labels.size(0), " labels");
  }
  TORCH_CHECK(torch::isfinite(features).all().item<bool>(), fn,
              ": the features hold NaN or infinite values (non-finite weights, or a diverged run)");
  const auto f = selfsup::detail::unit_rows(features);
  selfsup::detail::require_directions_differ(fn, f);
  const int64_t k = std::min(options.k, n - 1);
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(f.device());
  const auto [knn, knn_sim] = selfsup::detail::cosine_neighbours(f, f, k, options.block, /*exclude_self=*/true);
  auto i = torch::arange(n, lopt).repeat_interleave(k);                           // (N·k)
  auto j = knn.flatten();
  auto s = knn_sim.flatten();
  auto keep = s.ge(options.threshold);
  if (options.mutual) keep &= knn.index_select(0, j).eq(i.unsqueeze(1)).any(1);
  i = i.masked_select(keep);
  j = j.masked_select(keep);
  s = s.masked_select(keep);
  // Unordered pairs without repeats (i's neighbour j and j's neighbour i are one pair).
  auto key = torch::minimum(i, j) * n + torch::maximum(i, j);
  auto [sorted, order] = key.sort();
  auto first_of_run = torch::ones_like(sorted, torch::kBool);
  if (sorted.numel() > 1) first_of_run.slice(0, 1).copy_(sorted.slice(0, 1).ne(sorted.slice(0, 0, -1)));
  auto unique_key = sorted.masked_select(first_of_run);
  MinedPairs out;
  out.table.first = unique_key.div(n, "floor");
  out.table.second = unique_key.remainder(n);
  out.similarity = s.index_select(0, order.masked_select(first_of_run));
  if (labels.defined() && out.table.size() > 0) out.precision = pair_precision(out.table, labels);
  return out;
}

/// Embeds `data` with `encoder` (data::embed: backbone features, evaluation mode, no gradients)
/// and mines pairs from them; precision against the data's labels when it has any.
template <class E, class D>
MinedPairs mine_pairs(E& encoder, const D& data, const MineOptions& options = {}) {
  static_assert(Encoder<E>, "selfsup::pairs::mine_pairs: the encoder must satisfy selfsup::Encoder");
  static_assert(Dataset<D>, "selfsup::pairs::mine_pairs: the data must satisfy selfsup::Dataset");
  auto all = torch::arange(static_cast<int64_t>(data.size()),
                           torch::TensorOptions().dtype(torch::kLong).device(data.device()));
  return mine_pairs(data::embed(encoder, data), options, data.labels(all));
}

/// Draws partners from a mined table, like pairs::Semantic (same options), with sources marked
/// PairKind::mined. SePP-ID adds mined pairs to augmented ones: `Mixed<Mined, Augmented>`, or
/// MissingPartner::augment for images without a mined partner.
class Mined {
 public:
  static constexpr bool provides_groups = true;

  Mined() = default;
  explicit Mined(const MinedPairs& mined, const SemanticOptions& options = {})
      : inner_(mined.table, options, PairKind::mined), precision_(mined.precision) {}
  explicit Mined(data::PairTable table, const SemanticOptions& options = {})
      : inner_(std::move(table), options, PairKind::mined) {}

  void bind(const DatasetInfo& info) { inner_.bind(info); }
  torch::Tensor eligible_anchors() const { return inner_.eligible_anchors(); }
  PairBatch sample(const torch::Tensor& anchors) { return inner_.sample(anchors); }

  /// The mined table's precision against labels (NaN when unknown).
  double precision() const { return precision_; }
  const Semantic& semantic() const { return inner_; }

  void save(torch::serialize::OutputArchive& archive) const { inner_.save(archive); }
  void load(torch::serialize::InputArchive& archive) { inner_.load(archive); }

 private:
  Semantic inner_;
  double precision_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace selfsup::pairs
