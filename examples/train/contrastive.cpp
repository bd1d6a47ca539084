// examples/train: the in-batch contrastive methods, each compiled with every pair source.
#include "train.hpp"

namespace train {

namespace {

// SimCLR's recipe with loss `L` and negatives `N`, for any pair source.
template <class L, class N = ss::negatives::InBatch>
auto in_batch(L (*make_loss)(const Setup&)) {
  return [make_loss](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::SimCLRViews, decltype(positives), N, L>;
    return R{.views = simclr_views(s), .pairs = std::move(positives), .loss = make_loss(s)};
  };
}

}  // namespace

void add_contrastive(Registry& r) {
  using namespace ss::losses;
  add_method<TRAIN_ALL_POSITIVES>(r, "simclr", in_batch<NTXent>([](const Setup& s) {
    return NTXent{{.temperature = s.temperature(0.5)}};
  }));
  add_method<TRAIN_ALL_POSITIVES>(r, "dcl", in_batch<DCL>([](const Setup& s) {
    return DCL{{.temperature = s.temperature(0.1)}};
  }));
  add_method<TRAIN_ALL_POSITIVES>(r, "dclw", in_batch<DCLW>([](const Setup& s) {
    return DCLW{{.temperature = s.temperature(0.1), .sigma = 0.5}};
  }));
  add_method<TRAIN_ALL_POSITIVES>(r, "debiased", in_batch<Debiased>([](const Setup& s) {
    return Debiased{{.temperature = s.temperature(0.5), .tau_plus = 0.1}};
  }));
  add_method<TRAIN_ALL_POSITIVES>(r, "hard_negative", in_batch<HardNegative>([](const Setup& s) {
    return HardNegative{{.temperature = s.temperature(0.5), .tau_plus = 0.1, .beta = 1.0}};
  }));
  // Every row of an anchor's semantic group is a positive (the pair source's group ids); with
  // augmented pairs the group is the image's own two views.
  add_method<TRAIN_ALL_POSITIVES>(r, "supcon", in_batch<SupCon>([](const Setup& s) {
    const double t = s.temperature(0.1);
    return SupCon{{.temperature = t, .base_temperature = t}};
  }));
  // False-negative elimination: NT-Xent that does not push apart rows of one semantic group. It
  // needs group ids, which augmented pairs do not have (that recipe does not compile).
  add_method<ss::pairs::Semantic, ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>, ss::pairs::SameLabel>(
      r, "fnc", in_batch<NTXent, ss::negatives::InBatchMasked>([](const Setup& s) {
        return NTXent{{.temperature = s.temperature(0.5)}};
      }));
}

}  // namespace train
