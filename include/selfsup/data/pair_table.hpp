#pragma once
/// \file
/// data::PairTable: the semantic pair table, its CSV file format, statistics, and its adjacency
/// (CSR) on the device.
///
/// Semantic pairs (Alkhalefi, Leontidis and Zhong, "Enhancing Self-Supervised Learning with
/// Semantic Pairs", 2025) are two *different* images of one class, listed by hand or exported by a
/// miner (pairs::mine_pairs, SePP-ID). The file format, written by hand or by write_pair_table:
///
///     first,second,class
///     12,873,3
///     n01440764/a.JPEG,n01440764/b.JPEG,tench
///
/// - a header line naming the columns `first,second` and optionally `class`, in that order;
/// - one pair per line; an entry is either a dataset index (a non-negative integer) or an image
///   path (resolved through PairTableOptions::paths: relative to the image folder they list, or,
///   with PairTableOptions::split_folder, also from the dataset root, e.g. `train/n01440764/a.JPEG`);
/// - `class`: an integer id, or a name (names get ids in order of first appearance); optional;
/// - blank lines and lines starting with `#` are skipped; fields are trimmed of spaces; no quoting,
///   so paths must not contain commas; `\r\n` line ends are accepted.
/// A pair is unordered: a source draws a's partner from b and b's from a (PairAdjacency).

#include <selfsup/data/pair_table_text.hpp>
#include <selfsup/detail/check.hpp>
#include <selfsup/detail/files.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace selfsup::data {

/// Positive pairs of dataset indices, all tensors of length P on one device.
struct PairTable {
  torch::Tensor first;                   ///< int64 (P)
  torch::Tensor second;                  ///< int64 (P)
  torch::Tensor classes;                 ///< int64 (P) class id of each pair, or undefined
  std::vector<std::string> class_names;  ///< name of each class id when the file gave names

  int64_t size() const { return first.defined() ? first.numel() : 0; }
  bool has_classes() const { return classes.defined(); }
  torch::Device device() const { return first.defined() ? first.device() : torch::Device(torch::kCPU); }
  PairTable to(const torch::Device& device) const {
    return {first.to(device), second.to(device),
            classes.defined() ? classes.to(device) : torch::Tensor{}, class_names};
  }
};

/// A table made from tensors (moved to one device, checked like a file's rows): first and
/// second int64 (P), classes int64 (P) or undefined.
inline PairTable make_pair_table(torch::Tensor first, torch::Tensor second, torch::Tensor classes = {},
                                 int64_t dataset_size = -1) {
  constexpr std::string_view fn = "selfsup::data::make_pair_table";
  selfsup::detail::check_dim(fn, "first", first, 1);
  selfsup::detail::check_dim(fn, "second", second, 1);
  TORCH_CHECK(first.scalar_type() == torch::kLong && second.scalar_type() == torch::kLong, fn,
              ": first and second must be int64, got ", first.scalar_type(), " and ",
              second.scalar_type());
  TORCH_CHECK(first.numel() == second.numel(), fn, ": first has ", first.numel(),
              " entries but second has ", second.numel());
  second = second.to(first.device());
  if (classes.defined()) {
    selfsup::detail::check_dim(fn, "classes", classes, 1);
    TORCH_CHECK(classes.scalar_type() == torch::kLong && classes.numel() == first.numel(), fn,
                ": classes must be int64 with one entry per pair, got ", classes.scalar_type(),
                " with ", classes.numel(), " entries for ", first.numel(), " pairs");
    classes = classes.to(first.device());
  }
  if (first.numel() > 0) {
    const auto lo = torch::minimum(first.min(), second.min()).item<int64_t>();
    const auto hi = torch::maximum(first.max(), second.max()).item<int64_t>();
    TORCH_CHECK(lo >= 0, fn, ": indices must be non-negative, got ", lo);
    TORCH_CHECK(dataset_size < 0 || hi < dataset_size, fn, ": index ", hi,
                " is out of range for a dataset of ", dataset_size, " images");
    const auto self = first.eq(second).nonzero();
    TORCH_CHECK(self.numel() == 0, fn, ": pair ", self.numel() ? self[0][0].item<int64_t>() : 0,
                " pairs image ", self.numel() ? first[self[0][0]].item<int64_t>() : 0,
                " with itself; a semantic pair needs two different images");
  }
  return {first, second, classes, {}};
}

namespace detail {

// Sorted distinct values of a 1-D tensor and, for each input entry, the position of its value.
inline std::pair<torch::Tensor, torch::Tensor> sorted_unique(const torch::Tensor& x) {
  auto [sorted, order] = x.sort();
  auto [values, inverse_sorted, counts] = torch::unique_consecutive(sorted, /*return_inverse=*/true);
  auto inverse = torch::empty_like(inverse_sorted).scatter_(0, order, inverse_sorted);
  return {values, inverse};
}

}  // namespace detail

/// Parses the text of a pair table (see the file comment for the format). `source` names the
/// file in error messages, which read "<fn>: <source>:<line>: <what was wrong>".
inline PairTable parse_pair_table(std::string_view text, const PairTableOptions& options = {},
                                  std::string_view source = "<text>",
                                  std::string_view fn = "selfsup::data::parse_pair_table") {
  auto parsed = detail::parse_pair_table_text(text, options, source, fn);
  PairTable table;
  const auto n = static_cast<int64_t>(parsed.first.size());
  table.first = torch::tensor(parsed.first, torch::kLong).reshape({n});
  table.second = torch::tensor(parsed.second, torch::kLong).reshape({n});
  if (parsed.has_class) table.classes = torch::tensor(parsed.classes, torch::kLong).reshape({n});
  table.class_names = std::move(parsed.class_names);
  return table;
}

/// Reads a pair table file; errors name the file and the line.
inline PairTable read_pair_table(const std::filesystem::path& file, const PairTableOptions& options = {}) {
  constexpr std::string_view fn = "selfsup::data::read_pair_table";
  std::error_code ec;
  TORCH_CHECK(!std::filesystem::is_directory(file, ec), fn, ": ", file.string(),
              " is a folder; expected a pair table file (CSV)");
  std::ifstream in(file, std::ios::binary);
  TORCH_CHECK(in, fn, ": cannot open ", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  TORCH_CHECK(!in.bad(), fn, ": error while reading ", file.string());
  return parse_pair_table(text.str(), options, file.string(), fn);
}

/// Writes `table` in the format read_pair_table reads, by the output rule of every writer
/// (detail/files.hpp: a file replaced atomically, a link's target replaced, a pipe written
/// through). With `paths` (the image path of every dataset index), entries are written as paths;
/// class ids as their names when the table has them.
inline void write_pair_table(const std::filesystem::path& file, const PairTable& table,
                             std::span<const std::string> paths = {}) {
  constexpr std::string_view fn = "selfsup::data::write_pair_table";
  const auto first = table.first.defined() ? table.first.cpu() : torch::empty({0}, torch::kLong);
  const auto second = table.second.defined() ? table.second.cpu() : torch::empty({0}, torch::kLong);
  const auto classes = table.classes.defined() ? table.classes.cpu() : torch::Tensor{};
  const int64_t n = first.numel();
  auto f = first.accessor<int64_t, 1>();
  auto s = second.accessor<int64_t, 1>();
  auto name = [&](int64_t index) -> std::string {
    if (paths.empty()) return std::to_string(index);
    TORCH_CHECK(index >= 0 && index < static_cast<int64_t>(paths.size()), fn, ": index ", index,
                " has no path (", paths.size(), " paths given)");
    const auto& p = paths[index];
    TORCH_CHECK(p.find_first_of(",\n\r") == std::string::npos && !p.empty() && p.front() != '#',
                fn, ": image path ", detail::quoted(p), " cannot be written in the format "
                "(empty, starts with '#', or contains a comma or line break)");
    return p;
  };
  std::ostringstream out;
  out << (classes.defined() ? "first,second,class\n" : "first,second\n");
  for (int64_t i = 0; i < n; ++i) {
    out << name(f[i]) << ',' << name(s[i]);
    if (classes.defined()) {
      const int64_t c = classes[i].item<int64_t>();
      if (!table.class_names.empty()) {
        TORCH_CHECK(c >= 0 && c < static_cast<int64_t>(table.class_names.size()), fn, ": class id ",
                    c, " has no name");
        out << ',' << table.class_names[c];
      } else {
        out << ',' << c;
      }
    }
    out << '\n';
  }
  selfsup::detail::write_whole_file(file, out.str(), std::string(fn));
}

/// What a pair table covers, for a dataset of `dataset_size` images.
struct PairTableStats {
  int64_t pairs = 0;                    ///< rows of the table
  int64_t distinct_pairs = 0;           ///< unordered pairs after removing repeats
  int64_t classes = 0;                  ///< distinct class ids (0 without a class column)
  int64_t anchors_with_partner = 0;     ///< images that appear in at least one pair
  int64_t anchors_without_partner = 0;  ///< images of the dataset that appear in none
  double mean_partners = 0.0;           ///< distinct partners per image that has any
};

inline PairTableStats pair_table_stats(const PairTable& table, int64_t dataset_size) {
  constexpr std::string_view fn = "selfsup::data::pair_table_stats";
  TORCH_CHECK(dataset_size > 0, fn, ": dataset_size must be positive, got ", dataset_size);
  PairTableStats s;
  s.pairs = table.size();
  if (s.pairs == 0) {
    s.anchors_without_partner = dataset_size;
    return s;
  }
  auto a = table.first.cpu(), b = table.second.cpu();
  TORCH_CHECK(torch::maximum(a.max(), b.max()).item<int64_t>() < dataset_size, fn,
              ": the table names index ", torch::maximum(a.max(), b.max()).item<int64_t>(),
              ", out of range for a dataset of ", dataset_size, " images");
  auto key = torch::minimum(a, b) * dataset_size + torch::maximum(a, b);
  const auto distinct = detail::sorted_unique(key).first;
  s.distinct_pairs = distinct.numel();
  if (table.has_classes()) s.classes = detail::sorted_unique(table.classes.cpu()).first.numel();
  auto degree = torch::zeros({dataset_size}, torch::kLong);
  degree.index_add_(0, distinct.div(dataset_size, "floor"), torch::ones_like(distinct));
  degree.index_add_(0, distinct.remainder(dataset_size), torch::ones_like(distinct));
  s.anchors_with_partner = degree.gt(0).sum().item<int64_t>();
  s.anchors_without_partner = dataset_size - s.anchors_with_partner;
  s.mean_partners = static_cast<double>(2 * s.distinct_pairs) / static_cast<double>(s.anchors_with_partner);
  return s;
}

/// Every image's partners as compressed sparse rows on the device: the partners of image i are
/// partners[offsets[i] : offsets[i + 1]], without repeats, so drawing one is O(1) per anchor.
struct PairAdjacency {
  torch::Tensor offsets;   ///< int64 (N + 1)
  torch::Tensor partners;  ///< int64 (E)
  torch::Tensor classes;   ///< int64 (E): the class of the pair each entry came from, or undefined

  int64_t nodes() const { return offsets.defined() ? offsets.numel() - 1 : 0; }
  int64_t edges() const { return partners.defined() ? partners.numel() : 0; }
  /// Number of partners of every image, int64 (N).
  torch::Tensor degree() const { return offsets.slice(0, 1) - offsets.slice(0, 0, -1); }
};

/// The adjacency of `table` over `dataset_size` images on `device`. `symmetric`: a pair (a, b)
/// makes b a partner of a and a a partner of b (the default; pairs are unordered); otherwise only
/// b of a. Indices are checked against `dataset_size` (one read back; not a hot path).
inline PairAdjacency make_adjacency(const PairTable& table, int64_t dataset_size,
                                    const torch::Device& device, bool symmetric = true) {
  constexpr std::string_view fn = "selfsup::data::make_adjacency";
  TORCH_CHECK(dataset_size > 0, fn, ": dataset_size must be positive, got ", dataset_size);
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(device);
  PairAdjacency adj;
  if (table.size() == 0) {
    adj.offsets = torch::zeros({dataset_size + 1}, lopt);
    adj.partners = torch::empty({0}, lopt);
    if (table.has_classes()) adj.classes = torch::empty({0}, lopt);
    return adj;
  }
  auto a = table.first.to(device), b = table.second.to(device);
  const auto lo = torch::minimum(a.min(), b.min()).item<int64_t>();
  const auto hi = torch::maximum(a.max(), b.max()).item<int64_t>();
  TORCH_CHECK(lo >= 0 && hi < dataset_size, fn, ": the pair table names index ", lo < 0 ? lo : hi,
              ", out of range for a dataset of ", dataset_size, " images");
  auto src = symmetric ? torch::cat({a, b}) : a;                                   // (E')
  auto dst = symmetric ? torch::cat({b, a}) : b;                                   // (E')
  // Sorting the keys src·N + dst groups each image's partners and removes repeats.
  auto [keys, inverse] = detail::sorted_unique(src * dataset_size + dst);          // (E), (E')
  auto rows = keys.div(dataset_size, "floor");
  adj.partners = keys.remainder(dataset_size);
  adj.offsets = torch::zeros({dataset_size + 1}, lopt);
  adj.offsets.slice(0, 1).copy_(torch::bincount(rows, {}, dataset_size).cumsum(0));
  if (table.has_classes()) {
    auto cls = table.classes.to(device);
    if (symmetric) cls = torch::cat({cls, cls});
    // A repeated pair keeps the class of one of its rows.
    adj.classes = torch::zeros({keys.numel()}, lopt).scatter_(0, inverse, cls);
  }
  return adj;
}

/// One partner per anchor, drawn uniformly from its row of `adj` on the adjacency's device with
/// `gen`, without reading anything back. Returns (partners, position in adj.partners or -1,
/// has_partner); an anchor without partners gets itself. anchors int64 (B) on adj's device.
struct DrawnPartners {
  torch::Tensor partners;     ///< int64 (B)
  torch::Tensor edge;         ///< int64 (B): index into adj.partners, 0 where has_partner is false
  torch::Tensor has_partner;  ///< bool (B)
};

inline DrawnPartners draw_partners(const PairAdjacency& adj, const torch::Tensor& anchors,
                                   at::Generator& gen) {
  auto start = adj.offsets.index_select(0, anchors);                               // (B)
  auto degree = adj.offsets.index_select(0, anchors + 1) - start;                  // (B)
  DrawnPartners out;
  out.has_partner = degree.gt(0);
  if (adj.edges() == 0) {
    out.partners = anchors;
    out.edge = torch::zeros_like(anchors);
    return out;
  }
  auto u = torch::rand({anchors.size(0)}, gen, anchors.options().dtype(torch::kFloat64));
  auto pick = torch::minimum((u * degree).to(torch::kLong), degree - 1).clamp_min_(0);  // (B)
  out.edge = torch::where(out.has_partner, start + pick, torch::zeros_like(start));
  out.partners = torch::where(out.has_partner, adj.partners.index_select(0, out.edge), anchors);
  return out;
}

}  // namespace selfsup::data
