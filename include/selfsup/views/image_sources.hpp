#pragma once
/// \file
/// views::ImageSources: images a view generator cuts its views from without holding their
/// pixels. Each image is known by its size; `crop` decodes a box of it on request. An image folder
/// gives these (data::ImageFolder::sources), so that every view's RandomResizedCrop box is drawn on
/// the full image, as the papers do, and only that box is decoded; the rest of the view (flip,
/// colour, blur, solarize) runs batched on the device as for any images.

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace selfsup::views {

struct ImageSources {
  /// Each image's height and width in pixels: int64 (B), on the device the views are made on.
  torch::Tensor heights, widths;
  int64_t channels = 3;
  /// uint8 (N, C, size, size) on that device: image sources[i] (int64 (N)) cut to boxes[i]
  /// (int64 (N, 4): top, left, height, width in its own pixels), resized to size x size and
  /// mirrored left to right where flip[i] (bool (N)).
  std::function<torch::Tensor(const torch::Tensor& sources, const torch::Tensor& boxes, int64_t size,
                              const torch::Tensor& flip)>
      crop;

  int64_t batch() const { return heights.size(0); }
  torch::Device device() const { return heights.device(); }
};

/// The images of `a` then those of `b`, as one ImageSources (a pair's anchors and partners).
inline ImageSources concat(const ImageSources& a, const ImageSources& b) {
  TORCH_CHECK(a.channels == b.channels, "selfsup::views::concat: ImageSources of ", a.channels, " and ", b.channels,
              " channels");
  const auto first = a.batch();
  ImageSources out{torch::cat({a.heights, b.heights}), torch::cat({a.widths, b.widths}), a.channels, {}};
  out.crop = [a, b, first](const torch::Tensor& sources, const torch::Tensor& boxes, int64_t size,
                           const torch::Tensor& flip) {
    auto in_a = sources.lt(first);
    auto ia = in_a.nonzero().squeeze(1), ib = in_a.logical_not().nonzero().squeeze(1);
    auto out = torch::empty({sources.size(0), a.channels, size, size},
                            torch::TensorOptions().dtype(torch::kByte).device(sources.device()));
    if (ia.numel() > 0) {
      out.index_copy_(0, ia, a.crop(sources.index_select(0, ia), boxes.index_select(0, ia), size, flip.index_select(0, ia)));
    }
    if (ib.numel() > 0) {
      out.index_copy_(0, ib, b.crop(sources.index_select(0, ib) - first, boxes.index_select(0, ib), size,
                                    flip.index_select(0, ib)));
    }
    return out;
  };
  return out;
}

}  // namespace selfsup::views
