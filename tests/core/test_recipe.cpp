// The composition core: concepts, recipes, rebinding, and user-defined policies that plug in
// without touching the library.
#include "../support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <type_traits>
#include <vector>

namespace ss = selfsup;

// ---- the library's policies satisfy their concepts, and not the others -----------------------
static_assert(ss::ViewGenerator<ss::views::CropFlip>);
static_assert(ss::ViewGenerator<ss::views::Identity>);
static_assert(!ss::ViewGenerator<ss::pairs::Augmented>);
static_assert(ss::PairSource<ss::pairs::Augmented>);
static_assert(!ss::PairSource<ss::negatives::InBatch>);
static_assert(ss::NegativeStrategy<ss::negatives::InBatch>);
static_assert(ss::NegativeStrategy<ss::negatives::None>);
static_assert(!ss::NegativeStrategy<ss::losses::NTXent>);
static_assert(ss::Loss<ss::losses::NTXent>);
static_assert(ss::Loss<ss::losses::BarlowTwins>);
static_assert(!ss::Loss<ss::views::CropFlip>);
static_assert(ss::Encoder<ss::models::SmallCNNEncoder>);
static_assert(!ss::Encoder<ss::models::SmallCNN>);  // no features(x)
static_assert(ss::Dataset<ss::data::InMemoryDataset>);
static_assert(ss::recipes::SimCLR::valid);
static_assert(ss::recipes::BarlowTwins::valid);
static_assert(!ss::recipes::SimCLR::with_negatives<ss::negatives::None>::valid);  // nameable, invalid
static_assert(!ss::recipes::BarlowTwins::with_negatives<ss::negatives::InBatch>::valid);
static_assert(ss::is_recipe_v<ss::recipes::SimCLR>);
static_assert(!ss::is_recipe_v<ss::losses::NTXent>);

// ---- the contract: flags' defaults, and members told apart by name and by signature ----------
static_assert(ss::loss_traits<ss::losses::NTXent>::masks_false_negatives);
static_assert(!ss::loss_traits<ss::losses::DCL>::masks_false_negatives);  // the default
static_assert(ss::loss_traits<ss::losses::BYOL>::needs_predictor && !ss::loss_traits<ss::losses::VICReg>::needs_predictor);
static_assert(ss::loss_traits<ss::losses::InfoNCE>::needs_bank && !ss::loss_traits<ss::losses::NTXent>::needs_bank);
static_assert(ss::negative_traits<ss::negatives::Queue>::provides_bank);
static_assert(!ss::negative_traits<ss::negatives::InBatch>::provides_bank);  // the default
static_assert(ss::pair_source_traits<ss::pairs::SameLabel>::provides_groups);
static_assert(!ss::recipes::SimCLR::with_loss<ss::losses::DCL>::with_negatives<ss::negatives::InBatchMasked>::
                   with_pairs<ss::pairs::SameLabel>::valid);  // DCL ignores the mask
static_assert(ss::recipes::SimCLR::with_negatives<ss::negatives::InBatchMasked>::with_pairs<ss::pairs::SameLabel>::valid);
// Recipe::valid is the conjunction of the rules check_recipe asserts one by one: each rule alone
// makes a recipe invalid (the compile_fail tests show the assertion of each).
static_assert(!ss::recipes::SimCLR::with_negatives<ss::negatives::InBatchMasked>::valid);  // no groups
static_assert(!ss::recipes::SimCLR::with_negatives<ss::negatives::Queue>::valid);          // a bank unread
static_assert(!ss::recipes::InfoNCEQueue::with_negatives<ss::negatives::InBatch>::valid);  // no bank
static_assert(!ss::recipes::SimCLR::with_views<ss::views::MultiCrop>::valid);             // crops unread
static_assert(ss::recipes::InfoNCEQueue::valid && ss::recipes::VICReg::valid && ss::recipes::DCL::valid);
static_assert(ss::recipes::BarlowTwins::with_views<ss::views::MultiCrop>::with_loss<ss::losses::DINO>::valid);
namespace contract_probe {
struct WrongBind {
  void bind(int) {}
};
struct TemplateBind {
  template <class T>
  void bind(const T&) {}
};
struct NoBind {
  int bound = 0;
};
}  // namespace contract_probe
static_assert(ss::contract::bind<contract_probe::WrongBind>::present && !ss::contract::bind<contract_probe::WrongBind>::valid);
static_assert(std::is_same_v<ss::contract::bind<contract_probe::WrongBind>::found, void (contract_probe::WrongBind::*)(int)>);
static_assert(ss::contract::bind<contract_probe::TemplateBind>::present && ss::contract::bind<contract_probe::TemplateBind>::valid);
static_assert(std::is_same_v<ss::contract::bind<contract_probe::TemplateBind>::found, ss::contract::overloaded_or_template>);
static_assert(!ss::contract::bind<contract_probe::NoBind>::present && !ss::contract::bind<contract_probe::NoBind>::valid);
static_assert(ss::has_predictor_members_v<ss::models::SmallCNNEncoder> && ss::has_target_members_v<ss::models::SmallCNNEncoder>);

// ---- user-defined policies, written against the concepts only --------------------------------

// Views: a fixed centre crop, no randomness.
struct CentreCrop {
  int64_t size = 24;
  torch::Tensor operator()(const torch::Tensor& images) const {
    const auto top = (images.size(2) - size) / 2, left = (images.size(3) - size) / 2;
    return images.narrow(2, top, size).narrow(3, left, size).to(torch::kFloat32) / 255.0;
  }
};
static_assert(ss::ViewGenerator<CentreCrop>);

// Asymmetric views: crop-and-flip for anchors, the plain image for partners.
struct AugmentAnchorsOnly {
  ss::views::CropFlip augment{{.size = 32, .seed = 9}};
  ss::views::Identity plain;
  torch::Tensor first(const torch::Tensor& x) { return augment(x); }
  torch::Tensor second(const torch::Tensor& x) { return plain(x); }
};
static_assert(ss::ViewPairGenerator<AugmentAnchorsOnly>);

// Pairs: the partner is the next image of the same label, learnt from the labels at bind time.
struct NextOfSameLabel {
  static constexpr bool provides_groups = true;
  torch::Tensor next, labels;
  int binds = 0;
  void bind(const ss::DatasetInfo& info) {
    ++binds;
    labels = info.labels;
    std::map<int64_t, std::vector<int64_t>> groups;
    auto cpu = labels.cpu();
    for (int64_t i = 0; i < info.size; ++i) groups[cpu[i].item<int64_t>()].push_back(i);
    std::vector<int64_t> partner(info.size);
    for (const auto& [label, members] : groups) {
      for (size_t k = 0; k < members.size(); ++k) partner[members[k]] = members[(k + 1) % members.size()];
    }
    next = torch::tensor(partner, torch::kLong).to(info.device);
  }
  ss::PairBatch sample(const torch::Tensor& anchors) const {
    return {.anchors = anchors, .partners = next.index_select(0, anchors),
            .groups = labels.index_select(0, anchors), .sources = {}};
  }
};
static_assert(ss::PairSource<NextOfSameLabel>);

// Loss: a contrastive loss that counts its calls and delegates to NT-Xent.
struct CountingNTXent {
  static constexpr bool contrastive = true;
  int calls = 0;
  int after_steps = 0;
  torch::Tensor operator()(const ss::LossInput& in) {
    ++calls;
    return ss::functional::nt_xent(in.z0, in.z1);
  }
  void after_step(const ss::LossInput&) { ++after_steps; }
};
static_assert(ss::Loss<CountingNTXent>);

// ---- rebinding one role at a time ------------------------------------------------------------
using Base = ss::recipes::SimCLR;
static_assert(std::is_same_v<Base::with_pairs<NextOfSameLabel>,
                             ss::Recipe<ss::views::SimCLRViews, NextOfSameLabel, ss::negatives::InBatch,
                                        ss::losses::NTXent>>);
static_assert(std::is_same_v<Base::with_views<CentreCrop>::views_type, CentreCrop>);
static_assert(std::is_same_v<Base::with_loss<CountingNTXent>::loss_type, CountingNTXent>);
static_assert(std::is_same_v<Base::with_negatives<ss::negatives::None>::with_loss<ss::losses::BarlowTwins>::
                                 with_views<ss::views::BYOLViews>,
                             ss::recipes::BarlowTwins>);

BOOST_AUTO_TEST_SUITE(core_tests)

BOOST_AUTO_TEST_CASE(options_are_designated_initialisers) {
  ss::recipes::SimCLR::with_views<ss::views::CropFlip> r{.views = ss::views::CropFlip({.size = 16, .seed = 2}),
                        .loss = ss::losses::NTXent{{.temperature = 0.2}}};
  BOOST_TEST(r.loss.options.temperature == 0.2);
  BOOST_TEST(r.views.options().size == 16);
  BOOST_TEST(ss::recipes::SimCLR{}.loss.options.temperature == 0.5);
}

BOOST_AUTO_TEST_CASE(user_policies_plug_in_and_train) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 16, .size = 32, .seed = 3});
  using Custom = Base::with_views<AugmentAnchorsOnly>::with_pairs<NextOfSameLabel>::with_loss<CountingNTXent>;
  static_assert(Custom::valid);
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
  ss::Trainer trainer(Custom{}, encoder, {.epochs = 2, .batch_size = 16, .log_every = 1});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 8);
  BOOST_TEST(trainer.recipe().pairs.binds == 1);
  BOOST_TEST(trainer.recipe().loss.calls == 8);
  BOOST_TEST(trainer.recipe().loss.after_steps == 8);
  BOOST_TEST(result.log.size() == 8u);
  for (const auto& entry : result.log) BOOST_TEST(std::isfinite(entry.loss));

  // The pair source's partners really are different images of the same label.
  auto anchors = torch::arange(64, torch::kLong);
  auto pairs = trainer.recipe().pairs.sample(anchors);
  BOOST_TEST(torch::equal(data.labels(pairs.partners), data.labels(anchors)));
  BOOST_TEST(pairs.partners.ne(anchors).all().item<bool>());
}

BOOST_AUTO_TEST_CASE(centre_crop_views_train_a_non_contrastive_recipe) {
  auto data = ss::data::make_synthetic({.classes = 3, .per_class = 12, .size = 32, .seed = 4});
  using Recipe = ss::recipes::BarlowTwins::with_views<CentreCrop>;
  auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 16, .out_dim = 8});
  ss::Trainer trainer(Recipe{}, encoder, {.batch_size = 12, .log_every = 1});
  auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 3);
  BOOST_TEST(std::isfinite(result.log.back().loss));
}

BOOST_AUTO_TEST_SUITE_END()
