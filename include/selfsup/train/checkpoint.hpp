#pragma once
/// \file
/// Checkpoint files: written whole to a unique temporary name in the same folder, then renamed
/// over the target, so a crash or a failed write never leaves a partial checkpoint under the
/// name (and two runs on one path never share a temporary file); read back with errors that name
/// the file. The model's parameter names and shapes are stored to refuse a checkpoint of another
/// model with the differences listed.

#include <selfsup/concepts.hpp>
#include <selfsup/detail/files.hpp>
#include <selfsup/detail/state.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
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

/// Writes `archive` to `path` atomically (see the file comment): serialised in memory first, so
/// that a failed write (a full disk) is an error of ours, not one thrown inside LibTorch's writer.
/// On failure the temporary file is removed, `path` is left as it was, and the error names `fn`,
/// the path and the reason.
inline void write(torch::serialize::OutputArchive& archive, const std::string& path,
                  std::string_view fn = "selfsup::checkpoint::write") {
  std::ostringstream bytes;
  archive.save_to(bytes);
  try {
    detail::write_whole_file(path, std::move(bytes).str(), std::string(fn));
  } catch (const std::runtime_error& e) {
    TORCH_CHECK(false, e.what(), "; the previous checkpoint at '", path, "', if any, is unchanged");
  }
}

/// Reads the archive at `path`; a missing or unreadable file is an error that names it.
inline torch::serialize::InputArchive read(const std::string& path,
                                           std::string_view fn = "selfsup::checkpoint::read") {
  TORCH_CHECK(std::filesystem::is_regular_file(path), fn, ": no checkpoint at '", path, "'");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, fn, ": cannot read '", path, "' (truncated or not a selfsup checkpoint): ",
                e.what_without_backtrace());
  }
  return archive;
}

/// A policy's state under `key`, when it has `save` / `load` (concepts.hpp); nothing otherwise.
template <class T>
void save_policy(torch::serialize::OutputArchive& archive, const std::string& key, const T& policy) {
  if constexpr (contract::save<T>::valid) detail::save_nested(archive, key, policy);
}
template <class T>
void load_policy(torch::serialize::InputArchive& archive, const std::string& key, T& policy) {
  if constexpr (contract::load<T>::valid) detail::load_nested(archive, key, policy, "selfsup::Trainer::load_checkpoint");
}

}  // namespace selfsup::checkpoint
