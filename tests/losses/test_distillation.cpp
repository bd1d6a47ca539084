// DINO, Sinkhorn-Knopp, SwAV and MoCo v3: values and gradients against the independent PyTorch
// computation of tests/reference/distillation.py (float64), Sinkhorn's marginals, and the
// policies' state (DINO's centre, SwAV's queue) through a checkpoint.
#include "../support.hpp"

#include <selfsup/losses/distillation.hpp>
#include <selfsup/losses/functional.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

using selfsup::test::max_abs_diff;
using selfsup::test::reference;
using selfsup::test::throws_with;
namespace ss = selfsup;
namespace fn = selfsup::functional;

namespace {
double scalar(const std::string& name) { return reference(name).item<double>(); }
int64_t count(const std::string& name) { return static_cast<int64_t>(scalar(name)); }

std::vector<torch::Tensor> chunks(const torch::Tensor& t, int64_t n) {
  auto parts = t.chunk(n, 0);
  return {parts.begin(), parts.end()};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(losses_tests)

BOOST_AUTO_TEST_CASE(dino_loss_matches_reference) {
  for (int c = 0; c < 3; ++c) {
    const std::string p = "dino." + std::to_string(c) + ".";
    auto student = reference(p + "student").requires_grad_(true);
    auto teacher = reference(p + "teacher").requires_grad_(true);
    auto center = reference(p + "center");
    const auto globals = count(p + "global");
    const auto b = teacher.size(0) / globals;
    const auto views = student.size(0) / b;
    auto loss = fn::dino_loss(chunks(teacher, globals), chunks(student, views), center,
                              {.teacher_temperature = scalar(p + "teacher_temperature"),
                               .student_temperature = scalar(p + "student_temperature")});
    BOOST_TEST(max_abs_diff(loss, reference(p + "loss").squeeze()) < 1e-12);
    loss.backward();
    BOOST_TEST(max_abs_diff(student.grad(), reference(p + "grad_student")) < 1e-12);
    BOOST_TEST(!teacher.grad().defined());  // no gradient to the teacher
    auto after = fn::dino_center_update(center, chunks(teacher.detach(), globals), 0.9);
    BOOST_TEST(max_abs_diff(after, reference(p + "center_after")) < 1e-14);
  }
  // float32 gives the float64 value to float precision.
  auto s = reference("dino.0.student").to(torch::kFloat32), t = reference("dino.0.teacher").to(torch::kFloat32);
  auto l32 = fn::dino_loss(chunks(t, 2), chunks(s, 5), reference("dino.0.center").to(torch::kFloat32));
  BOOST_TEST(l32.scalar_type() == torch::kFloat32);
  BOOST_TEST(max_abs_diff(l32, reference("dino.0.loss").squeeze()) < 1e-4);
}

BOOST_AUTO_TEST_CASE(dino_loss_refuses_bad_input_by_name) {
  auto a = torch::randn({4, 6}), b = torch::randn({4, 6}), center = torch::zeros({6});
  BOOST_TEST(throws_with([&] { fn::dino_loss({}, {a, b}, center); }, "selfsup::functional::dino_loss: teacher"));
  BOOST_TEST(throws_with([&] { fn::dino_loss({a, b}, {a}, center); }, "global views first"));
  BOOST_TEST(throws_with([&] { fn::dino_loss({a}, {a, torch::randn({4, 5})}, center); }, "student[1]"));
  BOOST_TEST(throws_with([&] { fn::dino_loss({a}, {a, b}, torch::zeros({5})); }, "center must have shape (6)"));
  BOOST_TEST(throws_with([&] { fn::dino_loss({a}, {a, b}, center, {.teacher_temperature = 0}); },
                         "teacher_temperature"));
  BOOST_TEST(throws_with([&] { fn::dino_loss({a}, {a, b.to(torch::kFloat64)}, center); }, "dtype"));
  auto nan = b.clone();
  nan[1][2] = std::numeric_limits<float>::quiet_NaN();
  BOOST_TEST(throws_with([&] { fn::dino_loss({a}, {a, nan}, center); }, "student[1]"));
}

BOOST_AUTO_TEST_CASE(sinkhorn_matches_reference_and_its_marginals) {
  for (int c = 0; c < 3; ++c) {
    const std::string p = "sinkhorn." + std::to_string(c) + ".";
    auto scores = reference(p + "scores").requires_grad_(true);
    auto codes = fn::sinkhorn(scores, {.iterations = count(p + "iterations"), .epsilon = scalar(p + "epsilon")});
    BOOST_TEST(max_abs_diff(codes, reference(p + "codes")) < 1e-12);
    BOOST_TEST(!codes.requires_grad());
    // After a round, each sample's codes sum to 1 (the last normalisation is over samples).
    if (count(p + "iterations") > 0) {
      BOOST_TEST(max_abs_diff(codes.sum(1), torch::ones({scores.size(0)}, torch::kFloat64)) < 1e-12);
    }
  }
  // Run to convergence, every prototype holds an equal share: columns sum to B / K.
  auto scores = reference("sinkhorn.0.scores");
  const double b = static_cast<double>(scores.size(0)), k = static_cast<double>(scores.size(1));
  auto converged = fn::sinkhorn(scores, {.iterations = 200, .epsilon = 0.5});
  BOOST_TEST(max_abs_diff(converged.sum(0), torch::full({scores.size(1)}, b / k, torch::kFloat64)) < 1e-9);
  // Scores far from [-1, 1] do not overflow (exp of the scores less their maximum)...
  auto shifted = fn::sinkhorn(scores * 3 + 50, {.epsilon = 0.05});
  BOOST_TEST(max_abs_diff(shifted, fn::sinkhorn(scores * 3, {.epsilon = 0.05})) < 1e-12);
  // ... and a span that underflows exp() is refused by name rather than returned as NaN.
  BOOST_TEST(throws_with([&] { fn::sinkhorn(scores.to(torch::kFloat32) * 100, {.epsilon = 0.05}); },
                         "selfsup::functional::sinkhorn: the codes are not finite"));
  BOOST_TEST(throws_with([&] { fn::sinkhorn(scores, {.iterations = -1}); }, "selfsup::functional::sinkhorn: iterations"));
  BOOST_TEST(throws_with([&] { fn::sinkhorn(scores, {.epsilon = 0}); }, "epsilon"));
  BOOST_TEST(throws_with([&] { fn::sinkhorn(scores[0]); }, "scores must have 2 dimensions"));
}

BOOST_AUTO_TEST_CASE(swav_loss_matches_reference) {
  for (int c = 0; c < 3; ++c) {
    const std::string p = "swav." + std::to_string(c) + ".";
    auto scores = reference(p + "scores").requires_grad_(true);
    const auto high = count(p + "high");
    const auto b = count(p + "batch");
    auto all = chunks(scores, scores.size(0) / b);
    std::vector<torch::Tensor> hi(all.begin(), all.begin() + high), lo(all.begin() + high, all.end());
    auto loss = fn::swav_loss(hi, lo, {.temperature = scalar(p + "temperature"),
                                       .sinkhorn_iterations = count(p + "iterations"),
                                       .epsilon = scalar(p + "epsilon")});
    BOOST_TEST(max_abs_diff(loss, reference(p + "loss").squeeze()) < 1e-12);
    loss.backward();
    BOOST_TEST(max_abs_diff(scores.grad(), reference(p + "grad_scores")) < 1e-12);
  }
  auto a = torch::randn({4, 3});
  BOOST_TEST(throws_with([&] { fn::swav_loss({a}, {}); }, "selfsup::functional::swav_loss: needs at least two views"));
  BOOST_TEST(throws_with([&] { fn::swav_loss({a, a}, {torch::randn({4, 2})}); }, "low[0]"));
  BOOST_TEST(throws_with([&] { fn::swav_loss({a, a}, {}, {.temperature = -1}); }, "temperature"));
}

BOOST_AUTO_TEST_CASE(moco_v3_matches_reference) {
  for (int c = 0; c < 2; ++c) {
    const std::string p = "moco_v3." + std::to_string(c) + ".";
    auto p0 = reference(p + "p0").requires_grad_(true), p1 = reference(p + "p1").requires_grad_(true);
    auto t0 = reference(p + "t0").requires_grad_(true), t1 = reference(p + "t1").requires_grad_(true);
    ss::LossInput in;
    in.p0 = p0, in.p1 = p1, in.t0 = t0, in.t1 = t1;
    in.z0 = p0, in.z1 = p1;
    in.negatives.in_batch = true;
    auto loss = ss::losses::MoCoV3{{.temperature = scalar(p + "temperature")}}(in);
    BOOST_TEST(max_abs_diff(loss, reference(p + "loss").squeeze()) < 1e-12);
    loss.backward();
    BOOST_TEST(max_abs_diff(p0.grad(), reference(p + "grad_p0")) < 1e-12);
    BOOST_TEST(max_abs_diff(p1.grad(), reference(p + "grad_p1")) < 1e-12);
    BOOST_TEST(!t0.grad().defined());
  }
  ss::LossInput in;
  in.p0 = in.p1 = in.t0 = in.t1 = torch::randn({4, 3});
  BOOST_TEST(throws_with([&] { ss::losses::MoCoV3{}(in); }, "negatives::InBatch"));
}

BOOST_AUTO_TEST_CASE(dino_policy_centres_warms_up_and_checkpoints) {
  const std::string p = "dino.0.";
  auto student = reference(p + "student"), teacher = reference(p + "teacher");
  auto t = chunks(teacher, 2), s = chunks(student, 5);
  ss::LossInput in;
  in.t0 = t[0], in.t1 = t[1], in.z0 = s[0], in.z1 = s[1];
  in.local = {s[2], s[3], s[4]};
  ss::losses::DINO dino{.options = {.teacher_temperature = 0.04}};
  dino.center = reference(p + "center");
  BOOST_TEST(max_abs_diff(dino(in), reference(p + "loss").squeeze()) < 1e-12);
  dino.after_step(in);
  BOOST_TEST(max_abs_diff(dino.center, reference(p + "center_after")) < 1e-14);
  BOOST_TEST(dino.steps == 1);
  // The teacher temperature rises linearly over the warm-up, then stays.
  ss::losses::DINO warm{.options = {.teacher_temperature = 0.07, .warmup_teacher_temperature = 0.04, .warmup_steps = 10}};
  BOOST_TEST(warm.teacher_temperature_at(0) == 0.04);
  BOOST_TEST(std::abs(warm.teacher_temperature_at(5) - 0.055) < 1e-15);
  BOOST_TEST(warm.teacher_temperature_at(10) == 0.07);
  BOOST_TEST(warm.teacher_temperature_at(1000) == 0.07);
  // Centre and step count survive a checkpoint.
  torch::serialize::OutputArchive out;
  dino.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  std::istringstream back(bytes.str());
  torch::serialize::InputArchive in_archive;
  in_archive.load_from(back);
  ss::losses::DINO restored;
  restored.load(in_archive);
  BOOST_TEST(restored.steps == 1);
  BOOST_TEST(max_abs_diff(restored.center, dino.center) == 0.0);
  // A fresh policy starts from a zero centre.
  ss::losses::DINO fresh;
  auto zero = fn::dino_loss(t, s, torch::zeros({teacher.size(1)}, torch::kFloat64));
  BOOST_TEST(max_abs_diff(fresh(in), zero) < 1e-14);
}

BOOST_AUTO_TEST_CASE(swav_policy_scores_prototypes_and_queues) {
  torch::manual_seed(3);
  auto z0 = torch::randn({6, 5}, torch::kFloat64), z1 = torch::randn({6, 5}, torch::kFloat64);
  auto l = torch::randn({6, 5}, torch::kFloat64);
  auto w = torch::nn::functional::normalize(torch::randn({4, 5}, torch::kFloat64),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  ss::LossInput in;
  in.z0 = z0, in.z1 = z1, in.local = {l}, in.prototypes = w;
  auto n = [](const torch::Tensor& z) {
    return torch::nn::functional::normalize(z, torch::nn::functional::NormalizeFuncOptions().dim(1));
  };
  ss::losses::SwAV swav{.options = {.queue_size = 12, .queue_start_step = 1}};
  auto expected = fn::swav_loss({n(z0).mm(w.t()), n(z1).mm(w.t())}, {n(l).mm(w.t())});
  BOOST_TEST(max_abs_diff(swav(in), expected) < 1e-14);
  swav.after_step(in);  // step 1: not yet queued
  BOOST_TEST(swav.queued == 0);
  swav.after_step(in);
  swav.after_step(in);  // 12 rows: full
  BOOST_TEST(swav.queued == 12);
  BOOST_TEST(swav.queue_in_use());
  // With the queue, the codes come from Sinkhorn over [queue; batch], the batch's rows kept.
  auto past0 = swav.queue[0].to(torch::kFloat64).mm(w.t());
  auto codes0 = fn::sinkhorn(torch::cat({past0, n(z0).mm(w.t())})).narrow(0, 12, 6);
  auto past1 = swav.queue[1].to(torch::kFloat64).mm(w.t());
  auto codes1 = fn::sinkhorn(torch::cat({past1, n(z1).mm(w.t())})).narrow(0, 12, 6);
  auto ls = [&](const torch::Tensor& z) { return torch::log_softmax(n(z).mm(w.t()) / 0.1, 1); };
  auto term = [](const torch::Tensor& q, const torch::Tensor& lp) { return -(q * lp).sum(1).mean(); };
  auto with_queue = ((term(codes0, ls(z1)) + term(codes0, ls(l))) / 2 + (term(codes1, ls(z0)) + term(codes1, ls(l))) / 2) / 2;
  BOOST_TEST(max_abs_diff(swav(in), with_queue) < 1e-6);  // the queue is stored in float32
  in.prototypes = torch::randn({4, 3}, torch::kFloat64);
  BOOST_TEST(throws_with([&] { swav(in); }, "selfsup::losses::SwAV: the prototypes are (K, 3)"));
}

BOOST_AUTO_TEST_SUITE_END()
