#pragma once
/// \file
/// pairs::NearestNeighbour: NNCLR's support set (Dwibedi et al., "With a Little Help from My
/// Friends: Nearest-Neighbor Contrastive Learning of Visual Representations", ICCV 2021). The
/// positive's embedding is replaced by its nearest neighbour in a FIFO of past embeddings, so the
/// positive is a *different* image that the model already finds similar: semantic pairs without
/// labels or a table, found in embedding space during training.

#include <selfsup/detail/check.hpp>
#include <selfsup/pairs/common.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace selfsup::pairs {

struct NearestNeighbourOptions {
  int64_t support_size = 16384;  ///< embeddings kept (NNCLR used 98,304 on ImageNet), >= 1
};

/// sample: two augmented views of each anchor (sources: neighbour). on_embeddings: replaces each
/// row of `in.z1` (the partner view's projection) by its cosine nearest neighbour in the support
/// set, L2-normalised and without gradient, so the loss contrasts the anchor's view z0 with
/// NN(z1): NNCLR's term NN(zᵢ)·zᵢ⁺ with the two views of image i in swapped roles (NNCLR looks up
/// the embedding of one view of the image itself and contrasts the neighbour with the other
/// view). While the support set is empty, z1 is left as it is. after_step: enqueues the
/// normalised, detached anchor views z0 of the step (the newest replace the oldest). With dataset
/// labels, it counts how often the neighbour's label equals the anchor's
/// (neighbour_label_agreement; read back only when asked). No value is read back in the hooks.
class NearestNeighbour {
 public:
  static constexpr bool provides_groups = false;

  NearestNeighbour() = default;
  explicit NearestNeighbour(const NearestNeighbourOptions& options) : options_(options) {
    TORCH_CHECK(options.support_size >= 1, "selfsup::pairs::NearestNeighbour: support_size must "
                "be >= 1, got ", options.support_size);
  }

  void bind(const DatasetInfo& info) {
    device_ = info.device;
    labels_ = info.labels.defined() ? info.labels.to(device_, torch::kLong) : torch::Tensor{};
  }

  PairBatch sample(const torch::Tensor& anchors) {
    constexpr std::string_view fn = "selfsup::pairs::NearestNeighbour::sample";
    selfsup::detail::check_dim(fn, "anchors", anchors, 1);
    TORCH_CHECK(anchors.scalar_type() == torch::kLong, fn, ": anchors must be int64, got ",
                anchors.scalar_type());
    PairBatch out;
    out.anchors = anchors;
    out.partners = anchors;
    out.sources = torch::full({anchors.size(0)}, static_cast<int64_t>(PairKind::neighbour),
                              anchors.options().dtype(torch::kUInt8));
    return out;
  }

  void on_embeddings(LossInput& in, const PairBatch& pairs) {
    constexpr std::string_view fn = "selfsup::pairs::NearestNeighbour::on_embeddings";
    selfsup::detail::check_dim(fn, "z1", in.z1, 2);
    pending_labels_ = labels_.defined() ? labels_.index_select(0, pairs.anchors.to(labels_.device()))
                                        : torch::Tensor{};
    if (filled_ == 0) return;
    TORCH_CHECK(in.z1.size(1) == queue_.size(1), fn, ": embeddings have width ", in.z1.size(1),
                " but the support set holds width ", queue_.size(1));
    auto support = queue_.narrow(0, 0, filled_);                                   // (K, D)
    auto index = normalise(in.z1).mm(support.t()).argmax(1);                       // (B)
    in.z1 = support.index_select(0, index).to(in.z1.scalar_type());                // (B, D)
    if (pending_labels_.defined()) {
      auto agree = queue_labels_.narrow(0, 0, filled_).index_select(0, index).eq(pending_labels_);
      agree_ = agree_.defined() ? agree_ + agree.sum() : agree.sum();
      looked_up_ += index.size(0);
    }
  }

  void after_step(const LossInput& in) {
    constexpr std::string_view fn = "selfsup::pairs::NearestNeighbour::after_step";
    selfsup::detail::check_dim(fn, "z0", in.z0, 2);
    auto z = normalise(in.z0);                                                     // (B, D)
    const int64_t b = z.size(0), k = options_.support_size;
    if (!queue_.defined()) {
      queue_ = torch::zeros({k, z.size(1)}, z.options());
      queue_labels_ = torch::full({k}, -1, z.options().dtype(torch::kLong));
    }
    auto labels = pending_labels_.defined() && pending_labels_.size(0) == b
                      ? pending_labels_
                      : torch::full({b}, -1, queue_labels_.options());
    pending_labels_ = torch::Tensor();
    const int64_t take = std::min(b, k);  // a batch larger than the set: only its last rows fit
    z = z.narrow(0, b - take, take);
    labels = labels.narrow(0, b - take, take);
    auto slots = (torch::arange(take, queue_labels_.options()) + next_).remainder(k);
    queue_.index_copy_(0, slots, z);
    queue_labels_.index_copy_(0, slots, labels);
    next_ = (next_ + take) % k;
    filled_ = std::min(k, filled_ + take);
  }

  /// Share of lookups whose neighbour had the anchor's label since the last reset (NaN when
  /// there were none, or the data has no labels). Reads one value back from the device.
  double neighbour_label_agreement() const {
    if (looked_up_ == 0) return std::numeric_limits<double>::quiet_NaN();
    return agree_.item<double>() / static_cast<double>(looked_up_);
  }
  void reset_agreement() {
    agree_ = torch::Tensor();
    looked_up_ = 0;
  }

  /// The filled part of the support set, (filled, D), normalised.
  torch::Tensor support_set() const {
    return queue_.defined() ? queue_.narrow(0, 0, filled_) : torch::Tensor{};
  }
  int64_t filled() const { return filled_; }

  void save(torch::serialize::OutputArchive& archive) const {
    archive.write("queue", queue_.defined() ? queue_ : torch::empty({0}));
    archive.write("queue_labels", queue_labels_.defined() ? queue_labels_ : torch::empty({0}, torch::kLong));
    archive.write("next", torch::tensor(next_));
    archive.write("filled", torch::tensor(filled_));
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor q, ql, next, filled;
    archive.read("queue", q);
    archive.read("queue_labels", ql);
    archive.read("next", next);
    archive.read("filled", filled);
    TORCH_CHECK(q.numel() == 0 || q.size(0) == options_.support_size,
                "selfsup::pairs::NearestNeighbour::load: the checkpoint's support set holds ",
                q.size(0), " rows, this source ", options_.support_size);
    queue_ = q.numel() ? q.to(device_) : torch::Tensor{};
    queue_labels_ = q.numel() ? ql.to(device_) : torch::Tensor{};
    next_ = next.item<int64_t>();
    filled_ = filled.item<int64_t>();
  }

 private:
  static torch::Tensor normalise(const torch::Tensor& z) {
    namespace F = torch::nn::functional;
    return F::normalize(z.detach(), F::NormalizeFuncOptions().dim(1));
  }

  NearestNeighbourOptions options_;
  torch::Device device_ = torch::kCPU;
  torch::Tensor labels_;          // (N) or undefined
  torch::Tensor queue_;           // (K, D)
  torch::Tensor queue_labels_;    // (K), -1 where unknown
  torch::Tensor pending_labels_;  // labels of the current step's anchors
  torch::Tensor agree_;           // 0-dim count on the device
  int64_t looked_up_ = 0, next_ = 0, filled_ = 0;
};

}  // namespace selfsup::pairs
