#pragma once
/// \file
/// Internal: files written whole or not at all, for every writer (checkpoints, reports): the
/// content goes to a unique temporary name beside the target, is flushed to disk and checked,
/// then renamed over the target. A crash or a full disk never leaves a truncated file where a
/// good one (or none) was.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
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

/// Writes the `parts` one after another to `file` and closes it; throws std::system_error naming
/// `what` and the reason.
inline void write_and_close(const std::filesystem::path& file, std::initializer_list<std::string_view> parts,
                            const std::string& what) {
  std::FILE* out = std::fopen(file.c_str(), "wb");
  if (out == nullptr) {
    throw std::system_error(errno, std::generic_category(), what + ": cannot create '" + file.string() + "'");
  }
  bool written = true;
  for (auto part : parts) written = written && std::fwrite(part.data(), 1, part.size(), out) == part.size();
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

/// Writes the `parts` (the file's content, in order) to a temporary name beside `path`, flushed
/// to disk and its size checked, then renames it over `path`. A failure throws
/// std::runtime_error beginning with `what`, naming the file and the reason; the temporary file
/// is removed and `path` is left as it was.
inline void write_whole_file(const std::filesystem::path& path, std::initializer_list<std::string_view> parts,
                             const std::string& what) {
  const auto temporary = temporary_beside(path);
  uintmax_t expected = 0;
  for (auto part : parts) expected += part.size();
  try {
    write_and_close(temporary, parts, what);
  } catch (const std::system_error& e) {
    throw std::runtime_error(e.what());
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(temporary, ec);
  if (ec || size != expected) {
    std::filesystem::remove(temporary, ec);
    throw std::runtime_error(what + ": the temporary file '" + temporary.string() + "' has " + std::to_string(size) +
                             " bytes, expected " + std::to_string(expected));
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw std::runtime_error(what + ": renaming the temporary file to '" + path.string() + "' failed: " + ec.message());
  }
}

inline void write_whole_file(const std::filesystem::path& path, std::string_view content, const std::string& what) {
  write_whole_file(path, {content}, what);
}

/// Removes the temporary files beside `path` (temporary_beside's names) that processes no longer
/// running left behind (a writer killed mid-write), so that they do not fill the disk run after
/// run. Files of running processes, this one included, are left alone.
inline void remove_stale_temporaries(const std::filesystem::path& path) {
  const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const auto prefix = path.filename().string() + ".tmp-";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const auto rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    long pid = 0;
    try {
      pid = std::stol(rest.substr(0, dash));
    } catch (const std::exception&) {
      continue;
    }
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // running (or not ours to judge)
    std::error_code ignored;
    std::filesystem::remove(it->path(), ignored);
  }
}

}  // namespace selfsup::detail
