#pragma once
/// \file
/// Files written whole or not at all: every writer of selfsup::report goes through
/// write_file_atomically, so a crash or a full disk never leaves a truncated result where a
/// good one (or none) was.

#include <selfsup/detail/files.hpp>

#include <fmt/core.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace selfsup::report {

namespace detail {

using selfsup::detail::temporary_beside;

inline std::string folder_of(const std::filesystem::path& path) {
  return path.parent_path().empty() ? std::string(".") : path.parent_path().string();
}

}  // namespace detail

/// Writes `content` to `path`: to a unique temporary name in the same folder, flushed to disk,
/// its size checked, then renamed over `path`. A failure throws std::runtime_error naming `path`
/// and the reason, and leaves any earlier file at `path` untouched.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  const std::string what = fmt::format("selfsup::report::write_file_atomically('{}')", path.string());
  if (path.empty()) throw std::invalid_argument(what + ": the path is empty");
  std::error_code ec;
  if (!std::filesystem::is_directory(detail::folder_of(path), ec)) {
    throw std::runtime_error(fmt::format("{}: the folder '{}' does not exist", what, detail::folder_of(path)));
  }
  selfsup::detail::write_whole_file(path, content, what);
}

/// Checks, before long work starts, that a file can be created beside `path` (its folder exists
/// and is writable): throws std::runtime_error naming `flag` (e.g. "--json"), the path and the
/// reason. Writes and removes a temporary file; `path` itself is not touched.
inline void check_writable(const std::filesystem::path& path, std::string_view flag) {
  const auto where = fmt::format("{} {}", flag, path.string());
  std::error_code ec;
  if (path.empty()) throw std::runtime_error(fmt::format("{}: the path is empty", flag));
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error(fmt::format("{}: is a folder, expected a file name", where));
  }
  const auto folder = detail::folder_of(path);
  if (!std::filesystem::is_directory(folder, ec)) {
    throw std::runtime_error(fmt::format("{}: the folder '{}' does not exist", where, folder));
  }
  const auto probe = detail::temporary_beside(path);
  std::FILE* out = std::fopen(probe.c_str(), "wb");
  if (out == nullptr) {
    throw std::runtime_error(fmt::format("{}: cannot create a file in '{}': {}", where, folder, std::strerror(errno)));
  }
  std::fclose(out);
  std::filesystem::remove(probe, ec);
}

}  // namespace selfsup::report
