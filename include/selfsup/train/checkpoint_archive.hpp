#pragma once
/// \file
/// The layout of a trainer's checkpoint archive, in one place: what selfsup::Trainer writes
/// beside the weights, and what it checks before it restores anything.
///
///   selfsup.recipe        the recipe's type name (a checkpoint of another recipe is refused)
///   selfsup.options       record_text(record(options)): the options that shape the run
///   selfsup.parameters    describe(encoder): parameter and buffer names and shapes
///   selfsup.progress      int64 [epoch, batch in the epoch, steps done]
///   encoder, optimizer    the encoder's parameters and buffers; the optimiser's state
///   views, pairs, negatives, loss   the policies' state, for those with save / load
///   selfsup.world_size    data parallel only: the number of processes that wrote it
///   selfsup.rank_states   data parallel only: ranks 1.. own policy states, by rank, as bytes

#include <selfsup/detail/state.hpp>
#include <selfsup/train/checkpoint.hpp>
#include <selfsup/train/options.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::checkpoint {

/// Where a run stands; a checkpoint resumes from it.
struct Progress {
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;  ///< batches of `epoch` already done
  int64_t steps = 0;           ///< steps done in all
};

/// Writes the run's description (recipe, options, model layout, progress), the encoder and the
/// optimiser into `archive`; the policies' state is the caller's (save_policy).
inline void write_run(torch::serialize::OutputArchive& archive, const std::string& recipe,
                      const TrainerOptions& options, torch::nn::Module& encoder, torch::optim::Optimizer& optimizer,
                      const Progress& progress) {
  archive.write("selfsup.recipe", c10::IValue(recipe));
  archive.write("selfsup.options", c10::IValue(record_text(record(options))));
  archive.write("selfsup.parameters", c10::IValue(describe(encoder)));
  archive.write("selfsup.progress", torch::tensor({progress.epoch, progress.batch_in_epoch, progress.steps}), true);
  selfsup::detail::save_nested(archive, "encoder", encoder);
  selfsup::detail::save_nested(archive, "optimizer", optimizer);
}

/// Data parallel: the number of processes, and `states[r]` (rank r's serialised policy state,
/// for r >= 1; rank 0's are in the archive itself).
inline void write_rank_states(torch::serialize::OutputArchive& archive, int64_t world_size,
                              const std::vector<std::string>& states) {
  archive.write("selfsup.world_size", torch::tensor({world_size}), true);
  torch::serialize::OutputArchive ranks;
  for (size_t r = 1; r < states.size(); ++r) {
    const auto& b = states[r];
    auto t = torch::empty({static_cast<int64_t>(b.size())}, torch::kUInt8);
    if (!b.empty()) std::memcpy(t.data_ptr<uint8_t>(), b.data(), b.size());
    ranks.write(std::to_string(r), t, true);
  }
  archive.write("selfsup.rank_states", ranks);
}

/// Throws, naming `fn` and `path`, unless `archive` was written by this run's recipe, model,
/// number of processes and options (but those in options.may_change_on_resume). Changes nothing.
inline void check_run(torch::serialize::InputArchive& archive, const std::string& path, std::string_view fn,
                      const std::string& recipe, const TrainerOptions& options, torch::nn::Module& encoder,
                      int64_t world_size) {
  c10::IValue recipe_name, parameters;
  TORCH_CHECK(archive.try_read("selfsup.recipe", recipe_name) && archive.try_read("selfsup.parameters", parameters),
              fn, ": '", path, "' is not a selfsup checkpoint");
  TORCH_CHECK(recipe_name.toStringRef() == recipe, fn, ": '", path,
              "' was written by another recipe:\n  checkpoint: ", recipe_name.toStringRef(), "\n  this trainer: ", recipe);
  const auto model = difference(parameters.toStringRef(), describe(encoder));
  TORCH_CHECK(model.empty(), fn, ": '", path, "' holds another model:", model);
  torch::Tensor saved_world;
  const int64_t written_world = archive.try_read("selfsup.world_size", saved_world, true) ? saved_world.item<int64_t>() : 1;
  TORCH_CHECK(written_world == world_size, fn, ": '", path, "' was written by a run on ", written_world,
              written_world == 1 ? " process" : " processes", ", and this run has ", world_size,
              ": each process's shard of the data and its random streams belong to that number. Resume with ",
              written_world, written_world == 1 ? " process" : " processes",
              " (torchrun --nproc_per_node and --nnodes), or start a new run.");
  c10::IValue recorded;
  if (archive.try_read("selfsup.options", recorded)) {
    const auto changed = differences(parse_record(recorded.toStringRef()), record(options), options.may_change_on_resume);
    TORCH_CHECK(changed.empty(), fn, ": '", path, "' was written by a run with other options; resuming would "
                "silently change the run:", changed, "\nResume with the same options, start a new run at another "
                "checkpoint path, or allow a change explicitly (TrainerOptions::may_change_on_resume).");
  } else {
    fmt::print(stderr, "{}: warning: '{}' does not record the options of its run; they cannot be compared\n", fn, path);
  }
}

/// Data parallel: rank `rank`'s (>= 1) own policy state, written by write_rank_states.
inline torch::serialize::InputArchive read_rank_state(torch::serialize::InputArchive& archive, int64_t rank,
                                                      const std::string& path, std::string_view fn) {
  torch::serialize::InputArchive ranks, own;
  torch::Tensor bytes;
  TORCH_CHECK(archive.try_read("selfsup.rank_states", ranks) && ranks.try_read(std::to_string(rank), bytes, true), fn,
              ": '", path, "' holds no state for rank ", rank);
  bytes = bytes.contiguous();
  own.load_from(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
  return own;
}

/// Restores the encoder and the optimiser from an archive check_run accepted; returns its progress.
inline Progress read_run(torch::serialize::InputArchive& archive, torch::nn::Module& encoder,
                         torch::optim::Optimizer& optimizer, std::string_view fn) {
  torch::Tensor progress;
  archive.read("selfsup.progress", progress, true);
  selfsup::detail::load_nested(archive, "encoder", encoder, fn);
  selfsup::detail::load_nested(archive, "optimizer", optimizer, fn);
  return {progress[0].item<int64_t>(), progress[1].item<int64_t>(), progress[2].item<int64_t>()};
}

}  // namespace selfsup::checkpoint
