#pragma once
/// \file
/// Self-distillation, clustering and MoCo v3: DINO (student and momentum teacher, multi-crop),
/// SwAV (prototypes, Sinkhorn codes, multi-crop, a queue), MoCo v3 (predictor against momentum
/// keys, in-batch). Each is a class template over its pair source (method.hpp says what a method
/// provides); the defaults are the papers'. With semantic positives the two global crops come
/// from the anchor and its partner, and the local crops from both in turn (views::MultiCrop).

#include <selfsup/losses/contrastive.hpp>
#include <selfsup/losses/distillation.hpp>
#include <selfsup/methods/method.hpp>
#include <selfsup/negatives/in_batch.hpp>
#include <selfsup/negatives/none.hpp>
#include <selfsup/pairs/augmented.hpp>

#include <utility>

namespace selfsup::methods {

/// DINO (Caron et al., ICCV 2021): global crops (0.4, 1), 8 local crops (0.05, 0.4); teacher
/// temperature 0.04 (warmed up from 0.04 over `teacher_warmup_epochs` when the setting raises
/// it; the paper goes to 0.07), student 0.1, centre momentum 0.9; the ViT-S optimiser: AdamW,
/// weight decay 0.04 to 0.4, gradients clipped at 3, the head's last layer frozen for an epoch.
template <class P = pairs::Augmented>
struct DINO {
  static constexpr Info info{
      .name = "dino", .title = "DINO", .citation = "caron2021dino",
      .loss = "multi-crop 2 + 8, teacher τ 0.04 (warm-up option), student τ 0.1, centre m 0.9; teacher m₀ = 0.996 "
              "cosine to 1; wd 0.04 → 0.4, clip 3, last layer frozen 1 epoch; head 2048-2048-256 → K = 65536",
      .heads = "heads::dino(65536) on student and momentum teacher (m₀ = 0.996, cosine to 1), last layer frozen "
               "for the first epoch",
      .optimizer = OptimizerKind::adamw, .base_lr = 0.0005, .weight_decay = 0.04, .final_weight_decay = 0.4,
      .clip_grad_norm = 3.0, .freeze_last_layer_epochs = 1, .temperature = 0.1, .local_crops = 8,
      .teacher_temperature = 0.04};
  using recipe_type = Recipe<views::MultiCrop, P, negatives::None, losses::DINO>;
  static constexpr bool accepts = detail::accepts_data_positives<recipe_type>;
  static models::EncoderOptions encoder(int64_t, const Settings& s) {
    return {.projector = models::heads::dino(65536), .momentum_target = true, .momentum = 0.996,
            .freeze_last_layer_steps = info.freeze_last_layer_epochs * s.steps_per_epoch};
  }
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods::DINO: the pair source must draw positives from the data, and the "
                           "recipe be valid with it");
    return {.views = multi_crop(s, {0.4, 1.0}, {0.05, 0.4}, s.local_crops.value_or(info.local_crops)),
            .pairs = std::move(positives),
            .loss = losses::DINO{.options = {.student_temperature = detail::temperature(info, s),
                                             .teacher_temperature = s.teacher_temperature.value_or(*info.teacher_temperature),
                                             .warmup_teacher_temperature = *info.teacher_temperature,
                                             .warmup_steps = s.teacher_warmup_epochs * s.steps_per_epoch}}};
  }
};

/// SwAV (Caron et al., NeurIPS 2020): 2 global crops (0.14, 1) and 6 local ones (0.05, 0.14);
/// 3000 prototypes, τ = 0.1, Sinkhorn ε = 0.05 with 3 iterations; a queue of 3840 embeddings
/// from epoch 15 on; the prototypes frozen for the first epoch.
template <class P = pairs::Augmented>
struct SwAV {
  static constexpr Info info{
      .name = "swav", .title = "SwAV", .citation = "caron2020swav",
      .loss = "multi-crop 2 + 6, 3000 prototypes, τ = 0.1, Sinkhorn ε = 0.05 × 3; queue 3840 from epoch 15; "
              "prototypes frozen 1 epoch",
      .heads = "heads::swav + 3000 prototypes (normalised before every step, frozen for the first epoch)",
      .optimizer = OptimizerKind::lars, .base_lr = 0.3, .weight_decay = 1e-6, .freeze_last_layer_epochs = 1,
      .temperature = 0.1, .queue_size = 3840, .queue_start_epoch = 15, .local_crops = 6};
  using recipe_type = Recipe<views::MultiCrop, P, negatives::None, losses::SwAV>;
  static constexpr bool accepts = detail::accepts_data_positives<recipe_type>;
  static models::EncoderOptions encoder(int64_t, const Settings& s) {
    return {.projector = models::heads::swav, .prototypes = 3000,
            .freeze_last_layer_steps = info.freeze_last_layer_epochs * s.steps_per_epoch};
  }
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods::SwAV: the pair source must draw positives from the data, and the "
                           "recipe be valid with it");
    return {.views = multi_crop(s, {0.14, 1.0}, {0.05, 0.14}, s.local_crops.value_or(info.local_crops)),
            .pairs = std::move(positives),
            .loss = losses::SwAV{.options = {.temperature = detail::temperature(info, s),
                                             .queue_size = s.queue_size.value_or(info.queue_size),
                                             .queue_start_step = s.queue_start_epoch.value_or(info.queue_start_epoch) *
                                                                 s.steps_per_epoch}}};
  }
};

/// MoCo v3 (Chen, Xie & He, ICCV 2021): BYOL's asymmetric views, the predictions against the
/// momentum keys of the other view, the batch's keys as negatives, τ = 0.2; the ViT-S optimiser.
template <class P = pairs::Augmented>
struct MoCoV3 {
  static constexpr Info info{
      .name = "moco_v3", .title = "MoCo v3", .citation = "chen2021mocov3",
      .loss = "symmetric InfoNCE, predictions against momentum keys, in-batch, τ = 0.2; m₀ = 0.99 cosine to 1",
      .heads = "heads::moco_v3_projector + moco_v3_predictor, momentum target (m₀ = 0.99, cosine to 1)",
      .optimizer = OptimizerKind::adamw, .base_lr = 0.00015, .weight_decay = 0.1, .temperature = 0.2};
  using recipe_type = Recipe<views::BYOLViews, P, negatives::InBatch, losses::MoCoV3>;
  static constexpr bool accepts = detail::accepts_data_positives<recipe_type>;
  static models::EncoderOptions encoder(int64_t, const Settings&) {
    return {.projector = models::heads::moco_v3_projector, .predictor = models::heads::moco_v3_predictor,
            .momentum_target = true, .momentum = 0.99};
  }
  static recipe_type recipe(P positives, const Settings& s) {
    static_assert(selfsup::detail::check_recipe_type<recipe_type>());  // a broken rule, by name
    static_assert(accepts, "selfsup::methods::MoCoV3: the pair source must draw positives from the data, and the "
                           "recipe be valid with it");
    return {.views = byol_views(s), .pairs = std::move(positives),
            .loss = losses::MoCoV3{{.temperature = detail::temperature(info, s)}}};
  }
};

}  // namespace selfsup::methods
