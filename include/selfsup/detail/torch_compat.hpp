#pragma once
/// \file
/// Internal: every difference between the LibTorch versions selfsup supports lives here
/// (Debian's LibTorch 1.13 on CPU machines, PyTorch 2.x with CUDA on GPU machines).

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>

namespace c10d {
class ProcessGroup;
class Backend;
class Store;
class TCPStore;
}  // namespace c10d

namespace selfsup::detail {

/// The class c10d's process groups (ProcessGroupGloo, ProcessGroupNCCL) derive from: ProcessGroup
/// in LibTorch 1.x, Backend from 2.0 on (distributed/init.hpp holds one).
#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

/// Whether this build may make an NCCL process group: LibTorch built with CUDA and NCCL, and the
/// build defining SELFSUP_WITH_NCCL (CMake does when its Torch has CUDA). Debian's LibTorch has none.
#if defined(SELFSUP_WITH_NCCL)
inline constexpr bool c10d_nccl_available = true;
#else
inline constexpr bool c10d_nccl_available = false;
#endif

/// Whether c10d's Gloo process group (CPU tensors) can be compiled: Gloo's headers are there.
/// Debian's LibTorch needs libgloo-dev for them; a LibTorch without them has NCCL only.
#if __has_include(<gloo/config.h>)
#define SELFSUP_DETAIL_GLOO 1
inline constexpr bool c10d_gloo_available = true;
#else
#define SELFSUP_DETAIL_GLOO 0
inline constexpr bool c10d_gloo_available = false;
#endif

/// LibTorch's version as one comparable number, e.g. 11300 for 1.13.0 and 21100 for 2.11.0.
inline constexpr int torch_version =
    TORCH_VERSION_MAJOR * 10000 + TORCH_VERSION_MINOR * 100 + TORCH_VERSION_PATCH;

/// Whether this LibTorch has the fused scaled-dot-product attention (PyTorch 2.0 on: flash and
/// memory-efficient kernels on CUDA, a fused kernel on CPU).
inline constexpr bool fused_attention_available = TORCH_VERSION_MAJOR >= 2;

/// Attention by its formula, softmax(q kᵀ / √d) v, for q, k, v of shape (..., N, d).
inline torch::Tensor attention_formula(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1).matmul(v);
}

/// softmax(q kᵀ / √d) v for q, k, v of shape (..., N, d): LibTorch's fused kernel where the version
/// has it (2.x), the formula on 1.13. The two agree (tests/models).
inline torch::Tensor scaled_dot_product_attention(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v);
#else
  return attention_formula(q, k, v);
#endif
}

/// A new random generator of the device's kind, seeded with `seed`, independent of LibTorch's
/// global default generator. Cloning the default generator works on CPU and CUDA alike in every
/// supported version, without naming a CUDA-specific factory.
inline at::Generator make_generator(const torch::Device& device, std::uint64_t seed) {
  at::Generator gen = at::globalContext().defaultGenerator(device).clone();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(seed);
  return gen;
}

/// The generator's full state as a CPU uint8 tensor, and its inverse, for checkpoints.
inline torch::Tensor generator_state(const at::Generator& gen) {
  std::lock_guard<std::mutex> lock(const_cast<at::Generator&>(gen).mutex());
  return gen.get_state();
}
inline void set_generator_state(at::Generator& gen, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

/// bfloat16 autocast on CUDA for the lifetime of the guard (the encoder's forward pass). The
/// autocast API moved from CUDA-only calls (1.x) to calls that name the device type (2.4).
class CudaBf16Autocast {
 public:
  explicit CudaBf16Autocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    previous_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CudaBf16Autocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, previous_);
    at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
#else
    at::autocast::set_enabled(previous_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
#endif
  }
  CudaBf16Autocast(const CudaBf16Autocast&) = delete;
  CudaBf16Autocast& operator=(const CudaBf16Autocast&) = delete;

 private:
  bool enabled_;
  bool previous_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

/// The key of a parameter in torch::optim::Optimizer::state(): its TensorImpl's address as a
/// string in LibTorch 1.x (written by an ostream, as 1.x's c10::guts::to_string did; 2.x has no
/// such function), the address itself in 2.x. Taken from the map's own key type.
template <class Optimizer = torch::optim::Optimizer>
auto optimizer_state_key(const torch::Tensor& p) {
  using Key = typename std::remove_cvref_t<decltype(std::declval<Optimizer&>().state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;
    address << p.unsafeGetTensorImpl();
    return address.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

/// A TCPStore with `options`. LibTorch 2.4 on asks for the libuv server by default, and a
/// LibTorch built without libuv (Debian 13's 2.6) then refuses to make a store at all ("use_libuv
/// was requested but PyTorch was build without libuv support"): there the store is made again with
/// the older server, which every version has. USE_LIBUV=0 in the environment asks for the older
/// one directly, as it does of torchrun. 1.x has no such option.
template <class Options>
c10::intrusive_ptr<c10d::Store> make_tcp_store(const std::string& host, Options options) {
  if constexpr (requires { options.useLibUV; }) {
    if (const char* use = std::getenv("USE_LIBUV"); use != nullptr && std::string(use) == "0") options.useLibUV = false;
    if (options.useLibUV) {
      try {
        return c10::make_intrusive<c10d::TCPStore>(host, options);
      } catch (const std::exception& error) {
        if (std::string(error.what()).find("libuv") == std::string::npos) throw;
        options.useLibUV = false;
      }
    }
  }
  return c10::make_intrusive<c10d::TCPStore>(host, options);
}

/// Puts every 4-D parameter and buffer of `module` in channels-last memory format.
inline void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

}  // namespace selfsup::detail
