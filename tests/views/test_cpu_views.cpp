// The CPU render of views::Augmentation (views/detail/cpu_views.hpp): each stage against
// torchvision's references, and whole pipelines against the batched tensor path for the same
// drawn parameters (every jitter order, application masks below 1, uint8, float32, float64,
// one or three channels, images of different sizes, blur in between).
#include "../support.hpp"

#include <selfsup/views/views.hpp>

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
namespace views = selfsup::views;

namespace {

// One stage of the render applied to the reference images: an identity crop (the crop of the
// whole image at its own size reads every pixel with weight 0 on its neighbour), then only what
// `stages` switches on, with every view jittered by operation `op` first at `factors`.
torch::Tensor render_stage(const torch::Tensor& images, views::detail::CpuViewStages stages, int64_t op,
                           const torch::Tensor& factors, bool gray = false, bool solarize = false) {
  const auto b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  stages.height = h;
  stages.width = w;
  auto i64 = torch::TensorOptions().dtype(torch::kLong);
  auto f = torch::ones({b, 4}, torch::kFloat64);
  if (factors.defined()) f.select(1, op).copy_(factors);
  std::vector<int64_t> order = {op};
  for (int64_t k = 0; k < 4; ++k) if (k != op) order.push_back(k);
  views::detail::CpuViewParams p{
      torch::tensor({int64_t{0}, int64_t{0}, h, w}, i64).repeat({b, 1}),
      torch::zeros({b}, torch::kBool),
      torch::ones({b}, torch::kBool),
      f,
      torch::tensor(order, i64).repeat({b, 1}),
      torch::full({b}, gray, torch::kBool),
      torch::full({b}, solarize, torch::kBool)};
  auto flat = images.contiguous().view(-1);
  return views::detail::render_cpu_views(flat, torch::arange(b, i64) * (c * h * w), torch::full({b}, h, i64),
                                         torch::full({b}, w, i64), c, p, stages);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(views_tests)

BOOST_AUTO_TEST_CASE(cpu_render_stages_match_torchvision) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    BOOST_TEST_CONTEXT("dtype " << dtype) {
      auto x = reference("color.images").to(dtype);
      for (int i = 0; i < 2; ++i) {
        const auto s = std::to_string(i);
        auto ref = [&](const std::string& op) { return reference(op + "." + s + ".out"); };
        auto f = [&](const std::string& op) { return reference(op + "." + s + ".factors"); };
        auto brightness = render_stage(x, {.brightness = true}, 0, f("brightness"));
        BOOST_TEST(brightness.scalar_type() == dtype);
        BOOST_TEST(max_abs_diff(brightness, ref("brightness")) < 1e-5);
        BOOST_TEST(max_abs_diff(render_stage(x, {.contrast = true}, 1, f("contrast")), ref("contrast")) < 1e-5);
        BOOST_TEST(max_abs_diff(render_stage(x, {.saturation = true}, 2, f("saturation")), ref("saturation")) < 1e-5);
        BOOST_TEST(max_abs_diff(render_stage(x, {.hue = true}, 3, f("hue")), ref("hue")) < 1e-4);
      }
      BOOST_TEST(max_abs_diff(render_stage(x, {.grayscale = true}, 0, {}, /*gray=*/true), reference("grayscale.out")) < 1e-5);
      BOOST_TEST(max_abs_diff(render_stage(x, {.solarize = true, .solarize_threshold = 0.5}, 0, {}, false, /*solarize=*/true),
                              reference("solarize.scalar.out")) < 1e-5);
      BOOST_TEST(max_abs_diff(render_stage(x, {.mean = {0.4914, 0.4822, 0.4465}, .std = {0.247, 0.243, 0.261}}, 0, {}),
                              reference("normalize.out")) < 1e-5);
      // Unselected views are left as they are.
      BOOST_TEST(max_abs_diff(render_stage(x, {.grayscale = true}, 0, {}, /*gray=*/false), x) == 0.0);
    }
  }
  // The resized crop, from float and from uint8 images.
  auto images = reference("resized_crop.images");
  auto boxes = reference("resized_crop.boxes").to(torch::kLong);
  const auto b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  auto i64 = torch::TensorOptions().dtype(torch::kLong);
  views::detail::CpuViewParams p{boxes,
                                 torch::zeros({b}, torch::kBool),
                                 torch::zeros({b}, torch::kBool),
                                 torch::ones({b, 4}, torch::kFloat64),
                                 torch::arange(4, i64).repeat({b, 1}),
                                 torch::zeros({b}, torch::kBool),
                                 torch::zeros({b}, torch::kBool)};
  for (int i = 0; i < 3; ++i) {
    auto size = reference("resized_crop." + std::to_string(i) + ".size");
    views::detail::CpuViewStages stages{.height = static_cast<int64_t>(size[0].item<double>()),
                                        .width = static_cast<int64_t>(size[1].item<double>())};
    for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
      auto out = views::detail::render_cpu_views(images.to(dtype).view(-1), torch::arange(b, i64) * (c * h * w),
                                                 torch::full({b}, h, i64), torch::full({b}, w, i64), c, p, stages);
      BOOST_TEST(max_abs_diff(out, reference("resized_crop." + std::to_string(i) + ".out")) < 1e-4);
    }
    // uint8 images crop as their values / 255, with the batched crop's operations.
    auto bytes = torch::randint(0, 256, {b, c, h, w}, torch::kByte);
    auto from_bytes = views::detail::render_cpu_views(bytes.view(-1), torch::arange(b, i64) * (c * h * w),
                                                      torch::full({b}, h, i64), torch::full({b}, w, i64), c, p, stages);
    BOOST_TEST(from_bytes.scalar_type() == torch::kFloat32);
    BOOST_TEST(torch::equal(from_bytes, views::functional::resized_crop(bytes, boxes, {stages.height, stages.width})));
  }
}

// apply_cpu against apply_batched for the same parameters, over many seeds and configurations.
BOOST_AUTO_TEST_CASE(cpu_render_equals_batched_path) {
  struct Case {
    views::AugmentationOptions options;
    int64_t channels;
    bool ragged;
  };
  const std::vector<Case> cases = {
      {{.size = 24}, 3, false},  // SimCLR's CIFAR recipe
      {{.size = 20, .hue = 0.5, .jitter_probability = 0.6, .grayscale_probability = 0.3, .solarize_probability = 0.4,
        .mean = {0.1, 0.2, 0.3}, .std = {0.5, 0.6, 0.7}},
       3, false},
      {{.size = 16, .brightness = 0.8, .contrast = 0, .saturation = 0.8, .hue = 0.2, .jitter_probability = 1.0}, 3, false},
      {{.size = 16, .brightness = 0, .saturation = 0, .hue = 0.3, .jitter_probability = 0.5}, 3, true},
      {{.size = 18, .blur_probability = 0.5, .solarize_probability = 0.2, .mean = {0.4, 0.5, 0.6}, .std = {0.2, 0.2, 0.2}},
       3, false},
      {{.size = 12, .jitter_probability = 0.9, .grayscale_probability = 0.5, .solarize_probability = 0.5, .mean = {0.5},
        .std = {0.25}},
       1, false},
      {{.size = 14, .jitter_probability = 0, .grayscale_probability = 0}, 4, true},
  };
  std::set<std::vector<int64_t>> orders;
  for (auto dtype : {torch::kByte, torch::kFloat32, torch::kFloat64}) {
    for (size_t ci = 0; ci < cases.size(); ++ci) {
      const auto& cs = cases[ci];
      views::Augmentation a(cs.options);
      for (std::uint64_t seed = 0; seed < 4; ++seed) {
        BOOST_TEST_CONTEXT("dtype " << dtype << ", case " << ci << ", seed " << seed) {
          auto bytes = torch::randint(0, 256, {40, cs.channels, 30, 26}, torch::kByte);
          auto images = dtype == torch::kByte ? bytes : bytes.to(dtype) / 255.0;
          std::vector<torch::Tensor> list;
          for (int64_t i = 0; i < 40; ++i) {
            // Images of different sizes: every third one cut smaller.
            list.push_back(i % 3 == 0 ? images[i].narrow(1, 0, 21).narrow(2, 2, 19).contiguous() : images[i]);
          }
          auto source = cs.ragged ? views::detail::SourceImages("test", list) : views::detail::SourceImages("test", images);
          // Views of the images in a shuffled order, some images twice.
          auto sources = torch::randint(0, 40, {56}, torch::kLong);
          auto gen = selfsup::detail::make_generator(torch::kCPU, seed);
          auto params = a.sample(source, sources, gen);
          auto fused = a.apply_cpu(source, sources, params);
          auto batched = a.apply_batched(source, sources, params);
          BOOST_TEST(fused.scalar_type() == batched.scalar_type());
          BOOST_TEST(fused.sizes() == batched.sizes());
          BOOST_TEST(fused.is_contiguous());
          // Hue is torchvision's formula here and its closed form in the batched path.
          BOOST_TEST(max_abs_diff(fused, batched) < (dtype == torch::kFloat64 ? 1e-10 : 2e-5));
          auto applied = params.jitter.applied;
          for (int64_t i = 0; i < applied.size(0); ++i) {
            if (!applied[i].item<bool>()) continue;
            auto o = params.jitter.order[i];
            orders.insert(std::vector<int64_t>(o.data_ptr<int64_t>(), o.data_ptr<int64_t>() + 4));
          }
          // generate() takes the CPU render: same generator state, same views.
          auto again = selfsup::detail::make_generator(torch::kCPU, seed);
          BOOST_TEST(torch::equal(a.generate(source, sources, again), fused));
        }
      }
    }
  }
  BOOST_TEST(orders.size() == 24u);  // every order of the four operations was exercised
}

BOOST_AUTO_TEST_SUITE_END()
