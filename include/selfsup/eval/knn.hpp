#pragma once
/// \file
/// Weighted k-nearest-neighbour evaluation on frozen, L2-normalised features (Wu et al.,
/// "Unsupervised Feature Learning via Non-Parametric Instance Discrimination", CVPR 2018):
/// the k most cosine-similar training samples vote for their label with weight exp(sim / T).

#include <selfsup/concepts.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/cosine_neighbours.hpp>
#include <selfsup/data/embed.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace selfsup::eval {

/// The one kNN setting of every program and runner (train, evaluate, the studies, the ablation
/// runner, hooks::KNNMonitor), so that the same weights always get the same kNN accuracy: k = 20
/// neighbours, as DINO's evaluation (Wu et al. used 200 on ImageNet's 1.28 M images; 20 suits the
/// small and subsampled sets this library studies), temperature 0.1. Programs print and record it.
struct KNNOptions {
  int64_t k = 20;
  double temperature = 0.1;
  int64_t block = 1024;  ///< test rows compared with the training set at once
};

struct KNNResult {
  double top1 = 0.0;  ///< fraction of test samples whose highest-voted class is their label
  /// fraction whose label is among the five highest-voted classes that got any vote (with k < 5
  /// fewer classes are voted for, and classes without votes never count as hits)
  double top5 = 0.0;
};

/// `train_features` (N, F) and `test_features` (M, F) are normalised here; labels int64.
inline KNNResult knn_classify(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                              const torch::Tensor& test_features, const torch::Tensor& test_labels,
                              const KNNOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::eval::knn_classify";
  selfsup::detail::check_dim(fn, "train_features", train_features, 2);
  selfsup::detail::check_dim(fn, "test_features", test_features, 2);
  TORCH_CHECK(train_labels.defined() && test_labels.defined(), fn,
              ": needs labels for the training and the test set; the dataset has none");
  selfsup::detail::check_dim(fn, "train_labels", train_labels, 1);
  selfsup::detail::check_dim(fn, "test_labels", test_labels, 1);
  TORCH_CHECK(train_features.size(0) == train_labels.size(0) &&
                  test_features.size(0) == test_labels.size(0),
              fn, ": features and labels must have the same number of rows, got ",
              train_features.size(0), " and ", train_labels.size(0), " (train), ",
              test_features.size(0), " and ", test_labels.size(0), " (test)");
  TORCH_CHECK(train_features.size(1) == test_features.size(1), fn,
              ": train and test features must have the same width, got ", train_features.size(1),
              " and ", test_features.size(1));
  TORCH_CHECK(options.k >= 1 && options.block >= 1, fn, ": k and block must be >= 1, got ",
              options.k, " and ", options.block);
  TORCH_CHECK(options.k <= train_features.size(0), fn, ": k = ", options.k, " neighbours, but the training set has ",
              train_features.size(0), " samples; give k <= ", train_features.size(0));
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  TORCH_CHECK(train_features.numel() == 0 || torch::isfinite(train_features).all().item<bool>(), fn,
              ": the training features hold NaN or infinite values (non-finite weights, or a diverged run)");
  TORCH_CHECK(test_features.numel() == 0 || torch::isfinite(test_features).all().item<bool>(), fn,
              ": the test features hold NaN or infinite values (non-finite weights, or a diverged run)");
  TORCH_CHECK(test_features.size(0) >= 1, fn, ": the test set is empty");
  TORCH_CHECK(train_labels.min().item<int64_t>() >= 0 && test_labels.min().item<int64_t>() >= 0, fn,
              ": labels must be class ids >= 0");
  TORCH_CHECK(train_labels.min().item<int64_t>() != train_labels.max().item<int64_t>(), fn,
              ": the training labels hold a single class; kNN accuracy needs at least two (it would be 1 whatever "
              "the features)");
  auto train = selfsup::detail::unit_rows(train_features);
  auto test = selfsup::detail::unit_rows(test_features).to(train.device());
  auto train_y = train_labels.to(train.device());
  auto test_y = test_labels.to(train.device());
  const int64_t classes = std::max(train_y.max().item<int64_t>(), test_y.max().item<int64_t>()) + 1;
  const int64_t k = std::min(options.k, train.size(0));
  const int64_t top = std::min<int64_t>(5, classes);
  auto hits1 = torch::zeros({}, train_y.options());
  auto hits5 = torch::zeros({}, train_y.options());
  const auto neighbours = selfsup::detail::cosine_neighbours(test, train, k, options.block, /*exclude_self=*/false);
  for (int64_t start = 0; start < test.size(0); start += options.block) {
    const int64_t len = std::min(options.block, test.size(0) - start);
    auto top_sim = neighbours.similarity.narrow(0, start, len);          // (b, k)
    auto top_idx = neighbours.index.narrow(0, start, len);
    // exp((s - s_max) / T): the same votes up to one factor per row, finite for every T > 0
    // (exp(s / T) overflows float once s / T > 88); the nearest neighbour weighs 1.
    auto weights = ((top_sim - top_sim.narrow(1, 0, 1)) / options.temperature).exp();
    auto votes = torch::zeros({len, classes}, weights.options())
                     .scatter_add_(1, train_y.index({top_idx}), weights);  // (b, C)
    auto [ranked_votes, ranked] = votes.topk(top, 1);                        // (b, top)
    auto truth = test_y.narrow(0, start, len).unsqueeze(1);
    hits1 += ranked.narrow(1, 0, 1).eq(truth).sum();
    hits5 += (ranked.eq(truth) & ranked_votes.gt(0)).any(1).sum();
  }
  const double m = static_cast<double>(test.size(0));
  return {hits1.item<double>() / m, hits5.item<double>() / m};
}

/// The encoder's features of every image of `data` (data::embed).
using data::embed;

/// kNN top-1 / top-5 of `encoder`'s features, voting with `train`'s labels on `test`.
template <class E, class D1, class D2>
KNNResult knn_evaluate(E& encoder, const D1& train, const D2& test, const KNNOptions& options = {}) {
  auto all = [](const auto& d) {
    return torch::arange(static_cast<int64_t>(d.size()),
                         torch::TensorOptions().dtype(torch::kLong).device(d.device()));
  };
  return knn_classify(embed(encoder, train), train.labels(all(train)), embed(encoder, test),
                      test.labels(all(test)), options);
}

}  // namespace selfsup::eval
