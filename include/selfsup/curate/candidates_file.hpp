#pragma once
/// \file
/// The candidate pairs a reviewer curates (`curate mine` writes them, `curate review` shows them,
/// `curate export` turns the accepted ones into a pair table). Free of LibTorch; JSON through
/// nlohmann-json. The file is CSV:
///
///     # selfsup-curate-candidates {"images":3000,"k":10,"mutual":false,...}
///     pair,first,second,cosine,rank,partner_rank,relative_distance,occurrences_first,occurrences_second,label_first,label_second
///     0,12,873,0.913422,1,3,0.8421,12,4,3,3
///
/// - the first line: `# selfsup-curate-candidates ` and a JSON object, the mining's settings and
///   the neighbour graph's hubness (`images`, `k`, `mutual`, `threshold`, `max_per_image`,
///   `max_per_hub`, `median_nn_distance`, `k_occurrence_skewness`, `never_chosen`, `data`,
///   `backbone`);
/// - `pair`: 0, 1, 2, ... in file order, the id a review journal names;
/// - `first`, `second`: the two images as a pair table names them (an index of the full training
///   split, or a path under an image folder's train/); `first` is the anchor, whose k nearest
///   neighbours held `second`;
/// - `rank`: `second`'s place in `first`'s neighbour list (1 = nearest); `partner_rank`: `first`'s
///   place in `second`'s list, 0 when it is not in it (the pair is not mutual);
/// - `relative_distance`: the pair's cosine distance (1 - cosine) over the median, across the
///   images, of the distance to the nearest neighbour: below 1, closer than a typical nearest
///   neighbour;
/// - `occurrences_*`: the image's k-occurrence, how many images list it among their k nearest
///   (hubs occur far more than k times);
/// - `label_*`: the class names from the dataset's labels, empty without labels.
/// The file's identity is the CRC-32C of its bytes: a review journal records it, and a journal
/// made against other candidates is refused.

#include <selfsup/detail/crc32c.hpp>
#include <selfsup/detail/files.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::curate {

/// One candidate pair (see the file comment for each field).
struct Candidate {
  std::string first, second;
  double cosine = 0.0;
  std::int64_t rank = 0;
  std::int64_t partner_rank = 0;
  double relative_distance = 0.0;
  std::int64_t occurrences_first = 0;
  std::int64_t occurrences_second = 0;
  std::string label_first, label_second;

  bool has_labels() const { return !label_first.empty() && !label_second.empty(); }
  bool same_label() const { return has_labels() && label_first == label_second; }
};

/// A candidates file in memory.
struct CandidateSet {
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();  ///< the first line's object
  std::vector<Candidate> rows;
  std::uint32_t crc32c = 0;  ///< of the file's bytes (set by read_candidates and write_candidates)
  std::string path;          ///< where it was read from or written to

  std::int64_t size() const { return static_cast<std::int64_t>(rows.size()); }
  bool has_labels() const { return !rows.empty() && rows.front().has_labels(); }
};

inline constexpr std::string_view candidates_magic = "# selfsup-curate-candidates ";
inline constexpr std::string_view candidates_header =
    "pair,first,second,cosine,rank,partner_rank,relative_distance,occurrences_first,occurrences_second,label_first,"
    "label_second";

/// The CRC-32C as 8 lowercase hex digits (how journals record it).
inline std::string crc_hex(std::uint32_t crc) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", crc);
  return text;
}

/// The file's text (see the file comment). A field holding a comma, a line end or a leading `#`
/// is refused: the format has no quoting.
inline std::string candidates_text(const CandidateSet& set) {
  auto check = [](const std::string& field, const char* what) {
    if (field.find_first_of(",\r\n") != std::string::npos) {
      throw std::invalid_argument(std::string("selfsup::curate::write_candidates: the ") + what + " '" + field +
                                  "' holds a comma or a line end, which the candidates file cannot hold");
    }
  };
  std::string out;
  out.reserve(64 + set.rows.size() * 64);
  out += candidates_magic;
  out += set.meta.dump();
  out += '\n';
  out += candidates_header;
  out += '\n';
  char number[64];
  for (std::size_t i = 0; i < set.rows.size(); ++i) {
    const auto& c = set.rows[i];
    check(c.first, "image name");
    check(c.second, "image name");
    check(c.label_first, "class name");
    check(c.label_second, "class name");
    out += std::to_string(i);
    out += ',';
    out += c.first;
    out += ',';
    out += c.second;
    std::snprintf(number, sizeof number, ",%.6f,%lld,%lld,%.6f,%lld,%lld,", c.cosine, static_cast<long long>(c.rank),
                  static_cast<long long>(c.partner_rank), c.relative_distance,
                  static_cast<long long>(c.occurrences_first), static_cast<long long>(c.occurrences_second));
    out += number;
    out += c.label_first;
    out += ',';
    out += c.label_second;
    out += '\n';
  }
  return out;
}

/// Writes `set` to `path` by the output rule of detail/files.hpp (whole or not at all); sets
/// its crc32c and path.
inline void write_candidates(CandidateSet& set, const std::filesystem::path& path) {
  const auto text = candidates_text(set);
  selfsup::detail::write_whole_file(path, text, "selfsup::curate::write_candidates");
  set.crc32c = selfsup::detail::crc32c(text);
  set.path = path.string();
}

namespace detail {

inline std::vector<std::string_view> split_commas(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

template <class T>
bool parse_number(std::string_view s, T& value) {
  if (s.empty()) return false;
  if constexpr (std::is_floating_point_v<T>) {
    // std::from_chars for doubles needs GCC 11; strtod on a bounded copy is as exact.
    std::string copy(s);
    char* end = nullptr;
    value = static_cast<T>(std::strtod(copy.c_str(), &end));
    return end == copy.c_str() + copy.size() && std::isfinite(value);
  } else {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    return ec == std::errc() && end == s.data() + s.size();
  }
}

}  // namespace detail

/// Parses a candidates file's text; `what` names it in errors (file and line, what was expected
/// and what came).
inline CandidateSet parse_candidates(std::string_view text, const std::string& what) {
  CandidateSet set;
  set.crc32c = selfsup::detail::crc32c(text);
  std::size_t line_no = 0, pos = 0;
  bool header_seen = false;
  auto fail = [&](const std::string& why) -> void {
    throw std::invalid_argument(what + ":" + std::to_string(line_no) + ": " + why);
  };
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1) {
      if (line.substr(0, candidates_magic.size()) != candidates_magic) {
        fail("not a candidates file of curate mine (expected a first line starting with '" +
             std::string(candidates_magic) + "'); a pair table is given to curate export's --out or train's --pairs");
      }
      try {
        set.meta = nlohmann::ordered_json::parse(line.substr(candidates_magic.size()));
      } catch (const std::exception& e) {
        fail(std::string("the settings line is not JSON: ") + e.what());
      }
      if (!set.meta.is_object()) fail("the settings line is not a JSON object");
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    if (!header_seen) {
      if (line != candidates_header) fail("expected the header '" + std::string(candidates_header) + "'");
      header_seen = true;
      continue;
    }
    const auto f = detail::split_commas(line);
    if (f.size() != 11) fail("expected 11 fields, got " + std::to_string(f.size()));
    Candidate c;
    std::int64_t id = -1;
    if (!detail::parse_number(f[0], id) || id != set.size()) {
      fail("expected pair " + std::to_string(set.size()) + ", got '" + std::string(f[0]) + "'");
    }
    c.first = f[1];
    c.second = f[2];
    if (c.first.empty() || c.second.empty()) fail("an image is missing");
    if (c.first == c.second) fail("the pair names one image twice ('" + c.first + "')");
    if (!detail::parse_number(f[3], c.cosine) || c.cosine < -1.0001 || c.cosine > 1.0001) {
      fail("cosine: expected a number in [-1, 1], got '" + std::string(f[3]) + "'");
    }
    if (!detail::parse_number(f[4], c.rank) || c.rank < 0) fail("rank: expected an integer >= 0, got '" + std::string(f[4]) + "'");
    if (!detail::parse_number(f[5], c.partner_rank) || c.partner_rank < 0) {
      fail("partner_rank: expected an integer >= 0, got '" + std::string(f[5]) + "'");
    }
    if (!detail::parse_number(f[6], c.relative_distance) || c.relative_distance < 0) {
      fail("relative_distance: expected a number >= 0, got '" + std::string(f[6]) + "'");
    }
    if (!detail::parse_number(f[7], c.occurrences_first) || c.occurrences_first < 0 ||
        !detail::parse_number(f[8], c.occurrences_second) || c.occurrences_second < 0) {
      fail("occurrences: expected integers >= 0, got '" + std::string(f[7]) + "' and '" + std::string(f[8]) + "'");
    }
    c.label_first = f[9];
    c.label_second = f[10];
    if (c.label_first.empty() != c.label_second.empty()) fail("one image has a label and the other none");
    if (!set.rows.empty() && set.rows.front().has_labels() != c.has_labels()) {
      fail("some pairs have labels and others none");
    }
    set.rows.push_back(std::move(c));
  }
  if (line_no == 0) throw std::invalid_argument(what + ": the file is empty (expected a candidates file of curate mine)");
  if (!header_seen) throw std::invalid_argument(what + ": no header line '" + std::string(candidates_header) + "'");
  return set;
}

/// Reads a candidates file (see the file comment); errors name the file and line.
inline CandidateSet read_candidates(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("'" + path.string() + "' cannot be read");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  auto set = parse_candidates(buffer.str(), "'" + path.string() + "'");
  set.path = path.string();
  return set;
}

}  // namespace selfsup::curate
