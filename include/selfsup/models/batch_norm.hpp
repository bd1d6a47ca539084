#pragma once
/// \file
/// models::BatchNorm1d and models::BatchNorm2d: BatchNorm with LibTorch's parameters, buffers and
/// names (weight, bias, running_mean, running_var, num_batches_tracked: the same checkpoints and
/// exported weights) that, in training mode inside a data-parallel step
/// (distributed::SyncBatchNormScope, opened by the trainer), normalises with the statistics of the
/// global batch: SyncBatchNorm's semantics, so W ranks of batch B train as one process of batch
/// W·B. Everywhere else (one process, evaluation, a forward pass outside a step) it is plain
/// BatchNorm (torch::batch_norm). LibTorch's own torch::nn::BatchNorm layers know nothing of the
/// data-parallel step and would keep per-rank statistics: plain_batch_norm() finds them, and the
/// trainer refuses them under data parallel.

#include <selfsup/distributed/collectives.hpp>

#include <torch/torch.h>

#include <optional>
#include <ostream>
#include <string>

namespace selfsup::models {

namespace detail {

/// The module behind BatchNorm1d (inputs (N, C) or (N, C, L)) and BatchNorm2d ((N, C, H, W)).
template <int Dims>
class BatchNormImpl : public torch::nn::Module {
 public:
  explicit BatchNormImpl(int64_t num_features) : BatchNormImpl(torch::nn::BatchNormOptions(num_features)) {}
  explicit BatchNormImpl(const torch::nn::BatchNormOptions& options) : options(options) {
    TORCH_CHECK(options.num_features() > 0, "selfsup::models::BatchNorm", Dims,
                "d: num_features must be positive, got ", options.num_features());
    if (options.affine()) {
      weight = register_parameter("weight", torch::ones({options.num_features()}));
      bias = register_parameter("bias", torch::zeros({options.num_features()}));
    }
    if (options.track_running_stats()) {
      running_mean = register_buffer("running_mean", torch::zeros({options.num_features()}));
      running_var = register_buffer("running_var", torch::ones({options.num_features()}));
      num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    const bool ok = Dims == 1 ? (input.dim() == 2 || input.dim() == 3) : input.dim() == 4;
    TORCH_CHECK(ok, "selfsup::models::BatchNorm", Dims, "d: expected ", Dims == 1 ? "2-D or 3-D" : "4-D",
                " input, got ", input.dim(), "-D");
    const bool stats = options.track_running_stats();
    const double momentum = options.momentum().has_value() ? *options.momentum() : -1.0;
    if (is_training() && distributed::sync_batch_norm_active()) {
      return distributed::sync_batch_norm(input, weight, bias, running_mean, running_var, num_batches_tracked,
                                          momentum, options.eps());
    }
    double factor = momentum;
    if (is_training() && stats) {
      num_batches_tracked.add_(1);
      if (momentum < 0) factor = 1.0 / num_batches_tracked.template item<double>();
    }
    return torch::batch_norm(input, weight, bias, running_mean, running_var, is_training() || !stats, factor,
                             options.eps(), at::globalContext().userEnabledCuDNN());
  }

  void pretty_print(std::ostream& out) const override {
    out << "selfsup::models::BatchNorm" << Dims << "d(" << options.num_features() << ", eps=" << options.eps()
        << ", momentum=";
    if (options.momentum().has_value()) out << *options.momentum();
    else out << "None";
    out << ", affine=" << (options.affine() ? "true" : "false")
        << ", track_running_stats=" << (options.track_running_stats() ? "true" : "false") << ")";
  }

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

}  // namespace detail

class BatchNorm1dImpl : public detail::BatchNormImpl<1> {
 public:
  using detail::BatchNormImpl<1>::BatchNormImpl;
};
TORCH_MODULE(BatchNorm1d);

class BatchNorm2dImpl : public detail::BatchNormImpl<2> {
 public:
  using detail::BatchNormImpl<2>::BatchNormImpl;
};
TORCH_MODULE(BatchNorm2d);

/// The first of LibTorch's own BatchNorm layers (torch::nn::BatchNorm1d, 2d, 3d) in `module`, as
/// "path (type)", e.g. "backbone.4 (torch::nn::BatchNorm2d)"; nullopt when it has none. Such a
/// layer normalises with its own rank's statistics under data parallel, where selfsup's
/// models::BatchNorm1d and BatchNorm2d (the same parameters and buffers) use the global batch's.
inline std::optional<std::string> plain_batch_norm(const torch::nn::Module& module) {
  const auto kind = [](const torch::nn::Module& m) -> const char* {
    if (dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&m)) return "torch::nn::BatchNorm1d";
    if (dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&m)) return "torch::nn::BatchNorm2d";
    if (dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&m)) return "torch::nn::BatchNorm3d";
    return nullptr;
  };
  if (const char* k = kind(module)) return std::string("the module itself (") + k + ")";
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    if (const char* k = kind(*item.value())) return item.key() + " (" + k + ")";
  }
  return std::nullopt;
}

}  // namespace selfsup::models
