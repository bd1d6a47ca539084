// views::Augmentation and the presets: SimCLRViews, BYOLViews, MultiCrop; images of different
// sizes; reproducibility.
#include "../support.hpp"

#include <selfsup/concepts.hpp>
#include <selfsup/views/views.hpp>

#include <boost/test/unit_test.hpp>

#include <vector>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
using selfsup::test::throws_with;
namespace vf = selfsup::views::functional;
namespace views = selfsup::views;

static_assert(selfsup::ViewGenerator<views::SimCLRViews>);
static_assert(selfsup::ViewGenerator<views::Augmentation>);
static_assert(selfsup::ViewGenerator<views::ColorJitter>);
static_assert(selfsup::ViewPairGenerator<views::BYOLViews>);
static_assert(!selfsup::ViewGenerator<views::BYOLViews>);
static_assert(!selfsup::ViewGenerator<views::MultiCrop>);  // returns MultiCropViews, its own API

BOOST_AUTO_TEST_SUITE(views_tests)

BOOST_AUTO_TEST_CASE(simclr_views_contract) {
  auto images = torch::randint(0, 256, {6, 3, 40, 36}, torch::kByte);
  for (const auto& device : selfsup::test::devices()) {
    auto x = images.to(device);
    views::SimCLRViews v(views::SimCLRViewOptions{.size = 32});
    auto out = v(x);
    BOOST_TEST(out.sizes() == torch::IntArrayRef({6, 3, 32, 32}));
    BOOST_TEST(out.scalar_type() == torch::kFloat32);
    BOOST_TEST(out.device() == device);
    BOOST_TEST(out.is_contiguous());
    BOOST_TEST(out.min().item<float>() >= 0.0f);
    BOOST_TEST(out.max().item<float>() <= 1.0f);

    // Same seed, same views; another seed, other views; the generator advances between calls.
    views::SimCLRViews a({.size = 24, .seed = 5}), b({.size = 24, .seed = 5}), c({.size = 24, .seed = 6});
    auto va = a(x);
    BOOST_TEST(torch::equal(va, b(x)));
    BOOST_TEST(!torch::equal(va, c(x)));
    BOOST_TEST(!torch::equal(a(x), va));
    // No hidden global state: LibTorch's global seed changes nothing.
    torch::manual_seed(123);
    views::SimCLRViews d({.size = 24, .seed = 5});
    auto vd = d(x);
    torch::manual_seed(456);
    views::SimCLRViews e({.size = 24, .seed = 5});
    BOOST_TEST(torch::equal(vd, e(x)));
  }
}

BOOST_AUTO_TEST_CASE(simclr_recipes) {
  const auto cifar = views::SimCLRViewOptions::cifar();
  BOOST_TEST(cifar.size == 32);
  BOOST_TEST(cifar.augmentation.blur_probability == 0.0);
  BOOST_TEST(cifar.augmentation.jitter_probability == 0.8);
  BOOST_TEST(cifar.augmentation.grayscale_probability == 0.2);
  const auto imagenet = views::SimCLRViewOptions::imagenet();
  BOOST_TEST(imagenet.size == 224);
  BOOST_TEST(imagenet.augmentation.blur_probability == 0.5);
  BOOST_TEST(views::detail::default_blur_kernel(224) == 23);  // SimCLR's kernel for 224 pixels
  BOOST_TEST(views::detail::default_blur_kernel(96) == 9);
  BOOST_TEST(views::detail::default_blur_kernel(32) == 3);
  views::SimCLRViews v(views::SimCLRViewOptions::imagenet(48));
  auto out = v(torch::randint(0, 256, {4, 3, 64, 60}, torch::kByte));
  BOOST_TEST(out.sizes() == torch::IntArrayRef({4, 3, 48, 48}));
  views::SimCLRViews normalised({.size = 16, .augmentation = {.mean = {0.5, 0.5, 0.5}, .std = {0.25, 0.25, 0.25}}});
  auto n = normalised(torch::randint(0, 256, {64, 3, 20, 20}, torch::kByte));
  BOOST_TEST(n.min().item<float>() < -0.5f);  // values leave [0, 1] once normalised
}

// Full-image crops with colour turned off leave only the flip: each view is the image or its
// mirror, and about half are mirrored, over 20 seeds.
BOOST_AUTO_TEST_CASE(augmentation_flip_fraction_and_plain_crop) {
  auto images = torch::randint(0, 256, {128, 3, 12, 12}, torch::kByte);
  auto plain = images.to(torch::kFloat32) / 255.0;
  double mirrored_fraction = 0;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    views::Augmentation a({.size = 12, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}, .jitter_probability = 0,
                           .grayscale_probability = 0, .seed = seed});
    auto out = a(images);
    auto same = (out - plain).abs().amax({1, 2, 3}).lt(1e-6);
    auto mirrored = (out - plain.flip({3})).abs().amax({1, 2, 3}).lt(1e-6);
    BOOST_TEST((same | mirrored).all().item<bool>());
    mirrored_fraction += mirrored.to(torch::kFloat64).mean().item<double>() / 20;
  }
  BOOST_TEST(std::abs(mirrored_fraction - 0.5) < 0.03);
}

// With the colour stages on and every probability 1, the pipeline equals the functional
// operations applied to its crops: here grayscale (p = 1) after jitter (p = 0), and solarize.
BOOST_AUTO_TEST_CASE(augmentation_stages_compose) {
  auto images = torch::rand({16, 3, 20, 20});
  views::Augmentation gray({.size = 20, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}, .flip_probability = 0,
                            .jitter_probability = 0, .grayscale_probability = 1, .solarize_probability = 1,
                            .solarize_threshold = 0.4});
  BOOST_TEST(max_abs_diff(gray(images), vf::solarize(vf::rgb_to_grayscale(images), 0.4)) < 1e-6);
  views::Augmentation norm({.size = 20, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}, .flip_probability = 0,
                            .jitter_probability = 0, .grayscale_probability = 0,
                            .mean = {0.1, 0.2, 0.3}, .std = {0.5, 0.6, 0.7}});
  BOOST_TEST(max_abs_diff(norm(images), vf::normalize(images, {0.1, 0.2, 0.3}, {0.5, 0.6, 0.7})) < 1e-6);
}

// The CPU path works in slices of the batch; the slice size must not change any view.
BOOST_AUTO_TEST_CASE(augmentation_slices_do_not_change_views) {
  auto images = torch::randint(0, 256, {50, 3, 30, 26}, torch::kByte);
  views::Augmentation a({.size = 16, .blur_probability = 0.5, .solarize_probability = 0.3, .seed = 4});
  views::detail::SourceImages source("test", images);
  auto all = torch::arange(50);
  auto g1 = selfsup::detail::make_generator(torch::kCPU, 9), g2 = g1.clone();
  auto whole = a.generate(source, all, g1, 1000);
  auto sliced = a.generate(source, all, g2, 7);
  BOOST_TEST(torch::equal(whole, sliced));
}

BOOST_AUTO_TEST_CASE(images_of_different_sizes_are_cropped_from_their_sources) {
  // The ragged crop against torchvision's references: the reference images as a list.
  auto ref_images = reference("resized_crop.images").to(torch::kFloat32);
  auto boxes = reference("resized_crop.boxes").to(torch::kLong);
  std::vector<torch::Tensor> list;
  for (int64_t i = 0; i < ref_images.size(0); ++i) list.push_back(ref_images[i]);
  views::detail::SourceImages source("test", list);
  auto idx = torch::arange(ref_images.size(0));
  auto out = source.crop(idx, boxes, 16, {});
  auto size = reference("resized_crop.0.size");
  BOOST_TEST(size[0].item<double>() == 16.0);
  // (the reference's case 0 is 16x12; compare the square case through vf::resized_crop)
  BOOST_TEST(max_abs_diff(out, vf::resized_crop(ref_images, boxes, {16, 16})) < 1e-5);

  // Truly different sizes: every view equals the checked crop of its own image.
  std::vector<torch::Tensor> mixed = {torch::randint(0, 256, {3, 30, 40}, torch::kByte),
                                      torch::randint(0, 256, {3, 17, 9}, torch::kByte),
                                      torch::randint(0, 256, {3, 64, 48}, torch::kByte)};
  views::detail::SourceImages ragged("test", mixed);
  auto gen = selfsup::detail::make_generator(torch::kCPU, 3);
  auto three = torch::arange(3);
  auto b = ragged.sample_boxes(three, {}, gen);
  auto flip = torch::tensor({true, false, true});
  auto views_out = ragged.crop(three, b, 12, flip);
  for (int64_t i = 0; i < 3; ++i) {
    auto expected = vf::resized_crop(mixed[i].unsqueeze(0), b.narrow(0, i, 1), {12, 12});
    if (i != 1) expected = expected.flip({3});
    BOOST_TEST(max_abs_diff(views_out.narrow(0, i, 1), expected) < 1e-5);
    // Each box lies inside its own image.
    BOOST_TEST(b[i][0].item<int64_t>() + b[i][2].item<int64_t>() <= mixed[i].size(1));
    BOOST_TEST(b[i][1].item<int64_t>() + b[i][3].item<int64_t>() <= mixed[i].size(2));
  }

  // Through a preset, and a list of equal sizes gives what the stacked tensor gives.
  for (const auto& device : selfsup::test::devices()) {
    std::vector<torch::Tensor> on_device;
    for (const auto& m : mixed) on_device.push_back(m.to(device));
    views::SimCLRViews v({.size = 20, .seed = 1});
    auto x = v(on_device);
    BOOST_TEST(x.sizes() == torch::IntArrayRef({3, 3, 20, 20}));
    BOOST_TEST(x.device() == device);
    auto batch = torch::randint(0, 256, {5, 3, 24, 28}, torch::kByte).to(device);
    std::vector<torch::Tensor> same_size;
    for (int64_t i = 0; i < 5; ++i) same_size.push_back(batch[i]);
    views::SimCLRViews p({.size = 16, .seed = 2}), q({.size = 16, .seed = 2});
    BOOST_TEST(max_abs_diff(p(batch), q(same_size)) < 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(byol_views_are_asymmetric_and_reproducible) {
  auto images = torch::randint(0, 256, {8, 3, 40, 40}, torch::kByte);
  for (const auto& device : selfsup::test::devices()) {
    auto x = images.to(device);
    views::BYOLViews a({.size = 32, .seed = 3}), b({.size = 32, .seed = 3});
    auto f = a.first(x), s = a.second(x);
    BOOST_TEST(f.sizes() == torch::IntArrayRef({8, 3, 32, 32}));
    BOOST_TEST(s.device() == device);
    BOOST_TEST(!torch::equal(f, s));            // independent streams for the two sides
    BOOST_TEST(torch::equal(f, b.first(x)));
    BOOST_TEST(torch::equal(s, b.second(x)));
  }
  views::BYOLViews d;
  BOOST_TEST(d.options().blur_probability[0] == 1.0);
  BOOST_TEST(d.options().blur_probability[1] == 0.1);
  BOOST_TEST(d.options().solarize_probability[0] == 0.0);
  BOOST_TEST(d.options().solarize_probability[1] == 0.2);
  BOOST_TEST(d.options().saturation == 0.2);
}

BOOST_AUTO_TEST_CASE(byol_second_view_solarizes_about_a_fifth) {
  // Colour and blur off, full crops, no flip: a second view differs from the image exactly when
  // it was solarized; the first view never is.
  auto images = torch::rand({400, 3, 8, 8}) * 0.5 + 0.5;  // every pixel above the threshold
  double fraction = 0;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    views::BYOLViews v({.size = 8, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}, .flip_probability = 0,
                        .jitter_probability = 0, .grayscale_probability = 0, .blur_probability = {0.0, 0.0},
                        .seed = seed});
    BOOST_TEST(max_abs_diff(v.first(images), images) < 1e-6);
    auto changed = (v.second(images) - images).abs().amax({1, 2, 3}).gt(1e-6);
    fraction += changed.to(torch::kFloat64).mean().item<double>() / 10;
  }
  BOOST_TEST(std::abs(fraction - 0.2) < 0.03);
}

BOOST_AUTO_TEST_CASE(multi_crop_shapes_and_reproducibility) {
  auto images = torch::randint(0, 256, {5, 3, 50, 44}, torch::kByte);
  for (const auto& device : selfsup::test::devices()) {
    auto x = images.to(device);
    views::MultiCrop m({.global_size = 32, .local_size = 12, .local_views = 4, .seed = 1}),
        same({.global_size = 32, .local_size = 12, .local_views = 4, .seed = 1});
    auto v = m(x);
    BOOST_TEST(v.global.sizes() == torch::IntArrayRef({2, 5, 3, 32, 32}));
    BOOST_TEST(v.local.sizes() == torch::IntArrayRef({4, 5, 3, 12, 12}));
    BOOST_TEST(v.local.device() == device);
    BOOST_TEST(!torch::equal(v.global[0], v.global[1]));
    auto w = same(x);
    BOOST_TEST(torch::equal(v.global, w.global));
    BOOST_TEST(torch::equal(v.local, w.local));
    views::MultiCrop none({.global_size = 16, .local_views = 0});
    BOOST_TEST(none(x).local.size(0) == 0);
  }
  // Local crops come from the small scale range: at most 14% of the area before resizing, so
  // their boxes are small; checked through the box sampler with the same options.
  auto gen = selfsup::detail::make_generator(torch::kCPU, 0);
  auto b = views::sample_resized_crop_boxes(1000, 50, 44, {.scale = {0.05, 0.14}}, gen, torch::kCPU);
  auto area = (b.select(1, 2) * b.select(1, 3)).to(torch::kFloat64) / (50.0 * 44.0);
  BOOST_TEST(area.max().item<double>() < 0.16);
}

BOOST_AUTO_TEST_CASE(presets_bad_input) {
  views::SimCLRViews v({.size = 8});
  BOOST_TEST(throws_with([&] { v(torch::rand({3, 8, 8})); }, "SimCLRViews: images must have 4 dimensions"));
  BOOST_TEST(throws_with([&] { v(torch::rand({2, 4, 8, 8})); }, "SimCLRViews: images must have 1 or 3 channels"));
  BOOST_TEST(throws_with([&] { v(torch::ones({2, 3, 8, 8}, torch::kInt)); }, "SimCLRViews: images must be uint8 or floating"));
  BOOST_TEST(throws_with([&] { v(torch::rand({0, 3, 8, 8})); }, "SimCLRViews: images is an empty batch"));
  BOOST_TEST(throws_with([&] { v(std::vector<torch::Tensor>{}); }, "SimCLRViews: images is an empty batch"));
  BOOST_TEST(throws_with([&] { v(std::vector<torch::Tensor>{torch::rand({3, 8, 8}), torch::rand({1, 8, 8})}); },
                         "SimCLRViews: images[1] must have the dtype, channel count and device of images[0]"));
  BOOST_TEST(throws_with([] { views::SimCLRViews({.size = 0}); }, "SimCLRViews: size must be positive"));
  BOOST_TEST(throws_with([] { views::SimCLRViews({.size = 32, .augmentation = {.blur_kernel_size = 71}}); }, "SimCLRViews: blur_kernel_size 71 is too large"));
  BOOST_TEST(throws_with([] { views::SimCLRViews({.augmentation = {.flip_probability = 2}}); }, "SimCLRViews: flip_probability must be in [0, 1]"));
  BOOST_TEST(throws_with([] { views::BYOLViews b({.size = 8}); b.first(torch::rand({2, 2, 8, 8})); }, "BYOLViews::first: images must have 1 or 3 channels"));
  BOOST_TEST(throws_with([] { views::MultiCrop({.local_views = -1}); }, "MultiCrop: local_views must be >= 0"));
}

BOOST_AUTO_TEST_SUITE_END()
