#pragma once
/// \file
/// data::InMemoryDataset: a whole dataset as one uint8 tensor, on CPU or on the GPU.

#include <selfsup/detail/check.hpp>
#include <selfsup/views/image_sources.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

namespace selfsup::data {

/// Images uint8 (N, C, H, W) and optional labels int64 (N), on one device. Satisfies
/// selfsup::Dataset; `images(indices)` gathers on the dataset's device. A dataset read from an
/// image folder also names where its training views come from (`sources`): the folder's full
/// images, of which trainers decode only each view's box (data::with_folder_views).
class InMemoryDataset {
 public:
  InMemoryDataset() = default;
  InMemoryDataset(torch::Tensor images, torch::Tensor labels = {})
      : images_(std::move(images)), labels_(std::move(labels)) {
    constexpr std::string_view fn = "selfsup::data::InMemoryDataset";
    selfsup::detail::check_dim(fn, "images", images_, 4);
    TORCH_CHECK(images_.scalar_type() == torch::kByte, fn, ": images must be uint8, got ",
                images_.scalar_type());
    TORCH_CHECK(images_.size(0) > 0, fn, ": the dataset is empty");
    TORCH_CHECK(images_.size(1) == 1 || images_.size(1) == 3, fn, ": images must have 1 (grey) "
                "or 3 (RGB) channels in dimension 1 of (N, C, H, W), got shape ", images_.sizes());
    if (labels_.defined()) {
      selfsup::detail::check_dim(fn, "labels", labels_, 1);
      TORCH_CHECK(labels_.scalar_type() == torch::kLong, fn, ": labels must be int64, got ",
                  labels_.scalar_type());
      TORCH_CHECK(labels_.size(0) == images_.size(0), fn, ": ", images_.size(0),
                  " images but ", labels_.size(0), " labels");
      labels_ = labels_.to(images_.device());
    }
  }

  int64_t size() const { return images_.size(0); }
  torch::Device device() const { return images_.device(); }
  bool has_labels() const { return labels_.defined(); }

  torch::Tensor images(const torch::Tensor& indices) const {
    return images_.index_select(0, indices.to(images_.device()));
  }
  torch::Tensor labels(const torch::Tensor& indices) const {
    if (!labels_.defined()) return {};
    return labels_.index_select(0, indices.to(labels_.device()));
  }

  /// The images views are cut from, when they are not these (an image folder's full images).
  std::optional<views::ImageSources> sources(const torch::Tensor& indices) const {
    if (!sources_) return std::nullopt;
    return sources_(indices);
  }
  /// Views cut from `sources(indices)` instead of these images; an empty function: from these.
  InMemoryDataset with_sources(std::function<views::ImageSources(const torch::Tensor&)> sources) const {
    auto out = *this;
    out.sources_ = std::move(sources);
    return out;
  }
  bool has_sources() const { return static_cast<bool>(sources_); }

  const torch::Tensor& all_images() const { return images_; }
  const torch::Tensor& all_labels() const { return labels_; }

  /// The same data on another device (CIFAR-sized data fits on a GPU whole); sources, when named,
  /// then deliver their sizes and crops there.
  InMemoryDataset to(const torch::Device& device) const {
    InMemoryDataset out{images_.to(device), labels_.defined() ? labels_.to(device) : torch::Tensor{}};
    if (sources_) {
      out.sources_ = [inner = sources_, device](const torch::Tensor& indices) {
        auto s = inner(indices);
        auto crop = s.crop;
        return views::ImageSources{s.heights.to(device), s.widths.to(device), s.channels,
                                   [crop, device](const torch::Tensor& which, const torch::Tensor& boxes, int64_t size,
                                                  const torch::Tensor& flip) {
                                     return crop(which, boxes, size, flip).to(device);
                                   }};
      };
    }
    return out;
  }

 private:
  torch::Tensor images_;
  torch::Tensor labels_;
  std::function<views::ImageSources(const torch::Tensor&)> sources_;
};

}  // namespace selfsup::data
