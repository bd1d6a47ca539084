// selfsup::methods: every method is a type with the members a program needs, accepts the pair
// sources its recipe is valid with, takes the papers' values unless a setting overrides them, and
// trains exactly as the same recipe written out by hand.
#include "../support.hpp"

#include <selfsup/methods/methods.hpp>
#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>

namespace ss = selfsup;
namespace m = ss::methods;

namespace {

template <template <class> class... M>
constexpr bool every_method_is_a_method(m::List<M...>) {
  return (m::Method<M<ss::pairs::Augmented>> && ...);
}
static_assert(every_method_is_a_method(m::all{}));
static_assert(m::all::size == 16);
static_assert(m::Method<m::DINO<ss::pairs::Semantic>> && m::Method<m::SwAV<m::Mix>>);

// The pair sources each accepts: its recipe's rules, and nearest-neighbour positives only for NNCLR.
static_assert(m::accepts<m::SimCLR, ss::pairs::Augmented> && m::accepts<m::SimCLR, ss::pairs::Semantic>);
static_assert(!m::accepts<m::SimCLR, ss::pairs::NearestNeighbour>);
static_assert(m::accepts<m::NNCLR, ss::pairs::NearestNeighbour> && !m::accepts<m::NNCLR, ss::pairs::Augmented>);
static_assert(!m::accepts<m::FNC, ss::pairs::Augmented>);  // masking needs group ids
static_assert(m::accepts<m::FNC, ss::pairs::SameLabel> && m::accepts<m::FNC, m::Mix>);
static_assert(m::accepts<m::DINO, ss::pairs::Semantic> && !m::accepts<m::DINO, ss::pairs::NearestNeighbour>);

// A method's roles are the paper's: DINO is multi-crop, no negatives, DINO's loss.
static_assert(std::is_same_v<m::DINO<ss::pairs::Semantic>::recipe_type,
                             ss::Recipe<ss::views::MultiCrop, ss::pairs::Semantic, ss::negatives::None, ss::losses::DINO>>);
static_assert(std::is_same_v<m::MoCoV2<>::recipe_type,
                             ss::Recipe<ss::views::SimCLRViews, ss::pairs::Augmented, ss::negatives::Queue, ss::losses::InfoNCE>>);

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(core_tests)

// Names are unique command-line words; every citation is a key of docs/methods.bib.
BOOST_AUTO_TEST_CASE(methods_have_unique_names_and_cited_papers) {
  const std::string bib = read_file(std::string(SELFSUP_TEST_DATA_DIR) + "/../../docs/methods.bib");
  BOOST_REQUIRE(!bib.empty());
  std::set<std::string_view> names;
  for (const auto& info : m::infos<>) {
    BOOST_TEST_CONTEXT(info.name) {
      BOOST_TEST(names.insert(info.name).second);
      BOOST_TEST(info.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos);
      std::string key(info.citation);
      key.insert(key.begin(), '{');
      key.push_back(',');
      BOOST_TEST(bib.find(key) != std::string::npos);  // "@article{key," in the file
      BOOST_TEST(info.base_lr > 0.0);
      BOOST_TEST(m::find(info.name) == &info);
    }
  }
  BOOST_TEST(m::find("nope") == nullptr);
}

// The knobs a method reads follow from its defaults: a program refuses the others.
BOOST_AUTO_TEST_CASE(knobs_are_those_a_method_reads) {
  using K = m::Knob;
  BOOST_TEST(m::has(m::DINO<>::info.knobs(), K::local_crops));
  BOOST_TEST(m::has(m::DINO<>::info.knobs(), K::teacher_temperature));
  BOOST_TEST(!m::has(m::DINO<>::info.knobs(), K::queue_size));
  BOOST_TEST(m::has(m::SwAV<>::info.knobs(), K::queue_start_epoch));
  BOOST_TEST(m::has(m::MoCoV2<>::info.knobs(), K::queue_size));
  BOOST_TEST(!m::has(m::BYOL<>::info.knobs(), K::temperature));
  BOOST_TEST(m::has(m::SimCLR<>::info.knobs(), K::temperature));
  BOOST_TEST(m::has(m::PairSource<m::Mix>::knobs, K::mix));
  BOOST_TEST(!m::has(m::PairSource<ss::pairs::Semantic>::knobs, K::mix));
}

// Unset settings take the papers' values; set ones replace them, epochs turned into steps.
BOOST_AUTO_TEST_CASE(settings_override_the_papers_values) {
  const auto table = ss::data::make_pair_table(torch::tensor({0, 2}, torch::kLong), torch::tensor({1, 3}, torch::kLong));
  const m::Settings paper{.image_size = 32, .seed = 5, .steps_per_epoch = 10};
  {
    auto dino = m::DINO<ss::pairs::Semantic>::recipe(ss::pairs::Semantic(table), paper);
    BOOST_TEST(dino.views.options().local_views == 8);
    BOOST_TEST(dino.views.options().global_scale[0] == 0.4);
    BOOST_TEST(dino.loss.options.teacher_temperature == 0.04);
    BOOST_TEST(dino.loss.options.student_temperature == 0.1);
    BOOST_TEST(dino.loss.options.warmup_steps == 0);
    BOOST_TEST(dino.views.options().seed == 5u + 7u);
  }
  {
    const m::Settings s{.image_size = 32, .seed = 5, .steps_per_epoch = 10, .local_crops = 2,
                        .teacher_temperature = 0.07, .teacher_warmup_epochs = 3};
    auto dino = m::DINO<ss::pairs::Semantic>::recipe(ss::pairs::Semantic(table), s);
    BOOST_TEST(dino.views.options().local_views == 2);
    BOOST_TEST(dino.loss.options.teacher_temperature == 0.07);
    BOOST_TEST(dino.loss.options.warmup_teacher_temperature == 0.04);
    BOOST_TEST(dino.loss.options.warmup_steps == 30);
  }
  {
    auto swav = m::SwAV<>::recipe({}, paper);
    BOOST_TEST(swav.loss.options.queue_size == 3840);
    BOOST_TEST(swav.loss.options.queue_start_step == 150);
    BOOST_TEST(swav.views.options().local_views == 6);
    auto later = m::SwAV<>::recipe({}, {.steps_per_epoch = 10, .queue_size = 64, .queue_start_epoch = 2});
    BOOST_TEST(later.loss.options.queue_size == 64);
    BOOST_TEST(later.loss.options.queue_start_step == 20);
  }
  {
    auto moco = m::MoCoV2<>::recipe({}, paper);
    BOOST_TEST(moco.negatives.options().size == 4096);
    BOOST_TEST(moco.loss.options.temperature == 0.2);
    auto warmer = m::MoCoV2<>::recipe({}, {.temperature = 0.5, .queue_size = 128});
    BOOST_TEST(warmer.negatives.options().size == 128);
    BOOST_TEST(warmer.loss.options.temperature == 0.5);
  }
  // SimCLR's views: the CIFAR recipe below 96 px, ImageNet's (with blur) from 96 px up.
  BOOST_TEST(m::SimCLR<>::recipe({}, {.image_size = 32}).views.options().augmentation.blur_probability == 0.0);
  BOOST_TEST(m::SimCLR<>::recipe({}, {.image_size = 96}).views.options().augmentation.blur_probability == 0.5);
}

// The heads: the paper's sizes, DINO's and SwAV's last layers frozen for an epoch of steps, and
// the small heads of CPU runs.
BOOST_AUTO_TEST_CASE(encoder_heads_are_the_papers) {
  const m::Settings s{.steps_per_epoch = 7};
  const auto dino = m::DINO<>::encoder(384, s);
  BOOST_TEST(dino.momentum_target);
  BOOST_TEST(dino.momentum == 0.996);
  BOOST_TEST(dino.freeze_last_layer_steps == 7);
  BOOST_TEST(dino.projector.normalized_out_dim == 65536);
  BOOST_TEST(m::small_heads(dino).projector.normalized_out_dim == 4096);
  const auto swav = m::SwAV<>::encoder(512, s);
  BOOST_TEST(swav.prototypes == 3000);
  BOOST_TEST(m::small_heads(swav).prototypes == 375);
  BOOST_TEST(m::BYOL<>::encoder(512, s).predictor.has_value());
  BOOST_TEST(!m::SimCLR<>::encoder(512, s).predictor.has_value());
  BOOST_TEST(m::SimCLR<>::encoder(512, s).projector.hidden_dim == 512);
  BOOST_TEST(!m::MoCoV2<>::encoder(512, s).cosine_momentum);
}

// A pair source that needs a table says so, naming itself.
BOOST_AUTO_TEST_CASE(pair_source_without_its_table_is_refused) {
  BOOST_TEST(ss::test::throws_with([] { m::PairSource<ss::pairs::Semantic>::make({}); },
                                   "PairSource<semantic>::make: this source needs a semantic pair table"));
  BOOST_TEST(ss::test::throws_with([] { m::PairSource<m::Mix>::make({}); }, "PairSource<mix>::make"));
}

// MoCo v2 with same-label positives from methods:: trains step for step as the recipe written
// out by hand from the paper's values and the documented seed offsets.
BOOST_AUTO_TEST_CASE(a_method_trains_as_its_recipe_written_by_hand) {
  const auto data = ss::data::make_synthetic({.classes = 2, .per_class = 12, .size = 16, .seed = 3});
  const std::uint64_t seed = 9;
  const m::Settings settings{.image_size = 16, .seed = seed, .steps_per_epoch = 3, .queue_size = 32};
  using Method = m::MoCoV2<ss::pairs::SameLabel>;
  auto by_hand_views = ss::views::SimCLRViewOptions::cifar(16);
  by_hand_views.seed = seed + 7;
  const Method::recipe_type by_hand{.views = ss::views::SimCLRViews(by_hand_views),
                                    .pairs = ss::pairs::SameLabel({.seed = seed + 101}),
                                    .negatives = ss::negatives::Queue({.size = 32, .seed = seed + 11}),
                                    .loss = ss::losses::InfoNCE{{.temperature = 0.2}}};
  const auto from_method = Method::recipe(m::PairSource<ss::pairs::SameLabel>::make({.seed = seed}), settings);
  const auto heads = m::small_heads(Method::encoder(16, settings));
  BOOST_TEST(heads.momentum_target);
  auto losses = [&](const Method::recipe_type& recipe) {
    torch::manual_seed(4);
    auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, heads);
    ss::Trainer trainer(recipe, encoder, {.epochs = 1, .batch_size = 8, .learning_rate = 0.03, .seed = seed,
                                          .log_every = 1});
    std::vector<double> out;
    for (const auto& entry : trainer.fit(data).log) out.push_back(entry.loss);
    return out;
  };
  const auto a = losses(by_hand);
  const auto b = losses(from_method);
  BOOST_REQUIRE_EQUAL(a.size(), 3u);
  BOOST_TEST(a == b, boost::test_tools::per_element());
  BOOST_TEST(a.front() != a.back());  // it trains: the losses move
}

BOOST_AUTO_TEST_SUITE_END()
