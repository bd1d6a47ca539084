#pragma once
// The parts of examples/train shared by its translation units: the run's settings, the method
// table, the registry of compiled (method, positives) recipes, and the function that trains one.
//
// Every recipe is a compile-time type; the registry maps run-time names to them. The recipes are
// spread over several translation units (contrastive.cpp, momentum.cpp, non_contrastive.cpp,
// distillation.cpp), which a parallel build compiles side by side. All of them share one encoder type,
// ProjectedEncoder<AnyBackbone>, so the backbone is a run-time choice that costs no extra
// instantiations.
#include "../common/example_support.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace train {

namespace ss = selfsup;
using Encoder = ss::models::ProjectedEncoder<ss::models::AnyBackbone>;

/// Everything the command line sets.
struct Config {
  std::string method = "simclr";
  std::string positives = "augmented";
  std::string device = "cpu";
  ss::examples::DataOptions data{};
  int64_t epochs = 10;
  int64_t batch_size = 256;
  std::optional<double> learning_rate;   ///< absolute; default: the method's base rate · B / 256
  std::optional<double> weight_decay;
  std::optional<std::string> optimizer;  ///< sgd | lars | adamw
  std::optional<double> temperature;     ///< contrastive methods
  std::string backbone = "auto";         ///< small_cnn | resnet18 | resnet34 | resnet50 | vit_tiny | vit_small
  int64_t patch_size = 0;                ///< ViT patch: 0 = 16 from 96 px up, 4 below
  double drop_path = 0.1;                ///< ViT stochastic depth (DINO's ViT-S: 0.1)
  std::string heads = "auto";            ///< paper | small
  int64_t width = 16;                    ///< SmallCNN width
  double mix = 0.5;                      ///< mix: the probability of a semantic partner
  std::optional<int64_t> queue_size;     ///< MoCo's queue (4096), SwAV's (3840)
  int64_t queue_start_epoch = 15;        ///< SwAV: the queue is filled from this epoch on
  std::optional<int64_t> local_crops;    ///< DINO, SwAV: local views (default: the paper's)
  std::optional<double> teacher_temperature;  ///< DINO: after the warm-up (default 0.04)
  int64_t teacher_warmup_epochs = 0;     ///< DINO: from 0.04 to --teacher-temperature
  int64_t support_size = 16384;          ///< NNCLR's support set
  int64_t max_steps = -1;
  int64_t log_every = 20;
  int64_t warmup_epochs = 1;
  std::string checkpoint;                ///< saved after every epoch (atomically)
  bool resume = false;                   ///< start from `checkpoint`
  std::vector<std::string> allow_change; ///< options a resume may change: epochs, max-steps
  std::string json;
  int64_t seeds = 1;                     ///< runs under --seed, --seed + 1, ...
  double timeout_seconds = 600;          ///< data parallel: the longest wait for the other ranks
  std::string stem = "auto";             ///< ResNet stem: imagenet | cifar | auto (cifar up to 64 px)
  std::string init;                      ///< the backbone's initial weights (a state dict file)
  std::string export_path;               ///< the trained backbone, written here (reference names)
  bool quiet = false;
};

/// What a recipe needs to be built and trained.
struct Setup {
  const Config& config;
  const ss::data::InMemoryDataset& train;
  const std::optional<ss::data::PairTable>& pairs;
  int64_t image_size = 32;
  ss::TrainerOptions trainer{};
  std::function<Encoder()> make_encoder;  ///< seeded with `run_seed`
  std::uint64_t run_seed = 0;             ///< this run's seed: weights, views, pairs, epoch order
  int64_t steps_per_epoch = 1;            ///< optimiser steps in one epoch (of the global batch)
  int64_t rank = 0;                       ///< this process's rank in a data-parallel run

  double temperature(double paper) const { return config.temperature.value_or(paper); }
  /// The seed of the run's random policies (views, pairs): the run's seed on rank 0 (and in a run
  /// of one process), a stream of its own on every other rank.
  std::uint64_t seed() const {
    return rank == 0 ? run_seed : ss::derive_seed(run_seed, 0x5e1f0000ULL + static_cast<std::uint64_t>(rank));
  }
};

struct Outcome {
  Encoder encoder{nullptr};
  ss::TrainResult fit;
  int64_t resumed_from_step = 0;  ///< 0 unless --resume found a checkpoint
  uint32_t parameters_crc32c = 0; ///< of the trained model, the same on every rank
};

using Runner = std::function<Outcome(const Setup&)>;

/// (method, positives) -> the compiled recipe that trains it.
class Registry {
 public:
  void add(std::string method, std::string positives, Runner run) {
    runners_[{std::move(method), std::move(positives)}] = std::move(run);
  }
  const Runner* find(const std::string& method, const std::string& positives) const {
    auto it = runners_.find({method, positives});
    return it == runners_.end() ? nullptr : &it->second;
  }
  /// The positives compiled for `method`, in the order augmented, semantic, mix, same_label,
  /// nearest_neighbour.
  std::vector<std::string> positives_of(const std::string& method) const {
    std::vector<std::string> out;
    for (const char* name : {"augmented", "semantic", "mix", "same_label", "nearest_neighbour"}) {
      if (find(method, name)) out.emplace_back(name);
    }
    return out;
  }

 private:
  std::map<std::pair<std::string, std::string>, Runner> runners_;
};

void add_contrastive(Registry& r);      // SimCLR, DCL, DCLW, debiased, hard negatives, FNC, SupCon
void add_momentum(Registry& r);         // MoCo v2, BYOL, NNCLR
void add_non_contrastive(Registry& r);  // SimSiam, Barlow Twins, VICReg
void add_distillation(Registry& r);     // DINO, SwAV, MoCo v3

// ---- the pair sources by name -------------------------------------------------------------------

template <class P>
constexpr std::string_view positives_name() {
  if constexpr (std::is_same_v<P, ss::pairs::Augmented>) return "augmented";
  else if constexpr (std::is_same_v<P, ss::pairs::Semantic>) return "semantic";
  else if constexpr (std::is_same_v<P, ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>>) return "mix";
  else if constexpr (std::is_same_v<P, ss::pairs::SameLabel>) return "same_label";
  else if constexpr (std::is_same_v<P, ss::pairs::NearestNeighbour>) return "nearest_neighbour";
  else static_assert(sizeof(P) == 0, "train: no name for this pair source");
}

inline const ss::data::PairTable& require_pairs(const Setup& s) {
  if (!s.pairs) {
    throw std::invalid_argument(fmt::format(
        "train: --positives {} needs a semantic pair table: --pairs FILE (the embedded dataset has its own)",
        s.config.positives));
  }
  return *s.pairs;
}

template <class P>
P make_positives(const Setup& s) {
  const auto seed = s.seed() + 101;
  if constexpr (std::is_same_v<P, ss::pairs::Augmented>) {
    return {};
  } else if constexpr (std::is_same_v<P, ss::pairs::Semantic>) {
    return ss::pairs::Semantic(require_pairs(s), {.seed = seed});
  } else if constexpr (std::is_same_v<P, ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>>) {
    return P(ss::pairs::Semantic(require_pairs(s), {.seed = seed}), ss::pairs::Augmented{},
             {.p = s.config.mix, .seed = seed + 1});
  } else if constexpr (std::is_same_v<P, ss::pairs::SameLabel>) {
    return ss::pairs::SameLabel({.seed = seed});
  } else if constexpr (std::is_same_v<P, ss::pairs::NearestNeighbour>) {
    return ss::pairs::NearestNeighbour({.support_size = s.config.support_size});
  }
}

// ---- views ---------------------------------------------------------------------------------------

/// SimCLR's views: the ImageNet recipe (with blur) from 96 px up, the CIFAR recipe below.
inline ss::views::SimCLRViews simclr_views(const Setup& s) {
  auto o = s.image_size >= 96 ? ss::views::SimCLRViewOptions::imagenet(s.image_size)
                              : ss::views::SimCLRViewOptions::cifar(s.image_size);
  o.seed = s.seed() + 7;
  return ss::views::SimCLRViews(o);
}

/// BYOL's asymmetric views; below 96 px without blur (as CIFAR recipes do).
inline ss::views::BYOLViews byol_views(const Setup& s) {
  ss::views::BYOLViewOptions o{.size = s.image_size, .seed = s.seed() + 7};
  if (s.image_size < 96) o.blur_probability = {0.0, 0.0};
  return ss::views::BYOLViews(o);
}

// ---- training ------------------------------------------------------------------------------------

/// Progress (unless --quiet), and the checkpoint saved after every epoch when one is named.
struct Monitor {
  const Setup& setup;
  std::optional<ss::hooks::Progress> progress;
  int64_t saved_step = -1;  ///< the step of the last checkpoint written

  explicit Monitor(const Setup& s) : setup(s) {
    if (!s.config.quiet) progress.emplace();
  }

  template <class T>
  void on_log(T& trainer, const ss::StepLog& log) {
    if (progress) progress->on_log(trainer, log);
  }
  template <class T>
  void on_epoch_end(T& trainer, const ss::EpochEnd& e) {
    if (progress) progress->on_epoch_end(trainer, e);
    if (setup.config.checkpoint.empty()) return;
    trainer.save_checkpoint(setup.config.checkpoint);  // collective: rank 0 writes
    saved_step = trainer.steps_done();
    if (!setup.config.quiet) fmt::print("epoch {:>3}  saved {}\n", e.epoch + 1, setup.config.checkpoint);
  }
};

/// Trains `recipe` on the setup's data with a fresh encoder; resumes from the checkpoint when
/// asked to.
template <class R>
Outcome train_recipe(R recipe, const Setup& s) {
  auto encoder = s.make_encoder();
  ss::Trainer trainer(std::move(recipe), encoder, s.trainer);
  Outcome out;
  if (s.config.resume && std::filesystem::exists(s.config.checkpoint)) {
    try {
      trainer.load_checkpoint(s.config.checkpoint);
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      throw std::runtime_error(
          "train: --resume: " + what +
          (what.find("with other options") != std::string::npos
               ? "\n(train: --allow-change epochs and --allow-change max-steps let a resume change those; other "
                 "options must be as the checkpoint's run had them)"
               : ""));
    }
    out.resumed_from_step = trainer.steps_done();
    if (!s.config.quiet) fmt::print("resumed from {} at step {}\n", s.config.checkpoint, out.resumed_from_step);
  }
  Monitor monitor(s);
  out.fit = trainer.fit(s.train, monitor);
  // Stopped inside an epoch (--max-steps): the state it stopped at, not the last epoch end's.
  if (!s.config.checkpoint.empty() && trainer.steps_done() > std::max<int64_t>(monitor.saved_step, out.resumed_from_step)) {
    trainer.save_checkpoint(s.config.checkpoint);  // collective: rank 0 writes
    if (!s.config.quiet) {
      fmt::print("stopped at step {} inside epoch {}: saved {} there (--resume continues from it)\n",
                 trainer.steps_done(), trainer.epoch() + 1, s.config.checkpoint);
    }
  }
  out.parameters_crc32c = trainer.check_ranks_agree();  // data parallel: throws unless all ranks agree
  out.encoder = trainer.encoder();
  return out;
}

/// Registers `method` with every pair source in `Positives...`: `make(setup, positives)` builds
/// the recipe for one pair source.
template <class... Positives, class Make>
void add_method(Registry& r, std::string_view method, Make make) {
  (r.add(std::string(method), std::string(positives_name<Positives>()),
         [make](const Setup& s) { return train_recipe(make(s, make_positives<Positives>(s)), s); }),
   ...);
}

/// The pair sources every two-view method is compiled with.
#define TRAIN_ALL_POSITIVES                                                                        \
  ss::pairs::Augmented, ss::pairs::Semantic, ss::pairs::Mixed<ss::pairs::Semantic, ss::pairs::Augmented>, \
      ss::pairs::SameLabel

}  // namespace train
