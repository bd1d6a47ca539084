#pragma once
/// \file
/// pairs::Semantic: the partner is one of the anchor's listed semantic partners, two different
/// images of one class (Alkhalefi, Leontidis and Zhong, "Enhancing Self-Supervised Learning with
/// Semantic Pairs", 2025: curated pairs instead of two augmented views of one image).

#include <selfsup/data/pair_table.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/pairs/common.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace selfsup::pairs {

/// Which id PairBatch::groups carries for each anchor (false-negative masking, SupCon positives).
enum class SemanticGroups {
  automatic,    ///< table_class when the table has a class column, component otherwise
  table_class,  ///< the class column of the anchor's pairs
  component,    ///< the connected component of the pair graph: images linked by a chain of pairs
  label,        ///< the dataset's label (needs labels)
};

struct SemanticOptions {
  MissingPartner missing = MissingPartner::augment;  ///< anchors without a listed partner
  SemanticGroups groups = SemanticGroups::automatic;
  bool symmetric = true;   ///< a pair (a, b) also makes a a partner of b
  std::uint64_t seed = 0;  ///< seeds the partner draws
};

/// Draws each anchor's partner uniformly from its listed partners in a data::PairTable, on the
/// device, O(1) per anchor (the table is kept as a CSR adjacency). Requires `bind` before
/// `sample` (selfsup::Trainer calls it). Provides group ids (SemanticGroups): an anchor without
/// partners gets an id of its own (under table_class and component). Sources: PairKind::semantic
/// for a drawn partner (or the kind given to the constructor, e.g. mined), augmented for an
/// anchor that fell back to itself.
class Semantic {
 public:
  static constexpr bool provides_groups = true;

  Semantic() = default;
  explicit Semantic(data::PairTable table, const SemanticOptions& options = {},
                    PairKind kind = PairKind::semantic)
      : table_(std::move(table)), options_(options), kind_(kind), gens_(options.seed) {}

  /// Builds the adjacency and the group ids on the data's device; checks the table against the
  /// dataset (indices in range; at least one anchor covered).
  void bind(const DatasetInfo& info) {
    constexpr std::string_view fn = "selfsup::pairs::Semantic::bind";
    TORCH_CHECK(info.size > 0, fn, ": the dataset is empty");
    TORCH_CHECK(table_.size() > 0, fn, ": the pair table covers no anchor (it has no pairs); "
                "give Semantic a table, e.g. data::read_pair_table or data::make_synthetic_pairs");
    const auto lo = torch::minimum(table_.first.min(), table_.second.min()).item<int64_t>();
    const auto hi = torch::maximum(table_.first.max(), table_.second.max()).item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < info.size, fn, ": the pair table names image ", lo < 0 ? lo : hi,
                ", out of range for a dataset of ", info.size, " images; is it the table of "
                "another dataset or split?");
    device_ = info.device;
    adj_ = data::make_adjacency(table_, info.size, device_, options_.symmetric);
    degree_ = adj_.degree();                                                       // (N)
    const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(device_);
    auto own = torch::arange(info.size, lopt);
    auto mode = options_.groups;
    if (mode == SemanticGroups::automatic) {
      mode = table_.has_classes() ? SemanticGroups::table_class : SemanticGroups::component;
    }
    switch (mode) {
      case SemanticGroups::table_class: {
        TORCH_CHECK(table_.has_classes(), fn, ": groups = table_class, but the pair table has no "
                    "class column");
        // Ids past the largest class for anchors without partners, one each.
        const int64_t next = adj_.classes.numel() ? adj_.classes.max().item<int64_t>() + 1 : 0;
        auto first_edge = adj_.offsets.slice(0, 0, -1).clamp_max(std::max<int64_t>(adj_.edges() - 1, 0));
        auto cls = adj_.edges() ? adj_.classes.index_select(0, first_edge) : torch::zeros_like(own);
        groups_ = torch::where(degree_.gt(0), cls, own + next);
        break;
      }
      case SemanticGroups::component: groups_ = components(); break;
      case SemanticGroups::label:
        TORCH_CHECK(info.labels.defined(), fn, ": groups = label, but the dataset has no labels");
        groups_ = info.labels.to(device_);
        break;
      default: break;
    }
    TORCH_CHECK(degree_.gt(0).any().item<bool>(), fn, ": the pair table covers no anchor");
    bound_ = true;
  }

  /// With MissingPartner::leave_out: the anchors that have a partner, int64 on the data's
  /// device; otherwise undefined (every anchor).
  torch::Tensor eligible_anchors() const {
    detail::check_bound("selfsup::pairs::Semantic::eligible_anchors", bound_);
    if (options_.missing == MissingPartner::augment) return {};
    return degree_.gt(0).nonzero().flatten();
  }

  /// anchors int64 (B) on the data's device. No value is read back from the device.
  PairBatch sample(const torch::Tensor& anchors) {
    constexpr std::string_view fn = "selfsup::pairs::Semantic::sample";
    detail::check_bound(fn, bound_);
    detail::check_anchors(fn, anchors, device_);
    auto drawn = data::draw_partners(adj_, anchors, gens_.on(device_));
    PairBatch out;
    out.anchors = anchors;
    out.partners = drawn.partners;                                                 // (B)
    out.groups = groups_.index_select(0, anchors);                                 // (B)
    out.sources = detail::kinds(drawn.has_partner, kind_);                         // (B)
    return out;
  }

  const data::PairTable& table() const { return table_; }
  const data::PairAdjacency& adjacency() const { return adj_; }
  /// The group id of every image, int64 (N), after bind.
  const torch::Tensor& group_ids() const { return groups_; }
  const SemanticOptions& options() const { return options_; }

  void save(torch::serialize::OutputArchive& archive) const {
    detail::check_bound("selfsup::pairs::Semantic::save", bound_);
    gens_.save(archive);
  }
  void load(torch::serialize::InputArchive& archive) {
    detail::check_bound("selfsup::pairs::Semantic::load", bound_);
    gens_.load(archive);
  }

 private:
  // Connected components of the pair graph as the smallest index of each: replace every label by
  // the least label among the image and its partners, then jump pointers, until nothing changes
  // (a few passes; bind time only). The least neighbour label comes from sorting the edges by
  // (image, neighbour label): the first entry of each image's run.
  torch::Tensor components() const {
    const int64_t n = adj_.nodes();
    auto comp = torch::arange(n, adj_.offsets.options());
    if (adj_.edges() == 0) return comp;
    auto rows = torch::repeat_interleave(torch::arange(n, adj_.offsets.options()), degree_);  // (E)
    auto src = torch::cat({rows, adj_.partners});
    auto dst = torch::cat({adj_.partners, rows});
    while (true) {
      auto sorted = std::get<0>((src * n + comp.index_select(0, dst)).sort());
      auto image = sorted.div(n, "floor");
      auto label = sorted.remainder(n);
      auto first = torch::ones_like(image, torch::kBool);
      first.slice(0, 1).copy_(image.slice(0, 1).ne(image.slice(0, 0, -1)));
      auto at = image.masked_select(first);
      auto next = comp.clone();
      next.index_copy_(0, at, torch::minimum(comp.index_select(0, at), label.masked_select(first)));
      next = next.index_select(0, next);
      if (torch::equal(next, comp)) return comp;
      comp = next;
    }
  }

  data::PairTable table_;
  SemanticOptions options_;
  PairKind kind_ = PairKind::semantic;
  mutable selfsup::detail::DeviceGenerators gens_{0};
  torch::Device device_ = torch::kCPU;
  data::PairAdjacency adj_;
  torch::Tensor degree_, groups_;
  bool bound_ = false;
};

}  // namespace selfsup::pairs
