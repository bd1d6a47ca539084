#pragma once
/// \file
/// Internal: nearest neighbours by cosine similarity, the one formula behind kNN evaluation
/// (eval::knn_classify), mined pairs (pairs::mine_pairs) and curation's candidates
/// (curate::mine_candidates): rows L2-normalised in float32, similarities as a product of
/// normalised rows, a block of query rows at a time so that memory stays (block, N).

#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <string_view>

namespace selfsup::detail {

/// The rows of `features` (N, D) in float32, each divided by its L2 norm (norms below 1e-12 are
/// taken as 1e-12, as torch::nn::functional::normalize does).
inline torch::Tensor unit_rows(const torch::Tensor& features) {
  namespace F = torch::nn::functional;
  return F::normalize(features.detach().to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
}

/// Throws, naming `fn`, when every unit row of `unit` (N, D) points (almost) the same way: a
/// collapsed or constant backbone, whose nearest neighbours would all be arbitrary ties.
inline void require_directions_differ(std::string_view fn, const torch::Tensor& unit) {
  TORCH_CHECK((unit - unit.mean(0, true)).norm(2, 1).max().item<double>() > 1e-4, fn, ": the features of all ",
              unit.size(0), " images point the same way (a collapsed backbone, or one that ignores its input); "
              "their nearest neighbours would be arbitrary ties");
}

/// For each row of `queries`, its `k` most cosine-similar rows of `keys`, nearest first.
struct CosineNeighbours {
  torch::Tensor index;       ///< int64 (M, k): rows of keys
  torch::Tensor similarity;  ///< (M, k): their cosine similarities, descending
};

/// `queries` (M, D) and `keys` (N, D) are unit rows (unit_rows) on one device; k <= N (k <= N - 1
/// with `exclude_self`). With `exclude_self` the queries are the keys themselves, and a row is
/// never its own neighbour. `block` query rows are scored at a time.
inline CosineNeighbours cosine_neighbours(const torch::Tensor& queries, const torch::Tensor& keys, int64_t k,
                                          int64_t block, bool exclude_self) {
  const int64_t m = queries.size(0);
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(queries.device());
  CosineNeighbours out{torch::empty({m, k}, lopt), torch::empty({m, k}, queries.options())};
  for (int64_t start = 0; start < m; start += block) {
    const int64_t len = std::min(block, m - start);
    auto sim = queries.narrow(0, start, len).mm(keys.t());  // (b, N)
    if (exclude_self) {
      auto local = torch::arange(len, lopt);
      sim.index_put_({local, local + start}, -std::numeric_limits<float>::infinity());
    }
    auto [values, index] = sim.topk(k, 1);  // (b, k), sorted, nearest first
    out.index.narrow(0, start, len).copy_(index);
    out.similarity.narrow(0, start, len).copy_(values);
  }
  return out;
}

}  // namespace selfsup::detail
