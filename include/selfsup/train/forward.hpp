#pragma once
/// \file
/// The forward half of a training step: both sides' views, the encoder's projections (and its
/// predictor's and momentum target's), and the policies' after-step calls.

#include <selfsup/concepts.hpp>
#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/train/options.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

namespace selfsup::detail {

/// Both sides' views through the encoder in one forward pass (and its predictor and momentum
/// target when it has them); the loss's inputs in float32 whatever precision the encoder ran in.
template <class V, class E>
LossInput embed_pair(V& views, E& encoder, const torch::Tensor& first, const torch::Tensor& second,
                     const TrainerOptions& options) {
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
  auto as_float = [](const torch::Tensor& v) {
    return v.defined() && v.scalar_type() != torch::kFloat64 ? v.to(torch::kFloat32) : v;
  };
  z = as_float(z), p = as_float(p), t = as_float(t);
  LossInput in;
  in.z0 = z.narrow(0, 0, b);
  in.z1 = z.narrow(0, b, b);
  if (p.defined()) in.p0 = p.narrow(0, 0, b), in.p1 = p.narrow(0, b, b);
  if (t.defined()) in.t0 = t.narrow(0, 0, b), in.t1 = t.narrow(0, b, b);
  return in;
}

template <class T>
void after_step(T& policy, const LossInput& in) {
  if constexpr (contract::after_step<T>::valid) policy.after_step(in);
}

}  // namespace selfsup::detail
