#pragma once
/// \file
/// pairs::SameLabel: the partner is a random other image of the anchor's label: semantic pairs
/// from labels (the supervised upper bound of semantic pairing; SupCon's positives, Khosla et al.,
/// NeurIPS 2020).

#include <selfsup/detail/random.hpp>
#include <selfsup/pairs/common.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::pairs {

struct SameLabelOptions {
  MissingPartner missing = MissingPartner::augment;  ///< anchors alone in their label, or unlabelled
  std::uint64_t seed = 0;                            ///< seeds the partner draws
};

/// Draws each anchor's partner uniformly among the *other* images with its label, on the device,
/// O(1) per anchor. Requires a dataset with labels (bind checks); a negative label means
/// "unlabelled" (STL-10's unlabeled split): such an anchor has no partner. Groups are the labels
/// (an unlabelled anchor gets an id of its own). Sources: same_label, or augmented for an anchor
/// that fell back to itself.
class SameLabel {
 public:
  static constexpr bool provides_groups = true;

  SameLabel() = default;
  explicit SameLabel(const SameLabelOptions& options) : options_(options), gens_(options.seed) {}

  void bind(const DatasetInfo& info) {
    constexpr std::string_view fn = "selfsup::pairs::SameLabel::bind";
    TORCH_CHECK(info.size > 0, fn, ": the dataset is empty");
    TORCH_CHECK(info.labels.defined(), fn, ": the dataset has no labels; SameLabel draws partners "
                "of the anchor's label (use pairs::Semantic with a pair table for unlabelled data)");
    TORCH_CHECK(info.labels.dim() == 1 && info.labels.numel() == info.size, fn, ": expected ",
                info.size, " labels, got shape ", info.labels.sizes());
    device_ = info.device;
    const int64_t n = info.size;
    auto labels = info.labels.to(device_, torch::kLong);                            // (N)
    const auto lopt = labels.options();
    auto own = torch::arange(n, lopt);
    const int64_t next = labels.max().item<int64_t>() + 1;
    auto labelled = labels.ge(0);
    // Images sorted by label, unlabelled ones in a block of their own at the end.
    auto key = torch::where(labelled, labels, torch::full({}, next, lopt));
    auto order = std::get<1>(key.sort(/*stable=*/true, 0, false));                 // (N)
    members_ = order;
    auto counts = torch::bincount(key, {}, next + 1);                               // (L + 1)
    auto starts = counts.cumsum(0) - counts;
    start_ = starts.index_select(0, key);                                          // (N)
    count_ = torch::where(labelled, counts.index_select(0, key), torch::zeros_like(key));
    position_ = torch::empty_like(own).index_copy_(0, order, own) - start_;        // (N)
    groups_ = torch::where(labelled, labels, own + next);
    TORCH_CHECK(count_.ge(2).any().item<bool>(), fn, ": no label has two images; SameLabel has "
                "no pair to draw");
    bound_ = true;
  }

  /// With MissingPartner::leave_out: anchors that share their label with another image.
  torch::Tensor eligible_anchors() const {
    detail::check_bound("selfsup::pairs::SameLabel::eligible_anchors", bound_);
    if (options_.missing == MissingPartner::augment) return {};
    return count_.ge(2).nonzero().flatten();
  }

  PairBatch sample(const torch::Tensor& anchors) {
    constexpr std::string_view fn = "selfsup::pairs::SameLabel::sample";
    detail::check_bound(fn, bound_);
    detail::check_anchors(fn, anchors, device_);
    auto count = count_.index_select(0, anchors);                                  // (B)
    auto pos = position_.index_select(0, anchors);
    auto has = count.ge(2);
    // Uniform among the count - 1 others: draw a slot and skip over the anchor's own.
    auto u = torch::rand({anchors.size(0)}, gens_.on(device_), anchors.options().dtype(torch::kFloat64));
    auto r = torch::minimum((u * (count - 1)).to(torch::kLong), count - 2).clamp_min_(0);
    r = r + r.ge(pos).to(torch::kLong);
    auto slot = torch::where(has, start_.index_select(0, anchors) + r, torch::zeros_like(r));
    PairBatch out;
    out.anchors = anchors;
    out.partners = torch::where(has, members_.index_select(0, slot), anchors);     // (B)
    out.groups = groups_.index_select(0, anchors);                                 // (B)
    out.sources = detail::kinds(has, PairKind::same_label);                        // (B)
    return out;
  }

  /// The group id of every image, int64 (N), after bind.
  const torch::Tensor& group_ids() const { return groups_; }

  void save(torch::serialize::OutputArchive& archive) const {
    detail::check_bound("selfsup::pairs::SameLabel::save", bound_);
    gens_.save(archive);
  }
  void load(torch::serialize::InputArchive& archive) {
    detail::check_bound("selfsup::pairs::SameLabel::load", bound_);
    gens_.load(archive);
  }

 private:
  SameLabelOptions options_;
  mutable selfsup::detail::DeviceGenerators gens_{0};
  torch::Device device_ = torch::kCPU;
  torch::Tensor members_;   // (N) image indices sorted by label
  torch::Tensor start_;     // (N) where the image's label block starts in members_
  torch::Tensor count_;     // (N) size of the image's label block (0 when unlabelled)
  torch::Tensor position_;  // (N) the image's position within its block
  torch::Tensor groups_;    // (N)
  bool bound_ = false;
};

}  // namespace selfsup::pairs
