#pragma once
/// \file
/// The contract of the roles of a training step. For each member of a dataset, view generator,
/// pair source, negative strategy and loss, for the encoder's optional members and for a hook's,
/// `contract::NAME<T>` holds its expected signature and whether T meets it; the role concepts
/// (but Encoder), the flags' defaults (`*_traits`), Recipe's member checks and the Trainer's
/// detection of optional members derive from these. Not here: the encoder's required members
/// (the Encoder concept below states them itself), the view generators' overloads on
/// views::ImageSources (train/forward.hpp, takes_sources) and the rules between roles
/// (recipe.hpp, detail::recipe_rules). A member that exists with another signature than the one
/// stated here is a compile error that says so and names the type, the member, the signature
/// expected and the one found (see detail/contract.hpp); a missing required member is reported
/// by selfsup::Recipe or selfsup::Trainer with the member's declaration.

#include <selfsup/detail/contract.hpp>
#include <selfsup/types.hpp>
#include <selfsup/views/image_sources.hpp>

#include <torch/torch.h>

#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

namespace selfsup {
struct StepLog;
struct EpochEnd;
}  // namespace selfsup

/// `contract::NAME<T>`: the member NAME of T, with `expected` (its signature, as the error shows
/// it), `present` (T has a member of that name), `valid` (with the expected signature) and
/// `found` (what T has). `U` is T itself, or the module behind a module holder (encoders).
#define SELFSUP_DETAIL_CONTRACT(NAME, EXPECTED, ...)                                            \
  template <class T, class U = T>                                                              \
  struct NAME {                                                                                \
    using member = ::selfsup::member::NAME;                                                    \
    using expected = EXPECTED;                                                                 \
    static constexpr bool present = ::selfsup::detail::probe::NAME<U>();                       \
    static constexpr bool valid = __VA_ARGS__;                                                 \
    using found = ::selfsup::detail::probe::NAME##_found<U>;                                   \
  };

namespace selfsup::contract {
using torch::Tensor;
using Archive = torch::serialize::OutputArchive;
using InArchive = torch::serialize::InputArchive;

// ---- Dataset: a random-access image collection ------------------------------------------------
SELFSUP_DETAIL_CONTRACT(size, int64_t() const, requires(const T& d) { { d.size() } -> std::convertible_to<int64_t>; })
SELFSUP_DETAIL_CONTRACT(images, Tensor(const Tensor& indices) const,
                        requires(const T& d, const Tensor& i) { { d.images(i) } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(labels, Tensor(const Tensor& indices) const,
                        requires(const T& d, const Tensor& i) { { d.labels(i) } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(device, torch::Device() const,
                        requires(const T& d) { { d.device() } -> std::convertible_to<torch::Device>; })
SELFSUP_DETAIL_CONTRACT(prefetch, void(const Tensor& indices) const,
                        requires(const T& d, const Tensor& i) { d.prefetch(i); })
SELFSUP_DETAIL_CONTRACT(sources, std::optional<views::ImageSources>(const Tensor& indices) const,
                        requires(const T& d, const Tensor& i) {
                          { d.sources(i) } -> std::convertible_to<std::optional<views::ImageSources>>;
                        })

// ---- views ----------------------------------------------------------------------------------
SELFSUP_DETAIL_CONTRACT(first, Tensor(const Tensor& images),
                        requires(T& v, const Tensor& x) { { v.first(x) } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(second, Tensor(const Tensor& images),
                        requires(T& v, const Tensor& x) { { v.second(x) } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(crops, MultiCropViews(const Tensor& anchors, const Tensor& partners),
                        requires(T& v, const Tensor& a, const Tensor& p) {
                          { v.crops(a, p) } -> std::same_as<MultiCropViews>;
                        })

// ---- members any policy may have --------------------------------------------------------------
SELFSUP_DETAIL_CONTRACT(after_step, void(const LossInput&), requires(T& p, const LossInput& in) { p.after_step(in); })
SELFSUP_DETAIL_CONTRACT(save, void(torch::serialize::OutputArchive&) const,
                        requires(const T& p, Archive& a) { p.save(a); })
SELFSUP_DETAIL_CONTRACT(load, void(torch::serialize::InputArchive&), requires(T& p, InArchive& a) { p.load(a); })

// ---- PairSource -----------------------------------------------------------------------------
SELFSUP_DETAIL_CONTRACT(provides_groups, static_constexpr_bool,
                        requires { { T::provides_groups } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(sample, PairBatch(const Tensor& anchors),
                        requires(T& p, const Tensor& a) { { p.sample(a) } -> std::same_as<PairBatch>; })
SELFSUP_DETAIL_CONTRACT(bind, void(const DatasetInfo&), requires(T& p, const DatasetInfo& i) { p.bind(i); })
SELFSUP_DETAIL_CONTRACT(eligible_anchors, Tensor() const,
                        requires(const T& p) { { p.eligible_anchors() } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(on_embeddings, void(LossInput&, const PairBatch&),
                        requires(T& p, LossInput& in, const PairBatch& b) { p.on_embeddings(in, b); })

// ---- NegativeStrategy -------------------------------------------------------------------------
SELFSUP_DETAIL_CONTRACT(provides_negatives, static_constexpr_bool,
                        requires { { T::provides_negatives } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(needs_groups, static_constexpr_bool,
                        requires { { T::needs_groups } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(negatives, NegativeSet(const LossInput&, const PairBatch&),
                        requires(T& n, const LossInput& in, const PairBatch& b) {
                          { n.negatives(in, b) } -> std::same_as<NegativeSet>;
                        })
SELFSUP_DETAIL_CONTRACT(provides_bank, static_constexpr_bool,
                        requires { { T::provides_bank } -> std::convertible_to<bool>; })

// ---- Loss -----------------------------------------------------------------------------------
SELFSUP_DETAIL_CONTRACT(contrastive, static_constexpr_bool,
                        requires { { T::contrastive } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(needs_bank, static_constexpr_bool, requires { { T::needs_bank } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(masks_false_negatives, static_constexpr_bool,
                        requires { { T::masks_false_negatives } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(needs_predictor, static_constexpr_bool,
                        requires { { T::needs_predictor } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(needs_target, static_constexpr_bool,
                        requires { { T::needs_target } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(needs_prototypes, static_constexpr_bool,
                        requires { { T::needs_prototypes } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(multi_crop, static_constexpr_bool,
                        requires { { T::multi_crop } -> std::convertible_to<bool>; })

// ---- Encoder (a module holder: members are reached through ->) --------------------------------
SELFSUP_DETAIL_CONTRACT(has_predictor, bool() const, requires(T& e) { { e->has_predictor() } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(predict, Tensor(const Tensor& z),
                        requires(T& e, const Tensor& z) { { e->predict(z) } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(has_target, bool() const, requires(T& e) { { e->has_target() } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(target_forward, Tensor(const Tensor& x),
                        requires(T& e, const Tensor& x) { { e->target_forward(x) } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(update_target, void(double progress), requires(T& e, double p) { e->update_target(p); })
SELFSUP_DETAIL_CONTRACT(has_prototypes, bool() const,
                        requires(T& e) { { e->has_prototypes() } -> std::convertible_to<bool>; })
SELFSUP_DETAIL_CONTRACT(prototypes, Tensor(), requires(T& e) { { e->prototypes() } -> std::same_as<Tensor>; })
SELFSUP_DETAIL_CONTRACT(before_step, void(int64_t step), requires(T& e, int64_t s) { e->before_step(s); })
SELFSUP_DETAIL_CONTRACT(after_backward, void(int64_t step), requires(T& e, int64_t s) { e->after_backward(s); })

// ---- operator(): the view generator's call ---------------------------------------------------
template <class T, class U = T>
struct call {
  using member = ::selfsup::member::call_operator;
  using expected = Tensor(const Tensor& images);
  static constexpr bool present = ::selfsup::detail::probe::call_operator<U>();
  static constexpr bool valid = requires(T& v, const Tensor& x) { { v(x) } -> std::same_as<Tensor>; };
  using found = ::selfsup::detail::probe::call_operator_found<U>;
};
template <class T, class U = T>
struct loss_call {
  using member = ::selfsup::member::call_operator;
  using expected = Tensor(const LossInput&);
  static constexpr bool present = ::selfsup::detail::probe::call_operator<U>();
  static constexpr bool valid = requires(T& l, const LossInput& in) { { l(in) } -> std::same_as<Tensor>; };
  using found = ::selfsup::detail::probe::call_operator_found<U>;
};

// ---- hooks passed to Trainer::fit; Tr is the trainer's type -------------------------------------
template <class T, class Tr>
struct on_log {
  using member = ::selfsup::member::on_log;
  using expected = void(the_trainer&, const StepLog&);
  static constexpr bool present = ::selfsup::detail::probe::on_log<T>();
  static constexpr bool valid = requires(T& h, Tr& t, const StepLog& s) { h.on_log(t, s); };
  using found = ::selfsup::detail::probe::on_log_found<T>;
};
template <class T, class Tr>
struct on_epoch_end {
  using member = ::selfsup::member::on_epoch_end;
  using expected = void(the_trainer&, const EpochEnd&);
  static constexpr bool present = ::selfsup::detail::probe::on_epoch_end<T>();
  static constexpr bool valid = requires(T& h, Tr& t, const EpochEnd& e) { h.on_epoch_end(t, e); };
  using found = ::selfsup::detail::probe::on_epoch_end_found<T>;
};

/// The optional members of each role, checked for their signatures (a compile error names a
/// member that exists with another one). Always true.
template <class V>
constexpr bool views_optional() {
  return optional_members<V, after_step<V>, save<V>, load<V>>();
}
template <class P>
constexpr bool pair_source_optional() {
  return optional_members<P, bind<P>, eligible_anchors<P>, on_embeddings<P>, after_step<P>, save<P>, load<P>>();
}
template <class N>
constexpr bool negatives_optional() {
  return optional_members<N, provides_bank<N>, after_step<N>, save<N>, load<N>>();
}
template <class L>
constexpr bool loss_optional() {
  return optional_members<L, needs_bank<L>, masks_false_negatives<L>, needs_predictor<L>, needs_target<L>,
                          needs_prototypes<L>, multi_crop<L>, after_step<L>, save<L>, load<L>>();
}

}  // namespace selfsup::contract

#undef SELFSUP_DETAIL_CONTRACT

namespace selfsup {

/// A random-access image collection.
///   d.size()           -> int64_t        number of images
///   d.images(indices)  -> torch::Tensor  uint8 (B, C, H, W) on d.device(); `indices` int64 (B)
///   d.labels(indices)  -> torch::Tensor  int64 (B), or an undefined tensor without labels
///   d.device()         -> torch::Device  where images are returned
/// Optional:
///   void prefetch(const torch::Tensor& indices) const   start loading the next batch (the
///                                                        trainer calls it with the next anchors)
///   std::optional<views::ImageSources> sources(const torch::Tensor& indices) const
///                                  the full images views are cut from, when not images(): a
///                                  view generator that takes views::ImageSources then draws each
///                                  view's box on them (an image folder decodes only that box)
template <class D>
concept Dataset = contract::size<D>::valid && contract::images<D>::valid && contract::labels<D>::valid &&
                  contract::device<D>::valid;

/// Turns a batch of raw images into one view each, in one batched call on the input's device.
///   torch::Tensor operator()(const torch::Tensor& images)
///       images uint8 or float (B, C, H, W); result float (B, C, h, w)
/// The same generator is applied independently to both sides of a pair.
template <class V>
concept ViewGenerator = contract::call<V>::valid;

/// Different view generators for the two sides of a pair (BYOL's asymmetric views, or no
/// augmentation on semantic partners).
///   torch::Tensor first(const torch::Tensor& images)    views of the anchors
///   torch::Tensor second(const torch::Tensor& images)   views of the partners
template <class V>
concept ViewPairGenerator = contract::first<V>::valid && contract::second<V>::valid;

/// What a Recipe's view slot accepts. Optional, as for every policy below:
///   void after_step(const selfsup::LossInput&)            after the optimiser step
///   void save(torch::serialize::OutputArchive&) const     per-run state (random generators,
///   void load(torch::serialize::InputArchive&)            queues), saved with checkpoints
/// Multi-crop views (views::MultiCrop): two global views, the first of each anchor and the second
/// of its partner, and k local views drawn from both (SwAV, DINO).
///   selfsup::MultiCropViews crops(const torch::Tensor& anchors, const torch::Tensor& partners)
/// `partners` may be the same tensor as `anchors` (two views of one image). Its loss must read the
/// local views (`static constexpr bool multi_crop = true`).
template <class V>
concept MultiCropGenerator = contract::crops<V>::valid;

template <class V>
concept Views = ViewGenerator<V> || ViewPairGenerator<V> || MultiCropGenerator<V>;

/// Picks each anchor's partner.
///   static constexpr bool provides_groups      whether PairBatch::groups is filled
///   selfsup::PairBatch sample(const torch::Tensor& anchors)
///                                              anchors int64 (B) on the training device
/// Optional:
///   void bind(const selfsup::DatasetInfo&)     once before training (labels, dataset size)
///   torch::Tensor eligible_anchors() const     after bind: int64 indices of the anchors an epoch
///                                              draws from (undefined: all), e.g. only anchors
///                                              that have a semantic partner
///   void on_embeddings(selfsup::LossInput&, const selfsup::PairBatch&)
///                                              after the encoder, before the loss (NNCLR swaps
///                                              in a support-set neighbour)
///   after_step, save, load                     as for Views
template <class P>
concept PairSource = contract::provides_groups<P>::valid && contract::sample<P>::valid;

/// What each anchor is contrasted against.
///   static constexpr bool provides_negatives   false only for "no negatives"
///   static constexpr bool needs_groups         it reads PairBatch::groups and hands them to the
///                                              loss as NegativeSet::groups (false-negative
///                                              masking)
///   selfsup::NegativeSet negatives(const selfsup::LossInput&, const selfsup::PairBatch&)
/// Optional:
///   static constexpr bool provides_bank        (default false) hands the loss NegativeSet::bank
///   after_step (enqueue keys), save, load
template <class N>
concept NegativeStrategy = contract::provides_negatives<N>::valid && contract::needs_groups<N>::valid &&
                           contract::negatives<N>::valid;

/// The training objective.
///   static constexpr bool contrastive          true when it consumes negatives
///   torch::Tensor operator()(const selfsup::LossInput&)   a 0-dim differentiable tensor
/// Optional:
///   static constexpr bool needs_bank           (default false) contrasts against NegativeSet::bank
///   static constexpr bool masks_false_negatives (default false) leaves NegativeSet::groups'
///                                              same-group samples out of each anchor's negatives;
///                                              a strategy with needs_groups requires it
///   static constexpr bool needs_target         (default false) reads LossInput::t0/t1: the
///                                              encoder must have a momentum target (DINO's teacher)
///   static constexpr bool needs_prototypes     (default false) reads LossInput::prototypes: the
///                                              encoder must have prototypes (SwAV)
///   static constexpr bool multi_crop           (default false) reads LossInput::local, the local
///                                              views of a multi-crop generator
///   static constexpr bool needs_predictor      (default false) reads LossInput::p0/p1: the
///                                              encoder must have a predictor head
///   after_step, save, load
template <class L>
concept Loss = contract::contrastive<L>::valid && contract::loss_call<L>::valid;

/// A module holder (LibTorch's `TORCH_MODULE` pattern) for backbone + projector.
///   e->forward(x)     -> torch::Tensor   projections (B, D) that the loss consumes
///   e->features(x)    -> torch::Tensor   backbone representation (B, F) for evaluation
///   e->parameters()   -> std::vector<torch::Tensor>
///   e->train(bool), e->to(torch::Device)
/// Optional, each group all or nothing:
///   bool has_predictor() const; torch::Tensor predict(const torch::Tensor& z)
///       a predictor head on the projections (BYOL, SimSiam)
///   bool has_target() const; torch::Tensor target_forward(const torch::Tensor& x);
///   void update_target(double progress)
///       a momentum target (BYOL, MoCo), updated after each step at progress in [0, 1]
///   bool has_prototypes() const; torch::Tensor prototypes()
///       prototypes (K, D) that the loss scores projections against (SwAV)
/// and, each on its own:
///   void before_step(int64_t step)      before the forward pass of step `step` (0-based)
///   void after_backward(int64_t step)   between its backward pass and the optimiser step
template <class E>
concept Encoder = requires(E& e, const torch::Tensor& x, const torch::Device& device) {
  { e->forward(x) } -> std::same_as<torch::Tensor>;
  { e->features(x) } -> std::same_as<torch::Tensor>;
  { e->parameters() } -> std::same_as<std::vector<torch::Tensor>>;
  e->train(true);
  e->to(device);
};

namespace contract {
template <class E>
using predict_of = predict<E, typename held<E>::type>;
template <class E>
using has_predictor_of = has_predictor<E, typename held<E>::type>;
template <class E>
using target_forward_of = target_forward<E, typename held<E>::type>;
template <class E>
using has_target_of = has_target<E, typename held<E>::type>;
template <class E>
using update_target_of = update_target<E, typename held<E>::type>;
template <class E>
using has_prototypes_of = has_prototypes<E, typename held<E>::type>;
template <class E>
using prototypes_of = prototypes<E, typename held<E>::type>;
template <class E>
using before_step_of = before_step<E, typename held<E>::type>;
template <class E>
using after_backward_of = after_backward<E, typename held<E>::type>;
}  // namespace contract

/// Whether the encoder type has the prototype members (SwAV).
template <class E>
inline constexpr bool has_prototype_members_v =
    contract::has_prototypes_of<E>::valid && contract::prototypes_of<E>::valid;

/// Whether the encoder type has the predictor members, or the momentum-target members.
template <class E>
inline constexpr bool has_predictor_members_v =
    contract::has_predictor_of<E>::valid && contract::predict_of<E>::valid;
template <class E>
inline constexpr bool has_target_members_v = contract::has_target_of<E>::valid &&
                                             contract::target_forward_of<E>::valid &&
                                             contract::update_target_of<E>::valid;

// A flag's value, or its default when the type does not declare it.
#define SELFSUP_DETAIL_FLAG(T, NAME, DEFAULT) \
  [] {                                        \
    if constexpr (contract::NAME<T>::valid) { \
      return static_cast<bool>(T::NAME);      \
    } else {                                  \
      return DEFAULT;                         \
    }                                         \
  }()

/// The flags of a pair source, negative strategy and loss, with the defaults of the optional
/// ones. A required flag that is missing reads false here and is reported by selfsup::Recipe.
template <class P>
struct pair_source_traits {
  static constexpr bool provides_groups = SELFSUP_DETAIL_FLAG(P, provides_groups, false);
};
template <class N>
struct negative_traits {
  static constexpr bool provides_negatives = SELFSUP_DETAIL_FLAG(N, provides_negatives, false);
  static constexpr bool needs_groups = SELFSUP_DETAIL_FLAG(N, needs_groups, false);
  static constexpr bool provides_bank = SELFSUP_DETAIL_FLAG(N, provides_bank, false);
};
template <class L>
struct loss_traits {
  static constexpr bool contrastive = SELFSUP_DETAIL_FLAG(L, contrastive, false);
  static constexpr bool needs_bank = SELFSUP_DETAIL_FLAG(L, needs_bank, false);
  static constexpr bool masks_false_negatives = SELFSUP_DETAIL_FLAG(L, masks_false_negatives, false);
  static constexpr bool needs_predictor = SELFSUP_DETAIL_FLAG(L, needs_predictor, false);
  static constexpr bool needs_target = SELFSUP_DETAIL_FLAG(L, needs_target, false);
  static constexpr bool needs_prototypes = SELFSUP_DETAIL_FLAG(L, needs_prototypes, false);
  static constexpr bool multi_crop = SELFSUP_DETAIL_FLAG(L, multi_crop, false);
};

#undef SELFSUP_DETAIL_FLAG

}  // namespace selfsup
