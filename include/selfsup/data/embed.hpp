#pragma once
/// \file
/// The frozen features of a whole dataset: what evaluation (kNN, linear probe) and pair mining
/// (pairs::Mined) both start from. It needs only the Encoder concept, no model.

#include <selfsup/concepts.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace selfsup::data {

/// The encoder's features of every image of `data`, in order, in evaluation mode (BatchNorm uses
/// its running statistics, so a feature never depends on the batch it was computed in) and
/// without gradients: float (N, F) on the data's device. `transform`, if given, is applied to
/// each batch of images first (two augmented views for an alignment measure); uint8 images are
/// then scaled to [0, 1], as views::Identity does. `on_batch(done, total)`, if given, is called
/// after each batch (a progress line). The encoder's mode is restored afterwards.
template <class E, class D>
torch::Tensor embed(E& encoder, const D& data, int64_t batch_size = 512,
                    const std::function<void(int64_t done, int64_t total)>& on_batch = {},
                    const std::function<torch::Tensor(const torch::Tensor&)>& transform = {}) {
  static_assert(Encoder<E>, "selfsup::data::embed: the encoder must satisfy selfsup::Encoder");
  static_assert(Dataset<D>, "selfsup::data::embed: the data must satisfy selfsup::Dataset");
  TORCH_CHECK(batch_size >= 1, "selfsup::data::embed: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  const bool was_training = encoder->is_training();
  encoder->train(false);
  struct Restore {
    E& encoder;
    bool training;
    ~Restore() { encoder->train(training); }
  } restore{encoder, was_training};
  std::vector<torch::Tensor> parts;
  const int64_t n = static_cast<int64_t>(data.size());
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(data.device());
  for (int64_t start = 0; start < n; start += batch_size) {
    auto idx = torch::arange(start, std::min(start + batch_size, n), opts);
    auto images = data.images(idx);
    if (transform) images = transform(images);
    if (!images.is_floating_point()) images = images.to(torch::kFloat32).div_(255.0);
    parts.push_back(encoder->features(images));
    if (on_batch) on_batch(std::min(start + batch_size, n), n);
  }
  return torch::cat(parts, 0);
}

}  // namespace selfsup::data
