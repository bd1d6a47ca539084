#include "../support.hpp"

#include <selfsup/views/views.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
using selfsup::test::throws_with;
namespace vf = selfsup::views::functional;
namespace views = selfsup::views;

BOOST_AUTO_TEST_SUITE(views_tests)

BOOST_AUTO_TEST_CASE(resized_crop_matches_torchvision) {
  auto images = reference("resized_crop.images").to(torch::kFloat32);
  auto boxes = reference("resized_crop.boxes").to(torch::kLong);
  for (int c = 0; c < 3; ++c) {
    const auto p = "resized_crop." + std::to_string(c) + ".";
    auto size = reference(p + "size").to(torch::kLong);
    for (const auto& device : selfsup::test::devices()) {
      auto out = vf::resized_crop(images.to(device), boxes.to(device),
                                  {size[0].item<int64_t>(), size[1].item<int64_t>()});
      BOOST_TEST(out.scalar_type() == torch::kFloat32);
      BOOST_TEST(max_abs_diff(out, reference(p + "out")) < 1e-4);
    }
  }
}

BOOST_AUTO_TEST_CASE(resized_crop_of_uint8_scales_to_unit_range) {
  auto images = torch::randint(0, 256, {3, 3, 12, 10}, torch::kByte);
  auto boxes = torch::tensor({0, 0, 12, 10, 2, 3, 5, 4, 6, 1, 6, 9}, torch::kLong).view({3, 4});
  auto from_bytes = vf::resized_crop_unchecked(images, boxes, {7, 9});
  auto from_float = vf::resized_crop(images.to(torch::kFloat32) / 255.0, boxes, {7, 9});
  BOOST_TEST(from_bytes.scalar_type() == torch::kFloat32);
  BOOST_TEST(max_abs_diff(from_bytes, from_float) < 1e-6);
}

BOOST_AUTO_TEST_CASE(hflip_matches_torchvision) {
  auto images = reference("resized_crop.images").to(torch::kFloat32);
  auto mask = reference("hflip.mask").to(torch::kBool);
  // Exact: the reference holds float32 values to 9 digits, which read back as float32 exactly.
  BOOST_TEST(torch::equal(vf::hflip(images, mask), reference("hflip.out").to(torch::kFloat32)));
}

BOOST_AUTO_TEST_CASE(functional_bad_input) {
  auto images = torch::rand({2, 3, 8, 8});
  auto boxes = torch::tensor({0, 0, 8, 8, 1, 1, 4, 4}, torch::kLong).view({2, 4});
  BOOST_TEST(throws_with([&] { vf::resized_crop(images[0], boxes, {4, 4}); }, "resized_crop: images must have 4 dimensions"));
  BOOST_TEST(throws_with([&] { vf::resized_crop(images, boxes.narrow(0, 0, 1), {4, 4}); }, "boxes must have shape (B, 4)"));
  auto outside = boxes.clone();
  outside[1][2] = 8;  // rows 1..8 of an 8-row image
  BOOST_TEST(throws_with([&] { vf::resized_crop(images, outside, {4, 4}); }, "every box must lie inside"));
  BOOST_TEST(throws_with([&] { vf::resized_crop(images, boxes.to(torch::kInt), {4, 4}); }, "boxes must be int64"));
  BOOST_TEST(throws_with([&] { vf::resized_crop(images.narrow(0, 0, 0), boxes.narrow(0, 0, 0), {4, 4}); }, "empty batch"));
  BOOST_TEST(throws_with([&] { vf::hflip(images, torch::ones({3}, torch::kBool)); }, "hflip: mask must have length B = 2"));
}

// Properties of torchvision's sampling rule, over many seeds: boxes inside the image, and
// area fraction and aspect ratio in range for every box that is not the centre fallback.
BOOST_AUTO_TEST_CASE(random_resized_crop_boxes_follow_the_rule) {
  const views::RandomResizedCropOptions opt{.scale = {0.2, 0.9}, .ratio = {0.5, 2.0}};
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    auto gen = selfsup::detail::make_generator(torch::kCPU, seed);
    auto b = views::sample_resized_crop_boxes(256, 30, 40, opt, gen, torch::kCPU).to(torch::kFloat64);
    auto top = b.select(1, 0), left = b.select(1, 1), h = b.select(1, 2), w = b.select(1, 3);
    BOOST_TEST(top.ge(0).all().item<bool>());
    BOOST_TEST(left.ge(0).all().item<bool>());
    BOOST_TEST((top + h).le(30).all().item<bool>());
    BOOST_TEST((left + w).le(40).all().item<bool>());
    // Rounding w and h moves the area and the ratio a little; allow one pixel either way.
    auto area = h * w / 1200.0;
    BOOST_TEST(((h + 1) * (w + 1) / 1200.0).ge(0.2).all().item<bool>());
    BOOST_TEST(((h - 1) * (w - 1) / 1200.0).le(0.9).all().item<bool>());
    BOOST_TEST(((w + 1) / (h - 1).clamp_min(1)).ge(0.5).all().item<bool>());
    BOOST_TEST(((w - 1) / (h + 1)).le(2.0).all().item<bool>());
    BOOST_TEST(area.std().item<double>() > 0.05);  // not a constant box
  }
}

BOOST_AUTO_TEST_CASE(random_resized_crop_falls_back_to_the_centre) {
  // A 4x100 strip cannot hold any crop with ratio in [3/4, 4/3] and area >= 50%: every
  // attempt fails and torchvision's fallback is the centred 4x5 crop (ratio clamped to 4/3).
  auto gen = selfsup::detail::make_generator(torch::kCPU, 7);
  auto b = views::sample_resized_crop_boxes(16, 4, 100, {.scale = {0.5, 1.0}}, gen, torch::kCPU);
  auto expected = torch::tensor({0, 47, 4, 5}, torch::kLong).expand({16, 4});
  BOOST_TEST(torch::equal(b, expected));
}

BOOST_AUTO_TEST_CASE(crop_flip_shapes_devices_and_reproducibility) {
  auto images = torch::randint(0, 256, {5, 3, 40, 36}, torch::kByte);
  for (const auto& device : selfsup::test::devices()) {
    views::CropFlip a({.size = 24, .seed = 11}), b({.size = 24, .seed = 11}), c({.size = 24, .seed = 12});
    auto x = images.to(device);
    auto va = a(x), vb = b(x), vc = c(x);
    BOOST_TEST(va.sizes() == torch::IntArrayRef({5, 3, 24, 24}));
    BOOST_TEST(va.scalar_type() == torch::kFloat32);
    BOOST_TEST(va.device() == device);
    BOOST_TEST(va.min().item<float>() >= 0.0f);
    BOOST_TEST(va.max().item<float>() <= 1.0f);
    BOOST_TEST(torch::equal(va, vb));
    BOOST_TEST(!torch::equal(va, vc));
    BOOST_TEST(!torch::equal(a(x), va));  // the generator advances
  }
  BOOST_TEST(throws_with([&] { views::CropFlip v; v(images.to(torch::kInt)); }, "CropFlip: images must be uint8 or floating"));
  BOOST_TEST(throws_with([&] { views::CropFlip v({.size = 0}); }, "size must be positive"));
}

BOOST_AUTO_TEST_CASE(crop_flip_with_full_crop_is_identity_or_mirror) {
  // scale = ratio = 1 on a square image: the crop is the whole image; the view is the image
  // itself or its mirror.
  auto images = torch::randint(0, 256, {64, 3, 16, 16}, torch::kByte);
  views::CropFlip v({.size = 16, .scale = {1.0, 1.0}, .ratio = {1.0, 1.0}, .seed = 3});
  auto out = v(images);
  auto plain = images.to(torch::kFloat32) / 255.0;
  auto same = (out - plain).abs().amax({1, 2, 3}).lt(1e-6);
  auto mirrored = (out - plain.flip({3})).abs().amax({1, 2, 3}).lt(1e-6);
  BOOST_TEST((same | mirrored).all().item<bool>());
  BOOST_TEST(mirrored.logical_and(same.logical_not()).sum().item<int64_t>() > 10);  // ~half flipped
  BOOST_TEST(same.sum().item<int64_t>() > 10);
}

BOOST_AUTO_TEST_SUITE_END()
