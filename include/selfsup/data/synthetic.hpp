#pragma once
/// \file
/// data::make_synthetic: the embedded dataset, generated procedurally from a seed, on the device.
///
/// Each class is a family of closed shapes (its number of lobes, solid or hollow, smooth or
/// sharp lobes). Every instance varies in factors that standard augmentations also produce
/// (position, scale, the colours of object and background) and in factors they cannot: the
/// shape's rotation, stretch and deformation. Two instances of one class therefore differ in ways
/// two augmented views of one image never do, as two photographs of one kind of object do, while
/// crops and colour jitter reach part of that variation, as they do on natural images. The
/// `shifted` split draws its nuisance factors from other ranges (wider rotations, stronger
/// deformation, checkerboard backgrounds, clutter, texture): a stand-in for transfer to unseen
/// data.
///
/// `SyntheticNuisance::unreachable` gives the first version of the dataset, whose train and test
/// images also carry striped backgrounds, textured objects and clutter, none of which any
/// augmentation produces. Instance discrimination learns to tell images apart by those (they
/// survive every crop and jitter), and on that version augmented pairs end below the untrained
/// network: a dataset for the one-sided case, kept for tests and comparisons.
///
/// make_synthetic_pairs gives the train split its curated semantic pair table (pairs of two
/// different instances of one class), optionally with a chosen fraction of wrong, cross-class
/// pairs for noise ablations.

#include <selfsup/data/in_memory.hpp>
#include <selfsup/data/pair_table.hpp>
#include <selfsup/detail/torch_compat.hpp>

#include <torch/torch.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <numbers>
#include <utility>

namespace selfsup::data {

enum class SyntheticSplit { train, test, shifted };

/// The nuisance factors of the train and test splits (the shifted split is the same under both).
enum class SyntheticNuisance {
  reachable,    ///< position, scale, colours and a smooth background gradient, which crops and
                ///< colour jitter also produce, besides the shape's rotation, stretch and deformation
  unreachable,  ///< also stripes behind the object, texture on it and clutter around it
};

struct SyntheticOptions {
  int64_t classes = 10;      ///< 2 to 20 shape families
  int64_t per_class = 500;   ///< instances of each class
  int64_t size = 32;         ///< image side length, at least 16
  std::uint64_t seed = 0;
  SyntheticNuisance nuisance = SyntheticNuisance::reachable;
};

namespace detail {

// Per-instance factors, one row per image, so that a chunk of images is a slice of rows.
class ShapeFactors {
 public:
  explicit ShapeFactors(torch::Tensor table) : table_(std::move(table)) {}
  ShapeFactors rows(int64_t start, int64_t len, const torch::Device& device) const {
    return ShapeFactors(table_.narrow(0, start, len).to(device));
  }
  torch::Tensor col(int64_t c) const { return table_.select(1, c); }  // (N)
  torch::Tensor cols(int64_t c, int64_t k) const { return table_.narrow(1, c, k); }  // (N, k)
  const torch::Tensor& table() const { return table_; }

 private:
  torch::Tensor table_;
};

// Columns of the factor table.
enum Factor : int64_t {
  lobes, hollow, sharp, cx, cy, radius, stretch, angle, lobe_depth, deform0, deform1,
  deform_phase0, deform_phase1, fg /* 3 */, bg0 = fg + 3, bg1 = bg0 + 3, texture_freq = bg1 + 3,
  texture_angle, texture_strength, bg_freq, bg_angle, bg_phase, clutter /* 6 per disc */,
};
inline constexpr int64_t clutter_width = 6;  // x, y, radius, r, g, b

// Train and test images of the reachable version: a plain gradient behind the object, no
// texture, no clutter.
inline bool plain(SyntheticSplit split, SyntheticNuisance nuisance) {
  return split != SyntheticSplit::shifted && nuisance == SyntheticNuisance::reachable;
}

inline int64_t clutter_count(SyntheticSplit split, SyntheticNuisance nuisance) {
  if (plain(split, nuisance)) return 0;
  return split == SyntheticSplit::shifted ? 4 : 3;
}

inline torch::Tensor uniform(at::Generator& gen, int64_t n, double lo, double hi) {
  return lo + (hi - lo) * torch::rand({n}, gen, torch::TensorOptions().dtype(torch::kFloat32));
}

inline ShapeFactors draw_factors(const torch::Tensor& labels, SyntheticSplit split, SyntheticNuisance nuisance,
                                 int64_t size, at::Generator& gen) {
  const auto n = labels.size(0);
  const double s = static_cast<double>(size);
  const double pi = std::numbers::pi;
  const bool shifted = split == SyntheticSplit::shifted;
  const int64_t m = clutter_count(split, nuisance);
  auto t = torch::empty({n, clutter + clutter_width * m}, torch::TensorOptions().dtype(torch::kFloat32));
  auto set = [&](int64_t c, const torch::Tensor& v) { t.select(1, c).copy_(v); };
  auto set_uniform = [&](int64_t c, double lo, double hi) { set(c, uniform(gen, n, lo, hi)); };
  set(lobes, 2 + labels.remainder(5));
  set(hollow, labels.div(5, "floor").remainder(2));
  set(sharp, labels.div(10, "floor").remainder(2));
  set_uniform(cx, 0.35 * s, 0.65 * s);
  set_uniform(cy, 0.35 * s, 0.65 * s);
  set_uniform(radius, 0.28 * s, 0.36 * s);
  set_uniform(stretch, 0.8, 1.25);
  // Rotation as a fraction of the shape's symmetry period: a band around upright for train and
  // test, the whole period for shifted.
  const double spread = shifted ? 0.5 : 0.2;
  set(angle, uniform(gen, n, -spread, spread) * 2.0 * pi / t.select(1, lobes));
  set_uniform(lobe_depth, 0.30, 0.45);
  for (int64_t c : {deform0, deform1}) set_uniform(c, 0.0, shifted ? 0.10 : 0.07);
  for (int64_t c : {deform_phase0, deform_phase1}) set_uniform(c, 0.0, 2.0 * pi);
  for (int64_t c = 0; c < 3; ++c) {
    set_uniform(fg + c, 0.35, 1.0);
    set_uniform(bg0 + c, shifted ? 0.1 : 0.0, shifted ? 0.5 : 0.4);
    set_uniform(bg1 + c, shifted ? 0.1 : 0.0, shifted ? 0.5 : 0.4);
  }
  set_uniform(texture_freq, 0.6, 1.6);
  set_uniform(texture_angle, 0.0, pi);
  set_uniform(texture_strength, 0.0, plain(split, nuisance) ? 0.0 : 0.2);  // the same draws either way
  set_uniform(bg_freq, shifted ? 0.4 : 0.15, shifted ? 0.8 : 0.7);
  set_uniform(bg_angle, 0.0, pi);
  set_uniform(bg_phase, 0.0, 2.0 * pi);
  for (int64_t j = 0; j < m; ++j) {
    const int64_t base = clutter + clutter_width * j;
    set_uniform(base + 0, 0.0, s);
    set_uniform(base + 1, 0.0, s);
    set_uniform(base + 2, 0.04 * s, 0.10 * s);
    for (int64_t c = 0; c < 3; ++c) set_uniform(base + 3 + c, 0.0, 1.0);
  }
  return ShapeFactors(t);
}

// Renders the images of a factor table already on the target device: float (N, 3, S, S).
inline torch::Tensor render(const ShapeFactors& f, SyntheticSplit split, SyntheticNuisance nuisance, int64_t size) {
  const auto opts = f.table().options();
  auto coords = torch::arange(size, opts) + 0.5;
  auto y = coords.view({1, size, 1});
  auto x = coords.view({1, 1, size});
  auto col = [&](int64_t c) { return f.col(c).view({-1, 1, 1}); };      // (N, 1, 1)
  auto rgb = [&](int64_t c) { return f.cols(c, 3).reshape({-1, 3, 1, 1}); };  // (N, 3, 1, 1)
  auto soft = [](const torch::Tensor& signed_distance) {  // anti-aliased edge, ~1 pixel wide
    return torch::sigmoid(signed_distance * 2.0);
  };

  // Background between two colours: a linear gradient across the image (train and test of the
  // reachable version), stripes (the unreachable version) or a checkerboard (shifted).
  auto cos_bg = torch::cos(col(bg_angle)), sin_bg = torch::sin(col(bg_angle));
  auto bx = (x - col(cx)) * cos_bg + (y - col(cy)) * sin_bg;
  auto by = (y - col(cy)) * cos_bg - (x - col(cx)) * sin_bg;
  torch::Tensor pattern;
  if (split == SyntheticSplit::shifted) {
    pattern = 0.5 + 0.5 * torch::tanh(3.0 * torch::sin(col(bg_freq) * bx + col(bg_phase)) *
                                      torch::sin(col(bg_freq) * by));
  } else if (plain(split, nuisance)) {
    pattern = (0.5 + bx / static_cast<double>(size)).clamp(0.0, 1.0);
  } else {
    pattern = 0.5 + 0.5 * torch::sin(col(bg_freq) * bx + col(bg_phase));
  }
  pattern = pattern.unsqueeze(1);                                               // (N, 1, S, S)
  auto image = rgb(bg0) * (1.0 - pattern) + rgb(bg1) * pattern;                 // (N, 3, S, S)

  // Clutter: small discs behind the object.
  for (int64_t j = 0; j < clutter_count(split, nuisance); ++j) {
    const int64_t base = clutter + clutter_width * j;
    auto d = torch::sqrt((x - col(base)).pow(2) + (y - col(base + 1)).pow(2));
    auto disc = soft(col(base + 2) - d).unsqueeze(1);
    image = image * (1.0 - disc) + rgb(base + 3) * disc;
  }

  // The object: a radial profile r(θ) with `lobes` lobes, stretched, rotated and deformed.
  auto dx = (x - col(cx)) / col(stretch);
  auto dy = y - col(cy);
  auto dist = torch::sqrt(dx.pow(2) + dy.pow(2));
  auto theta = torch::atan2(dy, dx) - col(angle);
  auto phase = col(lobes) * theta;
  auto triangle = 2.0 * torch::abs(torch::remainder(phase / (2.0 * std::numbers::pi), 1.0) * 2.0 - 1.0) - 1.0;
  auto profile = torch::where(col(sharp).gt(0.5), triangle, torch::cos(phase));
  auto deform = col(deform0) * torch::cos(7.0 * theta + col(deform_phase0)) +
                col(deform1) * torch::cos(9.0 * theta + col(deform_phase1));
  auto boundary = col(radius) * (1.0 + col(lobe_depth) * profile + deform);
  auto mask = soft(boundary - dist);
  auto hole = soft(0.5 * boundary - dist) * col(hollow);
  mask = (mask - hole).clamp(0.0, 1.0).unsqueeze(1);                            // (N, 1, S, S)

  // Texture: stripes across the object.
  auto tx = x * torch::cos(col(texture_angle)) + y * torch::sin(col(texture_angle));
  auto texture = 1.0 - col(texture_strength) * (0.5 + 0.5 * torch::sin(col(texture_freq) * tx));
  auto object = rgb(fg) * texture.unsqueeze(1);
  return image * (1.0 - mask) + object * mask;
}

}  // namespace detail

/// Generates one split of the embedded dataset: `classes * per_class` uint8 images
/// (N, 3, size, size) with int64 labels, on `device`. Image i has label i % classes. The same
/// options give the same images on every device (factors are drawn on the CPU).
inline InMemoryDataset make_synthetic(const SyntheticOptions& options = {},
                                      SyntheticSplit split = SyntheticSplit::train,
                                      torch::Device device = torch::kCPU) {
  constexpr std::string_view fn = "selfsup::data::make_synthetic";
  TORCH_CHECK(options.classes >= 2 && options.classes <= 20, fn,
              ": classes must be in [2, 20], got ", options.classes);
  TORCH_CHECK(options.per_class >= 1, fn, ": per_class must be positive, got ",
              options.per_class);
  TORCH_CHECK(options.size >= 16, fn, ": size must be at least 16, got ", options.size);
  const int64_t n = options.classes * options.per_class;
  auto gen = selfsup::detail::make_generator(
      torch::kCPU, options.seed * 3ULL + static_cast<std::uint64_t>(split) + 0x5e1f59ULL);
  auto labels = torch::arange(n, torch::TensorOptions().dtype(torch::kLong)).remainder(options.classes);
  auto factors = detail::draw_factors(labels, split, options.nuisance, options.size, gen);

  auto images = torch::empty({n, 3, options.size, options.size},
                             torch::TensorOptions().dtype(torch::kByte).device(device));
  constexpr int64_t chunk = 1024;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    auto rendered = detail::render(factors.rows(start, len, device), split, options.nuisance, options.size);
    images.narrow(0, start, len).copy_((rendered * 255.0).round_().clamp_(0, 255).to(torch::kByte));
  }
  return {images, labels.to(device)};
}

/// The curated semantic pair table of the embedded dataset (any split: image i has label
/// i % classes in each). Pairs join two different instances of one class.
struct SyntheticPairOptions {
  int64_t partners = 2;         ///< pairs listed with each covered image first (>= 1); since pairs
                                ///< are unordered an image has about 2 * partners partners
  double coverage = 1.0;        ///< fraction of the images that are listed with partners, (0, 1]
  double wrong_fraction = 0.0;  ///< fraction of pairs whose second image is replaced by an image
                                ///< of another class (the class column keeps the first's class)
  std::uint64_t seed = 0;
};

/// The table for make_synthetic(data): about coverage · N · partners pairs, each of two different
/// images of the same class among the covered images, then round(wrong_fraction · P) of them,
/// chosen at random, made wrong (their second image of a different class, drawn from all images).
/// The class column holds the first image's class. Deterministic in (data.seed, options.seed).
inline PairTable make_synthetic_pairs(const SyntheticOptions& data = {},
                                      const SyntheticPairOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::data::make_synthetic_pairs";
  TORCH_CHECK(data.classes >= 2 && data.per_class >= 1, fn, ": needs at least 2 classes and 1 "
              "image per class, got ", data.classes, " and ", data.per_class);
  TORCH_CHECK(options.partners >= 1, fn, ": partners must be >= 1, got ", options.partners);
  TORCH_CHECK(options.coverage > 0.0 && options.coverage <= 1.0, fn,
              ": coverage must be in (0, 1], got ", options.coverage);
  TORCH_CHECK(options.wrong_fraction >= 0.0 && options.wrong_fraction <= 1.0, fn,
              ": wrong_fraction must be in [0, 1], got ", options.wrong_fraction);
  const int64_t n = data.classes * data.per_class;
  const auto lopt = torch::TensorOptions().dtype(torch::kLong);
  auto gen = selfsup::detail::make_generator(
      torch::kCPU, data.seed * 7919ULL + options.seed * 104729ULL + 0x9a125ULL);
  const auto m = std::max<int64_t>(1, std::llround(options.coverage * static_cast<double>(n)));
  auto covered = torch::randperm(n, gen, lopt).narrow(0, 0, m);                   // (m)
  // Covered images grouped by class: class c's members are sorted[offset[c] : offset[c] + count[c]].
  auto sorted = std::get<0>((covered.remainder(data.classes) * n + covered).sort()).remainder(n);
  auto label = sorted.remainder(data.classes);                                     // (m)
  auto count = torch::bincount(label, {}, data.classes);                           // (C)
  auto offset = count.cumsum(0) - count;                                           // (C)
  auto position = torch::arange(m, lopt) - offset.index_select(0, label);          // (m)

  auto a_label = label.repeat({options.partners});                                 // (m·k)
  auto a_pos = position.repeat({options.partners});
  auto a_count = count.index_select(0, a_label);
  auto keep = a_count.ge(2);  // an image alone in its class among the covered ones has no partner
  auto anchors = sorted.repeat({options.partners}).masked_select(keep);            // (P)
  a_label = a_label.masked_select(keep);
  a_pos = a_pos.masked_select(keep);
  a_count = a_count.masked_select(keep);
  // A uniform draw among the other count - 1 members: skip over the anchor's own position.
  auto r = (torch::rand({anchors.numel()}, gen, torch::kFloat64) * (a_count - 1)).to(torch::kLong);
  r = torch::minimum(r, a_count - 2);
  r = r + r.ge(a_pos).to(torch::kLong);
  auto partners = sorted.index_select(0, offset.index_select(0, a_label) + r);     // (P)

  const int64_t p = anchors.numel();
  const auto wrong = std::llround(options.wrong_fraction * static_cast<double>(p));
  if (wrong > 0) {
    auto rows = torch::randperm(p, gen, lopt).narrow(0, 0, wrong);                 // (W)
    auto shift = torch::randint(1, data.classes, {wrong}, gen, lopt);
    auto other = (a_label.index_select(0, rows) + shift).remainder(data.classes);
    auto instance = torch::randint(0, data.per_class, {wrong}, gen, lopt);
    partners.index_copy_(0, rows, other + data.classes * instance);
  }
  return {anchors, partners, a_label, {}};
}

}  // namespace selfsup::data
