// custom_policy: a new ablation variant in a few lines. A loss written against selfsup's Loss
// concept (Wang & Isola's alignment + uniformity objective, ICML 2020) plugs into the SimCLR
// recipe by rebinding two roles; nothing in the library changes.
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

namespace ss = selfsup;

struct AlignUniform {
  static constexpr bool contrastive = false;  // no negatives: uniformity spreads the batch itself
  double lambda = 1.0, t = 2.0;

  torch::Tensor operator()(const ss::LossInput& in) const {
    namespace F = torch::nn::functional;
    auto a = F::normalize(in.z0, F::NormalizeFuncOptions().dim(1));
    auto b = F::normalize(in.z1, F::NormalizeFuncOptions().dim(1));
    auto align = (a - b).pow(2).sum(1).mean();
    auto uniform = [&](const torch::Tensor& z) {  // log E exp(-t |zi - zj|^2), i != j
      auto sq = torch::pdist(z).pow(2);
      return torch::log(torch::exp(-t * sq).mean());
    };
    return align + lambda * 0.5 * (uniform(a) + uniform(b));
  }
};

using SimCLR = ss::recipes::SimCLR;
using AlignUniformRecipe = SimCLR::with_views<ss::views::CropFlip>::with_loss<AlignUniform>::with_negatives<ss::negatives::None>;

int main() {
  torch::manual_seed(0);
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = 50});
  auto encoder = ss::models::make_small_cnn_encoder({.width = 8}, {.hidden_dim = 128, .out_dim = 32});
  ss::Trainer trainer(AlignUniformRecipe{.views = ss::views::CropFlip({.size = 32})}, encoder,
                      {.epochs = 2, .batch_size = 100, .log_every = 5, .verbose = true});
  auto result = trainer.fit(data);
  fmt::print("alignment-uniformity trained {} steps, last loss {:.4f}\n", result.steps, result.log.back().loss);
  return std::isfinite(result.log.back().loss) ? 0 : 1;
}
