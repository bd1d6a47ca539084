#pragma once
/// \file
/// pairs::Mixed<A, B>: each anchor takes its partner from source A with probability p, otherwise
/// from B: the ratio ablation of semantic to augmented pairs (Alkhalefi et al., 2025), and
/// SePP-ID's mined pairs added to augmented ones (Alkhalefi, Leontidis and Zhong, TMLR 2024).

#include <selfsup/concepts.hpp>
#include <selfsup/detail/random.hpp>
#include <selfsup/pairs/common.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace selfsup::pairs {

struct MixedOptions {
  double p = 0.5;          ///< probability that an anchor's pair comes from A, in [0, 1]
  std::uint64_t seed = 0;  ///< seeds the per-anchor choice
};

/// Both sources sample every batch (cheap: index gathers) and a seeded per-anchor coin picks one.
/// Requires A and B to be pair sources without an embedding hook (`on_embeddings`). Groups: A's
/// when A provides them, else B's (a group describes the anchor, whichever source gave the pair).
/// Sources: those of the source that was picked. Eligible anchors: the union of A's and B's
/// (every anchor when either takes all); an anchor drawn for a source that has no partner for it
/// gets that source's fallback (itself).
template <class A, class B>
class Mixed {
  static_assert(PairSource<A> && PairSource<B>,
                "selfsup::pairs::Mixed<A, B>: A and B must be pair sources (selfsup::PairSource)");
  static_assert(contract::pair_source_optional<A>() && contract::pair_source_optional<B>());
  static_assert(!contract::on_embeddings<A>::present && !contract::on_embeddings<B>::present,
                "selfsup::pairs::Mixed<A, B>: sources with an embedding hook (NearestNeighbour) "
                "cannot be mixed per anchor");

 public:
  static constexpr bool provides_groups = A::provides_groups || B::provides_groups;

  Mixed() = default;
  Mixed(A a, B b, const MixedOptions& options = {})
      : a_(std::move(a)), b_(std::move(b)), options_(options), gens_(options.seed) {
    check_options();
  }
  explicit Mixed(const MixedOptions& options) : options_(options), gens_(options.seed) {
    check_options();
  }

  A& first() { return a_; }
  B& second() { return b_; }
  const MixedOptions& options() const { return options_; }

  void bind(const DatasetInfo& info) {
    if constexpr (contract::bind<A>::valid) a_.bind(info);
    if constexpr (contract::bind<B>::valid) b_.bind(info);
    device_ = info.device;
  }

  torch::Tensor eligible_anchors() const {
    torch::Tensor ea, eb;
    if constexpr (contract::eligible_anchors<A>::valid) ea = a_.eligible_anchors();
    if constexpr (contract::eligible_anchors<B>::valid) eb = b_.eligible_anchors();
    if (!ea.defined() || !eb.defined()) return {};
    return std::get<0>(torch::unique_consecutive(std::get<0>(torch::cat({ea, eb}).sort())));
  }

  PairBatch sample(const torch::Tensor& anchors) {
    constexpr std::string_view fn = "selfsup::pairs::Mixed::sample";
    selfsup::detail::check_dim(fn, "anchors", anchors, 1);
    PairBatch x = a_.sample(anchors), y = b_.sample(anchors);
    TORCH_CHECK(x.sources.defined() && y.sources.defined(), fn, ": both sources must fill "
                "PairBatch::sources");
    auto coin = torch::rand({anchors.size(0)}, gens_.on(anchors.device()),
                            anchors.options().dtype(torch::kFloat64))
                    .lt(options_.p);                                               // (B) bool
    PairBatch out;
    out.anchors = anchors;
    out.partners = torch::where(coin, x.partners, y.partners);
    out.sources = torch::where(coin, x.sources, y.sources);
    if constexpr (A::provides_groups) out.groups = x.groups;
    else if constexpr (B::provides_groups) out.groups = y.groups;
    return out;
  }

  void after_step(const LossInput& in) {
    if constexpr (contract::after_step<A>::valid) a_.after_step(in);
    if constexpr (contract::after_step<B>::valid) b_.after_step(in);
  }

  /// A's and B's state in sub-archives "a" and "b", and the coin's generator.
  void save(torch::serialize::OutputArchive& archive) const {
    torch::serialize::OutputArchive sa, sb;
    if constexpr (contract::save<A>::valid) a_.save(sa);
    if constexpr (contract::save<B>::valid) b_.save(sb);
    archive.write("a", sa);
    archive.write("b", sb);
    gens_.save(archive);
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::serialize::InputArchive sa, sb;
    archive.read("a", sa);
    archive.read("b", sb);
    if constexpr (contract::load<A>::valid) a_.load(sa);
    if constexpr (contract::load<B>::valid) b_.load(sb);
    gens_.load(archive);
  }

 private:
  void check_options() const {
    TORCH_CHECK(options_.p >= 0.0 && options_.p <= 1.0, "selfsup::pairs::Mixed: p must be in "
                "[0, 1], got ", options_.p);
  }

  A a_{};
  B b_{};
  MixedOptions options_;
  mutable selfsup::detail::DeviceGenerators gens_{0};
  torch::Device device_ = torch::kCPU;
};

}  // namespace selfsup::pairs
