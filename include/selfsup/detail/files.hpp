#pragma once
/// \file
/// Internal: files written whole or not at all, for every writer (checkpoints, reports): the
/// content goes to a unique temporary name beside the target, is flushed to disk and checked,
/// then renamed over the target. A crash or a full disk never leaves a truncated file where a
/// good one (or none) was.

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace selfsup::detail {

/// A name beside `path` that no other writer uses: same folder (so the rename is atomic),
/// process id and a per-process counter.
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static std::atomic<unsigned long> counter{0};
  auto name = path.filename().string();
  name += ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + std::to_string(counter++);
  return path.parent_path() / name;
}

/// Writes `content` to `file` and closes it; throws std::system_error naming `what` and the reason.
inline void write_and_close(const std::filesystem::path& file, std::string_view content, const std::string& what) {
  std::FILE* out = std::fopen(file.c_str(), "wb");
  if (out == nullptr) {
    throw std::system_error(errno, std::generic_category(), what + ": cannot create '" + file.string() + "'");
  }
  const bool written = std::fwrite(content.data(), 1, content.size(), out) == content.size();
  const int write_errno = errno;
  const bool flushed = written && std::fflush(out) == 0 && ::fsync(::fileno(out)) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(out) == 0;
  if (!written || !flushed || !closed) {
    const int e = !written ? write_errno : !flushed ? flush_errno : errno;
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    throw std::system_error(e, std::generic_category(), what + ": writing '" + file.string() + "' failed");
  }
}

/// Writes `content` to a temporary name beside `path`, flushed to disk and its size checked, then
/// renames it over `path`. A failure throws std::runtime_error beginning with `what`, naming the
/// file and the reason; the temporary file is removed and `path` is left as it was.
inline void write_whole_file(const std::filesystem::path& path, std::string_view content, const std::string& what) {
  const auto temporary = temporary_beside(path);
  try {
    write_and_close(temporary, content, what);
  } catch (const std::system_error& e) {
    throw std::runtime_error(e.what());
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(temporary, ec);
  if (ec || size != content.size()) {
    std::filesystem::remove(temporary, ec);
    throw std::runtime_error(what + ": the temporary file '" + temporary.string() + "' has " + std::to_string(size) +
                             " bytes, expected " + std::to_string(content.size()));
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw std::runtime_error(what + ": renaming the temporary file to '" + path.string() + "' failed: " + ec.message());
  }
}

}  // namespace selfsup::detail
