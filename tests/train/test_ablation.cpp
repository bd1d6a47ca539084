// The ablation runner under several seeds: run s of every variant starts from the same weights and
// draws the same views, pairs and batches; its results are summarised with intervals, compared
// seed by seed with a baseline, printed, and written as JSON and SVG.
#include "../support.hpp"

#include <selfsup/report/json.hpp>
#include <selfsup/report/svg.hpp>
#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace ss = selfsup;
using selfsup::test::throws_with;

namespace {

using TinySimCLR = ss::recipes::SimCLR::with_views<ss::views::CropFlip>;

ss::ablation::Run run_of(std::uint64_t seed, double knn, double linear, std::vector<double> curve) {
  ss::ablation::Run r{.seed = seed, .knn_top1 = knn, .linear_top1 = linear, .images_per_s = 100.0 + seed};
  r.knn_curve = std::move(curve);
  for (size_t i = 0; i < r.knn_curve.size(); ++i) r.knn_epochs.push_back(static_cast<int64_t>(i));
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_tests)

// Two variants with the same recipe factory under seeds 5 and 9: seed by seed they start from the
// same weights and train identically, so their paired differences are exactly zero, while the two
// seeds start from different weights.
BOOST_AUTO_TEST_CASE(ablation_runs_pair_seeds) {
  const auto train = ss::data::make_synthetic({.classes = 2, .per_class = 12, .size = 16, .seed = 1});
  const auto test = ss::data::make_synthetic({.classes = 2, .per_class = 6, .size = 16, .seed = 1},
                                             ss::data::SyntheticSplit::test);
  std::vector<double> initial;  // a fingerprint of each encoder's initial weights, in the order made
  auto make_encoder = [&] {
    auto e = ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
    double sum = 0.0;
    for (const auto& p : e->parameters()) sum += p.sum().item<double>();
    initial.push_back(sum);
    return e;
  };
  std::vector<std::uint64_t> asked;  // the seeds each recipe was made for
  auto recipe = [&](std::uint64_t seed) {
    asked.push_back(seed);
    return TinySimCLR{.views = ss::views::CropFlip({.size = 16, .seed = ss::derive_seed(seed, 1)})};
  };
  ss::ablation::Options options{.trainer = {.epochs = 2, .batch_size = 8, .learning_rate = 0.05, .log_every = 1},
                                .knn = {.k = 5},
                                .probe = {.max_iterations = 20},
                                .seeds = {5, 9},
                                .baseline = "a",
                                .verbose = false};
  const ss::data::InMemoryDataset* no_shift = nullptr;
  auto results = ss::ablation::run(make_encoder, train, test, no_shift, options, ss::ablation::variant("a", recipe),
                                   ss::ablation::variant("b", recipe));
  BOOST_TEST((asked == std::vector<std::uint64_t>{5, 5, 9, 9}));  // seeds outside, variants inside
  // Per seed: the untrained network, then a and b, all three from the same initial weights.
  BOOST_TEST_REQUIRE(initial.size() == 6u);
  BOOST_TEST(initial[0] == initial[1]);
  BOOST_TEST(initial[0] == initial[2]);
  BOOST_TEST(initial[3] == initial[4]);
  BOOST_TEST(initial[3] == initial[5]);
  BOOST_TEST(initial[0] != initial[3]);

  BOOST_TEST_REQUIRE(results.size() == 3u);
  const auto& u = results[0];
  const auto& a = results[1];
  const auto& b = results[2];
  BOOST_TEST(u.variant == "untrained");
  BOOST_TEST(u.untrained);
  BOOST_TEST(!a.untrained);
  BOOST_TEST_REQUIRE(u.runs.size() == 2u);
  BOOST_TEST((u.seeds() == std::vector<std::uint64_t>{5, 9}));
  for (const auto& r : u.runs) {
    BOOST_TEST(r.images_per_s == 0.0);
    BOOST_TEST((r.knn_epochs == std::vector<int64_t>{-1}));
    BOOST_TEST((r.knn_curve == std::vector<double>{r.knn_top1}));
  }
  // The untrained row against the baseline, and every trained variant against the untrained row,
  // recomputed here from the runs.
  BOOST_TEST_REQUIRE(u.vs_baseline.has_value());
  BOOST_TEST(!u.vs_untrained.has_value());
  const double a_gain = ((a.runs[0].knn_top1 - u.runs[0].knn_top1) + (a.runs[1].knn_top1 - u.runs[1].knn_top1)) / 2;
  const double a_linear_gain =
      ((a.runs[0].linear_top1 - u.runs[0].linear_top1) + (a.runs[1].linear_top1 - u.runs[1].linear_top1)) / 2;
  BOOST_TEST_REQUIRE(a.vs_untrained.has_value());
  BOOST_TEST_REQUIRE(b.vs_untrained.has_value());
  BOOST_TEST(a.vs_untrained->knn_top1.mean == a_gain, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(a.vs_untrained->linear_top1.mean == a_linear_gain, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(b.vs_untrained->knn_top1.mean == a_gain, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(u.vs_baseline->knn_top1.mean == -a_gain, boost::test_tools::tolerance(1e-12));
  BOOST_TEST((a.seeds() == std::vector<std::uint64_t>{5, 9}));
  BOOST_TEST_REQUIRE(b.runs.size() == 2u);
  for (size_t s = 0; s < 2; ++s) {
    BOOST_TEST(a.runs[s].knn_top1 == b.runs[s].knn_top1);
    BOOST_TEST(a.runs[s].linear_top1 == b.runs[s].linear_top1);
    BOOST_TEST(a.runs[s].knn_curve == b.runs[s].knn_curve);
    BOOST_TEST(a.runs[s].knn_curve.size() == 2u);
  }
  BOOST_TEST(!a.vs_baseline.has_value());
  BOOST_TEST_REQUIRE(b.vs_baseline.has_value());
  BOOST_TEST(b.baseline == "a");
  BOOST_TEST(b.vs_baseline->knn_top1.mean == 0.0);
  BOOST_TEST(*b.vs_baseline->knn_top1.ci95 == 0.0);
  BOOST_TEST(!b.vs_baseline->shifted_knn_top1.has_value());
  BOOST_TEST(a.knn_top1 == (a.runs[0].knn_top1 + a.runs[1].knn_top1) / 2, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(a.knn_curve_ci95.size() == 2u);

  // The table: intervals, and the paired differences, whose zero-width intervals include zero.
  std::FILE* file = std::tmpfile();
  BOOST_TEST_REQUIRE(file != nullptr);
  ss::ablation::print_table(results, file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  std::fclose(file);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("2 seeds (5, 9)") != std::string::npos);
  BOOST_TEST(text.find(" ± ") != std::string::npos);
  BOOST_TEST(text.find("Paired differences from a") != std::string::npos);
  BOOST_TEST(text.find("+0.0000 ± 0.0000") != std::string::npos);
  BOOST_TEST(text.find("kNN, linear") != std::string::npos);
  BOOST_TEST(text.find("Paired differences from the untrained network") != std::string::npos);
  BOOST_TEST(text.find("\nuntrained ") != std::string::npos);

  // The JSON: the untrained row has no throughput; every trained variant its vs_untrained.
  const auto json = ss::report::to_json(results);
  BOOST_TEST_REQUIRE(json.size() == 3u);
  BOOST_TEST(json[0]["variant"] == "untrained");
  BOOST_TEST(json[0]["images_per_s"].is_null());
  BOOST_TEST(!json[0].contains("vs_untrained"));
  BOOST_TEST(json[0].contains("vs_a"));
  BOOST_TEST(!json[1].contains("vs_a"));
  for (size_t i : {size_t{1}, size_t{2}}) {
    BOOST_TEST_REQUIRE(json[i].contains("vs_untrained"));
    BOOST_TEST(json[i]["vs_untrained"]["knn_top1"]["mean"].get<double>() == a_gain, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(json[i]["vs_untrained"]["knn_top1"]["ci95"].is_number());
    BOOST_TEST(json[i]["vs_untrained"]["shifted_knn_top1"].is_null());
  }

  // The plot draws each mean curve in a band.
  BOOST_TEST(ss::report::knn_curves_svg(results).find("<polygon") != std::string::npos);
}

// What run refuses before it trains anything.
BOOST_AUTO_TEST_CASE(ablation_refusals) {
  const auto data = ss::data::make_synthetic({.classes = 2, .per_class = 4, .size = 16});
  auto make_encoder = [] { return ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8}); };
  auto recipe = [](std::uint64_t seed) { return TinySimCLR{.views = ss::views::CropFlip({.size = 16, .seed = seed})}; };
  const ss::data::InMemoryDataset* no_shift = nullptr;
  ss::ablation::Options two{.seeds = {0, 1}, .verbose = false};
  BOOST_TEST(throws_with([&] {
    ss::ablation::run(make_encoder, data, data, no_shift, two, ss::ablation::variant("a", recipe),
                      ss::ablation::Variant<TinySimCLR>{"fixed", recipe(0)});
  }, "variant 'fixed' is one fixed recipe"));
  ss::ablation::Options repeated{.seeds = {3, 3}, .verbose = false};
  BOOST_TEST(throws_with([&] {
    ss::ablation::run(make_encoder, data, data, no_shift, repeated, ss::ablation::variant("a", recipe));
  }, "the seeds must be distinct, got 3, 3"));
  ss::ablation::Options unknown{.seeds = {0, 1}, .baseline = "augmented", .verbose = false};
  BOOST_TEST(throws_with([&] {
    ss::ablation::run(make_encoder, data, data, no_shift, unknown, ss::ablation::variant("a", recipe),
                      ss::ablation::variant("b", recipe));
  }, "the baseline 'augmented' is not one of the variants (a, b)"));
  BOOST_TEST(throws_with([&] {
    ss::ablation::run(make_encoder, data, data, no_shift, two, ss::ablation::variant("a", recipe),
                      ss::ablation::variant("a", recipe));
  }, "two variants are named 'a'"));
  BOOST_TEST(throws_with([&] {
    ss::ablation::run(make_encoder, data, data, no_shift, two, ss::ablation::variant("untrained", recipe));
  }, "a variant is named 'untrained', the name of the untrained network's row"));
}

// Options::untrained = false: only the trained variants, and no comparison with initial weights.
BOOST_AUTO_TEST_CASE(ablation_without_untrained) {
  const auto data = ss::data::make_synthetic({.classes = 2, .per_class = 6, .size = 16});
  int made = 0;
  auto make_encoder = [&] {
    ++made;
    return ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
  };
  auto recipe = [](std::uint64_t seed) { return TinySimCLR{.views = ss::views::CropFlip({.size = 16, .seed = seed})}; };
  const ss::data::InMemoryDataset* no_shift = nullptr;
  ss::ablation::Options options{.trainer = {.epochs = 1, .batch_size = 4}, .knn = {.k = 5}, .probe = {.max_iterations = 5},
                                .seeds = {0, 1}, .verbose = false, .untrained = false};
  auto results = ss::ablation::run(make_encoder, data, data, no_shift, options, ss::ablation::variant("untrained", recipe));
  BOOST_TEST(made == 2);
  BOOST_TEST_REQUIRE(results.size() == 1u);
  BOOST_TEST(!results[0].untrained);
  BOOST_TEST(!results[0].vs_untrained.has_value());
  BOOST_TEST(ss::report::to_json(results)[0]["images_per_s"].is_number());
}

// summarize and the JSON, from runs written by hand.
BOOST_AUTO_TEST_CASE(ablation_summary_and_json) {
  std::vector<ss::ablation::Run> base{run_of(0, 0.30, 0.40, {0.1, 0.2}), run_of(1, 0.50, 0.60, {0.3, 0.4}),
                                      run_of(2, 0.70, 0.50, {0.2, 0.6})};
  std::vector<ss::ablation::Run> semantic{run_of(0, 0.32, 0.45, {0.1, 0.3}), run_of(1, 0.53, 0.66, {0.3, 0.5}),
                                          run_of(2, 0.71, 0.52, {0.2, 0.7})};
  for (auto& r : base) r.shifted_knn_top1 = r.knn_top1 / 2;
  for (auto& r : semantic) r.shifted_knn_top1 = r.knn_top1 / 2 + 0.1;
  std::vector<ss::ablation::Result> results{ss::ablation::summarize("augmented", base),
                                            ss::ablation::summarize("semantic", semantic, &base, "augmented")};
  const auto& s = results[1];
  BOOST_TEST(s.knn_top1 == 0.52, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.images_per_s == 101.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.knn_curve[1] == 0.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.knn_curve_ci95[1] == 4.302652730 * 0.2 / std::sqrt(3.0), boost::test_tools::tolerance(1e-8));
  BOOST_TEST(s.vs_baseline->knn_top1.mean == 0.02, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(*s.vs_baseline->knn_top1.ci95 == 4.302652730 * 0.01 / std::sqrt(3.0), boost::test_tools::tolerance(1e-8));
  BOOST_TEST(s.vs_baseline->shifted_knn_top1->mean == 0.11, boost::test_tools::tolerance(1e-12));

  const auto json = ss::report::to_json(results);
  BOOST_TEST_REQUIRE(json.size() == 2u);
  for (const char* key : {"variant", "knn_top1", "shifted_knn_top1", "linear_top1", "images_per_s", "seeds",
                          "knn_top1_runs", "shifted_knn_top1_runs", "linear_top1_runs", "knn_top1_ci95",
                          "shifted_knn_top1_ci95", "linear_top1_ci95"}) {
    BOOST_TEST(json[0].contains(key), key);
    BOOST_TEST(json[1].contains(key), key);
  }
  BOOST_TEST(!json[0].contains("vs_augmented"));
  BOOST_TEST((json[1]["seeds"].get<std::vector<std::uint64_t>>() == std::vector<std::uint64_t>{0, 1, 2}));
  BOOST_TEST((json[1]["linear_top1_runs"].get<std::vector<double>>() == std::vector<double>{0.45, 0.66, 0.52}));
  BOOST_TEST(json[1]["knn_top1"].get<double>() == 0.52, boost::test_tools::tolerance(1e-12));
  const auto& vs = json[1]["vs_augmented"];
  for (const char* metric : {"knn_top1", "shifted_knn_top1", "linear_top1"}) {
    BOOST_TEST(vs[metric]["mean"].is_number(), metric);
    BOOST_TEST(vs[metric]["ci95"].is_number(), metric);
  }
  BOOST_TEST(vs["linear_top1"]["mean"].get<double>() == 0.13 / 3, boost::test_tools::tolerance(1e-12));

  // One seed: the intervals are null, not NaN; the paired difference has its mean only.
  std::vector<ss::ablation::Run> one_base{run_of(4, 0.5, 0.6, {0.5})};
  const auto single = ss::report::to_json(std::vector<ss::ablation::Result>{
      ss::ablation::summarize("augmented", one_base),
      ss::ablation::summarize("semantic", {run_of(4, 0.6, 0.7, {0.6})}, &one_base, "augmented")});
  for (const char* key : {"knn_top1_ci95", "linear_top1_ci95", "shifted_knn_top1_ci95", "shifted_knn_top1_runs",
                          "shifted_knn_top1"}) {
    BOOST_TEST(single[1][key].is_null(), key);
  }
  BOOST_TEST(single[1]["vs_augmented"]["knn_top1"]["ci95"].is_null());
  BOOST_TEST(single[1]["vs_augmented"]["knn_top1"]["mean"].get<double>() == 0.1, boost::test_tools::tolerance(1e-12));
  const std::string text = ss::report::dump(single);
  BOOST_TEST(text.find("NaN") == std::string::npos);
  BOOST_TEST(text.find("nan") == std::string::npos);
  BOOST_TEST(ss::report::knn_curves_svg(std::vector<ss::ablation::Result>{ss::ablation::summarize("augmented", one_base)})
                 .find("<polygon") == std::string::npos);

  // Runs paired under different seeds are refused.
  std::vector<ss::ablation::Run> shuffled{base[1], base[0], base[2]};
  BOOST_TEST(throws_with([&] { ss::ablation::summarize("semantic", semantic, &shuffled, "augmented"); },
                               "run 0 of variant 'semantic' has seed 0 and that of its baseline 'augmented' seed 1"));
}

BOOST_AUTO_TEST_SUITE_END()
