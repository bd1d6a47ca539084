#pragma once
/// \file
/// Candidate semantic pairs for a reviewer, mined from a backbone's features: each image's k
/// nearest neighbours by cosine similarity (as pairs::mine_pairs, SePP-ID), with what a reviewer
/// and a curator need beside each pair: the partner's rank in the anchor's list and the anchor's
/// in the partner's, the distance relative to the dataset's median nearest-neighbour distance,
/// and each image's k-occurrence (hubs: images many others list). Caps per image and per hub
/// keep a few images from filling the review. The file: curate/candidates_file.hpp.

#include <selfsup/curate/agreement.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/cosine_neighbours.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string_view>
#include <vector>

namespace selfsup::curate {

struct CandidateOptions {
  std::int64_t k = 10;             ///< neighbours per image, >= 1 (at most N - 1 are used)
  bool mutual = false;             ///< keep a pair only when each image is among the other's k nearest
  double threshold = -1.0;         ///< keep pairs with cosine similarity >= this (-1: all)
  std::int64_t max_per_image = 0;  ///< at most this many pairs hold any one image (0: no cap)
  std::int64_t max_per_hub = 0;    ///< at most this many anchors may pair with one neighbour (0: no cap)
  std::int64_t block = 1024;       ///< rows compared with all images at once (memory: block x N floats)
};

/// Mined candidates, in order of anchor (`first`) and rank; all vectors of one length P but
/// k_occurrence (one per image).
struct MinedCandidates {
  std::vector<std::int64_t> first, second;  ///< dataset indices; `first` is the anchor
  std::vector<double> cosine;
  std::vector<std::int64_t> rank;           ///< second's place in first's list (1 = nearest)
  std::vector<std::int64_t> partner_rank;   ///< first's place in second's list, 0 when absent
  std::vector<double> relative_distance;    ///< (1 - cosine) / median_nn_distance
  std::vector<std::int64_t> k_occurrence;   ///< per image: how many images list it (N)
  double median_nn_distance = 0.0;          ///< median over images of 1 - cosine to the nearest
  std::int64_t images = 0;
  std::int64_t k = 0;                       ///< neighbours per image used
  std::int64_t before_caps = 0;             ///< pairs before max_per_image and max_per_hub
  Hubness hubness{};                        ///< of k_occurrence

  std::int64_t size() const { return static_cast<std::int64_t>(first.size()); }
};

/// Mines candidates from features (N, F): any floating dtype and device, compared by cosine.
/// Every unordered pair appears once: as anchor -> neighbour when only one lists the other, from
/// the smaller index when both do (mutual). With caps, pairs are kept greedily in order of
/// decreasing similarity while both images stay within max_per_image and the neighbour within
/// max_per_hub.
inline MinedCandidates mine_candidates(const torch::Tensor& features, const CandidateOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::curate::mine_candidates";
  selfsup::detail::check_dim(fn, "features", features, 2);
  selfsup::detail::check_floating(fn, "features", features);
  const std::int64_t n = features.size(0);
  TORCH_CHECK(n >= 2, fn, ": needs at least 2 images, got ", n);
  TORCH_CHECK(options.k >= 1 && options.block >= 1, fn, ": k and block must be >= 1, got ", options.k, " and ",
              options.block);
  TORCH_CHECK(options.max_per_image >= 0 && options.max_per_hub >= 0, fn, ": the caps must be >= 0 (0: none), got ",
              options.max_per_image, " and ", options.max_per_hub);
  TORCH_CHECK(options.threshold >= -1.0 && options.threshold <= 1.0, fn,
              ": threshold must be a cosine similarity in [-1, 1], got ", options.threshold);
  TORCH_CHECK(torch::isfinite(features).all().item<bool>(), fn,
              ": the features hold NaN or infinite values (non-finite weights, or a diverged run)");
  const auto f = selfsup::detail::unit_rows(features);
  selfsup::detail::require_directions_differ(fn, f);
  const std::int64_t k = std::min(options.k, n - 1);
  const auto [knn, knn_sim] = selfsup::detail::cosine_neighbours(f, f, k, options.block, /*exclude_self=*/true);
  MinedCandidates out;
  out.images = n;
  out.k = k;
  const auto occurrence = torch::bincount(knn.flatten(), {}, n).cpu();
  out.k_occurrence.assign(occurrence.data_ptr<std::int64_t>(), occurrence.data_ptr<std::int64_t>() + n);
  out.hubness = hubness(out.k_occurrence);
  // The median (lower middle for even N) of the nearest-neighbour distances; clamped away from 0
  // so that duplicates (distance 0 for most images) do not divide by zero.
  auto nearest = std::get<0>((1.0 - knn_sim.select(1, 0).to(torch::kFloat64)).cpu().sort());
  out.median_nn_distance = nearest[(n - 1) / 2].item<double>();
  const double scale = std::max(out.median_nn_distance, 1e-6);

  const auto lists_t = knn.cpu().contiguous();
  const auto sims_t = knn_sim.cpu().contiguous();
  const auto* lists = lists_t.data_ptr<std::int64_t>();
  const auto* sims = sims_t.data_ptr<float>();
  auto place = [&](std::int64_t of, std::int64_t in) -> std::int64_t {  // of's rank in in's list, 0 if absent
    for (std::int64_t r = 0; r < k; ++r) {
      if (lists[in * k + r] == of) return r + 1;
    }
    return 0;
  };
  struct Edge {
    std::int64_t a, b, rank, partner_rank;
    double cosine;
  };
  std::vector<Edge> edges;
  edges.reserve(static_cast<std::size_t>(n * k));
  for (std::int64_t a = 0; a < n; ++a) {
    for (std::int64_t r = 0; r < k; ++r) {
      const std::int64_t b = lists[a * k + r];
      const double s = sims[a * k + r];
      if (s < options.threshold) continue;
      const std::int64_t back = place(a, b);
      if (options.mutual && back == 0) continue;
      if (back != 0 && b < a) continue;  // the mutual pair is kept from its smaller index
      edges.push_back({a, b, r + 1, back, s});
    }
  }
  out.before_caps = static_cast<std::int64_t>(edges.size());
  if (options.max_per_image > 0 || options.max_per_hub > 0) {
    std::vector<std::size_t> order(edges.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return edges[x].cosine > edges[y].cosine; });
    std::vector<std::int64_t> per_image(static_cast<std::size_t>(n), 0), per_hub(static_cast<std::size_t>(n), 0);
    std::vector<bool> keep(edges.size(), false);
    for (const auto e : order) {
      const auto& x = edges[e];
      if (options.max_per_image > 0 && (per_image[x.a] >= options.max_per_image || per_image[x.b] >= options.max_per_image)) continue;
      if (options.max_per_hub > 0 && per_hub[x.b] >= options.max_per_hub) continue;
      keep[e] = true;
      ++per_image[x.a];
      ++per_image[x.b];
      ++per_hub[x.b];
    }
    std::vector<Edge> kept;
    for (std::size_t e = 0; e < edges.size(); ++e) {
      if (keep[e]) kept.push_back(edges[e]);
    }
    edges = std::move(kept);
  }
  for (const auto& e : edges) {
    out.first.push_back(e.a);
    out.second.push_back(e.b);
    out.cosine.push_back(e.cosine);
    out.rank.push_back(e.rank);
    out.partner_rank.push_back(e.partner_rank);
    out.relative_distance.push_back(std::max(0.0, 1.0 - e.cosine) / scale);
  }
  return out;
}

}  // namespace selfsup::curate
