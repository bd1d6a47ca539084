#pragma once
// The parts of examples/train shared by its translation units: the run's settings, the registry
// of compiled (method, positives) recipes, and the function that trains one.
//
// Every recipe is a compile-time type: the product of selfsup::methods::all and
// selfsup::methods::pair_sources, each pair the method accepts. The registry maps run-time names
// to them. The product is spread over the translation units recipes_part0.cpp to
// recipes_part3.cpp (method i in part i % 4), which a parallel build compiles side by side. All
// recipes share one encoder type, ProjectedEncoder<AnyBackbone>, so the backbone is a run-time
// choice that costs no extra instantiations. The program knows no method by name: what it prints
// and what it refuses comes from each method's methods::Info.
#include "../common/example_support.hpp"

#include <selfsup/detail/type_name.hpp>
#include <selfsup/methods/methods.hpp>
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace train {

namespace ss = selfsup;
using Encoder = ss::models::ProjectedEncoder<ss::models::AnyBackbone>;

/// Everything the command line sets.
struct Config {
  std::string method{ss::methods::infos<>.front().name};  ///< the first of methods::all
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
  // Unset: the method's or the pair source's default (methods::Info, methods::PairSource).
  double mix = ss::pairs::MixedOptions{}.p;  ///< mix: the probability of a semantic partner
  std::optional<int64_t> queue_size;     ///< a queue of keys or embeddings
  std::optional<int64_t> queue_start_epoch;  ///< the queue is used from this epoch on
  std::optional<int64_t> local_crops;    ///< multi-crop: local views per image
  std::optional<double> teacher_temperature;  ///< after the warm-up
  int64_t teacher_warmup_epochs = 0;     ///< from the method's teacher temperature to --teacher-temperature
  int64_t support_size = ss::pairs::NearestNeighbourOptions{}.support_size;  ///< a support set of embeddings
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

  /// The seed of the run's random policies (views, pairs): the run's seed on rank 0 (and in a run
  /// of one process), a stream of its own on every other rank.
  std::uint64_t seed() const {
    return rank == 0 ? run_seed : ss::derive_seed(run_seed, 0x5e1f0000ULL + static_cast<std::uint64_t>(rank));
  }
  /// What the method is built from: the command line's knobs, this run's and rank's seed.
  ss::methods::Settings method_settings() const {
    return {.image_size = image_size, .seed = seed(), .steps_per_epoch = steps_per_epoch,
            .patch_size = config.patch_size, .temperature = config.temperature, .queue_size = config.queue_size,
            .queue_start_epoch = config.queue_start_epoch, .local_crops = config.local_crops,
            .teacher_temperature = config.teacher_temperature,
            .teacher_warmup_epochs = config.teacher_warmup_epochs};
  }
  /// What the pair source is built from.
  ss::methods::PairSettings pair_settings() const {
    return {.table = pairs ? &*pairs : nullptr, .seed = seed(), .mix = config.mix,
            .support_size = config.support_size};
  }
};

struct Outcome {
  Encoder encoder{nullptr};
  ss::TrainResult fit;
  int64_t resumed_from_step = 0;  ///< 0 unless --resume found a checkpoint
  uint32_t parameters_crc32c = 0; ///< of the trained model, the same on every rank
};

using Runner = std::function<Outcome(const Setup&)>;
using EncoderHeads = ss::models::EncoderOptions (*)(int64_t features, const ss::methods::Settings&);

/// The names of the pair sources, in the order of methods::pair_sources.
inline std::vector<std::string> pair_source_names() {
  std::vector<std::string> names;
  ss::methods::for_each_pair_source(ss::methods::pair_sources{}, [&]<class P>() {
    names.emplace_back(ss::methods::PairSource<P>::name);
  });
  return names;
}

/// The unqualified name of a policy type: "SimCLRViews" for selfsup::views::SimCLRViews.
template <class T>
std::string policy_name() {
  const std::string full = ss::detail::type_name<T>();
  const auto colon = full.rfind("::");
  return colon == std::string::npos ? full : full.substr(colon + 2);
}

/// The policies of a method's recipe other than its pair source, by name.
struct Roles {
  std::string views, negatives, loss;
};

/// Every method of methods::all with the recipes compiled for it, by pair source.
class Registry {
 public:
  struct Method {
    ss::methods::Info info;
    Roles roles;
    EncoderHeads encoder = nullptr;
    std::map<std::string, Runner> runners;  ///< by pair source name
  };

  Registry() : methods_(ss::methods::all::size) {}

  void add(std::size_t index, const ss::methods::Info& info, Roles roles, EncoderHeads encoder, std::string positives,
           Runner run) {
    auto& m = methods_.at(index);
    m.info = info;
    m.roles = std::move(roles);
    m.encoder = encoder;
    m.runners[std::move(positives)] = std::move(run);
  }
  /// In the order of methods::all.
  const std::vector<Method>& methods() const { return methods_; }
  const Method* method(std::string_view name) const {
    for (const auto& m : methods_) {
      if (m.info.name == name) return &m;
    }
    return nullptr;
  }
  const Runner* find(std::string_view method_name, const std::string& positives) const {
    const Method* m = method(method_name);
    if (m == nullptr) return nullptr;
    auto it = m->runners.find(positives);
    return it == m->runners.end() ? nullptr : &it->second;
  }
  /// The positives compiled for `method`, in the order of methods::pair_sources.
  std::vector<std::string> positives_of(std::string_view method_name) const {
    std::vector<std::string> out;
    for (const auto& name : pair_source_names()) {
      if (find(method_name, name)) out.push_back(name);
    }
    return out;
  }

 private:
  std::vector<Method> methods_;
};

/// Each registers the methods of its part (method i of methods::all in part i % 4), with every
/// pair source each accepts: one translation unit each.
void add_part0(Registry& r);
void add_part1(Registry& r);
void add_part2(Registry& r);
void add_part3(Registry& r);

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

/// Registers method i of methods::all, for each i % `Parts` == `Part`, with every pair source it
/// accepts.
template <std::size_t Part, std::size_t Parts>
void add_part(Registry& r) {
  ss::methods::for_each_method(ss::methods::all{}, [&]<std::size_t I, template <class> class M>() {
    if constexpr (I % Parts == Part) {
      ss::methods::for_each_pair_source(ss::methods::pair_sources{}, [&]<class P>() {
        using Method = M<P>;
        using Source = ss::methods::PairSource<P>;
        if constexpr (Method::accepts) {
          using R = typename Method::recipe_type;
          const Roles roles{policy_name<typename R::views_type>(), policy_name<typename R::negatives_type>(),
                            policy_name<typename R::loss_type>()};
          r.add(I, Method::info, roles, &Method::encoder, std::string(Source::name), [](const Setup& s) {
            if (Source::needs_table && !s.pairs) {
              throw std::invalid_argument(fmt::format(
                  "train: --positives {} needs a semantic pair table: --pairs FILE (the embedded dataset has its own)",
                  Source::name));
            }
            return train_recipe(Method::recipe(Source::make(s.pair_settings()), s.method_settings()), s);
          });
        }
      });
    }
  });
}

}  // namespace train
