#pragma once
/// \file
/// The values that flow between the roles of one training step (see concepts.hpp).

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace selfsup {

/// What a dataset tells a pair source before training (PairSource's optional `bind`).
struct DatasetInfo {
  int64_t size = 0;            ///< number of images
  torch::Tensor labels;        ///< int64 (size), on `device`; undefined when the data has no labels
  torch::Device device = torch::kCPU;
};

/// Which source produced a pair (PairBatch::sources).
enum class PairKind : uint8_t { augmented = 0, semantic = 1, same_label = 2, mined = 3, neighbour = 4 };

/// A batch of positive pairs as dataset indices, all tensors of length B on the training device.
struct PairBatch {
  torch::Tensor anchors;   ///< int64 (B): the first image of each pair
  torch::Tensor partners;  ///< int64 (B): the second image; the same tensor as `anchors` for two
                           ///< augmented views of one image
  torch::Tensor groups;    ///< int64 (B) semantic group ids (a label, a pair-table class), or
                           ///< undefined; samples with equal ids are not negatives of each other
  torch::Tensor sources;   ///< uint8 (B) PairKind of each pair, or undefined
};

/// What a negative strategy hands to the loss.
struct NegativeSet {
  bool in_batch = false;   ///< contrast each anchor with the other samples of the batch
  torch::Tensor bank;      ///< (K, D) extra negatives (a MoCo queue), or undefined
  torch::Tensor groups;    ///< int64 (B): in-batch samples with equal ids are not contrasted
                           ///< (false-negative masking), or undefined
};

/// The multi-crop views of one batch of B pairs (views::MultiCrop): the global views are those
/// every network sees, the local ones only the online (student) network.
struct MultiCropViews {
  torch::Tensor global;  ///< float32 (2, B, C, G, G): view 0 of each anchor, view 1 of its partner
  torch::Tensor local;   ///< float32 (k, B, C, L, L); (0, B, ...) when k = 0
};

/// Everything a loss may read in one step. Rows of every (B, D) tensor are aligned with the
/// PairBatch: row i of `z0` embeds the anchor's view, row i of `z1` its partner's view.
struct LossInput {
  torch::Tensor z0, z1;    ///< online projections (B, D)
  torch::Tensor p0, p1;    ///< online predictions (B, D) (BYOL, SimSiam), or undefined
  torch::Tensor t0, t1;    ///< momentum-target projections (B, D), or undefined
  torch::Tensor groups;    ///< int64 (B) semantic group ids from the pair source, or undefined
  std::vector<torch::Tensor> local;  ///< online projections (B, D) of the local views of a
                                     ///< multi-crop generator, in view order; empty otherwise
  torch::Tensor prototypes;  ///< (K, D) the encoder's prototypes (SwAV), with gradient, or undefined
  NegativeSet negatives;
};

}  // namespace selfsup
