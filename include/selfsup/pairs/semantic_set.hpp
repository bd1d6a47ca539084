#pragma once
/// \file
/// pairs::SemanticSet: multi-positive sets for a SupCon-style loss. Each anchor brings its own
/// augmented views *and* some of its semantic partners into the batch, all under one group id, so
/// that a loss that treats same-group rows as positives (losses::SupCon) pulls the anchor towards
/// its augmented view and its semantic partners at once: SePP-ID's setting (Alkhalefi, Leontidis
/// and Zhong, "Semantic Positive Pairs for Enhancing Visual Representation Learning of
/// Instance Discrimination Methods", TMLR 2024), with SupCon's loss (Khosla et al., NeurIPS 2020).

#include <selfsup/data/pair_table.hpp>
#include <selfsup/pairs/common.hpp>
#include <selfsup/pairs/semantic.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace selfsup::pairs {

struct SemanticSetOptions {
  int64_t partners = 1;        ///< semantic partners drawn per anchor (with replacement), >= 1
  SemanticOptions semantic{};  ///< how the table is read: missing partners, group ids, seed
};

/// For B anchors, sample returns B · (1 + partners) rows: first the anchors, then for each draw
/// j the anchors' j-th drawn partners, every row a pair of two augmented views of its image
/// (partners == anchors). Every row carries its anchor's group id (SemanticGroups, from
/// SemanticOptions), so the anchor's views and its partners' views are all positives of each
/// other under a group-aware loss, and not negatives under negatives::InBatchMasked. Sources:
/// augmented for the anchor rows, semantic for partner rows (augmented where the anchor had no
/// partner and its row repeats the anchor). Note the batch the encoder sees grows by the factor
/// 1 + partners. Requires `bind` (the trainer calls it).
class SemanticSet {
 public:
  static constexpr bool provides_groups = true;

  SemanticSet() = default;
  explicit SemanticSet(data::PairTable table, const SemanticSetOptions& options = {})
      : inner_(std::move(table), options.semantic), partners_(options.partners) {
    TORCH_CHECK(partners_ >= 1, "selfsup::pairs::SemanticSet: partners must be >= 1, got ", partners_);
  }

  void bind(const DatasetInfo& info) { inner_.bind(info); }
  torch::Tensor eligible_anchors() const { return inner_.eligible_anchors(); }

  PairBatch sample(const torch::Tensor& anchors) {
    const int64_t b = anchors.size(0);
    auto repeated = anchors.repeat({partners_});                                   // (B·k)
    auto drawn = inner_.sample(repeated);
    auto rows = torch::cat({anchors, drawn.partners});                             // (B·(1+k))
    PairBatch out;
    out.anchors = rows;
    out.partners = rows;
    out.groups = drawn.groups.narrow(0, 0, b).repeat({1 + partners_});            // anchor's id
    out.sources = torch::cat({torch::full({b}, static_cast<int64_t>(PairKind::augmented),
                                          anchors.options().dtype(torch::kUInt8)),
                              drawn.sources});
    return out;
  }

  const Semantic& semantic() const { return inner_; }
  int64_t partners() const { return partners_; }

  void save(torch::serialize::OutputArchive& archive) const { inner_.save(archive); }
  void load(torch::serialize::InputArchive& archive) { inner_.load(archive); }

 private:
  Semantic inner_;
  int64_t partners_ = 1;
};

}  // namespace selfsup::pairs
