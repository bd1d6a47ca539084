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

/// Writes `content` to `path` by selfsup's output rule (detail/files.hpp): a regular file is
/// replaced atomically (a unique temporary name in the same folder, flushed to disk, its size
/// checked, then renamed over it); a symbolic link's target is replaced and the link kept; a
/// device, pipe, `-` or `/dev/stdout` is written through. A failure throws std::runtime_error
/// naming `path` and the reason, and leaves any earlier file at `path` untouched.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  const std::string what = fmt::format("selfsup::report::write_file_atomically('{}')", path.string());
  if (path.empty()) throw std::invalid_argument(what + ": the path is empty");
  selfsup::detail::write_whole_file(path, content, what);
}

/// Checks, before long work starts, that `path` can be written by the output rule: throws
/// std::runtime_error naming `flag` (e.g. "--json"), the path and the reason (a folder, a
/// read-only file, a missing or unwritable folder, a device that cannot be written). For a
/// regular file, writes and removes a temporary file beside it; `path` itself is not touched.
inline void check_writable(const std::filesystem::path& path, std::string_view flag) {
  if (path.empty()) throw std::runtime_error(fmt::format("{}: the path is empty", flag));
  const auto target = selfsup::detail::resolve_output(path, std::string(flag));
  if (target.write_through) return;
  const auto probe = detail::temporary_beside(target.path);
  std::FILE* out = std::fopen(probe.c_str(), "wb");
  if (out == nullptr) {
    throw std::runtime_error(fmt::format("{} {}: cannot create a file in '{}': {}", flag, path.string(),
                                         detail::folder_of(target.path), std::strerror(errno)));
  }
  std::fclose(out);
  std::error_code ec;
  std::filesystem::remove(probe, ec);
}

}  // namespace selfsup::report
