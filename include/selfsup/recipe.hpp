#pragma once
/// \file
/// selfsup::Recipe: one policy per role of a training step, composed at compile time.
///
///   using SimCLR = selfsup::Recipe<views::CropFlip, pairs::Augmented, negatives::InBatch,
///                                  losses::NTXent>;
///   using SimCLRWithMyPairs = SimCLR::with_pairs<MyPairs>;   // one role rebound in one line
///
/// Instantiating a Recipe checks every requirement of concepts.hpp separately, then the rules
/// that tie the roles together, and stops at the first broken one with a message that names it.

#include <selfsup/concepts.hpp>
#include <selfsup/types.hpp>

#include <torch/torch.h>

#include <concepts>
#include <type_traits>

namespace selfsup {

namespace detail {

/// The rules that tie the roles together, each written once: check_recipe asserts them one by
/// one with a message each, and Recipe::valid is their conjunction. Meaningful only once every
/// role is complete (`roles_valid`).
template <class V, class P, class N, class L>
struct recipe_rules {
  using PT = pair_source_traits<P>;
  using NT = negative_traits<N>;
  using LT = loss_traits<L>;
  static constexpr bool roles_valid = Views<V> && PairSource<P> && NegativeStrategy<N> && Loss<L>;
  /// A contrastive loss is given negatives.
  static constexpr bool contrastive_has_negatives = !LT::contrastive || NT::provides_negatives;
  /// A non-contrastive loss is given none.
  static constexpr bool non_contrastive_has_none = LT::contrastive || !NT::provides_negatives;
  /// Masking by semantic group has the groups from the pair source.
  static constexpr bool groups_provided = !NT::needs_groups || PT::provides_groups;
  /// Masking by semantic group reaches a contrastive loss that applies the mask.
  static constexpr bool mask_applied =
      !NT::needs_groups || !LT::contrastive || LT::masks_false_negatives;
  /// A loss that contrasts against a bank is given one.
  static constexpr bool bank_provided = !LT::contrastive || !LT::needs_bank || NT::provides_bank;
  /// A bank is given only to a loss that reads it.
  static constexpr bool bank_read = !LT::contrastive || LT::needs_bank || !NT::provides_bank;
  /// Multi-crop views go to a loss that reads the local crops.
  static constexpr bool crops_read = !MultiCropGenerator<V> || LT::multi_crop;
  static constexpr bool all = roles_valid && contrastive_has_negatives && non_contrastive_has_none &&
                              groups_provided && mask_applied && bank_provided && bank_read &&
                              crops_read;
};

/// Checks every requirement of each role separately, so that the message names the missing
/// member, then the rules between roles. Instantiated where a recipe is used: when a Recipe
/// object is created, and by selfsup::Trainer. Naming a Recipe type (to rebind a role through an
/// intermediate combination) does not trigger it.
template <class V, class P, class N, class L>
constexpr bool check_recipe() {
  namespace c = contract;
  // A ViewPairGenerator's first/second, else operator(): each checked for its signature.
  constexpr bool pair_views = c::first<V>::present || c::second<V>::present;
  if constexpr (c::crops<V>::present) {
    static_assert(!c::missing<V, c::crops<V>>());  // a wrong signature is reported by name
  } else if constexpr (pair_views) {
    static_assert(!c::missing<V, c::first<V>>() && !c::missing<V, c::second<V>>(),
                  "selfsup::Recipe: the view generator (1st argument) has first(images) or "
                  "second(images) but not both: `torch::Tensor first(const torch::Tensor&)` and "
                  "`torch::Tensor second(const torch::Tensor&)`");
  } else {
    static_assert(!c::missing<V, c::call<V>>(),
                  "selfsup::Recipe: the view generator (1st argument) needs a member "
                  "`torch::Tensor operator()(const torch::Tensor& images)`, or both "
                  "`first(images)` and `second(images)`");
  }
  static_assert(!c::missing<P, c::provides_groups<P>>(),
                "selfsup::Recipe: the pair source (2nd argument) has no member "
                "`static constexpr bool provides_groups`");
  static_assert(!c::missing<P, c::sample<P>>(),
                "selfsup::Recipe: the pair source (2nd argument) has no member "
                "`selfsup::PairBatch sample(const torch::Tensor& anchors)`");
  static_assert(!c::missing<N, c::provides_negatives<N>>(),
                "selfsup::Recipe: the negative strategy (3rd argument) has no member "
                "`static constexpr bool provides_negatives`");
  static_assert(!c::missing<N, c::needs_groups<N>>(),
                "selfsup::Recipe: the negative strategy (3rd argument) has no member "
                "`static constexpr bool needs_groups`");
  static_assert(!c::missing<N, c::negatives<N>>(),
                "selfsup::Recipe: the negative strategy (3rd argument) has no member "
                "`selfsup::NegativeSet negatives(const selfsup::LossInput&, "
                "const selfsup::PairBatch&)`");
  static_assert(!c::missing<L, c::contrastive<L>>(),
                "selfsup::Recipe: the loss (4th argument) has no member "
                "`static constexpr bool contrastive`");
  static_assert(!c::missing<L, c::loss_call<L>>(),
                "selfsup::Recipe: the loss (4th argument) has no member "
                "`torch::Tensor operator()(const selfsup::LossInput&)`");
  // Optional members: present with another signature is a compile error naming it.
  c::views_optional<V>();
  c::pair_source_optional<P>();
  c::negatives_optional<N>();
  c::loss_optional<L>();

  // Rules between roles, checked only once each role is complete.
  using rules = recipe_rules<V, P, N, L>;
  constexpr bool complete = rules::roles_valid;
  static_assert(!complete || rules::contrastive_has_negatives,
                "selfsup::Recipe: the loss is contrastive and needs negatives, but the negative "
                "strategy provides none (negatives::None); use negatives::InBatch, or a "
                "non-contrastive loss");
  static_assert(!complete || rules::non_contrastive_has_none,
                "selfsup::Recipe: the loss is non-contrastive (BYOL, SimSiam, Barlow Twins, "
                "VICReg) and takes no negatives, but the negative strategy provides them; use "
                "negatives::None");
  static_assert(!complete || rules::groups_provided,
                "selfsup::Recipe: the negative strategy masks false negatives by semantic "
                "group, but the pair source provides no group ids (provides_groups is false)");
  static_assert(!complete || rules::mask_applied,
                "selfsup::Recipe: the negative strategy masks false negatives by semantic group "
                "(negatives::InBatchMasked), but the loss ignores the mask "
                "(masks_false_negatives is false): use losses::NTXent or losses::SupCon, or "
                "negatives::InBatch");
  static_assert(!complete || rules::bank_provided,
                "selfsup::Recipe: the loss contrasts against a bank of negatives (MoCo's queue), "
                "but the negative strategy provides none; use negatives::Queue");
  static_assert(!complete || rules::bank_read,
                "selfsup::Recipe: the negative strategy provides a bank of negatives (a queue), "
                "which this loss does not use; use losses::InfoNCE, or negatives::InBatch");
  static_assert(!complete || rules::crops_read,
                "selfsup::Recipe: the view generator makes multi-crop views (views::MultiCrop), but the "
                "loss reads two views only (z0, z1) and would ignore the local crops; use a multi-crop loss "
                "(losses::DINO, losses::SwAV), or a two-view generator");
  return true;
}

// An empty member whose initialiser runs check_recipe when a Recipe object is created.
struct RecipeChecked {
  constexpr explicit RecipeChecked(bool) {}
};

}  // namespace detail

/// One policy per role: view generation, positive-pair source, negative strategy, loss.
/// A plain aggregate holding the policy objects, so that options are set with designated
/// initialisers: `SimCLR{.loss = losses::NTXent{{.temperature = 0.2}}}`.
template <class V, class P, class N, class L>
struct Recipe {
  /// True when every role satisfies its concept.
  static constexpr bool roles_valid = detail::recipe_rules<V, P, N, L>::roles_valid;

  /// True when the recipe can be trained: every role complete and the roles compatible (the
  /// rules check_recipe asserts one by one).
  static constexpr bool valid = detail::recipe_rules<V, P, N, L>::all;

  using views_type = V;
  using pairs_type = P;
  using negatives_type = N;
  using loss_type = L;

  /// The same recipe with one role replaced. Rebinding may pass through an invalid combination
  /// (`BYOL::with_loss<X>::with_negatives<Y>`); only the recipe that is used is checked.
  template <class X> using with_views = Recipe<X, P, N, L>;
  template <class X> using with_pairs = Recipe<V, X, N, L>;
  template <class X> using with_negatives = Recipe<V, P, X, L>;
  template <class X> using with_loss = Recipe<V, P, N, X>;

  V views{};
  P pairs{};
  N negatives{};
  L loss{};
  [[no_unique_address]] detail::RecipeChecked checked_{detail::check_recipe<V, P, N, L>()};
};

namespace detail {
template <class T> struct is_recipe : std::false_type {};
template <class V, class P, class N, class L>
struct is_recipe<Recipe<V, P, N, L>> : std::true_type {};
}  // namespace detail

/// True for every selfsup::Recipe<...>.
template <class T>
inline constexpr bool is_recipe_v = detail::is_recipe<std::remove_cvref_t<T>>::value;

namespace detail {
/// check_recipe for a Recipe type; true for anything else (reported on its own by the caller).
template <class R>
constexpr bool check_recipe_type() {
  if constexpr (is_recipe_v<R>) {
    return check_recipe<typename R::views_type, typename R::pairs_type,
                        typename R::negatives_type, typename R::loss_type>();
  } else {
    return true;
  }
}
}  // namespace detail

}  // namespace selfsup
