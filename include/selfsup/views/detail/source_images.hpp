#pragma once
/// \file
/// Internal: the images a batch of views is cut from, for views::Augmentation and the presets
/// built on it: one uniform batch, images of different sizes held flattened one after another, or
/// images not decoded yet (views::ImageSources), cut box by box on request.

#include <selfsup/detail/check.hpp>
#include <selfsup/views/detail/cpu_views.hpp>
#include <selfsup/views/detail/crop.hpp>
#include <selfsup/views/detail/images.hpp>
#include <selfsup/views/image_sources.hpp>
#include <selfsup/views/random_resized_crop.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::views::detail {

/// The images a batch of views is cut from: either one (B, C, H, W) tensor, or images of
/// different sizes held flattened one after another (an image-folder batch).
class SourceImages {
 public:
  SourceImages(std::string_view fn, const torch::Tensor& images) : dense_(images) {
    check_images(fn, images);
    batch_ = images.size(0);
    channels_ = images.size(1);
  }

  SourceImages(std::string_view fn, const std::vector<torch::Tensor>& images) {
    TORCH_CHECK(!images.empty(), fn, ": images is an empty batch");
    std::vector<torch::Tensor> flat;
    std::vector<int64_t> starts, heights, widths;
    int64_t offset = 0;
    const auto& first = images.front();
    for (size_t i = 0; i < images.size(); ++i) {
      const auto& im = images[i];
      const auto name = "images[" + std::to_string(i) + "]";
      selfsup::detail::check_dim(fn, name, im, 3);
      TORCH_CHECK(im.scalar_type() == torch::kByte || im.is_floating_point(), fn, ": ", name,
                  " must be uint8 or floating, got ", im.scalar_type());
      TORCH_CHECK(im.scalar_type() == first.scalar_type() && im.size(0) == first.size(0) &&
                      im.device() == first.device(),
                  fn, ": ", name, " must have the dtype, channel count and device of images[0], got ",
                  im.scalar_type(), " ", im.sizes(), " on ", im.device(), " against ",
                  first.scalar_type(), " ", first.sizes(), " on ", first.device());
      TORCH_CHECK(im.size(1) > 0 && im.size(2) > 0, fn, ": ", name, " is empty, shape ", im.sizes());
      starts.push_back(offset);
      heights.push_back(im.size(1));
      widths.push_back(im.size(2));
      offset += im.numel();
      flat.push_back(im.reshape({-1}));
    }
    // The shapes are host metadata: these small tensors are built on the host and moved once.
    auto i64 = torch::TensorOptions().dtype(torch::kLong);
    const auto device = first.device();
    // Pinned host memory lets the copy to a GPU run asynchronously.
    auto upload = [&](const std::vector<int64_t>& v) {
      auto t = torch::tensor(v, i64);
      return device.is_cuda() ? t.pin_memory().to(device, /*non_blocking=*/true) : t;
    };
    flat_ = torch::cat(flat);
    starts_ = upload(starts);
    heights_ = upload(heights);
    widths_ = upload(widths);
    batch_ = static_cast<int64_t>(images.size());
    channels_ = first.size(0);
  }

  SourceImages(std::string_view fn, const ImageSources& images) : lazy_(images) {
    TORCH_CHECK(images.heights.defined() && images.widths.defined() && images.heights.dim() == 1 &&
                    images.widths.sizes() == images.heights.sizes() && images.heights.size(0) > 0,
                fn, ": ImageSources must hold int64 (B) heights and widths of B > 0 images");
    TORCH_CHECK(static_cast<bool>(images.crop), fn, ": ImageSources has no crop function");
    heights_ = images.heights.to(torch::kLong);
    widths_ = images.widths.to(torch::kLong);
    batch_ = images.batch();
    channels_ = images.channels;
  }

  int64_t batch() const { return batch_; }
  int64_t channels() const { return channels_; }
  torch::Device device() const {
    return dense_.defined() ? dense_.device() : flat_.defined() ? flat_.device() : heights_.device();
  }
  bool ragged() const { return flat_.defined(); }
  /// Not decoded yet: views are cut with decode().
  bool lazy() const { return static_cast<bool>(lazy_.crop); }

  /// uint8 (N, C, size, size): the boxes of images `sources` decoded and resized, mirrored where
  /// `flip` (lazy sources only).
  torch::Tensor decode(const torch::Tensor& sources, const torch::Tensor& boxes, int64_t size,
                       const torch::Tensor& flip) const {
    auto out = lazy_.crop(sources, boxes, size, flip);
    TORCH_CHECK(out.dim() == 4 && out.size(0) == sources.size(0) && out.size(1) == channels_ && out.size(2) == size &&
                    out.size(3) == size && out.scalar_type() == torch::kByte,
                "selfsup::views: ImageSources::crop must return uint8 (", sources.size(0), ", ", channels_, ", ", size,
                ", ", size, "), got ", out.scalar_type(), " ", out.sizes());
    return out;
  }
  const torch::Tensor& dense() const { return dense_; }

  /// Boxes for the views of images `sources` (int64 (N)), each drawn against its own image.
  torch::Tensor sample_boxes(const torch::Tensor& sources, const RandomResizedCropOptions& crop,
                             at::Generator& gen) const {
    if (dense_.defined()) {
      auto i64 = sources.options();
      const auto n = sources.size(0);
      return sample_resized_crop_boxes(torch::full({n}, dense_.size(2), i64),
                                       torch::full({n}, dense_.size(3), i64), crop, gen);
    }
    return sample_resized_crop_boxes(heights_.index_select(0, sources),
                                     widths_.index_select(0, sources), crop, gen);
  }

  /// (N, C, size, size) float views in [0, 1]: image sources[i] cropped to boxes[i] and
  /// mirrored where flip[i]. Uniform batches come back in the transposed layout of
  /// resized_crop_transposed.
  torch::Tensor crop(const torch::Tensor& sources, const torch::Tensor& boxes, int64_t size,
                     const torch::Tensor& flip) const {
    TORCH_INTERNAL_ASSERT(!lazy(), "SourceImages::crop of lazy sources: decode() them");
    if (!ragged()) {
      return resized_crop_transposed(dense_, boxes, {size, size}, flip, sources);
    }
    return resized_crop_ragged(
        flat_, starts_.index_select(0, sources), heights_.index_select(0, sources),
        widths_.index_select(0, sources), channels_, boxes, {size, size}, flip);
  }

  /// Whether render_cpu takes these images: on the CPU, uint8, float32 or float64.
  bool cpu_renderable() const {
    if (lazy()) return false;
    const auto& t = ragged() ? flat_ : dense_;
    return t.device().is_cpu() && detail::cpu_renderable(t.scalar_type());
  }

  /// The views of images `sources` (int64 (N)) rendered in one pass each on the CPU
  /// (render_cpu_views): contiguous (N, C, size, size).
  torch::Tensor render_cpu(const torch::Tensor& sources, const CpuViewParams& params,
                           const CpuViewStages& stages) const {
    if (!ragged()) {
      auto images = dense_.contiguous();
      const auto h = images.size(2), w = images.size(3);
      const auto n = sources.size(0);
      auto i64 = sources.options();
      return render_cpu_views(images.reshape({-1}), sources * (channels_ * h * w),
                              torch::full({n}, h, i64), torch::full({n}, w, i64), channels_, params,
                              stages);
    }
    return render_cpu_views(flat_, starts_.index_select(0, sources), heights_.index_select(0, sources),
                            widths_.index_select(0, sources), channels_, params, stages);
  }

 private:
  torch::Tensor dense_;
  torch::Tensor flat_, starts_, heights_, widths_;
  ImageSources lazy_;
  int64_t batch_ = 0, channels_ = 0;
};

}  // namespace selfsup::views::detail
