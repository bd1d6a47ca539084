#pragma once
/// \file
/// Internal: the one output rule of every writer (checkpoints, exports, reports, pair tables).
/// - A regular file (or a new name) is written whole or not at all: the content goes to a unique
///   temporary name beside it, is flushed to disk and checked, then renamed over it, keeping the
///   old file's permission bits. A crash or a full disk never leaves a truncated file where a
///   good one (or none) was.
/// - A symbolic link is followed: its final target is replaced that way, and the link stays.
/// - A device, FIFO or socket (`/dev/null`, a named pipe, a terminal), `-`, `/dev/stdout` and
///   `/dev/stderr` are written through, never replaced; a write error there (`/dev/full`) is an
///   error.
/// - A folder, a read-only file (no write permission bit, even for root) or a path whose folder
///   cannot be written is refused.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

/// Where an output path leads (resolve_output).
struct OutputTarget {
  std::filesystem::path path;  ///< the file to replace or to write through (symbolic links followed)
  bool write_through = false;  ///< a device, FIFO, socket or standard stream: written in place
  int fd = -1;                 ///< 1 or 2 for `-`, /dev/stdout, /dev/stderr: written to that descriptor
  bool exists = false;         ///< a regular file is there now (its permission bits are kept)
  mode_t mode = 0;             ///< its permission bits
};

/// `path` with its symbolic links followed to the final target (which need not exist); a cycle
/// or an unreadable link throws std::runtime_error beginning with `what`.
inline std::filesystem::path follow_links(const std::filesystem::path& path, const std::string& what) {
  auto target = path;
  for (int hops = 0;; ++hops) {
    struct stat link {};
    if (::lstat(target.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return target;
    if (hops == 40) {
      throw std::runtime_error(what + ": '" + path.string() + "' is a chain of more than 40 symbolic links (a cycle?)");
    }
    std::error_code ec;
    const auto next = std::filesystem::read_symlink(target, ec);
    if (ec) throw std::runtime_error(what + ": the symbolic link '" + target.string() + "' cannot be read: " + ec.message());
    target = (next.is_absolute() ? next : target.parent_path() / next).lexically_normal();
  }
}

/// Applies the output rule (see the file comment) to `path`: where its content will go, or
/// std::runtime_error beginning with `what` when the path is refused (a folder, a read-only file,
/// a cycle of links, a missing or unwritable folder, an unwritable device).
inline OutputTarget resolve_output(const std::filesystem::path& path, const std::string& what) {
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& why) { throw std::runtime_error(what + ": '" + path.string() + "' " + why); };
  if (path.empty()) throw std::runtime_error(what + ": the path is empty");
  const auto text = path.string();
  if (text == "-" || text == "/dev/stdout" || text == "/dev/fd/1" || text == "/proc/self/fd/1") return {path, true, 1};
  if (text == "/dev/stderr" || text == "/dev/fd/2" || text == "/proc/self/fd/2") return {path, true, 2};
  OutputTarget target{follow_links(path, what)};
  struct stat st {};
  if (::stat(target.path.c_str(), &st) == 0) {
    const std::string shown = target.path == path ? std::string("is") : "leads to '" + target.path.string() + "', which is";
    if (S_ISDIR(st.st_mode)) fail(shown + " a folder; give a file name");
    if (!S_ISREG(st.st_mode)) {
      if (::access(target.path.c_str(), W_OK) != 0) fail(shown + " a device or pipe that cannot be written: " + std::strerror(errno));
      target.write_through = true;
      return target;
    }
    if ((st.st_mode & 0222) == 0 || ::access(target.path.c_str(), W_OK) != 0) {
      fail(shown + " read-only; make it writable (chmod u+w) or choose another path");
    }
    target.exists = true;
    target.mode = st.st_mode & 07777;
  }
  const auto folder = target.path.parent_path().empty() ? fs::path(".") : target.path.parent_path();
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) fail("cannot be written: the folder '" + folder.string() + "' does not exist");
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    fail("cannot be written: no file can be created in '" + folder.string() + "': " + std::strerror(errno));
  }
  return target;
}

/// Writes the `parts` in order to the descriptor `fd` (a device, pipe or standard stream); throws
/// std::runtime_error naming `what`, `shown` and the reason.
inline void write_all(int fd, std::initializer_list<std::string_view> parts, const std::string& what,
                      const std::string& shown) {
  for (auto part : parts) {
    const char* data = part.data();
    std::size_t left = part.size();
    while (left > 0) {
      const auto n = ::write(fd, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        throw std::runtime_error(what + ": writing '" + shown + "' failed: " +
                                 std::strerror(n < 0 ? errno : EIO));
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
  }
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

/// Writes the `parts` (the file's content, in order) to `path` by the output rule (see the file
/// comment): to a temporary name beside the file, flushed to disk and its size checked, then
/// renamed over it; or through, for devices, pipes and standard streams. A failure throws
/// std::runtime_error beginning with `what`, naming the file and the reason; the temporary file
/// is removed and a replaced file is left as it was.
inline void write_whole_file(const std::filesystem::path& path, std::initializer_list<std::string_view> parts,
                             const std::string& what) {
  const auto target = resolve_output(path, what);
  if (target.fd >= 0) {
    write_all(target.fd, parts, what, path.string());
    return;
  }
  if (target.write_through) {
    int fd = -1;
    do fd = ::open(target.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) throw std::runtime_error(what + ": cannot open '" + target.path.string() + "': " + std::strerror(errno));
    try {
      write_all(fd, parts, what, target.path.string());
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0 && errno != EINTR) {
      throw std::runtime_error(what + ": closing '" + target.path.string() + "' failed: " + std::strerror(errno));
    }
    return;
  }
  const auto temporary = temporary_beside(target.path);
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
  if (target.exists) ::chmod(temporary.c_str(), target.mode);  // the replaced file's permissions
  std::filesystem::rename(temporary, target.path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw std::runtime_error(what + ": renaming the temporary file to '" + target.path.string() + "' failed: " + ec.message());
  }
}

inline void write_whole_file(const std::filesystem::path& path, std::string_view content, const std::string& what) {
  write_whole_file(path, {content}, what);
}

/// Removes the temporary files beside `path` (temporary_beside's names) that processes no longer
/// running left behind (a writer killed mid-write), so that they do not fill the disk run after
/// run. Files of running processes, this one included, are left alone.
inline void remove_stale_temporaries(const std::filesystem::path& given) {
  std::filesystem::path path;
  try {
    path = follow_links(given, "");  // the writer's temporaries lie beside the link's target
  } catch (const std::exception&) {
    return;
  }
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
