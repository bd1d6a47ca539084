// The loss policies: what each reads from LossInput, and that it computes the functional loss.
#include "../support.hpp"

#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
using selfsup::test::throws_with;
namespace ss = selfsup;
namespace fn = selfsup::functional;

static_assert(ss::Loss<ss::losses::NTXent> && ss::Loss<ss::losses::InfoNCE> && ss::Loss<ss::losses::DCL> &&
              ss::Loss<ss::losses::DCLW> && ss::Loss<ss::losses::Debiased> &&
              ss::Loss<ss::losses::HardNegative> && ss::Loss<ss::losses::SupCon> &&
              ss::Loss<ss::losses::BYOL> && ss::Loss<ss::losses::SimSiam> &&
              ss::Loss<ss::losses::BarlowTwins> && ss::Loss<ss::losses::VICReg>);
static_assert(!ss::losses::BYOL::contrastive && !ss::losses::VICReg::contrastive);
static_assert(ss::losses::SupCon::contrastive && ss::losses::InfoNCE::needs_bank);

namespace {
ss::LossInput in_batch(torch::Tensor z0, torch::Tensor z1) {
  ss::LossInput in;
  in.z0 = std::move(z0);
  in.z1 = std::move(z1);
  in.negatives.in_batch = true;
  return in;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(losses_tests)

BOOST_AUTO_TEST_CASE(contrastive_policies_compute_the_functional_losses) {
  auto z0 = reference("nt_xent.0.z0"), z1 = reference("nt_xent.0.z1");
  auto in = in_batch(z0, z1);
  BOOST_TEST(max_abs_diff(ss::losses::NTXent{{.temperature = 0.3}}(in), fn::nt_xent(z0, z1, {.temperature = 0.3})) == 0.0);
  BOOST_TEST(max_abs_diff(ss::losses::NTXent{{.temperature = 0.3}, 5}(in), fn::nt_xent(z0, z1, {.temperature = 0.3})) < 1e-12);
  BOOST_TEST(max_abs_diff(ss::losses::DCL{}(in), fn::dcl(z0, z1)) == 0.0);
  BOOST_TEST(max_abs_diff(ss::losses::DCL{.block_size = 3}(in), fn::dcl(z0, z1)) < 1e-12);
  BOOST_TEST(max_abs_diff(ss::losses::DCLW{}(in), fn::dclw(z0, z1)) == 0.0);
  BOOST_TEST(max_abs_diff(ss::losses::Debiased{}(in), fn::debiased_nt_xent(z0, z1)) == 0.0);
  BOOST_TEST(max_abs_diff(ss::losses::HardNegative{}(in), fn::hard_nt_xent(z0, z1)) == 0.0);
  auto ids = torch::arange(z0.size(0), torch::kLong);
  BOOST_TEST(max_abs_diff(ss::losses::SupCon{}(in), fn::supcon(torch::stack({z0, z1}, 1), ids)) == 0.0);

  // Group ids: NTXent masks them, SupCon takes them as positives, the others refuse them.
  auto groups = torch::tensor({0, 1, 0, 1, 2, 2, 3, 3}, torch::kLong);
  auto masked = in;
  masked.negatives.groups = groups;
  masked.groups = groups;
  BOOST_TEST(max_abs_diff(ss::losses::NTXent{}(masked), fn::nt_xent_grouped(z0, z1, groups)) == 0.0);
  BOOST_TEST(max_abs_diff(ss::losses::SupCon{}(masked), fn::supcon(torch::stack({z0, z1}, 1), groups)) == 0.0);
  BOOST_TEST(throws_with([&] { ss::losses::DCL{}(masked); }, "selfsup::losses::DCL: does not mask false negatives"));

  ss::LossInput no_negatives;
  no_negatives.z0 = z0;
  no_negatives.z1 = z1;
  BOOST_TEST(throws_with([&] { ss::losses::NTXent{}(no_negatives); }, "NTXent: contrasts against the rest of the batch"));
  BOOST_TEST(throws_with([&] { ss::losses::InfoNCE{}(no_negatives); }, "InfoNCE: needs a bank of negatives"));
}

BOOST_AUTO_TEST_CASE(info_nce_uses_the_target_as_key) {
  auto q = reference("info_nce.0.query"), k = reference("info_nce.0.key"), bank = reference("info_nce.0.negatives");
  ss::LossInput in;
  in.z0 = q;
  in.z1 = torch::randn_like(k);  // ignored: the momentum target is the key
  in.t1 = k;
  in.negatives.bank = bank;
  ss::losses::InfoNCE loss{{.temperature = 0.2}};
  BOOST_TEST(max_abs_diff(loss(in), reference("info_nce.0.loss").squeeze()) < 1e-12);
  in.t0 = in.z1;
  ss::losses::InfoNCE symmetric{{.temperature = 0.2}, true};
  auto expected = 0.5 * (fn::info_nce(q, k, bank, {.temperature = 0.2}) + fn::info_nce(in.z1, in.z1, bank, {.temperature = 0.2}));
  BOOST_TEST(max_abs_diff(symmetric(in), expected) < 1e-12);
}

// BYOL: Σ over both directions of mean(2 − 2 cos(p, target)); targets get no gradient.
BOOST_AUTO_TEST_CASE(byol_and_simsiam_stop_gradients_at_the_targets) {
  auto gen = selfsup::detail::make_generator(torch::kCPU, 5);
  auto make = [&] { return torch::randn({6, 4}, gen, torch::kFloat64).requires_grad_(true); };
  ss::LossInput in;
  in.z0 = make(); in.z1 = make(); in.p0 = make(); in.p1 = make(); in.t0 = make(); in.t1 = make();
  auto cosine = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1));
  };
  auto byol = ss::losses::BYOL{}(in);
  auto expected = (2 - 2 * cosine(in.p0, in.t1)).mean() + (2 - 2 * cosine(in.p1, in.t0)).mean();
  BOOST_TEST(max_abs_diff(byol, expected) < 1e-12);
  byol.backward();
  BOOST_TEST(in.p0.grad().defined());
  BOOST_TEST(!in.t0.grad().defined());
  BOOST_TEST(!in.t1.grad().defined());
  BOOST_TEST(!in.z0.grad().defined());

  ss::LossInput s;
  s.z0 = make(); s.z1 = make(); s.p0 = make(); s.p1 = make();
  auto simsiam = ss::losses::SimSiam{}(s);
  BOOST_TEST(max_abs_diff(simsiam, -0.5 * (cosine(s.p0, s.z1).mean() + cosine(s.p1, s.z0).mean())) < 1e-12);
  simsiam.backward();
  BOOST_TEST(s.p1.grad().defined());
  BOOST_TEST(!s.z0.grad().defined());
  ss::LossInput no_predictor;
  no_predictor.z0 = s.z0; no_predictor.z1 = s.z1;
  BOOST_TEST(throws_with([&] { ss::losses::BYOL{}(no_predictor); }, "BYOL: needs the predictions p0 and p1"));
}

BOOST_AUTO_TEST_CASE(redundancy_reduction_policies) {
  auto z0 = reference("vicreg.0.z0"), z1 = reference("vicreg.0.z1");
  ss::LossInput in;
  in.z0 = z0; in.z1 = z1;
  BOOST_TEST(max_abs_diff(ss::losses::VICReg{}(in), reference("vicreg.0.loss").squeeze()) < 1e-10);
  BOOST_TEST(max_abs_diff(ss::losses::BarlowTwins{{.lambda = 0.1}}(in), fn::barlow_twins(z0, z1, {.lambda = 0.1})) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
