// examples/train: the methods without negatives: SimSiam, Barlow Twins, VICReg.
#include "train.hpp"

namespace train {

namespace {

template <class L>
auto without_negatives() {
  return [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::SimCLRViews, decltype(positives), ss::negatives::None, L>;
    return R{.views = simclr_views(s), .pairs = std::move(positives)};
  };
}

}  // namespace

void add_non_contrastive(Registry& r) {
  add_method<TRAIN_ALL_POSITIVES>(r, "simsiam", without_negatives<ss::losses::SimSiam>());
  add_method<TRAIN_ALL_POSITIVES>(r, "barlow_twins", without_negatives<ss::losses::BarlowTwins>());
  add_method<TRAIN_ALL_POSITIVES>(r, "vicreg", without_negatives<ss::losses::VICReg>());
}

}  // namespace train
