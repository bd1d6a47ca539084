#pragma once
/// \file
/// Internal: the machinery behind the role contracts of concepts.hpp. It tells a member that is
/// missing from a member that exists with another signature, and reports the second as two
/// compile errors: the first says what is wrong in a sentence, the second names the type, the
/// member, the signature expected and the one found:
///
///   error: static assertion failed: selfsup: a member of a policy, encoder or hook has another
///   signature than the one selfsup calls (the next error names the type, the member, the
///   signature expected and the one found)
///   error: invalid application of 'sizeof' to incomplete type
///   'selfsup::contract::wrong_signature<MyHook, selfsup::member::on_log,
///    void(selfsup::contract::the_trainer&, const selfsup::StepLog&),
///    void (MyHook::*)(const selfsup::StepLog&)>'

#include <type_traits>

namespace selfsup::contract {

/// Named in the compiler's error when `Type` has a member `Member` whose signature is not
/// `Expected`; `Found` is the member's own type (a pointer to member), or
/// `overloaded_or_template` when the member has no single address. Never defined.
template <class Type, class Member, class Expected, class Found>
struct wrong_signature;

/// `Found` for a member that is overloaded or a template, whose type cannot be shown.
struct overloaded_or_template;

/// Stands for the selfsup::Trainer in the expected signatures of hooks.
struct the_trainer;

/// A `static constexpr` flag: the expected signature of `provides_groups`, `contrastive`, ...
struct static_constexpr_bool;

/// False for every T; makes the static assertion below depend on the reported type.
template <class T>
inline constexpr bool never = false;

/// Instantiated only for a member with the wrong signature: the static assertion is the first
/// error line, a sentence; the incomplete wrong_signature the second, naming the four types.
template <class Type, class Member, class Expected, class Found>
constexpr bool report_wrong_signature() {
  static_assert(never<Type>,
                "selfsup: a member of a policy, encoder or hook has another signature than the one "
                "selfsup calls (the next error names the type, the member, the signature expected "
                "and the one found)");
  return sizeof(wrong_signature<Type, Member, Expected, Found>) > 0;
}

}  // namespace selfsup::contract

/// Declares the tag `selfsup::member::NAME` and `selfsup::detail::probe::NAME<T>()`: whether the
/// class T has any member called NAME (function, overload set, template, static or data member),
/// whatever its signature; and `selfsup::detail::probe::NAME_found<T>`, its type.
/// Found by the classic ambiguity test: T and a base with an `int NAME` both name it.
#define SELFSUP_DETAIL_MEMBER_PROBE(NAME)                                                      \
  namespace selfsup::member {                                                                  \
  struct NAME;                                                                                 \
  }                                                                                            \
  namespace selfsup::detail::probe {                                                           \
  struct NAME##_fallback {                                                                     \
    int NAME;                                                                                  \
  };                                                                                           \
  template <class T>                                                                           \
  struct NAME##_both : T, NAME##_fallback {};                                                  \
  template <class T>                                                                           \
  constexpr bool NAME() {                                                                      \
    if constexpr (std::is_class_v<T> && !std::is_final_v<T>) {                                 \
      return !requires { &NAME##_both<T>::NAME; };                                             \
    } else {                                                                                   \
      return false;                                                                            \
    }                                                                                          \
  }                                                                                            \
  template <class T>                                                                           \
  auto NAME##_type() {                                                                         \
    if constexpr (requires { &T::NAME; }) {                                                    \
      return std::type_identity<decltype(&T::NAME)>{};                                         \
    } else {                                                                                   \
      return std::type_identity<::selfsup::contract::overloaded_or_template>{};                \
    }                                                                                          \
  }                                                                                            \
  template <class T>                                                                           \
  using NAME##_found = typename decltype(NAME##_type<T>())::type;                             \
  }

// The names of every member the role contracts of concepts.hpp state.
SELFSUP_DETAIL_MEMBER_PROBE(size)
SELFSUP_DETAIL_MEMBER_PROBE(images)
SELFSUP_DETAIL_MEMBER_PROBE(labels)
SELFSUP_DETAIL_MEMBER_PROBE(device)
SELFSUP_DETAIL_MEMBER_PROBE(prefetch)
SELFSUP_DETAIL_MEMBER_PROBE(sources)
SELFSUP_DETAIL_MEMBER_PROBE(first)
SELFSUP_DETAIL_MEMBER_PROBE(second)
SELFSUP_DETAIL_MEMBER_PROBE(crops)
SELFSUP_DETAIL_MEMBER_PROBE(provides_groups)
SELFSUP_DETAIL_MEMBER_PROBE(sample)
SELFSUP_DETAIL_MEMBER_PROBE(bind)
SELFSUP_DETAIL_MEMBER_PROBE(eligible_anchors)
SELFSUP_DETAIL_MEMBER_PROBE(on_embeddings)
SELFSUP_DETAIL_MEMBER_PROBE(after_step)
SELFSUP_DETAIL_MEMBER_PROBE(save)
SELFSUP_DETAIL_MEMBER_PROBE(load)
SELFSUP_DETAIL_MEMBER_PROBE(provides_negatives)
SELFSUP_DETAIL_MEMBER_PROBE(needs_groups)
SELFSUP_DETAIL_MEMBER_PROBE(negatives)
SELFSUP_DETAIL_MEMBER_PROBE(provides_bank)
SELFSUP_DETAIL_MEMBER_PROBE(contrastive)
SELFSUP_DETAIL_MEMBER_PROBE(needs_bank)
SELFSUP_DETAIL_MEMBER_PROBE(masks_false_negatives)
SELFSUP_DETAIL_MEMBER_PROBE(needs_predictor)
SELFSUP_DETAIL_MEMBER_PROBE(needs_target)
SELFSUP_DETAIL_MEMBER_PROBE(needs_prototypes)
SELFSUP_DETAIL_MEMBER_PROBE(multi_crop)
SELFSUP_DETAIL_MEMBER_PROBE(has_predictor)
SELFSUP_DETAIL_MEMBER_PROBE(predict)
SELFSUP_DETAIL_MEMBER_PROBE(has_target)
SELFSUP_DETAIL_MEMBER_PROBE(target_forward)
SELFSUP_DETAIL_MEMBER_PROBE(update_target)
SELFSUP_DETAIL_MEMBER_PROBE(has_prototypes)
SELFSUP_DETAIL_MEMBER_PROBE(prototypes)
SELFSUP_DETAIL_MEMBER_PROBE(before_step)
SELFSUP_DETAIL_MEMBER_PROBE(after_backward)
SELFSUP_DETAIL_MEMBER_PROBE(on_log)
SELFSUP_DETAIL_MEMBER_PROBE(on_epoch_end)

namespace selfsup::member {
struct call_operator;  ///< operator()
}
namespace selfsup::detail::probe {
struct call_operator_fallback {
  void operator()();
};
template <class T>
struct call_operator_both : T, call_operator_fallback {};
template <class T>
constexpr bool call_operator() {
  if constexpr (std::is_class_v<T> && !std::is_final_v<T>) {
    return !requires { &call_operator_both<T>::operator(); };
  } else {
    return false;
  }
}
template <class T>
auto call_operator_type() {
  if constexpr (requires { &T::operator(); }) {
    return std::type_identity<decltype(&T::operator())>{};
  } else {
    return std::type_identity<::selfsup::contract::overloaded_or_template>{};
  }
}
template <class T>
using call_operator_found = typename decltype(call_operator_type<T>())::type;
}  // namespace selfsup::detail::probe


namespace selfsup::detail {

/// Checks one member of a role's contract on `T`:
///   `present`  T has a member of that name, `valid` it has the expected signature.
/// A member present with another signature is a compile error (report_wrong_signature).
/// Returns whether the member is missing altogether (for required members, which the caller
/// reports with its own message).
template <class T, class Member, class Expected, class Found, bool present, bool valid>
constexpr bool member_missing() {
  if constexpr (present && !valid) {
    return !contract::report_wrong_signature<T, Member, Expected, Found>();
  } else {
    return !valid;
  }
}

}  // namespace selfsup::detail

namespace selfsup::contract {

/// The module a module holder holds (LibTorch's TORCH_MODULE pattern), or T itself.
template <class T>
struct held {
  using type = T;
};
template <class T>
  requires requires { typename T::ContainedType; }
struct held<T> {
  using type = typename T::ContainedType;
};

/// Checks one member: a compile error if present with another signature. True when it is
/// missing (required members are then reported by the caller with their declaration).
template <class Type, class M>
constexpr bool missing() {
  return detail::member_missing<Type, typename M::member, typename M::expected, typename M::found,
                                M::present, M::valid>();
}
/// Checks optional members; always true (an error is a compile error).
template <class Type, class... Ms>
constexpr bool optional_members() {
  ((void)missing<Type, Ms>(), ...);
  return true;
}

}  // namespace selfsup::contract
