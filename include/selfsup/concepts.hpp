#pragma once
/// \file
/// One concept per role of a training step. A type written by a user that satisfies the concept
/// plugs into selfsup::Recipe and selfsup::Trainer without touching the library. Recipe checks
/// each requirement separately and names the missing member in its error message.

#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <concepts>
#include <cstdint>
#include <vector>

namespace selfsup {

/// A random-access image collection.
///   d.size()           -> int64_t        number of images
///   d.images(indices)  -> torch::Tensor  uint8 (B, C, H, W) on d.device(); `indices` int64 (B)
///   d.labels(indices)  -> torch::Tensor  int64 (B), or an undefined tensor without labels
///   d.device()         -> torch::Device  where images are returned
template <class D>
concept Dataset = requires(const D& d, const torch::Tensor& indices) {
  { d.size() } -> std::convertible_to<int64_t>;
  { d.images(indices) } -> std::same_as<torch::Tensor>;
  { d.labels(indices) } -> std::same_as<torch::Tensor>;
  { d.device() } -> std::convertible_to<torch::Device>;
};

/// Turns a batch of raw images into one view each, in one batched call on the input's device.
///   v(images) -> torch::Tensor   images uint8 or float (B, C, H, W); result float (B, C, h, w)
/// The same generator is applied independently to both sides of a pair.
template <class V>
concept ViewGenerator = requires(V& v, const torch::Tensor& images) {
  { v(images) } -> std::same_as<torch::Tensor>;
};

/// Different view generators for the two sides of a pair (BYOL's asymmetric views, or no
/// augmentation on semantic partners).
///   v.first(images)  -> torch::Tensor   views of the anchors
///   v.second(images) -> torch::Tensor   views of the partners
template <class V>
concept ViewPairGenerator = requires(V& v, const torch::Tensor& images) {
  { v.first(images) } -> std::same_as<torch::Tensor>;
  { v.second(images) } -> std::same_as<torch::Tensor>;
};

/// What a Recipe's view slot accepts.
template <class V>
concept Views = ViewGenerator<V> || ViewPairGenerator<V>;

/// Picks each anchor's partner.
///   P::provides_groups       static constexpr bool: whether PairBatch::groups is filled
///   p.sample(anchors)        -> PairBatch   anchors int64 (B) on the training device
/// Optional, detected at compile time:
///   p.bind(const DatasetInfo&)               once before training (labels, dataset size)
///   p.eligible_anchors() -> torch::Tensor    after bind: int64 indices of the anchors an epoch
///                                            draws from (undefined: all), e.g. only anchors
///                                            that have a semantic partner
///   p.on_embeddings(LossInput&, const PairBatch&)   after the encoder, before the loss
///                                            (NNCLR swaps in a support-set neighbour)
///   p.after_step(const LossInput&)           after the optimiser step
template <class P>
concept PairSource = requires(P& p, const torch::Tensor& anchors) {
  { P::provides_groups } -> std::convertible_to<bool>;
  { p.sample(anchors) } -> std::same_as<PairBatch>;
};

/// What each anchor is contrasted against.
///   N::provides_negatives    static constexpr bool: false only for "no negatives"
///   N::needs_groups          static constexpr bool: whether it reads PairBatch::groups
///   n.negatives(const LossInput&, const PairBatch&) -> NegativeSet
/// Optional:
///   N::provides_bank         static constexpr bool: hands the loss NegativeSet::bank (a queue)
///   n.after_step(const LossInput&)           after the optimiser step (enqueue keys)
template <class N>
concept NegativeStrategy = requires(N& n, const LossInput& in, const PairBatch& pairs) {
  { N::provides_negatives } -> std::convertible_to<bool>;
  { N::needs_groups } -> std::convertible_to<bool>;
  { n.negatives(in, pairs) } -> std::same_as<NegativeSet>;
};

/// The training objective.
///   L::contrastive           static constexpr bool: true when it consumes negatives
///   l(const LossInput&)      -> torch::Tensor   a 0-dim differentiable tensor
/// Optional:
///   L::needs_bank            static constexpr bool: contrasts against NegativeSet::bank
///   l.after_step(const LossInput&)
template <class L>
concept Loss = requires(L& l, const LossInput& in) {
  { L::contrastive } -> std::convertible_to<bool>;
  { l(in) } -> std::same_as<torch::Tensor>;
};

/// Per-run state (a queue, a support set) is saved and restored with checkpoints through two
/// optional members of any policy:
///   p.save(torch::serialize::OutputArchive&) const
///   p.load(torch::serialize::InputArchive&)

/// A module holder (LibTorch's `TORCH_MODULE` pattern) for backbone + projector.
///   e->forward(x)     -> torch::Tensor   projections (B, D) that the loss consumes
///   e->features(x)    -> torch::Tensor   backbone representation (B, F) for evaluation
///   e->parameters()   -> std::vector<torch::Tensor>
///   e->train(bool), e->to(torch::Device)
template <class E>
concept Encoder = requires(E& e, const torch::Tensor& x, const torch::Device& device) {
  { e->forward(x) } -> std::same_as<torch::Tensor>;
  { e->features(x) } -> std::same_as<torch::Tensor>;
  { e->parameters() } -> std::same_as<std::vector<torch::Tensor>>;
  e->train(true);
  e->to(device);
};

}  // namespace selfsup
