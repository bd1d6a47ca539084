#pragma once
/// \file
/// Learning-rate schedule: linear warm-up, then a cosine decay (Loshchilov & Hutter, SGDR,
/// ICLR 2017), as SimCLR, BYOL and most recipes since use it.

#include <cmath>
#include <cstdint>
#include <numbers>

namespace selfsup {

struct ScheduleOptions {
  int64_t warmup_steps = 0;
  double final_fraction = 0.0;  ///< the rate at the end, as a fraction of the base rate
  bool cosine = true;           ///< false: constant after warm-up
};

/// The learning rate at step `step` (0-based) of `total` steps, for base rate `base`.
inline double learning_rate_at(double base, int64_t step, int64_t total, const ScheduleOptions& s) {
  if (step < s.warmup_steps) return base * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  if (!s.cosine || total <= s.warmup_steps) return base;
  const double progress = std::min(1.0, static_cast<double>(step - s.warmup_steps) /
                                            static_cast<double>(total - s.warmup_steps));
  const double final_rate = base * s.final_fraction;
  return final_rate + (base - final_rate) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace selfsup
