#pragma once
/// \file
/// selfsup::methods: every method as a type, each bundling its recipe (over any pair source it
/// accepts), its encoder heads, its optimiser and schedule, its paper's defaults and citation.
///
///   using Method = selfsup::methods::DINO<selfsup::pairs::Semantic>;   // DINO, semantic positives
///   auto recipe = Method::recipe(selfsup::pairs::Semantic(table), settings);
///   auto encoder = make_encoder(Method::encoder(features, settings));
///
/// `methods::all` lists them, `pair_sources` (pair_sources.hpp) lists the sources; `train`
/// compiles their product (every pair the method accepts) and prints its listing from their Info.
/// A new method is a class template with the members method.hpp names, and one entry in `all`.

#include <selfsup/methods/contrastive.hpp>
#include <selfsup/methods/distillation.hpp>
#include <selfsup/methods/method.hpp>
#include <selfsup/methods/non_contrastive.hpp>
#include <selfsup/methods/pair_sources.hpp>

#include <array>
#include <cstddef>
#include <string_view>
#include <utility>

namespace selfsup::methods {

/// Every method, in the order `train --list` and docs/methods.md list them.
using all = List<SimCLR, MoCoV2, BYOL, SimSiam, BarlowTwins, VICReg, NNCLR, SupCon, DCL, DCLW, Debiased,
                 HardNegative, FNC, DINO, SwAV, MoCoV3>;

/// Whether method template M trains with pair source P.
template <template <class> class M, class P>
inline constexpr bool accepts = M<P>::accepts;

namespace detail {
template <class Methods>
struct infos_of;
template <template <class> class... M>
struct infos_of<List<M...>> {
  // Info does not depend on the pair source (a template template parameter has no defaults).
  static constexpr std::array<Info, sizeof...(M)> value{M<pairs::Augmented>::info...};
};
}  // namespace detail

/// The Info of every method in `Methods`, in its order.
template <class Methods = all>
inline constexpr auto infos = detail::infos_of<Methods>::value;

/// The Info of the method named `name` in `Methods`, or nullptr.
template <class Methods = all>
constexpr const Info* find(std::string_view name) {
  for (const auto& info : infos<Methods>) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

/// Calls `f.template operator()<I, M>()` for each method template M of `methods` with its
/// index I in the list.
template <template <class> class... M, class F>
constexpr void for_each_method(List<M...>, F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (f.template operator()<I, M>(), ...);
  }(std::make_index_sequence<sizeof...(M)>{});
}

/// Calls `f.template operator()<P>()` for each pair source P of `Sources`.
template <class... P, class F>
constexpr void for_each_pair_source(PairSourceList<P...>, F&& f) {
  (f.template operator()<P>(), ...);
}

}  // namespace selfsup::methods
