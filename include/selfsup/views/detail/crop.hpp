#pragma once
/// \file
/// Internal: the unchecked resized crop (with an optional flip) that views::functional and the
/// view generators share, for a uniform batch and for images of different sizes, with PyTorch's
/// bilinear resampling (align_corners=False, no antialiasing). It never synchronises with the host.

#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace selfsup::views::detail {

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

}  // namespace selfsup::views::detail
