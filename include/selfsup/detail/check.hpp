#pragma once
/// \file
/// Internal: argument checks shared by the public functions. Each message starts with the name
/// of the public function that was called.

#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace selfsup::detail {

inline void check_defined(std::string_view fn, std::string_view name, const torch::Tensor& t) {
  TORCH_CHECK(t.defined(), fn, ": ", name, " is an undefined tensor");
}

inline void check_floating(std::string_view fn, std::string_view name, const torch::Tensor& t) {
  check_defined(fn, name, t);
  TORCH_CHECK(t.is_floating_point(), fn, ": ", name, " must have a floating dtype, got ",
              t.scalar_type());
}

inline void check_dim(std::string_view fn, std::string_view name, const torch::Tensor& t,
                      int64_t dim) {
  check_defined(fn, name, t);
  TORCH_CHECK(t.dim() == dim, fn, ": ", name, " must have ", dim, " dimensions, got shape ",
              t.sizes());
}

inline void check_same_device(std::string_view fn, std::string_view a_name,
                              const torch::Tensor& a, std::string_view b_name,
                              const torch::Tensor& b) {
  TORCH_CHECK(a.device() == b.device(), fn, ": ", a_name, " and ", b_name,
              " must be on the same device, got ", a.device(), " and ", b.device());
}

/// Whether check_finite runs on this thread (see SkipFiniteChecks).
inline bool& finite_checks_enabled() {
  thread_local bool enabled = true;
  return enabled;
}

/// Turns check_finite off on this thread for its lifetime. The trainer uses it around the loss of
/// a training step: it checks the loss itself at logging steps, and a per-call check would read
/// a flag back from the device at every step.
class SkipFiniteChecks {
 public:
  SkipFiniteChecks() : previous_(finite_checks_enabled()) { finite_checks_enabled() = false; }
  ~SkipFiniteChecks() { finite_checks_enabled() = previous_; }
  SkipFiniteChecks(const SkipFiniteChecks&) = delete;
  SkipFiniteChecks& operator=(const SkipFiniteChecks&) = delete;

 private:
  bool previous_;
};

/// Whether every entry of a contiguous CPU array of float or double is finite: NaN and ±inf are
/// the values whose exponent bits are all ones. One pass, no allocation.
template <class T, class Bits>
bool all_finite_bits(const T* data, int64_t count, Bits exponent) {
  Bits bad = 0;
  for (int64_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, data + i, sizeof bits);
    bad |= static_cast<Bits>((bits & exponent) == exponent);
  }
  return bad == 0;
}

/// Rejects NaN and infinite entries. It reads one flag back from the device; contiguous CPU
/// float32 and float64 tensors are scanned directly.
inline void check_finite(std::string_view fn, std::string_view name, const torch::Tensor& t) {
  if (!finite_checks_enabled()) return;
  bool finite;
  if (t.device().is_cpu() && t.is_contiguous() && t.scalar_type() == torch::kFloat32) {
    finite = all_finite_bits(t.data_ptr<float>(), t.numel(), uint32_t{0x7f800000u});
  } else if (t.device().is_cpu() && t.is_contiguous() && t.scalar_type() == torch::kFloat64) {
    finite = all_finite_bits(t.data_ptr<double>(), t.numel(), uint64_t{0x7ff0000000000000u});
  } else {
    finite = torch::isfinite(t).all().item<bool>();
  }
  TORCH_CHECK(finite, fn, ": ", name, " contains NaN or infinite values");
}

inline void check_positive(std::string_view fn, std::string_view name, double v) {
  TORCH_CHECK(v > 0.0, fn, ": ", name, " must be positive, got ", v);
}

}  // namespace selfsup::detail
