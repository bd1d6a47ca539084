#pragma once
/// \file
/// Linear evaluation on frozen features: features are computed once, then a multinomial logistic
/// regression is trained on them (full-batch L-BFGS). The L2 strength is chosen on a held-out
/// part of the training set, then the classifier is retrained on all of it and tested.

#include <selfsup/detail/check.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/eval/knn.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace selfsup::eval {

struct LinearProbeOptions {
  std::vector<double> weight_decays = {0.0, 1e-5, 1e-4, 1e-3, 1e-2};  ///< L2 strengths tried
  double validation_fraction = 0.2;  ///< share of the training set held out to choose one
  int64_t max_iterations = 200;      ///< L-BFGS iterations per fit
  std::uint64_t seed = 0;            ///< the held-out split
};

struct LinearProbeResult {
  double top1 = 0.0;
  double top5 = 0.0;
  double weight_decay = 0.0;      ///< the L2 strength chosen on the held-out split
  double validation_top1 = 0.0;   ///< its held-out accuracy
};

namespace detail {

struct LinearModel {
  torch::Tensor weight, bias;
};

// Features standardised with the training statistics; logistic regression by L-BFGS.
inline LinearModel fit_linear(const torch::Tensor& x, const torch::Tensor& y, int64_t classes,
                              double weight_decay, int64_t iterations) {
  auto opts = x.options().requires_grad(true);
  auto weight = torch::zeros({x.size(1), classes}, opts);
  auto bias = torch::zeros({classes}, opts);
  torch::optim::LBFGS lbfgs({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                .max_iter(iterations)
                                                .history_size(20)
                                                .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    lbfgs.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(x.mm(weight) + bias, y) +
                weight_decay * weight.pow(2).sum();
    loss.backward();
    return loss;
  };
  lbfgs.step(closure);
  return {weight.detach(), bias.detach()};
}

inline std::pair<double, double> accuracy(const LinearModel& m, const torch::Tensor& x,
                                          const torch::Tensor& y) {
  auto logits = x.mm(m.weight) + m.bias;
  const int64_t top = std::min<int64_t>(5, logits.size(1));
  auto ranked = std::get<1>(logits.topk(top, 1));
  auto truth = y.unsqueeze(1);
  const double n = static_cast<double>(y.size(0));
  return {ranked.narrow(1, 0, 1).eq(truth).sum().item<double>() / n,
          ranked.eq(truth).any(1).sum().item<double>() / n};
}

}  // namespace detail

/// Linear probe on given features (N, F) / (M, F) with int64 labels.
inline LinearProbeResult linear_probe(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                                      const torch::Tensor& test_features, const torch::Tensor& test_labels,
                                      const LinearProbeOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::eval::linear_probe";
  TORCH_CHECK(train_labels.defined() && test_labels.defined(), fn,
              ": needs labels for the training and the test set; the dataset has none");
  selfsup::detail::check_dim(fn, "train_features", train_features, 2);
  selfsup::detail::check_dim(fn, "test_features", test_features, 2);
  TORCH_CHECK(train_features.size(0) == train_labels.size(0) && test_features.size(0) == test_labels.size(0),
              fn, ": features and labels must have the same number of rows");
  TORCH_CHECK(train_features.size(1) == test_features.size(1), fn,
              ": train and test features must have the same width, got ", train_features.size(1),
              " and ", test_features.size(1));
  TORCH_CHECK(!options.weight_decays.empty(), fn, ": weight_decays is empty");
  TORCH_CHECK(options.validation_fraction > 0 && options.validation_fraction < 1, fn,
              ": validation_fraction must be in (0, 1), got ", options.validation_fraction);
  const int64_t n = train_features.size(0);
  const int64_t held = static_cast<int64_t>(options.validation_fraction * static_cast<double>(n));
  TORCH_CHECK(held >= 1 && n - held >= 2, fn, ": the training set (", n,
              " samples) is too small to hold out a validation split");
  auto x = train_features.detach().to(torch::kFloat32);
  auto y = train_labels.to(x.device());
  auto mean = x.mean(0, true), std = x.std(0, true, true).clamp_min(1e-6);
  auto standardise = [&](const torch::Tensor& f) { return (f.detach().to(torch::kFloat32).to(x.device()) - mean) / std; };
  auto xs = standardise(x);
  auto xt = standardise(test_features);
  auto yt = test_labels.to(x.device());
  const int64_t classes = std::max(y.max().item<int64_t>(), yt.max().item<int64_t>()) + 1;

  auto gen = selfsup::detail::make_generator(torch::kCPU, options.seed);
  auto perm = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong)).to(x.device());
  auto val_idx = perm.narrow(0, 0, held), fit_idx = perm.narrow(0, held, n - held);
  LinearProbeResult result;
  result.validation_top1 = -1.0;
  for (double wd : options.weight_decays) {
    auto m = detail::fit_linear(xs.index_select(0, fit_idx), y.index_select(0, fit_idx), classes, wd,
                                options.max_iterations);
    const double acc = detail::accuracy(m, xs.index_select(0, val_idx), y.index_select(0, val_idx)).first;
    if (acc > result.validation_top1) {
      result.validation_top1 = acc;
      result.weight_decay = wd;
    }
  }
  auto final_model = detail::fit_linear(xs, y, classes, result.weight_decay, options.max_iterations);
  std::tie(result.top1, result.top5) = detail::accuracy(final_model, xt, yt);
  return result;
}

/// Linear probe of `encoder`'s frozen features, trained on `train` and tested on `test`.
template <class E, class D1, class D2>
LinearProbeResult linear_probe(E& encoder, const D1& train, const D2& test,
                               const LinearProbeOptions& options = {}) {
  auto all = [](const auto& d) {
    return torch::arange(static_cast<int64_t>(d.size()),
                         torch::TensorOptions().dtype(torch::kLong).device(d.device()));
  };
  return linear_probe(embed(encoder, train), train.labels(all(train)), embed(encoder, test),
                      test.labels(all(test)), options);
}

}  // namespace selfsup::eval
