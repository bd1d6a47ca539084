// The trainer's optimisers: LARS against its formula computed by hand, and its state saved and
// restored like SGD's; gradient clipping.
#include "../support.hpp"

#include <selfsup/train/optimizers.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <sstream>
#include <vector>

namespace ss = selfsup;

BOOST_AUTO_TEST_SUITE(train_tests)

namespace {
// A weight matrix and a bias with fixed values and gradients.
struct Params {
  torch::Tensor w = torch::tensor({{1.0, -2.0}, {0.5, 2.0}}, torch::kFloat64).requires_grad_();
  torch::Tensor b = torch::tensor({0.25, -0.5}, torch::kFloat64).requires_grad_();
  void set_grads(double scale) {
    w.mutable_grad() = torch::tensor({{0.5, 0.1}, {-0.2, 0.4}}, torch::kFloat64) * scale;
    b.mutable_grad() = torch::tensor({1.0, -1.0}, torch::kFloat64) * scale;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(lars_follows_its_formula) {
  const double lr = 0.1, momentum = 0.9, wd = 0.01, eta = 0.02;
  Params p;
  auto opt = ss::optim::make_optimizer({p.w, p.b}, {.optimizer = ss::OptimizerKind::lars, .learning_rate = lr,
                                                    .momentum = momentum, .weight_decay = wd, .lars_trust = eta});
  // By hand, from the paper's update with plain doubles.
  std::vector<double> w = {1.0, -2.0, 0.5, 2.0}, b = {0.25, -0.5}, wb(4, 0.0), bb(2, 0.0);
  for (int step = 0; step < 3; ++step) {
    const double scale = 1.0 + step;
    std::vector<double> gw = {0.5 * scale, 0.1 * scale, -0.2 * scale, 0.4 * scale};
    std::vector<double> gb = {1.0 * scale, -1.0 * scale};
    double wn = 0, gn = 0;
    for (int i = 0; i < 4; ++i) gw[i] += wd * w[i];
    for (int i = 0; i < 4; ++i) wn += w[i] * w[i], gn += gw[i] * gw[i];
    const double trust = eta * std::sqrt(wn) / std::sqrt(gn);
    for (int i = 0; i < 4; ++i) {
      wb[i] = step == 0 ? gw[i] * trust : momentum * wb[i] + gw[i] * trust;
      w[i] -= lr * wb[i];
    }
    for (int i = 0; i < 2; ++i) {  // the 1-D group: no weight decay, no trust ratio
      bb[i] = step == 0 ? gb[i] : momentum * bb[i] + gb[i];
      b[i] -= lr * bb[i];
    }
    p.set_grads(scale);
    opt->step();
  }
  auto expected_w = torch::tensor(w, torch::kFloat64).reshape({2, 2});
  auto expected_b = torch::tensor(b, torch::kFloat64);
  BOOST_TEST(torch::allclose(p.w.detach(), expected_w, 1e-12, 1e-14));
  BOOST_TEST(torch::allclose(p.b.detach(), expected_b, 1e-12, 1e-14));
}

BOOST_AUTO_TEST_CASE(every_optimiser_resumes_from_its_saved_state) {
  for (auto kind : {ss::OptimizerKind::sgd, ss::OptimizerKind::lars, ss::OptimizerKind::adamw}) {
    BOOST_TEST_CONTEXT("optimizer " << static_cast<int>(kind)) {
      const ss::TrainerOptions o{.optimizer = kind, .learning_rate = 0.1, .weight_decay = 0.01};
      Params a, b;
      auto first = ss::optim::make_optimizer({a.w, a.b}, o);
      for (int step = 0; step < 3; ++step) a.set_grads(1.0 + step), first->step();
      torch::serialize::OutputArchive saved;
      first->save(saved);
      std::stringstream bytes;
      saved.save_to(bytes);
      {  // b continues from a's weights and a's optimiser state
        torch::NoGradGuard no_grad;
        b.w.copy_(a.w), b.b.copy_(a.b);
      }
      auto second = ss::optim::make_optimizer({b.w, b.b}, o);
      torch::serialize::InputArchive loaded;
      loaded.load_from(bytes);
      second->load(loaded);
      a.set_grads(4.0), first->step();
      b.set_grads(4.0), second->step();
      BOOST_TEST(torch::equal(a.w, b.w));
      BOOST_TEST(torch::equal(a.b, b.b));
      // Without the state, the momentum is lost and the step differs.
      Params c;
      {
        torch::NoGradGuard no_grad;
        c.w.copy_(b.w), c.b.copy_(b.b);
      }
      auto blank = ss::optim::make_optimizer({c.w, c.b}, o);
      c.set_grads(5.0), blank->step();
      b.set_grads(5.0), second->step();
      BOOST_TEST(!torch::equal(b.w, c.w));
    }
  }
}

BOOST_AUTO_TEST_CASE(gradient_clipping_bounds_the_global_norm) {
  Params p;
  auto opt = ss::optim::make_optimizer({p.w, p.b}, {.learning_rate = 0.1});
  p.set_grads(10.0);
  const double before = std::sqrt(p.w.grad().pow(2).sum().item<double>() + p.b.grad().pow(2).sum().item<double>());
  ss::optim::clip_grad_norm(*opt, 1.0);
  const double after = std::sqrt(p.w.grad().pow(2).sum().item<double>() + p.b.grad().pow(2).sum().item<double>());
  BOOST_TEST(before > 1.0);
  BOOST_TEST(std::abs(after - 1.0) < 1e-5);
  p.set_grads(0.01);
  ss::optim::clip_grad_norm(*opt, 1.0);  // below the bound: unchanged
  BOOST_TEST(torch::allclose(p.b.grad(), torch::tensor({0.01, -0.01}, torch::kFloat64)));
}

BOOST_AUTO_TEST_SUITE_END()
