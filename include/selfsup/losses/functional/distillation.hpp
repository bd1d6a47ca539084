#pragma once
/// \file
/// The self-distillation and clustering losses of selfsup::functional, which compare views over
/// K outputs (prototypes) instead of contrasting samples: DINO's cross-entropy between a centred,
/// sharpened teacher and the student, SwAV's Sinkhorn-Knopp codes and swapped prediction. They
/// take a list of views (multi-crop). See functional.hpp for the conventions all the functions
/// share.

#include <selfsup/detail/check.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::functional {

namespace detail {

/// Every tensor of `views` (named `list`) defined, floating, (B, K) with the first one's shape,
/// dtype and device, and finite; `first` names another list the views must match (the teacher).
inline void check_view_list(std::string_view fn, std::string_view list, const std::vector<torch::Tensor>& views,
                            const torch::Tensor& like) {
  for (size_t i = 0; i < views.size(); ++i) {
    const auto name = std::string(list) + "[" + std::to_string(i) + "]";
    selfsup::detail::check_floating(fn, name, views[i]);
    selfsup::detail::check_dim(fn, name, views[i], 2);
    TORCH_CHECK(views[i].sizes() == like.sizes(), fn, ": every view must have the shape (B, K) = ", like.sizes(),
                ", got ", views[i].sizes(), " for ", name);
    TORCH_CHECK(views[i].scalar_type() == like.scalar_type(), fn, ": every view must have the dtype ",
                like.scalar_type(), ", got ", views[i].scalar_type(), " for ", name);
    TORCH_CHECK(views[i].device() == like.device(), fn, ": every view must be on ", like.device(), ", got ",
                views[i].device(), " for ", name);
    selfsup::detail::check_finite(fn, name, views[i]);
  }
}

/// SwAV's codes without the checks: see sinkhorn().
inline torch::Tensor sinkhorn_codes(const torch::Tensor& scores, int64_t iterations, double epsilon) {
  torch::NoGradGuard no_grad;
  const auto b = static_cast<double>(scores.size(0));
  const auto k = static_cast<double>(scores.size(1));
  // exp(s/ε − max): the max cancels in the first normalisation, and exp cannot overflow.
  auto s = scores.detach() / epsilon;
  auto q = torch::exp(s - s.max()).t();              // (K, B)
  q.div_(q.sum());
  for (int64_t it = 0; it < iterations; ++it) {
    q.div_(q.sum(1, /*keepdim=*/true)).div_(k);      // each prototype's mass 1/K
    q.div_(q.sum(0, /*keepdim=*/true)).div_(b);      // each sample's mass 1/B
  }
  return (q * b).t().contiguous();                   // (B, K), rows sum to 1
}

/// The mean over every pair (i, j) with i ≠ j of −mean_b Σ_k targets_i log_probs_j: DINO's loss,
/// and SwAV's swapped prediction (each code meets the same number of other views, so SwAV's mean
/// over i of per-i means is this mean too).
inline torch::Tensor cross_entropy_over_pairs(const std::vector<torch::Tensor>& targets,
                                              const std::vector<torch::Tensor>& log_probs) {
  torch::Tensor total;
  int64_t terms = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    for (size_t j = 0; j < log_probs.size(); ++j) {
      if (i == j) continue;
      auto term = -(targets[i] * log_probs[j]).sum(1).mean();
      total = total.defined() ? total + term : term;
      ++terms;
    }
  }
  return total / static_cast<double>(terms);
}

}  // namespace detail

struct DinoLossOptions {
  double teacher_temperature = 0.04;
  double student_temperature = 0.1;
};

/// DINO (Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021).
/// `teacher` holds the teacher's outputs for the global crops, each (B, K); `student` the
/// student's outputs for the same global crops first, in the same order, then for the local
/// crops. With P_i = softmax((teacher_i − center) / τ_t) and log S_j = log_softmax(student_j / τ_s),
/// the loss is the mean, over every pair (i, j) with i ≠ j and over the batch, of −Σ_k P_i log S_j.
/// `center` is (K). No gradient flows to the teacher.
inline torch::Tensor dino_loss(const std::vector<torch::Tensor>& teacher, const std::vector<torch::Tensor>& student,
                               const torch::Tensor& center, const DinoLossOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::dino_loss";
  TORCH_CHECK(!teacher.empty(), fn, ": teacher must hold at least one view (the global crops), got none");
  TORCH_CHECK(student.size() >= teacher.size(), fn, ": student must hold the teacher's ", teacher.size(),
              " global views first, then the local views; got ", student.size(), " views");
  TORCH_CHECK(student.size() >= 2, fn, ": needs at least two views in student (no pair i != j otherwise), got ",
              student.size());
  selfsup::detail::check_defined(fn, "teacher[0]", teacher[0]);
  selfsup::detail::check_dim(fn, "teacher[0]", teacher[0], 2);
  const auto& like = teacher[0];
  TORCH_CHECK(like.size(0) >= 1 && like.size(1) >= 1, fn, ": views must be (B, K) with B, K >= 1, got ",
              like.sizes());
  detail::check_view_list(fn, "teacher", teacher, like);
  detail::check_view_list(fn, "student", student, like);
  selfsup::detail::check_floating(fn, "center", center);
  TORCH_CHECK(center.dim() == 1 && center.size(0) == like.size(1), fn, ": center must have shape (",
              like.size(1), "), got ", center.sizes());
  TORCH_CHECK(center.device() == like.device(), fn, ": center must be on ", like.device(), ", got ",
              center.device());
  selfsup::detail::check_finite(fn, "center", center);
  selfsup::detail::check_positive(fn, "teacher_temperature", options.teacher_temperature);
  selfsup::detail::check_positive(fn, "student_temperature", options.student_temperature);

  std::vector<torch::Tensor> targets;
  {
    torch::NoGradGuard no_grad;
    auto c = center.detach().to(like.scalar_type());
    for (const auto& t : teacher) targets.push_back(torch::softmax((t.detach() - c) / options.teacher_temperature, 1));
  }
  std::vector<torch::Tensor> log_probs;
  for (const auto& s : student) log_probs.push_back(torch::log_softmax(s / options.student_temperature, 1));
  return detail::cross_entropy_over_pairs(targets, log_probs);
}

/// DINO's centre after one step: m·center + (1 − m)·(the mean over every teacher view and row).
/// Without gradient. `teacher` as in dino_loss.
inline torch::Tensor dino_center_update(const torch::Tensor& center, const std::vector<torch::Tensor>& teacher,
                                        double momentum = 0.9) {
  constexpr std::string_view fn = "selfsup::functional::dino_center_update";
  TORCH_CHECK(!teacher.empty(), fn, ": teacher must hold at least one view");
  TORCH_CHECK(momentum >= 0 && momentum <= 1, fn, ": momentum must be in [0, 1], got ", momentum);
  torch::NoGradGuard no_grad;
  auto batch = torch::cat(teacher, 0).detach();
  TORCH_CHECK(batch.dim() == 2 && center.dim() == 1 && batch.size(1) == center.size(0), fn,
              ": teacher views must be (B, K) with K = center's ", center.numel(), ", got ", batch.sizes());
  return center * momentum + batch.mean(0).to(center.scalar_type()) * (1.0 - momentum);
}

struct SinkhornOptions {
  int64_t iterations = 3;
  double epsilon = 0.05;
};

/// SwAV's codes (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
/// Assignments", NeurIPS 2020) by the Sinkhorn-Knopp algorithm, for `scores` (B, K) (the samples'
/// dot products with K prototypes): Q = exp(scores / ε)ᵀ (K, B) normalised to sum 1, then
/// `iterations` rounds of scaling rows to sum 1/K and columns to sum 1/B; returned as (B, K)
/// scaled so that each row sums to 1. No gradient.
inline torch::Tensor sinkhorn(const torch::Tensor& scores, const SinkhornOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::sinkhorn";
  selfsup::detail::check_floating(fn, "scores", scores);
  selfsup::detail::check_dim(fn, "scores", scores, 2);
  TORCH_CHECK(scores.size(0) >= 1 && scores.size(1) >= 1, fn, ": scores must be (B, K) with B, K >= 1, got ",
              scores.sizes());
  TORCH_CHECK(options.iterations >= 0, fn, ": iterations must be >= 0, got ", options.iterations);
  selfsup::detail::check_positive(fn, "epsilon", options.epsilon);
  selfsup::detail::check_finite(fn, "scores", scores);
  auto codes = detail::sinkhorn_codes(scores, options.iterations, options.epsilon);
  if (selfsup::detail::finite_checks_enabled()) {
    TORCH_CHECK(torch::isfinite(codes).all().item<bool>(), fn, ": the codes are not finite: scores / epsilon span ",
                ((scores.max() - scores.min()) / options.epsilon).item<double>(), ", more than exp() can hold in ",
                scores.scalar_type(), " (a sample or prototype whose every weight underflows to 0); raise epsilon, "
                "L2-normalise the embeddings and prototypes, or compute in float64");
  }
  return codes;
}

struct SwAVLossOptions {
  double temperature = 0.1;
  int64_t sinkhorn_iterations = 3;
  double epsilon = 0.05;
};

namespace detail {

/// SwAV's swapped prediction for given codes (codes[i] for high view i, (B, K) rows summing to 1).
inline torch::Tensor swapped_prediction(const std::vector<torch::Tensor>& codes, const std::vector<torch::Tensor>& high,
                                        const std::vector<torch::Tensor>& low, double temperature) {
  std::vector<torch::Tensor> log_probs;
  for (const auto& v : high) log_probs.push_back(torch::log_softmax(v / temperature, 1));
  for (const auto& v : low) log_probs.push_back(torch::log_softmax(v / temperature, 1));
  return cross_entropy_over_pairs(codes, log_probs);
}

}  // namespace detail

/// SwAV's loss. `high` holds the prototype scores (B, K) of the high-resolution views, `low`
/// those of the low-resolution ones (possibly none). For each high view i, codes
/// q_i = sinkhorn(high_i) (no gradient); the loss is the mean over i of
/// Σ_{v ≠ i} −mean_b Σ_k q_i log_softmax(v / temperature) / (number of views − 1), v running over
/// every other high view and every low view.
inline torch::Tensor swav_loss(const std::vector<torch::Tensor>& high, const std::vector<torch::Tensor>& low,
                               const SwAVLossOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::functional::swav_loss";
  TORCH_CHECK(!high.empty(), fn, ": high must hold at least one view, got none");
  TORCH_CHECK(high.size() + low.size() >= 2, fn, ": needs at least two views in all, got ", high.size(),
              " high and ", low.size(), " low");
  selfsup::detail::check_defined(fn, "high[0]", high[0]);
  selfsup::detail::check_dim(fn, "high[0]", high[0], 2);
  const auto& like = high[0];
  TORCH_CHECK(like.size(0) >= 1 && like.size(1) >= 1, fn, ": views must be (B, K) with B, K >= 1, got ",
              like.sizes());
  detail::check_view_list(fn, "high", high, like);
  detail::check_view_list(fn, "low", low, like);
  selfsup::detail::check_positive(fn, "temperature", options.temperature);
  TORCH_CHECK(options.sinkhorn_iterations >= 0, fn, ": sinkhorn_iterations must be >= 0, got ",
              options.sinkhorn_iterations);
  selfsup::detail::check_positive(fn, "epsilon", options.epsilon);
  std::vector<torch::Tensor> codes;
  for (const auto& h : high) codes.push_back(detail::sinkhorn_codes(h, options.sinkhorn_iterations, options.epsilon));
  return detail::swapped_prediction(codes, high, low, options.temperature);
}

}  // namespace selfsup::functional
