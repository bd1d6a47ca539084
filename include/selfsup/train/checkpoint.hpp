#pragma once
/// \file
/// Checkpoint files: written whole to a unique temporary name in the same folder, then renamed
/// over the target, so a crash or a failed write never leaves a partial checkpoint under the
/// name (and two runs on one path never share a temporary file); framed with a CRC-32C of the
/// archive (train/detail/checkpoint_file.hpp), so that a truncated or corrupted file is refused,
/// naming it, before LibTorch reads it. The model's parameter names and shapes are stored to
/// refuse a checkpoint of another model with the differences listed, and the options that shape
/// the run (record) to refuse a resume that would silently change them.

#include <selfsup/concepts.hpp>
#include <selfsup/detail/files.hpp>
#include <selfsup/detail/state.hpp>
#include <selfsup/train/detail/checkpoint_file.hpp>
#include <selfsup/train/options.hpp>

#include <fmt/core.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace selfsup::checkpoint {

/// "name [shape]" of every parameter and buffer of `module`, one a line.
inline std::string describe(torch::nn::Module& module) {
  std::ostringstream s;
  for (const auto& item : module.named_parameters()) s << item.key() << " " << item.value().sizes() << "\n";
  for (const auto& item : module.named_buffers()) s << item.key() << " " << item.value().sizes() << "\n";
  return s.str();
}

/// The lines only one of two describe() texts has, each prefixed by the side that has it; empty
/// when they agree.
inline std::string difference(const std::string& checkpoint, const std::string& model) {
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  const auto a = lines(checkpoint), b = lines(model);
  std::string out;
  for (const auto& l : a) {
    if (std::find(b.begin(), b.end(), l) == b.end()) out += "\n  checkpoint only: " + l;
  }
  for (const auto& l : b) {
    if (std::find(a.begin(), a.end(), l) == a.end()) out += "\n  model only: " + l;
  }
  return out;
}

/// A checkpoint that could not be written (a full disk, a missing or read-only folder); the
/// previous checkpoint at the path, if any, is unchanged.
class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes `archive` to `path` atomically (see the file comment): serialised in memory first, so
/// that a failed write (a full disk) is an error of ours, not one thrown inside LibTorch's writer,
/// then framed with its checksum. On failure the temporary file is removed, `path` is left as it
/// was, and the error (WriteError) names `fn`, the path and the reason. Temporary files that killed writers
/// left beside `path` are removed.
inline void write(torch::serialize::OutputArchive& archive, const std::string& path,
                  std::string_view fn = "selfsup::checkpoint::write") {
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string payload = std::move(bytes).str();
  const std::string header = detail::frame_header(payload);
  try {
    selfsup::detail::write_whole_file(path, {header, payload}, std::string(fn));
  } catch (const std::runtime_error& e) {
    throw WriteError(std::string(e.what()) + "; the previous checkpoint at '" + path + "', if any, is unchanged");
  }
  selfsup::detail::remove_stale_temporaries(path);
}

/// The whole content of the checkpoint file at `path`; a missing or unreadable file is an error
/// that names it.
inline std::string read_bytes(const std::string& path, std::string_view fn) {
  std::error_code ec;
  TORCH_CHECK(!std::filesystem::is_directory(path, ec), fn, ": '", path, "' is a folder, not a checkpoint file");
  TORCH_CHECK(std::filesystem::is_regular_file(path, ec), fn, ": no checkpoint at '", path, "'");
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in.good(), fn, ": cannot open '", path, "' for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TORCH_CHECK(!in.bad(), fn, ": reading '", path, "' failed");
  return bytes;
}

/// Reads the archive at `path`, after checking its frame and checksum: a missing, truncated or
/// corrupted file is an error that names it and says what is wrong. A checkpoint of an earlier
/// selfsup (no checksum) is read with a warning on stderr.
inline torch::serialize::InputArchive read(const std::string& path,
                                           std::string_view fn = "selfsup::checkpoint::read") {
  const std::string bytes = read_bytes(path, fn);
  const auto unframed = detail::unframe(bytes);
  TORCH_CHECK(unframed.error.empty(), fn, ": refusing '", path, "': ", unframed.error,
              ". It cannot be resumed from; an earlier copy of it, if you keep one, may be.");
  if (!unframed.framed) {
    fmt::print(stderr, "{}: warning: '{}' was written by an earlier selfsup, without a checksum: corruption "
               "cannot be detected\n", fn, path);
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(unframed.payload.data(), unframed.payload.size());
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, fn, ": cannot read '", path, "' (", unframed.framed ? "its checksum is right, but " : "",
                "LibTorch cannot read the archive): ", e.what_without_backtrace(),
                unframed.framed ? "" : "; if it is a model's weights (torch.save of a state dict, or train --export), "
                                       "read them with models::read_state_dict: the programs' --init PATH");
  }
  return archive;
}

/// The options of `options` that shape a run, by name (TrainerOptions' field names; the
/// application's own under TrainerOptions::run), each value as text that compares exactly.
/// Stored in every checkpoint; a resume compares them (differences).
inline std::map<std::string, std::string> record(const TrainerOptions& options) {
  std::map<std::string, std::string> r{
      {"epochs", std::to_string(options.epochs)},
      {"batch_size", std::to_string(options.batch_size)},
      {"optimizer", options.custom_optimizer ? options.optimizer_label : std::string(optimizer_name(options.optimizer))},
      {"learning_rate", fmt::format("{}", options.learning_rate)},
      {"momentum", fmt::format("{}", options.momentum)},
      {"weight_decay", fmt::format("{}", options.weight_decay)},
      {"lars_trust", fmt::format("{}", options.lars_trust)},
      {"schedule.warmup_steps", std::to_string(options.schedule.warmup_steps)},
      {"schedule.final_fraction", fmt::format("{}", options.schedule.final_fraction)},
      {"schedule.cosine", options.schedule.cosine ? "true" : "false"},
      {"clip_grad_norm", fmt::format("{}", options.clip_grad_norm)},
      {"seed", std::to_string(options.seed)},
      {"max_steps", std::to_string(options.max_steps)},
      {"bf16_autocast", options.bf16_autocast ? "true" : "false"},
  };
  if (options.final_weight_decay >= 0) r.emplace("final_weight_decay", fmt::format("{}", options.final_weight_decay));
  if (options.custom_schedule) r.emplace("schedule", options.schedule_label);
  for (const auto& [key, value] : options.run) r.emplace("run." + key, value);
  return r;
}

/// The record as text, one "name=value" a line, sorted (how a checkpoint stores it).
inline std::string record_text(const std::map<std::string, std::string>& record) {
  std::string out;
  for (const auto& [key, value] : record) out += key + "=" + value + "\n";
  return out;
}

/// Parses record_text.
inline std::map<std::string, std::string> parse_record(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

/// The options that differ between a checkpoint's record and this run's, one line each
/// ("  batch_size: checkpoint 256, now 512"), leaving out those in `may_change`; empty when
/// nothing else differs.
inline std::string differences(const std::map<std::string, std::string>& checkpoint,
                               const std::map<std::string, std::string>& now, const std::set<std::string>& may_change) {
  std::set<std::string> keys;
  for (const auto& [k, v] : checkpoint) keys.insert(k);
  for (const auto& [k, v] : now) keys.insert(k);
  std::string out;
  for (const auto& key : keys) {
    if (may_change.count(key) > 0) continue;
    auto a = checkpoint.find(key), b = now.find(key);
    const std::string before = a == checkpoint.end() ? "(not set)" : a->second;
    const std::string after = b == now.end() ? "(not set)" : b->second;
    if (before != after) out += "\n  " + key + ": checkpoint " + before + ", now " + after;
  }
  return out;
}

/// Throws, naming `fn`, unless `options` can train (epochs, batch size, rates and the names of
/// `run` and `may_change_on_resume`); returns their record.
inline std::map<std::string, std::string> check_options(const TrainerOptions& options, std::string_view fn) {
  TORCH_CHECK(options.epochs >= 1, fn, ": epochs must be >= 1, got ", options.epochs);
  TORCH_CHECK(options.batch_size >= 2, fn, ": batch_size must be >= 2, got ", options.batch_size);
  TORCH_CHECK(options.learning_rate > 0 && std::isfinite(options.learning_rate), fn,
              ": learning_rate must be positive and finite, got ", options.learning_rate);
  TORCH_CHECK(options.weight_decay >= 0 && options.momentum >= 0 && options.clip_grad_norm >= 0,
              fn, ": weight_decay, momentum and clip_grad_norm must be non-negative");
  TORCH_CHECK(std::isfinite(options.final_weight_decay), fn, ": final_weight_decay must be finite (negative: "
              "constant weight decay), got ", options.final_weight_decay);
  TORCH_CHECK(options.log_every >= 1, fn, ": log_every must be >= 1, got ", options.log_every);
  for (const auto& [key, value] : options.run) {
    TORCH_CHECK(!key.empty() && key.find_first_of("=\n") == std::string::npos &&
                    value.find('\n') == std::string::npos,
                fn, ": TrainerOptions::run: names must be non-empty without '=' or a line break, values without "
                "a line break; got '", key, "'");
  }
  auto recorded = record(options);
  for (const auto& key : options.may_change_on_resume) {
    TORCH_CHECK(key != "optimizer", fn, ": TrainerOptions::may_change_on_resume cannot hold 'optimizer': the "
                "saved optimiser state belongs to the optimiser that wrote it");
    TORCH_CHECK(recorded.count(key) > 0, fn, ": TrainerOptions::may_change_on_resume: '", key,
                "' is not a recorded option; they are: ", checkpoint::record_text(recorded));
  }
  return recorded;
}

/// A policy's state under `key`, when it has `save` / `load` (concepts.hpp); nothing otherwise.
template <class T>
void save_policy(torch::serialize::OutputArchive& archive, const std::string& key, const T& policy) {
  if constexpr (contract::save<T>::valid) selfsup::detail::save_nested(archive, key, policy);
}
template <class T>
void load_policy(torch::serialize::InputArchive& archive, const std::string& key, T& policy) {
  if constexpr (contract::load<T>::valid) selfsup::detail::load_nested(archive, key, policy, "selfsup::Trainer::load_checkpoint");
}

}  // namespace selfsup::checkpoint
