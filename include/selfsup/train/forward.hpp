#pragma once
/// \file
/// The forward half of a training step: both sides' views, the encoder's projections (and its
/// predictor's and momentum target's), and the policies' after-step calls.

#include <selfsup/concepts.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/train/options.hpp>
#include <selfsup/types.hpp>
#include <selfsup/views/image_sources.hpp>

#include <torch/torch.h>

namespace selfsup::detail {

inline torch::Tensor loss_precision(const torch::Tensor& v) {
  return v.defined() && v.scalar_type() != torch::kFloat64 ? v.to(torch::kFloat32) : v;
}

/// Multi-crop: the two global views through the encoder in one pass (and its predictor and
/// momentum target), the local views through the online encoder in a second pass (their size
/// differs). z0/z1 (and p, t) are the global views, LossInput::local the local ones.
template <class V, class E, class I>
LossInput embed_crops(V& views, E& encoder, const I& first, const I& second, const TrainerOptions& options) {
  MultiCropViews crops = views.crops(first, second);
  TORCH_CHECK(crops.global.dim() == 5 && crops.global.size(0) == 2, "selfsup::Trainer: the multi-crop generator "
              "must return global views of shape (2, B, C, H, W), got ", crops.global.sizes());
  const auto b = crops.global.size(1);
  auto x = crops.global.flatten(0, 1);
  const bool cuda = x.is_cuda();
  auto layout = [&](torch::Tensor t) {
    return options.channels_last && cuda ? t.contiguous(at::MemoryFormat::ChannelsLast) : t;
  };
  x = layout(x);
  torch::Tensor z, p, t, zl;
  const int64_t k = crops.local.defined() && crops.local.dim() == 5 ? crops.local.size(0) : 0;
  {
    detail::CudaBf16Autocast autocast(options.bf16_autocast && cuda);
    z = encoder->forward(x);                                         // (2B, D)
    if constexpr (has_predictor_members_v<E>) {
      if (encoder->has_predictor()) p = encoder->predict(z);
    }
    if constexpr (has_target_members_v<E>) {
      if (encoder->has_target()) t = encoder->target_forward(x);
    }
    if (k > 0) zl = encoder->forward(layout(crops.local.flatten(0, 1)));  // (kB, D)
  }
  z = loss_precision(z), p = loss_precision(p), t = loss_precision(t), zl = loss_precision(zl);
  LossInput in;
  in.z0 = z.narrow(0, 0, b);
  in.z1 = z.narrow(0, b, b);
  if (p.defined()) in.p0 = p.narrow(0, 0, b), in.p1 = p.narrow(0, b, b);
  if (t.defined()) in.t0 = t.narrow(0, 0, b), in.t1 = t.narrow(0, b, b);
  for (int64_t v = 0; v < k; ++v) in.local.push_back(zl.narrow(0, v * b, b));
  return in;
}

/// Both sides' views through the encoder in one forward pass (and its predictor and momentum
/// target when it has them); the loss's inputs in float32 whatever precision the encoder ran in.
template <class V, class E, class I>
LossInput embed_two_views(V& views, E& encoder, const I& first, const I& second, const TrainerOptions& options) {
  torch::Tensor v0, v1;
  if constexpr (ViewPairGenerator<V>) {
    v0 = views.first(first);
    v1 = views.second(second);
  } else {
    v0 = views(first);
    v1 = views(second);
  }
  TORCH_CHECK(v0.sizes() == v1.sizes(), "selfsup::Trainer: the two views of a pair must have "
              "the same shape to share one forward pass, got ", v0.sizes(), " and ", v1.sizes());
  const auto b = v0.size(0);
  auto x = torch::cat({v0, v1}, 0);
  const bool cuda = x.is_cuda();
  if (options.channels_last && cuda) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  torch::Tensor z, p, t;
  {
    detail::CudaBf16Autocast autocast(options.bf16_autocast && cuda);
    z = encoder->forward(x);                                         // (2B, D)
    if constexpr (has_predictor_members_v<E>) {
      if (encoder->has_predictor()) p = encoder->predict(z);       // (2B, D)
    }
    if constexpr (has_target_members_v<E>) {
      if (encoder->has_target()) t = encoder->target_forward(x);   // (2B, D)
    }
  }
  z = loss_precision(z), p = loss_precision(p), t = loss_precision(t);
  LossInput in;
  in.z0 = z.narrow(0, 0, b);
  in.z1 = z.narrow(0, b, b);
  if (p.defined()) in.p0 = p.narrow(0, 0, b), in.p1 = p.narrow(0, b, b);
  if (t.defined()) in.t0 = t.narrow(0, 0, b), in.t1 = t.narrow(0, b, b);
  return in;
}

/// Whether view generator V cuts its views from images not decoded yet (views::ImageSources,
/// an image folder's full images) on the path the trainer takes with it.
template <class V>
constexpr bool takes_sources() {
  if constexpr (MultiCropGenerator<V>) {
    return requires(V& v, const views::ImageSources& s) { v.crops(s, s); };
  } else if constexpr (ViewPairGenerator<V>) {
    return requires(V& v, const views::ImageSources& s) { { v.first(s) } -> std::same_as<torch::Tensor>; } &&
           requires(V& v, const views::ImageSources& s) { { v.second(s) } -> std::same_as<torch::Tensor>; };
  } else {
    return requires(V& v, const views::ImageSources& s) { { v(s) } -> std::same_as<torch::Tensor>; };
  }
}

/// The views of both sides of the pairs through the encoder: two views, or multi-crop. `first`
/// and `second` are images (tensors) or views::ImageSources.
template <class V, class E, class I>
LossInput embed_pair(V& views, E& encoder, const I& first, const I& second, const TrainerOptions& options) {
  if constexpr (MultiCropGenerator<V>) {
    return embed_crops(views, encoder, first, second, options);
  } else {
    return embed_two_views(views, encoder, first, second, options);
  }
}

template <class T>
void after_step(T& policy, const LossInput& in) {
  if constexpr (contract::after_step<T>::valid) policy.after_step(in);
}

}  // namespace selfsup::detail
