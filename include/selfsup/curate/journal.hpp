#pragma once
/// \file
/// A reviewer's journal: every decision on a candidate pair, one JSON line each, appended and
/// flushed to disk before it counts as saved. Nothing is ever edited: an undo is a new line. The
/// journal's state (each pair's decision) is its replay. Free of LibTorch (POSIX files,
/// nlohmann-json).
///
///     {"selfsup_curate_journal":1,"candidates":"c.csv","candidates_crc32c":"1a2b3c4d","pairs":12345,"reviewer":"alice","created":"2026-12-03T16:00:00Z"}
///     {"seq":1,"pair":17,"first":"12","second":"873","decision":"accept","reviewer":"alice","time":"2026-12-03T16:00:05Z"}
///     {"seq":2,"pair":18,"first":"12","second":"40","decision":"reject","reviewer":"alice","time":"..."}
///     {"seq":3,"decision":"undo","undoes":2,"pairs":[18],"reviewer":"alice","time":"..."}
///     {"seq":4,"pair":30,...,"decision":"accept","bulk":4,...}      one line per pair of a bulk decision
///
/// - decisions: `accept`, `reject`, `skip` (looked at, left undecided); `undo` reverts the latest
///   decision not yet undone (all lines of a bulk decision at once: `undoes_bulk`), so undos
///   unwind in the reverse order of the decisions;
/// - `seq` increases by one per line; the header names the candidates by their CRC-32C, and a
///   journal of other candidates, or of another reviewer, is refused;
/// - a last line without its line end (a write cut short by a crash) was never reported saved:
///   it is dropped, with a note, when the journal is opened; any other malformed line is an error
///   naming the file and line.
/// One process appends at a time: the file is locked (flock) while a Journal holds it open.
/// This header is the journal file, read and appended; the state its lines build is in
/// curate/journal_state.hpp.

#include <selfsup/curate/journal_state.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace selfsup::curate {

/// What a journal is about: the header line's fields.
struct JournalHeader {
  std::string candidates;         ///< the candidates file's name, for people
  std::string candidates_crc32c;  ///< 8 hex digits: the candidates' identity
  std::int64_t pairs = 0;
  std::string reviewer;
  std::string created;
};

/// The journal's error when a line cannot be written (a full disk): nothing of it was kept.
struct JournalWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The current time as UTC ISO 8601 to the second.
inline std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

/// A journal file read whole (for export): its header, state, and notes (a dropped last line).
struct JournalReplay {
  JournalHeader header;
  JournalState state;
  std::vector<std::string> notes;
  std::uint64_t complete_bytes = 0;  ///< the length up to the last complete line
  std::string path;
};

namespace detail {

inline JournalHeader parse_header(const nlohmann::ordered_json& j) {
  if (!j.is_object() || !j.contains("selfsup_curate_journal")) {
    throw std::invalid_argument("not a journal of curate review (its first line has no \"selfsup_curate_journal\")");
  }
  if (j.at("selfsup_curate_journal").get<int>() != 1) {
    throw std::invalid_argument("journal version " + j.at("selfsup_curate_journal").dump() + ", this selfsup reads 1");
  }
  return {j.at("candidates").get<std::string>(), j.at("candidates_crc32c").get<std::string>(), j.at("pairs").get<std::int64_t>(),
          j.at("reviewer").get<std::string>(), j.value("created", std::string())};
}

/// Flushes the folder holding `path` to disk, so that a file just created there stays listed
/// after a crash of the machine (best effort: some file systems refuse it).
inline void sync_folder_of(const std::filesystem::path& path) {
  const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] const int synced = ::fsync(fd);
  ::close(fd);
}

inline std::string header_line(const JournalHeader& h) {
  nlohmann::ordered_json j{{"selfsup_curate_journal", 1},   {"candidates", h.candidates},
                           {"candidates_crc32c", h.candidates_crc32c}, {"pairs", h.pairs},
                           {"reviewer", h.reviewer},          {"created", h.created}};
  return j.dump() + "\n";
}

}  // namespace detail

/// Reads a journal (see the file comment); `what` names it in errors. A missing last line end
/// drops that line (a note says so); an empty file is a journal without a header (header.pairs
/// -1 and no state).
inline JournalReplay read_journal(const std::filesystem::path& path) {
  const std::string what = "'" + path.string() + "'";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(what + " cannot be read");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  JournalReplay r;
  r.path = path.string();
  r.header.pairs = -1;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    ++line_no;
    if (end == std::string::npos) {
      r.notes.push_back("line " + std::to_string(line_no) + " has no line end: a write cut short (it was never reported "
                        "saved); it is left out");
      break;
    }
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    r.complete_bytes = pos;
    try {
      const auto j = nlohmann::ordered_json::parse(line);
      if (line_no == 1) {
        r.header = detail::parse_header(j);
        if (r.header.pairs < 0) throw std::invalid_argument("pairs must be >= 0");
        r.state = JournalState(r.header.pairs);
      } else {
        r.state.apply(j);
      }
    } catch (const std::exception& e) {
      throw std::invalid_argument(what + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  return r;
}

/// Checks a journal's header against the candidates it is used with; throws naming both.
inline void check_journal_matches(const JournalReplay& r, std::string_view candidates_path, std::uint32_t crc,
                                  std::int64_t pairs) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", crc);
  if (r.header.candidates_crc32c != hex || r.header.pairs != pairs) {
    throw std::invalid_argument("'" + r.path + "' was written against other candidates ('" + r.header.candidates +
                                "', " + std::to_string(r.header.pairs) + " pairs, CRC-32C " + r.header.candidates_crc32c +
                                "), not against '" + std::string(candidates_path) + "' (" + std::to_string(pairs) +
                                " pairs, CRC-32C " + hex + "); give the candidates it was made with, or another journal");
  }
}

/// A journal open for appending: every call writes its lines, flushes them to disk (fdatasync)
/// and only then changes the state; a failed write is cut back off the file and throws
/// JournalWriteError, the state unchanged. Not thread-safe: a server guards it with a mutex.
class Journal {
 public:
  /// Opens `path` (created with a header when missing or empty) for the candidates `header`
  /// names. An existing journal must name the same candidates (CRC-32C and count) and, when
  /// `header.reviewer` is not empty, the same reviewer. Notes (a dropped last line) go to `notes`.
  Journal(const std::filesystem::path& path, JournalHeader header, std::vector<std::string>* notes = nullptr)
      : path_(path) {
    const std::string what = "'" + path.string() + "'";
    int fd = -1;
    do fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644); while (fd < 0 && errno == EINTR);
    if (fd < 0) throw std::invalid_argument(what + " cannot be opened for writing: " + std::strerror(errno));
    fd_ = fd;
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::invalid_argument(what + " is open in another curate review (it is locked); stop that one first, or "
                                  "give another --journal");
    }
    try {
      struct stat st {};
      ::fstat(fd_, &st);
      if (st.st_size == 0) {
        if (header.reviewer.empty()) header.reviewer = path.stem().string();
        header.created = utc_now();
        append(detail::header_line(header));
        detail::sync_folder_of(path);  // the new file's name survives a power loss too
        header_ = header;
        state_ = JournalState(header.pairs);
      } else {
        auto replay = read_journal(path);
        if (replay.header.pairs < 0) throw std::invalid_argument(what + ": no header line");
        if (replay.complete_bytes < static_cast<std::uint64_t>(st.st_size)) {
          if (::ftruncate(fd_, static_cast<off_t>(replay.complete_bytes)) != 0) {
            throw std::invalid_argument(what + ": cannot cut off its unfinished last line: " + std::strerror(errno));
          }
        }
        if (notes) for (auto& n : replay.notes) notes->push_back(what + ": " + n);
        if (replay.header.candidates_crc32c != header.candidates_crc32c || replay.header.pairs != header.pairs) {
          throw std::invalid_argument(what + " was written against other candidates ('" + replay.header.candidates + "', " +
                                      std::to_string(replay.header.pairs) + " pairs, CRC-32C " +
                                      replay.header.candidates_crc32c + "), not against '" + header.candidates + "' (" +
                                      std::to_string(header.pairs) + " pairs, CRC-32C " + header.candidates_crc32c +
                                      "); give the candidates it was made with, or another --journal");
        }
        if (!header.reviewer.empty() && replay.header.reviewer != header.reviewer) {
          throw std::invalid_argument(what + " is the journal of reviewer '" + replay.header.reviewer + "', not of '" +
                                      header.reviewer + "'; leave --reviewer out, or give another --journal");
        }
        header_ = replay.header;
        state_ = std::move(replay.state);
      }
    } catch (...) {
      ::close(fd_);
      fd_ = -1;
      throw;
    }
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal() {
    if (fd_ >= 0) ::close(fd_);
  }

  const JournalHeader& header() const { return header_; }
  const JournalState& state() const { return state_; }
  const std::filesystem::path& path() const { return path_; }

  /// One decision on one pair; `first`/`second` name its images (for people reading the file).
  /// Returns the line's seq.
  std::int64_t decide(std::int64_t pair, Mark mark, std::string_view first, std::string_view second) {
    const auto seq = state_.next_seq();
    nlohmann::ordered_json j{{"seq", seq}, {"pair", pair}, {"first", first}, {"second", second},
                             {"decision", mark_name(mark)}, {"reviewer", header_.reviewer}, {"time", utc_now()}};
    check_pair(pair, mark);
    append(j.dump() + "\n");
    state_.apply(j);
    return seq;
  }

  /// One decision on many pairs (a bulk decision: undone as a whole); `name(pair)` gives each
  /// pair's images. Returns the bulk id (the first line's seq).
  template <class Names>
  std::int64_t decide_all(std::span<const std::int64_t> pairs, Mark mark, Names&& name) {
    const auto bulk = state_.next_seq();
    std::string lines;
    std::vector<nlohmann::ordered_json> parsed;
    const auto time = utc_now();
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      check_pair(pairs[i], mark);
      const auto [first, second] = name(pairs[i]);
      nlohmann::ordered_json j{{"seq", bulk + static_cast<std::int64_t>(i)}, {"pair", pairs[i]}, {"first", first},
                               {"second", second}, {"decision", mark_name(mark)}, {"bulk", bulk},
                               {"reviewer", header_.reviewer}, {"time", time}};
      lines += j.dump();
      lines += '\n';
      parsed.push_back(std::move(j));
    }
    append(lines);
    for (const auto& j : parsed) state_.apply(j);
    return bulk;
  }

  /// Undoes the latest decision not yet undone (a bulk one whole); returns the pairs it changed,
  /// nullopt when there is nothing to undo.
  std::optional<std::vector<std::int64_t>> undo() {
    auto target = state_.undoable();
    if (!target) return std::nullopt;
    nlohmann::ordered_json j{{"seq", state_.next_seq()}, {"decision", "undo"}};
    if (target->bulk >= 0) j["undoes_bulk"] = target->bulk;
    else j["undoes"] = target->seq;
    j["pairs"] = target->pairs;
    j["reviewer"] = header_.reviewer;
    j["time"] = utc_now();
    append(j.dump() + "\n");
    state_.apply(j);
    return target->pairs;
  }

 private:
  void check_pair(std::int64_t pair, Mark mark) const {
    if (pair < 0 || pair >= header_.pairs) {
      throw std::out_of_range("pair " + std::to_string(pair) + " is not one of the " + std::to_string(header_.pairs) +
                              " candidates (0 to " + std::to_string(header_.pairs - 1) + ")");
    }
    if (mark == Mark::none) throw std::invalid_argument("a decision must be accept, reject or skip");
  }

  /// Appends `text` and flushes it to disk; on failure cuts the file back and throws.
  void append(const std::string& text) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw JournalWriteError("'" + path_.string() + "': " + std::strerror(errno));
    const char* data = text.data();
    std::size_t left = text.size();
    int error = 0;
    while (left > 0) {
      const auto n = ::write(fd_, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = n < 0 ? errno : EIO;
        break;
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    if (error == 0 && ::fdatasync(fd_) != 0) error = errno;
    if (error != 0) {
      [[maybe_unused]] const int cut = ::ftruncate(fd_, st.st_size);  // nothing of it stays
      throw JournalWriteError("writing '" + path_.string() + "' failed: " + std::strerror(error) +
                              "; nothing of this decision was saved");
    }
  }

  std::filesystem::path path_;
  int fd_ = -1;
  JournalHeader header_;
  JournalState state_;
};

}  // namespace selfsup::curate
