#pragma once
/// \file
/// The text of a semantic pair table (format: data/pair_table.hpp), parsed into plain vectors.
/// No LibTorch tensors here (only its error type), so that the libFuzzer target in fuzz/ builds
/// this exact parser with clang; data::parse_pair_table wraps it into a data::PairTable.

#include <c10/util/Exception.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace selfsup::data {

/// How a table's entries are checked and resolved.
struct PairTableOptions {
  /// Indices must be below this; -1: no upper bound (or the number of `paths` when given).
  int64_t dataset_size = -1;
  /// The image path, relative to the dataset root, of every dataset index (an image folder's
  /// listing); needed only when the table names images by path.
  std::span<const std::string> paths = {};
  /// When `paths` are relative to a split's folder inside the dataset root (an image folder's
  /// "train"), that folder's name: entries may then name images from the dataset root
  /// ("train/n02085620/a.jpg") or from the split's folder ("n02085620/a.jpg").
  std::string split_folder = {};
};

namespace detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

inline std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                             : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

// Parses the whole field as a decimal integer; false when it is not one (or overflows).
inline bool parse_integer(std::string_view s, int64_t& value) {
  if (s.empty()) return false;
  const char* begin = s.data();
  if (*begin == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

inline bool looks_numeric(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline std::string normalise_path(std::string_view p) {
  while (p.size() >= 2 && p[0] == '.' && p[1] == '/') p.remove_prefix(2);
  return std::string(p);
}

// Shortens untrusted text quoted in a message.
inline std::string quoted(std::string_view s) {
  constexpr size_t max = 80;
  std::string out = "'";
  for (char c : s.substr(0, max)) out += (c >= 32 && c < 127) ? c : '?';
  if (s.size() > max) out += "...";
  return out + "'";
}

/// A parsed table: pairs of indices, and class ids (and names) when the header has `class`.
struct ParsedPairTable {
  std::vector<int64_t> first, second, classes;
  std::vector<std::string> class_names;
  bool has_class = false;
};

/// Parses and validates the text; errors read "<fn>: <source>:<line>: <what was wrong>".
inline ParsedPairTable parse_pair_table_text(std::string_view text, const PairTableOptions& options,
                                             std::string_view source, std::string_view fn) {
  const int64_t limit = options.dataset_size >= 0 ? options.dataset_size
                        : options.paths.empty()   ? -1
                                                  : static_cast<int64_t>(options.paths.size());
  std::unordered_map<std::string, int64_t> by_path;
  for (size_t i = 0; i < options.paths.size(); ++i) {
    by_path.emplace(normalise_path(options.paths[i]), static_cast<int64_t>(i));
  }
  std::string split_prefix = normalise_path(options.split_folder);
  while (!split_prefix.empty() && split_prefix.back() == '/') split_prefix.pop_back();
  if (!split_prefix.empty()) split_prefix += '/';
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM

  std::vector<int64_t> first, second, class_ids;
  std::vector<std::string> class_values;
  bool has_class = false, header_seen = false, all_integer_classes = true;
  int64_t line_no = 0;
  size_t pos = 0;
  auto where = [&] { return std::string(source) + ":" + std::to_string(line_no) + ": "; };

  auto entry = [&](std::string_view field, const char* column) -> int64_t {
    TORCH_CHECK(!field.empty(), fn, ": ", where(), "the ", column, " entry is empty");
    if (looks_numeric(field)) {
      int64_t v = 0;
      TORCH_CHECK(parse_integer(field, v), fn, ": ", where(), "index ", quoted(field),
                  " does not fit in 64 bits");
      TORCH_CHECK(v >= 0, fn, ": ", where(), "index ", v, " is negative");
      TORCH_CHECK(limit < 0 || v < limit, fn, ": ", where(), "index ", v,
                  " is out of range for a dataset of ", limit, " images");
      return v;
    }
    TORCH_CHECK(!by_path.empty(), fn, ": ", where(), quoted(field),
                " is not an index, and no image paths were given to resolve it "
                "(PairTableOptions::paths)");
    auto path = normalise_path(field);
    auto it = by_path.find(path);
    if (it == by_path.end() && !split_prefix.empty() && path.rfind(split_prefix, 0) == 0) {
      it = by_path.find(path.substr(split_prefix.size()));
    }
    TORCH_CHECK(it != by_path.end(), fn, ": ", where(), "unknown image path ", quoted(field),
                " (not among the dataset's ", by_path.size(), " images",
                split_prefix.empty() ? std::string()
                                     : ", named from the dataset root as '" + split_prefix + "<class>/<file>' or from the '" +
                                           options.split_folder + "' folder as '<class>/<file>'",
                ")");
    return it->second;
  };

  while (pos <= text.size()) {
    const size_t nl = text.find('\n', pos);
    const auto raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    const auto line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    TORCH_CHECK(line.find('\0') == std::string_view::npos, fn, ": ", where(),
                "contains a NUL byte; is this a text file?");
    const auto fields = split_fields(line);
    if (!header_seen) {
      const bool two = fields.size() == 2 && fields[0] == "first" && fields[1] == "second";
      const bool three = fields.size() == 3 && fields[0] == "first" && fields[1] == "second" &&
                         fields[2] == "class";
      TORCH_CHECK(two || three, fn, ": ", where(), "expected the header 'first,second' or "
                  "'first,second,class', got ", quoted(line));
      has_class = three;
      header_seen = true;
      continue;
    }
    const size_t want = has_class ? 3 : 2;
    TORCH_CHECK(fields.size() == want, fn, ": ", where(), "expected ", want, " comma-separated "
                "fields, got ", fields.size(), " in ", quoted(line));
    const int64_t a = entry(fields[0], "first");
    const int64_t b = entry(fields[1], "second");
    TORCH_CHECK(a != b, fn, ": ", where(), "image ", a, " is paired with itself; a semantic pair "
                "needs two different images");
    first.push_back(a);
    second.push_back(b);
    if (has_class) {
      TORCH_CHECK(!fields[2].empty(), fn, ": ", where(), "the class entry is empty");
      int64_t id = 0;
      if (!looks_numeric(fields[2]) || !parse_integer(fields[2], id) || id < 0) {
        all_integer_classes = false;
      }
      class_ids.push_back(id);
      class_values.emplace_back(fields[2]);
    }
  }
  TORCH_CHECK(header_seen, fn, ": ", source, ": no header line 'first,second[,class]'; the file is empty");

  ParsedPairTable out;
  out.has_class = has_class;
  out.first = std::move(first);
  out.second = std::move(second);
  if (has_class) {
    if (!all_integer_classes) {
      // Names get ids in order of first appearance.
      std::unordered_map<std::string, int64_t> ids;
      for (size_t i = 0; i < class_values.size(); ++i) {
        auto [it, added] = ids.emplace(class_values[i], static_cast<int64_t>(out.class_names.size()));
        if (added) out.class_names.push_back(class_values[i]);
        class_ids[i] = it->second;
      }
    }
    out.classes = std::move(class_ids);
  }
  return out;
}

}  // namespace detail
}  // namespace selfsup::data
