#pragma once
/// \file
/// selfsup::views::functional: batched image operations with per-sample parameters, equal to
/// torchvision.transforms.functional (0.14+, tensor path) applied image by image. Images are
/// (B, C, H, W) in [0, 1] on any device: floating, or uint8 (read as value / 255, and then the
/// result is float32). Per-sample parameters are 1-D tensors of length B on the images' device.
///
/// The public functions check their arguments, some of them by reading a flag back from the
/// device; the view generators call the unchecked internals in `functional::detail`, which never
/// synchronise with the host.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace selfsup::views::functional {

namespace detail {

// ---- argument checks ---------------------------------------------------------------------------

inline void check_images(std::string_view fn, const torch::Tensor& images) {
  selfsup::detail::check_dim(fn, "images", images, 4);
  TORCH_CHECK(images.size(0) > 0, fn, ": images is an empty batch, got shape ", images.sizes());
  TORCH_CHECK(images.scalar_type() == torch::kByte || images.is_floating_point(), fn,
              ": images must be uint8 or floating, got ", images.scalar_type());
}

// Colour operations follow torchvision: grayscale (1 channel) or RGB (3 channels).
inline void check_color_channels(std::string_view fn, const torch::Tensor& images) {
  TORCH_CHECK(images.size(1) == 1 || images.size(1) == 3, fn,
              ": images must have 1 or 3 channels (grayscale or RGB), got shape ", images.sizes());
}

// A per-sample parameter: floating, 1-D, length B, on the images' device.
inline void check_per_sample(std::string_view fn, std::string_view name, const torch::Tensor& p,
                             const torch::Tensor& images) {
  selfsup::detail::check_dim(fn, name, p, 1);
  TORCH_CHECK(p.size(0) == images.size(0), fn, ": ", name, " must have length B = ",
              images.size(0), ", got ", p.size(0));
  TORCH_CHECK(p.is_floating_point(), fn, ": ", name, " must have a floating dtype, got ",
              p.scalar_type());
  selfsup::detail::check_same_device(fn, "images", images, name, p);
}

// Every entry of `p` in [lo, hi]; reads one flag back from the device.
inline void check_range(std::string_view fn, std::string_view name, const torch::Tensor& p,
                        double lo, double hi) {
  TORCH_CHECK((p.ge(lo) & p.le(hi)).all().item<bool>(), fn, ": every entry of ", name,
              " must lie in [", lo, ", ", hi, "], got ", p.cpu());
}

// ---- unchecked internals, shared with the view generators --------------------------------------

/// uint8 in [0, 255] to float32 in [0, 1]; floating input unchanged.
inline torch::Tensor to_unit(const torch::Tensor& images) {
  if (images.is_floating_point()) return images;
  return images.to(torch::kFloat32).mul_(1.0 / 255.0);
}

/// A per-sample parameter (B) shaped to broadcast over (B, C, H, W), in the images' dtype.
inline torch::Tensor per_sample(const torch::Tensor& p, const torch::Tensor& like) {
  return p.to(like.scalar_type()).view({-1, 1, 1, 1});
}

/// Luma with torchvision's weights (0.2989, 0.587, 0.114), one plane: (B, 1, H, W). A 1-channel
/// image is its own luma.
inline torch::Tensor luma(const torch::Tensor& x) {
  if (x.size(1) == 1) return x;
  return torch::mul(x.select(1, 0), 0.2989)
      .add_(x.select(1, 1), 0.587)
      .add_(x.select(1, 2), 0.114)
      .unsqueeze(1);  // (B, 1, H, W)
}

/// torchvision's `_blend`: clamp(f * x + (1 - f) * target, 0, 1), with f (B).
inline torch::Tensor blend(const torch::Tensor& x, const torch::Tensor& target,
                           const torch::Tensor& factors) {
  auto f = per_sample(factors, x);  // (B, 1, 1, 1)
  return (f * x + (1.0 - f) * target).clamp_(0.0, 1.0);
}

/// Hue rotation by `factors` (B) turns, through HSV as torchvision does; `x` is RGB in [0, 1].
/// Hue is kept in sextants (h6 = 6 * hue in [0, 6)) so that one wrap-around suffices, and RGB
/// is rebuilt from value v, chroma c and h6 with the closed form of HSV to RGB,
/// channel = v - c + c * clamp(ramp(h6), 0, 1), which equals torchvision's per-sector choice of
/// (v, p, q, t). Works plane by plane and mostly in place: this is the costliest colour step.
inline torch::Tensor shift_hue(const torch::Tensor& x, const torch::Tensor& factors) {
  auto r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);  // (B, H, W)
  auto v = torch::maximum(torch::maximum(r, g), b);
  auto chroma = v - torch::minimum(torch::minimum(r, g), b);
  // Red's sector: (g - b) / c; green's: 2 + (b - r) / c; blue's: 4 + (r - g) / c. Where c = 0
  // the numerator is 0 too, and any positive divisor gives hue 0, as in torchvision.
  auto num = torch::where(v.eq(r), g - b,
                          torch::where(v.eq(g), (b - r).add_(chroma, 2.0), (r - g).add_(chroma, 4.0)));
  auto h6 = num.div_(chroma.clamp_min(std::numeric_limits<float>::min()));
  h6.add_(factors.to(x.scalar_type()).view({-1, 1, 1}), 6.0);
  h6 = torch::remainder(h6, 6.0);                                    // (B, H, W) in [0, 6)
  auto out = torch::empty({x.size(0), 3, x.size(2), x.size(3)}, x.options());
  auto base = v.sub_(chroma);                                        // min = v - c
  // ramp r = |h6 - 3| - 1, g = 2 - |h6 - 2|, b = 2 - |h6 - 4|.
  const double centre[3] = {3.0, 2.0, 4.0};
  for (int64_t n = 0; n < 3; ++n) {
    auto o = out.select(1, n);
    o.copy_(h6).sub_(centre[n]).abs_();
    if (n == 0) {
      o.sub_(1.0);
    } else {
      o.neg_().add_(2.0);
    }
    o.clamp_(0.0, 1.0).mul_(chroma).add_(base);
  }
  return out;  // (B, 3, H, W)
}

/// Normalised 1-D Gaussian kernels, one a sample: (B, k) from sigmas (B), in `dtype`.
inline torch::Tensor gaussian_kernels(int64_t kernel_size, const torch::Tensor& sigmas,
                                      torch::ScalarType dtype) {
  const double half = (kernel_size - 1) * 0.5;
  auto t = torch::linspace(-half, half, kernel_size, sigmas.options().dtype(torch::kFloat64));
  auto z = t.unsqueeze(0) / sigmas.to(torch::kFloat64).unsqueeze(1);  // (B, k)
  auto pdf = torch::exp(-0.5 * z * z);
  return (pdf / pdf.sum(1, /*keepdim=*/true)).to(dtype);
}

/// Gaussian blur with a per-sample sigma and reflect padding. torchvision convolves with the
/// outer product of two 1-D kernels; the two passes here give the same sums.
inline torch::Tensor gaussian_blur(const torch::Tensor& x, int64_t kernel_size,
                                   const torch::Tensor& sigmas) {
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t pad = kernel_size / 2;
  auto k = gaussian_kernels(kernel_size, sigmas, x.scalar_type());      // (B, k)
  // expand, not repeat_interleave: the latter sizes its output on the host (a device sync).
  auto kernels = k.unsqueeze(1).expand({b, c, kernel_size}).reshape({b * c, kernel_size});  // (B*C, k)
  auto padded = torch::reflection_pad2d(x.reshape({1, b * c, h, w}), {pad, pad, pad, pad});
  const std::array<int64_t, 2> one = {1, 1}, zero = {0, 0};
  auto conv = [&](const torch::Tensor& in, const torch::Tensor& weight) {
    return torch::conv2d(in, weight, torch::Tensor(), torch::IntArrayRef(one),
                         torch::IntArrayRef(zero), torch::IntArrayRef(one), b * c);
  };
  auto rows = conv(padded, kernels.view({b * c, 1, kernel_size, 1}));  // (1, B*C, H, W + 2 pad)
  auto out = conv(rows, kernels.view({b * c, 1, 1, kernel_size}));     // (1, B*C, H, W)
  return out.view({b, c, h, w});
}

// Source rows (or columns) and weights of PyTorch's bilinear resize with align_corners=False,
// for a crop of `extent` pixels (per sample, (B)) starting at `offset` (int64 (B)), resized to
// `out` pixels: src = extent/out * (dst + 0.5) - 0.5, clamped below at 0.
struct Taps {
  torch::Tensor i0, i1;  // int64 (B, out), absolute indices into the image
  torch::Tensor w1;      // (B, out), weight of i1 (i0 has 1 - w1)
};

inline Taps bilinear_taps(const torch::Tensor& offset, const torch::Tensor& extent, int64_t out,
                          torch::ScalarType weight_dtype) {
  auto opts = extent.options().dtype(torch::kFloat64);
  auto dst = torch::arange(out, opts).unsqueeze(0);                                   // (1, out)
  auto scale = (extent.to(torch::kFloat64) / static_cast<double>(out)).unsqueeze(1);  // (B, 1)
  auto src = (scale * (dst + 0.5) - 0.5).clamp_min(0.0);                              // (B, out)
  auto i0 = src.floor();
  auto last = (extent.to(torch::kFloat64) - 1.0).unsqueeze(1);
  i0 = torch::minimum(i0, last);
  auto i1 = torch::minimum(i0 + 1.0, last);
  auto w1 = (src - i0).clamp(0.0, 1.0);
  auto base = offset.unsqueeze(1);
  return {i0.to(torch::kLong) + base, i1.to(torch::kLong) + base, w1.to(weight_dtype)};
}

// Mirrors each flagged sample's taps, so that the crop comes out flipped left to right.
inline void mirror_taps(Taps& t, const torch::Tensor& flip) {
  auto f = flip.view({-1, 1});
  t.i0 = torch::where(f, t.i0.flip({1}), t.i0);
  t.i1 = torch::where(f, t.i1.flip({1}), t.i1);
  t.w1 = torch::where(f, t.w1.flip({1}), t.w1);
}

/// Resized crop (+ optional flip) of a uniform batch, returned as a (B, C, oh, ow) view of
/// memory laid out (B, C, ow, oh): whole rows are copied with index_select (far cheaper than an
/// element-wise gather), and the column pass works on the transposed rows. View i is cut from
/// image sources[i] (int64 (B), default i), so several views of one image need no copies. Per-pixel colour
/// operations keep that layout for free; callers make the result contiguous once at the end.
/// uint8 input is scaled to [0, 1] float32; floating input keeps its dtype.
inline torch::Tensor resized_crop_transposed(const torch::Tensor& images, const torch::Tensor& boxes,
                                             std::array<int64_t, 2> size,
                                             const torch::Tensor& flip = {},
                                             const torch::Tensor& sources = {}) {
  const auto b = boxes.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto [out_h, out_w] = size;
  const bool bytes = images.scalar_type() == torch::kByte;
  const auto dtype = bytes ? torch::kFloat32 : images.scalar_type();
  auto rows = bilinear_taps(boxes.select(1, 0), boxes.select(1, 2), out_h, dtype);
  auto cols = bilinear_taps(boxes.select(1, 1), boxes.select(1, 3), out_w, dtype);
  if (flip.defined()) mirror_taps(cols, flip);
  // Plane (image, channel) each output reads from: image sources[i] (default i) for view i.
  auto image = sources.defined() ? sources : torch::arange(b, boxes.options());
  auto planes = image.view({b, 1, 1}) * c + torch::arange(c, boxes.options()).view({1, c, 1});  // (B, C, 1)

  auto flat = images.contiguous().view({-1, w});
  auto pick_rows = [&](const torch::Tensor& i) {
    return flat.index_select(0, (planes * h + i.unsqueeze(1)).view(-1)).to(dtype);  // (B*C*oh, W)
  };
  auto top = pick_rows(rows.i0);
  auto blended = pick_rows(rows.i1).sub_(top).view({b, c, out_h, w});
  blended.mul_(rows.w1.view({b, 1, out_h, 1})).add_(top.view({b, c, out_h, w}));
  if (bytes) blended.mul_(1.0 / 255.0);

  auto flat_t = blended.transpose(2, 3).contiguous().view({b * c * w, out_h});  // rows = columns
  auto views = torch::arange(b * c, boxes.options()).view({b, c, 1});            // (B, C, 1)
  auto pick_cols = [&](const torch::Tensor& i) {
    return flat_t.index_select(0, (views * w + i.unsqueeze(1)).view(-1));  // (B*C*ow, oh)
  };
  auto left = pick_cols(cols.i0);
  auto out = pick_cols(cols.i1).sub_(left).view({b, c, out_w, out_h});
  out.mul_(cols.w1.view({b, 1, out_w, 1})).add_(left.view({b, c, out_w, out_h}));
  return out.transpose(2, 3);  // (B, C, oh, ow), strides of (B, C, ow, oh)
}

/// Resized crop (+ optional flip) from images of different sizes: `flat` holds every image
/// flattened one after the other, `starts` (int64 (B)) where each begins, `heights` and `widths`
/// (int64 (B)) their sizes. Each output pixel reads its four neighbours straight from its own
/// source image; nothing is resized first. Returns float (B, C, oh, ow), uint8 scaled to [0, 1].
inline torch::Tensor resized_crop_ragged(const torch::Tensor& flat, const torch::Tensor& starts,
                                         const torch::Tensor& heights, const torch::Tensor& widths,
                                         int64_t channels, const torch::Tensor& boxes,
                                         std::array<int64_t, 2> size, const torch::Tensor& flip = {}) {
  const auto b = boxes.size(0);
  const auto [out_h, out_w] = size;
  const bool bytes = flat.scalar_type() == torch::kByte;
  const auto dtype = bytes ? torch::kFloat32 : flat.scalar_type();
  auto rows = bilinear_taps(boxes.select(1, 0), boxes.select(1, 2), out_h, dtype);
  auto cols = bilinear_taps(boxes.select(1, 1), boxes.select(1, 3), out_w, dtype);
  if (flip.defined()) mirror_taps(cols, flip);
  auto ch = torch::arange(channels, boxes.options()).view({1, channels, 1});
  auto plane_start = starts.view({b, 1, 1}) + ch * (heights * widths).view({b, 1, 1});  // (B, C, 1)
  auto row_start = [&](const torch::Tensor& i) {
    return (plane_start + i.unsqueeze(1) * widths.view({b, 1, 1})).unsqueeze(3);  // (B, C, oh, 1)
  };
  auto pick = [&](const torch::Tensor& row, const torch::Tensor& col) {
    auto index = row + col.view({b, 1, 1, out_w});  // (B, C, oh, ow)
    return flat.index_select(0, index.reshape(-1)).to(dtype).view({b, channels, out_h, out_w});
  };
  auto r0 = row_start(rows.i0), r1 = row_start(rows.i1);
  auto wy = rows.w1.view({b, 1, out_h, 1}), wx = cols.w1.view({b, 1, 1, out_w});
  auto upper = pick(r0, cols.i0);
  upper.add_((pick(r0, cols.i1) - upper).mul_(wx));
  auto lower = pick(r1, cols.i0);
  lower.add_((pick(r1, cols.i1) - lower).mul_(wx));
  auto out = lower.sub_(upper).mul_(wy).add_(upper);
  if (bytes) out.mul_(1.0 / 255.0);
  return out;
}

}  // namespace detail

/// Crops `boxes` out of each image and resizes the crop to `size` with bilinear interpolation
/// (torchvision `resized_crop(img, top, left, height, width, size, BILINEAR, antialias=False)`),
/// mirrored left to right where the optional `flip` (bool (B)) is true. Unchecked variant for
/// callers that generate valid boxes themselves: it reads nothing back from the device. Accepts
/// uint8 images (scaled to [0, 1]) or floating images; returns float32 for uint8 input and the
/// input's dtype otherwise.
inline torch::Tensor resized_crop_unchecked(const torch::Tensor& images, const torch::Tensor& boxes,
                                            std::array<int64_t, 2> size,
                                            const torch::Tensor& flip = {}) {
  return detail::resized_crop_transposed(images, boxes, size, flip).contiguous();
}

/// Crops `boxes` (int64 (B, 4), rows `top, left, height, width`) out of each image and resizes
/// each crop to `size` = {out_h, out_w}, as torchvision's `resized_crop` with BILINEAR and
/// antialias=False.
inline torch::Tensor resized_crop(const torch::Tensor& images, const torch::Tensor& boxes,
                                  std::array<int64_t, 2> size) {
  constexpr std::string_view fn = "selfsup::views::functional::resized_crop";
  detail::check_images(fn, images);
  selfsup::detail::check_dim(fn, "boxes", boxes, 2);
  TORCH_CHECK(boxes.size(0) == images.size(0) && boxes.size(1) == 4, fn,
              ": boxes must have shape (B, 4) = (", images.size(0), ", 4), got ", boxes.sizes());
  TORCH_CHECK(boxes.scalar_type() == torch::kLong, fn, ": boxes must be int64, got ",
              boxes.scalar_type());
  selfsup::detail::check_same_device(fn, "images", images, "boxes", boxes);
  TORCH_CHECK(size[0] > 0 && size[1] > 0, fn, ": size must be positive, got {", size[0], ", ",
              size[1], "}");
  const auto h = images.size(2), w = images.size(3);
  auto top = boxes.select(1, 0), left = boxes.select(1, 1);
  auto height = boxes.select(1, 2), width = boxes.select(1, 3);
  const bool inside = (top.ge(0) & left.ge(0) & height.gt(0) & width.gt(0) &
                       (top + height).le(h) & (left + width).le(w))
                          .all()
                          .item<bool>();
  TORCH_CHECK(inside, fn, ": every box must lie inside the ", h, "x", w,
              " image with positive height and width, got boxes ", boxes.cpu());
  return resized_crop_unchecked(images, boxes, size);
}

/// Flips each image left to right where `mask` (bool (B)) is true (torchvision `hflip`).
inline torch::Tensor hflip(const torch::Tensor& images, const torch::Tensor& mask) {
  constexpr std::string_view fn = "selfsup::views::functional::hflip";
  detail::check_images(fn, images);
  selfsup::detail::check_dim(fn, "mask", mask, 1);
  TORCH_CHECK(mask.scalar_type() == torch::kBool, fn, ": mask must be bool, got ",
              mask.scalar_type());
  TORCH_CHECK(mask.size(0) == images.size(0), fn, ": mask must have length B = ",
              images.size(0), ", got ", mask.size(0));
  selfsup::detail::check_same_device(fn, "images", images, "mask", mask);
  return torch::where(mask.view({-1, 1, 1, 1}), images.flip({3}), images);
}

/// torchvision `rgb_to_grayscale(img, num_output_channels=3)`: every channel becomes the luma
/// 0.2989 R + 0.587 G + 0.114 B. A 1-channel image is returned as it is.
inline torch::Tensor rgb_to_grayscale(const torch::Tensor& images) {
  constexpr std::string_view fn = "selfsup::views::functional::rgb_to_grayscale";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  auto x = detail::to_unit(images);
  return detail::luma(x).expand_as(x).contiguous();
}

/// torchvision `adjust_brightness(img, f)`: clamp(f * x, 0, 1), `factors` (B) >= 0.
inline torch::Tensor adjust_brightness(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_brightness";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, 0.0, std::numeric_limits<double>::infinity());
  auto x = detail::to_unit(images);
  return detail::blend(x, torch::zeros({1}, x.options()), factors);
}

/// torchvision `adjust_contrast(img, f)`: blends each image with the mean of its luma,
/// `factors` (B) >= 0.
inline torch::Tensor adjust_contrast(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_contrast";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, 0.0, std::numeric_limits<double>::infinity());
  auto x = detail::to_unit(images);
  auto mean = detail::luma(x).mean({1, 2, 3}, /*keepdim=*/true);  // (B, 1, 1, 1)
  return detail::blend(x, mean, factors);
}

/// torchvision `adjust_saturation(img, f)`: blends each image with its luma, `factors` (B) >= 0.
/// 1-channel images are returned as they are.
inline torch::Tensor adjust_saturation(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_saturation";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, 0.0, std::numeric_limits<double>::infinity());
  auto x = detail::to_unit(images);
  if (x.size(1) == 1) return x;
  return detail::blend(x, detail::luma(x), factors);
}

/// torchvision `adjust_hue(img, h)`: rotates the hue by `factors` (B) turns, each in
/// [-0.5, 0.5]. 1-channel images are returned as they are.
inline torch::Tensor adjust_hue(const torch::Tensor& images, const torch::Tensor& factors) {
  constexpr std::string_view fn = "selfsup::views::functional::adjust_hue";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "factors", factors, images);
  detail::check_range(fn, "factors", factors, -0.5, 0.5);
  auto x = detail::to_unit(images);
  if (x.size(1) == 1) return x;
  return detail::shift_hue(x, factors);
}

/// torchvision `gaussian_blur(img, [k, k], [s, s])` with reflect padding: an odd `kernel_size`
/// smaller than twice each side, and one sigma > 0 a sample (`sigmas` (B)).
inline torch::Tensor gaussian_blur(const torch::Tensor& images, int64_t kernel_size,
                                   const torch::Tensor& sigmas) {
  constexpr std::string_view fn = "selfsup::views::functional::gaussian_blur";
  detail::check_images(fn, images);
  TORCH_CHECK(kernel_size > 0 && kernel_size % 2 == 1, fn,
              ": kernel_size must be odd and positive, got ", kernel_size);
  TORCH_CHECK(kernel_size / 2 < images.size(2) && kernel_size / 2 < images.size(3), fn,
              ": reflect padding of ", kernel_size / 2, " needs images larger than that, got ",
              images.size(2), "x", images.size(3), "; use a smaller kernel_size");
  detail::check_per_sample(fn, "sigmas", sigmas, images);
  TORCH_CHECK(sigmas.gt(0).all().item<bool>(), fn, ": every sigma must be positive, got ",
              sigmas.cpu());
  return detail::gaussian_blur(detail::to_unit(images), kernel_size, sigmas);
}

/// torchvision `solarize(img, threshold)`: inverts (1 - x) every value >= `threshold`.
inline torch::Tensor solarize(const torch::Tensor& images, double threshold) {
  constexpr std::string_view fn = "selfsup::views::functional::solarize";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  TORCH_CHECK(threshold >= 0.0 && threshold <= 1.0, fn, ": threshold must be in [0, 1], got ",
              threshold);
  auto x = detail::to_unit(images);
  return torch::where(x.ge(threshold), 1.0 - x, x);
}

/// solarize with one threshold a sample, `thresholds` (B).
inline torch::Tensor solarize(const torch::Tensor& images, const torch::Tensor& thresholds) {
  constexpr std::string_view fn = "selfsup::views::functional::solarize";
  detail::check_images(fn, images);
  detail::check_color_channels(fn, images);
  detail::check_per_sample(fn, "thresholds", thresholds, images);
  auto x = detail::to_unit(images);
  return torch::where(x.ge(detail::per_sample(thresholds, x)), 1.0 - x, x);
}

/// torchvision `normalize(img, mean, std)`: (x - mean[c]) / std[c] for each channel c.
inline torch::Tensor normalize(const torch::Tensor& images, const std::vector<double>& mean,
                               const std::vector<double>& std) {
  constexpr std::string_view fn = "selfsup::views::functional::normalize";
  detail::check_images(fn, images);
  const auto c = images.size(1);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c, fn,
              ": mean and std need one entry per channel (", c, "), got ", mean.size(), " and ",
              std.size());
  for (double s : std) TORCH_CHECK(s > 0, fn, ": every std must be positive, got ", s);
  auto x = detail::to_unit(images);
  auto opts = x.options();
  return (x - torch::tensor(mean, opts.dtype(torch::kFloat64)).to(x.scalar_type()).view({1, c, 1, 1}))
      .div_(torch::tensor(std, opts.dtype(torch::kFloat64)).to(x.scalar_type()).view({1, c, 1, 1}));
}

}  // namespace selfsup::views::functional
