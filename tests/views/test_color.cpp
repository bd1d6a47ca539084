// views::functional colour operations, blur and solarize against torchvision, and the random
// transforms built on them (transforms.hpp).
#include "../support.hpp"

#include <selfsup/views/views.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
using selfsup::test::throws_with;
namespace vf = selfsup::views::functional;
namespace views = selfsup::views;

namespace {

torch::Tensor color_images() { return reference("color.images").to(torch::kFloat32); }

torch::Tensor factors(const std::string& name) { return reference(name).to(torch::kFloat32); }

// Applies `params` one sample at a time with the public functional operations, in the order the
// parameters say: an independent way to compute what ColorJitter's fused passes must give.
torch::Tensor jitter_one_by_one(const torch::Tensor& x, const views::ColorJitterParams& p,
                                const views::ColorJitterOptions& o) {
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto img = x.narrow(0, i, 1);
    if (p.applied[i].item<bool>()) {
      for (int64_t k = 0; k < 4; ++k) {
        const auto op = p.order[i][k].item<int64_t>();
        auto f = p.factors[i][op].reshape({1}).to(torch::kFloat32);
        if (op == 0 && o.brightness > 0) img = vf::adjust_brightness(img, f);
        if (op == 1 && o.contrast > 0) img = vf::adjust_contrast(img, f);
        if (op == 2 && o.saturation > 0) img = vf::adjust_saturation(img, f);
        if (op == 3 && o.hue > 0) img = vf::adjust_hue(img, f);
      }
    }
    out.push_back(img);
  }
  return torch::cat(out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(views_tests)

BOOST_AUTO_TEST_CASE(color_operations_match_torchvision) {
  for (const auto& device : selfsup::test::devices()) {
    auto x = color_images().to(device);
    for (int i = 0; i < 2; ++i) {
      const auto s = std::to_string(i);
      auto ref = [&](const std::string& op) { return reference(op + "." + s + ".out"); };
      auto f = [&](const std::string& op) { return factors(op + "." + s + ".factors").to(device); };
      BOOST_TEST(max_abs_diff(vf::adjust_brightness(x, f("brightness")), ref("brightness")) < 1e-5);
      BOOST_TEST(max_abs_diff(vf::adjust_contrast(x, f("contrast")), ref("contrast")) < 1e-5);
      BOOST_TEST(max_abs_diff(vf::adjust_saturation(x, f("saturation")), ref("saturation")) < 1e-5);
      BOOST_TEST(max_abs_diff(vf::adjust_hue(x, f("hue")), ref("hue")) < 1e-4);
    }
    BOOST_TEST(max_abs_diff(vf::rgb_to_grayscale(x), reference("grayscale.out")) < 1e-5);
    BOOST_TEST(vf::rgb_to_grayscale(x).sizes() == x.sizes());
    auto sigmas = factors("blur.sigmas").to(device);
    for (int k : {3, 5, 9}) {
      BOOST_TEST_CONTEXT("kernel " << k) {
        BOOST_TEST(max_abs_diff(vf::gaussian_blur(x, k, sigmas), reference("blur." + std::to_string(k) + ".out")) < 1e-4);
      }
    }
    BOOST_TEST(max_abs_diff(vf::solarize(x, 0.5), reference("solarize.scalar.out")) < 1e-5);
    BOOST_TEST(max_abs_diff(vf::solarize(x, factors("solarize.thresholds").to(device)), reference("solarize.out")) < 1e-5);
    BOOST_TEST(max_abs_diff(vf::normalize(x, {0.4914, 0.4822, 0.4465}, {0.247, 0.243, 0.261}), reference("normalize.out")) < 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(color_operations_read_uint8_as_unit_range) {
  auto bytes = torch::randint(0, 256, {3, 3, 6, 5}, torch::kByte);
  auto unit = bytes.to(torch::kFloat32) / 255.0;
  auto f = torch::tensor({0.5, 1.0, 1.3});
  BOOST_TEST(vf::adjust_brightness(bytes, f).scalar_type() == torch::kFloat32);
  BOOST_TEST(max_abs_diff(vf::adjust_brightness(bytes, f), vf::adjust_brightness(unit, f)) < 1e-6);
  BOOST_TEST(max_abs_diff(vf::adjust_hue(bytes, f - 1.0), vf::adjust_hue(unit, f - 1.0)) < 1e-6);
  BOOST_TEST(max_abs_diff(vf::gaussian_blur(bytes, 3, f), vf::gaussian_blur(unit, 3, f)) < 1e-6);
  BOOST_TEST(max_abs_diff(vf::rgb_to_grayscale(bytes), vf::rgb_to_grayscale(unit)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(color_operations_bad_input) {
  auto x = torch::rand({2, 3, 6, 6});
  auto f = torch::ones({2});
  BOOST_TEST(throws_with([&] { vf::adjust_brightness(x[0], f); }, "adjust_brightness: images must have 4 dimensions"));
  BOOST_TEST(throws_with([&] { vf::adjust_saturation(torch::rand({2, 2, 6, 6}), f); }, "adjust_saturation: images must have 1 or 3 channels"));
  BOOST_TEST(throws_with([&] { vf::rgb_to_grayscale(torch::rand({2, 4, 6, 6})); }, "rgb_to_grayscale: images must have 1 or 3 channels"));
  BOOST_TEST(throws_with([&] { vf::adjust_contrast(torch::ones({2, 3, 6, 6}, torch::kInt), f); }, "adjust_contrast: images must be uint8 or floating"));
  BOOST_TEST(throws_with([&] { vf::adjust_hue(x.narrow(0, 0, 0), f.narrow(0, 0, 0)); }, "adjust_hue: images is an empty batch"));
  BOOST_TEST(throws_with([&] { vf::adjust_contrast(x, torch::ones({3})); }, "adjust_contrast: factors must have length B = 2"));
  BOOST_TEST(throws_with([&] { vf::adjust_brightness(x, torch::ones({2, 1})); }, "adjust_brightness: factors must have 1 dimensions"));
  BOOST_TEST(throws_with([&] { vf::adjust_saturation(x, -f); }, "adjust_saturation: every entry of factors must lie in [0,"));
  BOOST_TEST(throws_with([&] { vf::adjust_hue(x, f * 0.6); }, "adjust_hue: every entry of factors must lie in [-0.5, 0.5]"));
  BOOST_TEST(throws_with([&] { vf::gaussian_blur(x, 4, f); }, "gaussian_blur: kernel_size must be odd"));
  BOOST_TEST(throws_with([&] { vf::gaussian_blur(x, 13, f); }, "gaussian_blur: reflect padding of 6"));
  BOOST_TEST(throws_with([&] { vf::gaussian_blur(x, 3, torch::zeros({2})); }, "gaussian_blur: every sigma must be positive"));
  BOOST_TEST(throws_with([&] { vf::gaussian_blur(x, 3, torch::ones({2}, torch::kLong)); }, "gaussian_blur: sigmas must have a floating dtype"));
  BOOST_TEST(throws_with([&] { vf::solarize(x, 1.5); }, "solarize: threshold must be in [0, 1]"));
  BOOST_TEST(throws_with([&] { vf::solarize(x, torch::ones({5})); }, "solarize: thresholds must have length B = 2"));
  BOOST_TEST(throws_with([&] { vf::normalize(x, {0.5}, {0.5}); }, "normalize: mean and std need one entry per channel"));
}

// The fused passes of ColorJitter must equal the four public operations applied one sample at
// a time in each sample's drawn order, for every combination of enabled operations.
BOOST_AUTO_TEST_CASE(color_jitter_equals_its_operations_in_the_drawn_order) {
  const std::vector<views::ColorJitterOptions> configs = {
      {.brightness = 0.4, .contrast = 0.4, .saturation = 0.4, .hue = 0.1, .probability = 0.8},
      {.brightness = 0.8, .contrast = 0.8, .saturation = 0.8, .hue = 0.5, .probability = 1.0},
      {.brightness = 0.4, .contrast = 0.4, .saturation = 0.2, .probability = 0.8},
      {.contrast = 0.9, .hue = 0.3},
      {.saturation = 0.7},
  };
  for (const auto& device : selfsup::test::devices()) {
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
      for (const auto& o : configs) {
        views::ColorJitter jitter(o);
        auto gen = selfsup::detail::make_generator(device, seed);
        auto x = torch::rand({24, 3, 7, 9}, torch::TensorOptions().device(device));
        auto p = jitter.sample(24, gen, device);
        auto fused = jitter.apply(x, p);
        BOOST_TEST(max_abs_diff(fused, jitter_one_by_one(x.cpu(), {p.applied.cpu(), p.factors.cpu(), p.order.cpu()}, o)) < 1e-4);
        BOOST_TEST(fused.device() == device);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(color_jitter_sampling_follows_torchvision) {
  const views::ColorJitterOptions o{.brightness = 0.4, .contrast = 0.4, .saturation = 0.4, .hue = 0.1, .probability = 0.8};
  views::ColorJitter jitter(o);
  auto first_op = torch::zeros({4}, torch::kFloat64);
  double applied = 0;
  const int64_t b = 512;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    auto gen = selfsup::detail::make_generator(torch::kCPU, seed);
    auto p = jitter.sample(b, gen, torch::kCPU);
    applied += p.applied.to(torch::kFloat64).mean().item<double>() / 20;
    auto f = p.factors;
    BOOST_TEST(f.narrow(1, 0, 3).ge(0.6).all().item<bool>());
    BOOST_TEST(f.narrow(1, 0, 3).le(1.4).all().item<bool>());
    BOOST_TEST(f.select(1, 3).abs().le(0.1).all().item<bool>());
    BOOST_TEST(f.narrow(1, 0, 3).std().item<double>() > 0.2);  // spread over the range (uniform: 0.23)
    // Each row is a permutation of 0..3.
    BOOST_TEST(torch::equal(std::get<0>(p.order.sort(1)), torch::arange(4).expand({b, 4})));
    first_op += torch::bincount(p.order.select(1, 0), {}, 4).to(torch::kFloat64) / (20.0 * b);
  }
  BOOST_TEST(std::abs(applied - 0.8) < 0.02);
  BOOST_TEST((first_op - 0.25).abs().max().item<double>() < 0.02);  // order uniform per sample

  // Unapplied samples come out unchanged; different seeds give different draws.
  auto x = torch::rand({64, 3, 5, 5});
  views::ColorJitter a({.brightness = 0.4, .hue = 0.1, .probability = 0.5, .seed = 1}),
      same({.brightness = 0.4, .hue = 0.1, .probability = 0.5, .seed = 1}),
      other({.brightness = 0.4, .hue = 0.1, .probability = 0.5, .seed = 2});
  auto y = a(x);
  BOOST_TEST(torch::equal(y, same(x)));
  BOOST_TEST(!torch::equal(y, other(x)));
  auto unchanged = (y - x).abs().amax({1, 2, 3}).eq(0).to(torch::kFloat64).mean().item<double>();
  BOOST_TEST(unchanged > 0.3);
  BOOST_TEST(unchanged < 0.7);
}

BOOST_AUTO_TEST_CASE(grayscale_blur_solarize_flip_apply_with_their_probability) {
  auto x = torch::rand({400, 3, 8, 8});
  double gray = 0, blurred = 0, solarized = 0, flipped = 0;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    views::RandomGrayscale g({.probability = 0.2, .seed = seed});
    auto y = g(x);
    auto is_gray = (y - y.select(1, 0).unsqueeze(1)).abs().amax({1, 2, 3}).eq(0);
    auto kept = (y - x).abs().amax({1, 2, 3}).eq(0);
    BOOST_TEST((is_gray ^ kept).all().item<bool>());  // each sample is either gray or untouched
    BOOST_TEST(max_abs_diff(y.index({is_gray}), vf::rgb_to_grayscale(x.index({is_gray}))) < 1e-6);
    gray += is_gray.to(torch::kFloat64).mean().item<double>() / 20;

    views::GaussianBlur blur({.kernel_size = 3, .sigma = {0.5, 2.0}, .probability = 0.5});
    auto gen = selfsup::detail::make_generator(torch::kCPU, seed);
    auto params = blur.sample(400, gen, torch::kCPU);                    // (B, 2): sigma, chosen
    auto b = blur.apply(x, params);
    auto chosen = params.select(1, 1).gt(0.5);
    BOOST_TEST(params.select(1, 0).ge(0.5).all().item<bool>());
    BOOST_TEST(params.select(1, 0).le(2.0).all().item<bool>());
    BOOST_TEST(max_abs_diff(b.index({chosen}), vf::gaussian_blur(x.index({chosen}), 3, params.select(1, 0).index({chosen}))) < 1e-6);
    BOOST_TEST(torch::equal(b.index({chosen.logical_not()}), x.index({chosen.logical_not()})));
    blurred += chosen.to(torch::kFloat64).mean().item<double>() / 20;

    views::RandomSolarize sol({.threshold = 0.5, .probability = 0.2, .seed = seed});
    auto s = sol(x);
    auto changed = (s - x).abs().amax({1, 2, 3}).gt(0);
    BOOST_TEST(max_abs_diff(s.index({changed}), vf::solarize(x.index({changed}), 0.5)) == 0.0);
    solarized += changed.to(torch::kFloat64).mean().item<double>() / 20;

    views::RandomHorizontalFlip flip({.probability = 0.5, .seed = seed});
    auto fl = flip(x);
    flipped += (fl - x).abs().amax({1, 2, 3}).gt(0).to(torch::kFloat64).mean().item<double>() / 20;
  }
  BOOST_TEST(std::abs(gray - 0.2) < 0.02);
  BOOST_TEST(std::abs(blurred - 0.5) < 0.02);
  BOOST_TEST(std::abs(solarized - 0.2) < 0.02);
  BOOST_TEST(std::abs(flipped - 0.5) < 0.02);
}

BOOST_AUTO_TEST_CASE(transforms_bad_input) {
  BOOST_TEST(throws_with([] { views::ColorJitter({.hue = 0.6}); }, "ColorJitter: hue must be in [0, 0.5]"));
  BOOST_TEST(throws_with([] { views::ColorJitter({.brightness = -1}); }, "ColorJitter: brightness, contrast and saturation must be non-negative"));
  BOOST_TEST(throws_with([] { views::GaussianBlur({.kernel_size = 4}); }, "GaussianBlur: kernel_size must be odd"));
  BOOST_TEST(throws_with([] { views::GaussianBlur({.sigma = {0.0, 1.0}}); }, "GaussianBlur: sigma must satisfy"));
  BOOST_TEST(throws_with([] { views::RandomGrayscale({.probability = 1.5}); }, "RandomGrayscale: probability must be in [0, 1]"));
  BOOST_TEST(throws_with([] { views::RandomSolarize({.threshold = 2}); }, "RandomSolarize: threshold must be in [0, 1]"));
  BOOST_TEST(throws_with([] { views::Normalize({.mean = {0.5}, .std = {0.0}}); }, "Normalize: every std must be positive"));
  BOOST_TEST(throws_with([] { views::ColorJitter j({.hue = 0.1}); j(torch::rand({2, 4, 5, 5})); }, "ColorJitter: images must have 1 or 3 channels"));
  BOOST_TEST(throws_with([] { views::GaussianBlur b({.kernel_size = 23}); b(torch::rand({2, 3, 8, 8})); }, "GaussianBlur: reflect padding of 11"));
  BOOST_TEST(throws_with([] { views::Normalize n({.mean = {0.5}, .std = {0.5}}); n(torch::rand({2, 3, 4, 4})); }, "Normalize: mean and std have 1 entries but images have 3 channels"));
}

BOOST_AUTO_TEST_SUITE_END()
