// examples/train: the methods with a momentum target or a memory: MoCo v2 (queue of keys), BYOL
// (predictor + target), NNCLR (support set of embeddings).
#include "train.hpp"

namespace train {

void add_momentum(Registry& r) {
  using namespace ss::losses;
  add_method<TRAIN_ALL_POSITIVES>(r, "moco_v2", [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::SimCLRViews, decltype(positives), ss::negatives::Queue, InfoNCE>;
    return R{.views = simclr_views(s), .pairs = std::move(positives),
             .negatives = ss::negatives::Queue({.size = s.config.queue_size.value_or(4096), .seed = s.seed() + 11}),
             .loss = InfoNCE{{.temperature = s.temperature(0.2)}}};
  });
  add_method<TRAIN_ALL_POSITIVES>(r, "byol", [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::BYOLViews, decltype(positives), ss::negatives::None, BYOL>;
    return R{.views = byol_views(s), .pairs = std::move(positives)};
  });
  // NNCLR's positive is the nearest neighbour of the partner view in a support set: the pair
  // source itself.
  add_method<ss::pairs::NearestNeighbour>(r, "nnclr", [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::SimCLRViews, decltype(positives), ss::negatives::InBatch, NTXent>;
    return R{.views = simclr_views(s), .pairs = std::move(positives), .loss = NTXent{{.temperature = s.temperature(0.1)}}};
  });
}

}  // namespace train
