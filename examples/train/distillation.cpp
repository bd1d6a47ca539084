// examples/train: self-distillation, clustering and MoCo v3: DINO (student and momentum teacher,
// multi-crop), SwAV (prototypes, Sinkhorn codes, multi-crop, a queue), MoCo v3 (predictor against
// momentum keys, in-batch).
//
// With semantic positives the two global crops come from the anchor and its partner, and the
// local crops from both in turn (views::MultiCrop::crops).
#include "train.hpp"


namespace train {

namespace {

/// Multi-crop at the data's size: 2 global views and --local-crops local ones (default:
/// `paper_local`) whose side is a whole number of ViT patches (--patch-size, or the presets'), with
/// the paper's crop scales; below 96 px without blur (as the CIFAR recipes).
ss::views::MultiCrop multi_crop(const Setup& s, std::array<double, 2> global_scale, std::array<double, 2> local_scale,
                                int64_t paper_local) {
  ss::views::MultiCropOptions o{.global_size = s.image_size, .local_size = ss::views::local_crop_size(
                                    s.image_size, s.config.patch_size > 0 ? s.config.patch_size
                                                                          : ss::models::default_patch_size(s.image_size)),
                                .local_views = s.config.local_crops.value_or(paper_local),
                                .global_scale = global_scale, .local_scale = local_scale, .seed = s.seed() + 7};
  if (s.image_size < 96) o.blur_probability = 0.0;
  return ss::views::MultiCrop(o);
}

}  // namespace

void add_distillation(Registry& r) {
  using namespace ss::losses;
  // DINO (Caron et al. 2021): global crops (0.4, 1), 8 local crops (0.05, 0.4); teacher
  // temperature 0.04 (warmed up from 0.04 over --teacher-warmup-epochs when --teacher-temperature
  // is raised), student 0.1, centre momentum 0.9.
  add_method<TRAIN_ALL_POSITIVES>(r, "dino", [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::MultiCrop, decltype(positives), ss::negatives::None, DINO>;
    return R{.views = multi_crop(s, {0.4, 1.0}, {0.05, 0.4}, 8), .pairs = std::move(positives),
             .loss = DINO{.options = {.student_temperature = s.temperature(0.1),
                                      .teacher_temperature = s.config.teacher_temperature.value_or(0.04),
                                      .warmup_teacher_temperature = 0.04,
                                      .warmup_steps = s.config.teacher_warmup_epochs * s.steps_per_epoch}}};
  });
  // SwAV (Caron et al. 2020): 2 global crops (0.14, 1) and 6 local ones (0.05, 0.14); τ = 0.1,
  // ε = 0.05, 3 Sinkhorn iterations; a queue of 3840 embeddings from --queue-start-epoch on.
  add_method<TRAIN_ALL_POSITIVES>(r, "swav", [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::MultiCrop, decltype(positives), ss::negatives::None, SwAV>;
    return R{.views = multi_crop(s, {0.14, 1.0}, {0.05, 0.14}, 6), .pairs = std::move(positives),
             .loss = SwAV{.options = {.temperature = s.temperature(0.1),
                                      .queue_size = s.config.queue_size.value_or(3840),
                                      .queue_start_step = s.config.queue_start_epoch * s.steps_per_epoch}}};
  });
  // MoCo v3 (Chen, Xie & He 2021): BYOL's asymmetric views, the predictions against the momentum
  // keys of the other view, the batch's keys as negatives, τ = 0.2.
  add_method<TRAIN_ALL_POSITIVES>(r, "moco_v3", [](const Setup& s, auto positives) {
    using R = ss::Recipe<ss::views::BYOLViews, decltype(positives), ss::negatives::InBatch, MoCoV3>;
    return R{.views = byol_views(s), .pairs = std::move(positives),
             .loss = MoCoV3{{.temperature = s.temperature(0.2)}}};
  });
}

}  // namespace train
