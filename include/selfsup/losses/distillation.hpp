#pragma once
/// \file
/// Loss policies of the self-distillation and clustering methods and of MoCo v3: losses::DINO
/// (student against a centred momentum teacher, multi-crop), losses::SwAV (swapped prediction of
/// Sinkhorn codes over prototypes, multi-crop, optional queue) and losses::MoCoV3 (symmetric
/// InfoNCE of predictions against momentum keys, in-batch).

#include <selfsup/losses/detail/embeddings.hpp>
#include <selfsup/losses/functional.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

namespace selfsup::losses {

struct DINOOptions {
  double student_temperature = 0.1;
  double teacher_temperature = 0.04;          ///< after the warm-up
  double warmup_teacher_temperature = 0.04;   ///< at step 0, raised linearly to teacher_temperature
  int64_t warmup_steps = 0;                   ///< steps of the teacher temperature's warm-up
  double center_momentum = 0.9;
};

/// DINO (Caron et al., ICCV 2021): functional::dino_loss between the momentum teacher's outputs
/// t0, t1 on the two global views and the student's z0, z1 and its local views (LossInput::local),
/// with the teacher centred by a running mean of its outputs (momentum 0.9, updated after each
/// step from the global batch) and its temperature warmed up linearly over `warmup_steps`. The
/// centre and the step count are saved with checkpoints. Pair it with negatives::None, an encoder
/// with a momentum target (models::heads::dino on both), and views::MultiCrop or any two-view
/// generator.
struct DINO {
  static constexpr bool contrastive = false;
  static constexpr bool needs_target = true;
  static constexpr bool multi_crop = true;
  DINOOptions options{};
  torch::Tensor center;  ///< (K), zeros before the first step
  int64_t steps = 0;

  /// The teacher temperature at step `step`.
  double teacher_temperature_at(int64_t step) const {
    if (options.warmup_steps <= 0 || step >= options.warmup_steps) return options.teacher_temperature;
    const double f = static_cast<double>(step) / static_cast<double>(options.warmup_steps);
    return options.warmup_teacher_temperature + f * (options.teacher_temperature - options.warmup_teacher_temperature);
  }

  torch::Tensor operator()(const LossInput& in) {
    TORCH_CHECK(in.t0.defined() && in.t1.defined(), "selfsup::losses::DINO: needs the teacher's outputs t0 and t1 "
                "of an encoder with a momentum target");
    TORCH_CHECK(options.center_momentum >= 0 && options.center_momentum <= 1, "selfsup::losses::DINO: "
                "center_momentum must be in [0, 1], got ", options.center_momentum);
    ensure_center(in.t0);
    std::vector<torch::Tensor> student{in.z0, in.z1};
    student.insert(student.end(), in.local.begin(), in.local.end());
    return functional::dino_loss({in.t0, in.t1}, student, center,
                                 {.teacher_temperature = teacher_temperature_at(steps),
                                  .student_temperature = options.student_temperature});
  }

  /// The centre's update from this step's teacher outputs (the global batch's).
  void after_step(const LossInput& in) {
    ensure_center(in.t0);
    center = functional::dino_center_update(center, {in.t0, in.t1}, options.center_momentum);
    ++steps;
  }

  void save(torch::serialize::OutputArchive& archive) const {
    if (center.defined()) archive.write("center", center.cpu(), true);
    archive.write("steps", torch::tensor({steps}), true);
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor c, s;
    if (archive.try_read("center", c, true)) center = c;
    TORCH_CHECK(archive.try_read("steps", s, true), "selfsup::losses::DINO::load: the checkpoint has no 'steps'");
    steps = s.item<int64_t>();
  }

 private:
  void ensure_center(const torch::Tensor& like) {
    if (!center.defined()) {
      center = torch::zeros({like.size(1)}, like.options().requires_grad(false));
    } else if (center.device() != like.device() || center.scalar_type() != like.scalar_type()) {
      center = center.to(like.device(), like.scalar_type());
    }
    TORCH_CHECK(center.size(0) == like.size(1), "selfsup::losses::DINO: the centre has ", center.size(0),
                " dimensions and the teacher's outputs ", like.size(1), " (a checkpoint of another head?)");
  }
};

struct SwAVOptions {
  double temperature = 0.1;
  int64_t sinkhorn_iterations = 3;
  double epsilon = 0.05;
  int64_t queue_size = 0;         ///< embeddings of past batches per global view; 0: no queue
  int64_t queue_start_step = 0;   ///< the queue is filled from this step on, and used once full
};

/// SwAV (Caron et al., NeurIPS 2020): the projections z (L2-normalised here) scored against the
/// encoder's prototypes (LossInput::prototypes, normalised by the encoder before each step), codes
/// by functional::sinkhorn for each global view, and functional::swav_loss's swapped prediction
/// over the global and the local views. With `queue_size` > 0 the codes are computed over the
/// batch together with a queue of past embeddings (small batches), from `queue_start_step` on once
/// the queue is full. The queue is saved with checkpoints. Pair it with negatives::None and an
/// encoder with prototypes.
struct SwAV {
  static constexpr bool contrastive = false;
  static constexpr bool needs_prototypes = true;
  static constexpr bool multi_crop = true;
  SwAVOptions options{};
  torch::Tensor queue;     ///< (2, queue_size, D) normalised embeddings of past global views
  int64_t queued = 0;      ///< rows filled
  int64_t steps = 0;

  bool queue_in_use() const { return options.queue_size > 0 && queue.defined() && queued >= options.queue_size; }

  torch::Tensor operator()(const LossInput& in) {
    constexpr std::string_view fn = "selfsup::losses::SwAV";
    TORCH_CHECK(in.prototypes.defined() && in.prototypes.dim() == 2, fn, ": needs the encoder's prototypes (K, D)");
    TORCH_CHECK(in.prototypes.size(1) == in.z0.size(1), fn, ": the prototypes are (K, ", in.prototypes.size(1),
                ") and the projections (B, ", in.z0.size(1), "); EncoderOptions::prototypes needs the projector's "
                "output width");
    auto w = in.prototypes.to(in.z0.scalar_type());
    auto score = [&](const torch::Tensor& z) { return detail::l2_normalize(z).mm(w.t()); };
    std::vector<torch::Tensor> high{score(in.z0), score(in.z1)};
    std::vector<torch::Tensor> low;
    for (const auto& z : in.local) low.push_back(score(z));
    if (!queue_in_use()) {
      return functional::swav_loss(high, low, {.temperature = options.temperature,
                                               .sinkhorn_iterations = options.sinkhorn_iterations,
                                               .epsilon = options.epsilon});
    }
    std::vector<torch::Tensor> codes;
    for (size_t i = 0; i < high.size(); ++i) {
      torch::NoGradGuard no_grad;
      auto past = queue[static_cast<int64_t>(i)].to(w.device(), w.scalar_type()).mm(w.detach().t());
      auto all = torch::cat({past, high[i].detach()}, 0);
      const auto b = high[i].size(0);
      codes.push_back(functional::sinkhorn(all, {.iterations = options.sinkhorn_iterations, .epsilon = options.epsilon})
                          .narrow(0, all.size(0) - b, b));
    }
    return functional::detail::swapped_prediction(codes, high, low, options.temperature);
  }

  /// Pushes this step's normalised global embeddings into the queue (newest first).
  void after_step(const LossInput& in) {
    ++steps;
    if (options.queue_size <= 0 || steps <= options.queue_start_step) return;
    torch::NoGradGuard no_grad;
    const auto d = in.z0.size(1);
    if (queue.defined() && queue.device() != in.z0.device()) queue = queue.to(in.z0.device());  // a resumed run
    if (!queue.defined() || queue.size(1) != options.queue_size || queue.size(2) != d) {
      queue = torch::zeros({2, options.queue_size, d}, in.z0.options().dtype(torch::kFloat32));
      queued = 0;
    }
    auto fresh = torch::stack({detail::l2_normalize(in.z0.detach()), detail::l2_normalize(in.z1.detach())})
                     .to(torch::kFloat32);                                   // (2, B, D)
    const auto b = std::min<int64_t>(fresh.size(1), options.queue_size);
    queue = torch::cat({fresh.narrow(1, 0, b), queue.narrow(1, 0, options.queue_size - b)}, 1);
    queued = std::min(options.queue_size, queued + b);
  }

  void save(torch::serialize::OutputArchive& archive) const {
    if (queue.defined()) archive.write("queue", queue.cpu(), true);
    archive.write("state", torch::tensor({queued, steps}), true);
  }
  void load(torch::serialize::InputArchive& archive) {
    torch::Tensor q, s;
    if (archive.try_read("queue", q, true)) queue = q;
    TORCH_CHECK(archive.try_read("state", s, true), "selfsup::losses::SwAV::load: the checkpoint has no 'state'");
    queued = s[0].item<int64_t>();
    steps = s[1].item<int64_t>();
  }
};

/// MoCo v3 (Chen, Xie & He, ICCV 2021): functional::moco_v3(p0, t1) + functional::moco_v3(p1, t0),
/// the predictions of the online network against the momentum encoder's keys of the other view,
/// with the batch's other keys as negatives (τ = 0.2). Pair it with negatives::InBatch and an
/// encoder with a predictor and a momentum target (models::heads::moco_v3_*).
struct MoCoV3 {
  static constexpr bool contrastive = true;
  static constexpr bool needs_predictor = true;
  static constexpr bool needs_target = true;
  functional::MoCoV3Options options{};

  torch::Tensor operator()(const LossInput& in) const {
    constexpr std::string_view fn = "selfsup::losses::MoCoV3";
    TORCH_CHECK(in.negatives.in_batch && !in.negatives.bank.defined() && !in.negatives.groups.defined(), fn,
                ": contrasts against the batch's other keys; pair it with negatives::InBatch");
    TORCH_CHECK(in.p0.defined() && in.p1.defined() && in.t0.defined() && in.t1.defined(), fn,
                ": needs the predictions p0, p1 and the momentum keys t0, t1 (an encoder with a predictor and a "
                "momentum target)");
    return functional::moco_v3(in.p0, in.t1.detach(), options) + functional::moco_v3(in.p1, in.t0.detach(), options);
  }
};

}  // namespace selfsup::losses
