#pragma once
/// \file
/// The pair sources a program crosses the methods with, each with its name, whether it needs a
/// pair table, the knobs it reads, and how it is built: `PairSource<P>` describes one,
/// `pair_sources` lists them. A new source is one PairSource specialisation and one entry in the
/// list; `train` then compiles it with every method that accepts it.

#include <selfsup/data/pair_table.hpp>
#include <selfsup/methods/method.hpp>
#include <selfsup/pairs/augmented.hpp>
#include <selfsup/pairs/mixed.hpp>
#include <selfsup/pairs/nearest_neighbour.hpp>
#include <selfsup/pairs/same_label.hpp>
#include <selfsup/pairs/semantic.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace selfsup::methods {

/// Semantic partners with probability p, else the anchor's own second view.
using Mix = pairs::Mixed<pairs::Semantic, pairs::Augmented>;

/// What a pair source is built from at run time.
struct PairSettings {
  const data::PairTable* table = nullptr;  ///< the semantic pair table, where there is one
  std::uint64_t seed = 0;                  ///< this process's policy seed (Settings::seed)
  std::optional<double> mix{};             ///< Mix: the probability of a semantic partner
  std::optional<int64_t> support_size{};   ///< NearestNeighbour: embeddings kept
};

/// Describes pair source P: `name`, `description`, `needs_table`, `knobs` and
/// `make(const PairSettings&)`. Specialised for each source in `pair_sources`.
template <class P>
struct PairSource;

namespace detail {
inline const data::PairTable& require_table(std::string_view source, const PairSettings& s) {
  if (s.table == nullptr) {
    throw std::invalid_argument("selfsup::methods::PairSource<" + std::string(source) +
                                ">::make: this source needs a semantic pair table, and none was given");
  }
  return *s.table;
}
}  // namespace detail

template <>
struct PairSource<pairs::Augmented> {
  static constexpr std::string_view name = "augmented";
  static constexpr std::string_view description = "two augmented views of one image";
  static constexpr bool needs_table = false;
  static constexpr unsigned knobs = 0;
  static pairs::Augmented make(const PairSettings&) { return {}; }
};

template <>
struct PairSource<pairs::Semantic> {
  static constexpr std::string_view name = "semantic";
  static constexpr std::string_view description = "a partner image from the pair table";
  static constexpr bool needs_table = true;
  static constexpr unsigned knobs = 0;
  static pairs::Semantic make(const PairSettings& s) {
    return pairs::Semantic(detail::require_table(name, s), {.seed = s.seed + 101});
  }
};

template <>
struct PairSource<Mix> {
  static constexpr std::string_view name = "mix";
  static constexpr std::string_view description = "a table partner with probability p, else augmented";
  static constexpr bool needs_table = true;
  static constexpr unsigned knobs = static_cast<unsigned>(Knob::mix);
  static Mix make(const PairSettings& s) {
    return Mix(pairs::Semantic(detail::require_table(name, s), {.seed = s.seed + 101}), pairs::Augmented{},
               {.p = s.mix.value_or(pairs::MixedOptions{}.p), .seed = s.seed + 102});
  }
};

template <>
struct PairSource<pairs::SameLabel> {
  static constexpr std::string_view name = "same_label";
  static constexpr std::string_view description = "a partner with the anchor's label";
  static constexpr bool needs_table = false;
  static constexpr unsigned knobs = 0;
  static pairs::SameLabel make(const PairSettings& s) { return pairs::SameLabel({.seed = s.seed + 101}); }
};

template <>
struct PairSource<pairs::NearestNeighbour> {
  static constexpr std::string_view name = "nearest_neighbour";
  static constexpr std::string_view description = "the partner view's nearest neighbour in a support set";
  static constexpr bool needs_table = false;
  static constexpr unsigned knobs = static_cast<unsigned>(Knob::support_size);
  static pairs::NearestNeighbour make(const PairSettings& s) {
    return pairs::NearestNeighbour({.support_size = s.support_size.value_or(pairs::NearestNeighbourOptions{}.support_size)});
  }
};

/// A list of pair source types, in the order programs list them.
template <class... P>
struct PairSourceList {
  static constexpr std::size_t size = sizeof...(P);
};

/// Every pair source `train` compiles the methods with.
using pair_sources = PairSourceList<pairs::Augmented, pairs::Semantic, Mix, pairs::SameLabel, pairs::NearestNeighbour>;

}  // namespace selfsup::methods
