// What only a GPU can check: placement on the device, views and losses on CUDA against the same
// computation on the CPU, NCCL at world size 1, a bf16 autocast step, and a checkpoint saved on
// the GPU and resumed. Without a CUDA device every case is skipped and says so, unless
// SELFSUP_REQUIRE_CUDA=1 (scripts/gpu-check.sh sets it), which makes the absence a failure.
#include "../support.hpp"
#include "../train/stop_support.hpp"

#include <selfsup/distributed/init.hpp>
#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace ss = selfsup;
namespace fn = selfsup::functional;
namespace vf = selfsup::views::functional;
using selfsup::test::max_abs_diff;

namespace {

struct CudaPresent {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result present(torch::cuda::is_available());
    if (!present) present.message() << "no CUDA device (torch::cuda::is_available() is false)";
    return present;
  }
};

const torch::Device gpu(torch::kCUDA, 0);

bool same_parameters(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, double atol) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::allclose(a[i].cpu(), b[i].cpu(), 1e-5, atol)) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cuda_tests)

BOOST_AUTO_TEST_CASE(a_device_is_present_when_required) {
  const char* required = std::getenv("SELFSUP_REQUIRE_CUDA");
  if (required != nullptr && std::string(required) == "1") {
    BOOST_TEST_REQUIRE(torch::cuda::is_available(), "SELFSUP_REQUIRE_CUDA=1, but LibTorch sees no CUDA device");
  }
  BOOST_TEST_MESSAGE("CUDA devices: " << torch::cuda::device_count());
}

// Training on CUDA data keeps everything on the GPU: the encoder, its optimiser and the loss.
BOOST_AUTO_TEST_CASE(training_stays_on_the_device, *boost::unit_test::precondition(CudaPresent{})) {
  torch::manual_seed(0);
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 16, .size = 32, .seed = 1}, ss::data::SyntheticSplit::train, gpu);
  BOOST_TEST(data.device().is_cuda());
  auto encoder = ss::models::make_small_cnn_encoder({.width = 8}, {.hidden_dim = 32, .out_dim = 16});
  ss::Trainer trainer(ss::recipes::SimCLR{.views = ss::views::SimCLRViews({.size = 32, .seed = 2})}, encoder,
                      {.epochs = 2, .batch_size = 16, .log_every = 1});
  const auto result = trainer.fit(data);
  BOOST_TEST(result.steps == 8);
  for (const auto& p : trainer.encoder()->parameters()) BOOST_TEST(p.device().is_cuda());
  BOOST_TEST(std::isfinite(result.log.back().loss));
  BOOST_TEST(result.log.back().loss < result.log.front().loss + 1.0);
}

// The batched view operations give the CPU's result on the GPU, for the same per-sample parameters.
BOOST_AUTO_TEST_CASE(views_agree_with_the_cpu, *boost::unit_test::precondition(CudaPresent{})) {
  torch::manual_seed(1);
  const int64_t b = 8;
  auto images = torch::randint(0, 256, {b, 3, 40, 48}, torch::kByte);
  auto boxes = torch::stack({torch::randint(0, 10, {b}), torch::randint(0, 10, {b}), torch::randint(10, 30, {b}),
                             torch::randint(10, 38, {b})}, 1);
  auto flip = torch::rand({b}).lt(0.5);
  auto factors = torch::rand({b}) + 0.5;
  auto hue = torch::rand({b}) - 0.5;
  auto sigmas = torch::rand({b}) * 1.9 + 0.1;
  auto thresholds = torch::rand({b});
  auto run = [&](const torch::Device& d) {
    auto x = vf::resized_crop(images.to(d), boxes.to(d), {32, 32});
    x = vf::hflip(x, flip.to(d));
    x = vf::adjust_brightness(x, factors.to(d));
    x = vf::adjust_contrast(x, factors.to(d));
    x = vf::adjust_saturation(x, factors.to(d));
    x = vf::adjust_hue(x, hue.to(d) * 0.5);
    x = vf::gaussian_blur(x, 5, sigmas.to(d));
    x = vf::solarize(x, thresholds.to(d));
    return vf::normalize(x, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
  };
  const auto cpu = run(torch::kCPU), cuda = run(gpu);
  BOOST_TEST(cuda.device().is_cuda());
  // Solarising flips values that sit within rounding of their threshold: compare the rest.
  const auto diff = (cuda.cpu() - cpu).abs();
  const double flipped = diff.gt(1e-3).to(torch::kDouble).mean().item<double>();
  BOOST_TEST_MESSAGE("views: " << flipped * 100 << " % of values differ by more than 1e-3");
  BOOST_TEST(flipped < 1e-3);
  BOOST_TEST(diff.median().item<double>() < 1e-5);
}

// The losses and their gradients on the GPU equal the CPU's (float64 on both).
BOOST_AUTO_TEST_CASE(losses_agree_with_the_cpu, *boost::unit_test::precondition(CudaPresent{})) {
  torch::manual_seed(2);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto z0 = torch::randn({16, 8}, opts), z1 = torch::randn({16, 8}, opts), negatives = torch::randn({32, 8}, opts);
  const auto t0 = torch::randn({16, 10}, opts), t1 = torch::randn({16, 10}, opts), center = torch::randn({10}, opts);
  struct Case {
    std::string name;
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Device&)> loss;
  };
  const std::vector<Case> cases = {
      {"nt_xent", [](auto& a, auto& b, auto&) { return fn::nt_xent(a, b); }},
      {"info_nce", [&](auto& a, auto& b, auto& d) {
         return fn::info_nce(a, b, torch::nn::functional::normalize(negatives.to(d), torch::nn::functional::NormalizeFuncOptions().dim(1)));
       }},
      {"dcl", [](auto& a, auto& b, auto&) { return fn::dcl(a, b); }},
      {"barlow_twins", [](auto& a, auto& b, auto&) { return fn::barlow_twins(a, b); }},
      {"vicreg", [](auto& a, auto& b, auto&) { return fn::vicreg(a, b); }},
      {"dino_loss", [&](auto& a, auto& b, auto& d) {
         return fn::dino_loss({t0.to(d), t1.to(d)}, {a.mm(torch::ones({8, 10}, a.options())), b.mm(torch::ones({8, 10}, a.options()))}, center.to(d));
       }},
      {"swav_loss", [](auto& a, auto& b, auto&) { return fn::swav_loss({a, b}, {}); }},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      auto run = [&](const torch::Device& d) {
        auto a = z0.to(d).requires_grad_(), b = z1.to(d).requires_grad_();
        auto loss = c.loss(a, b, d);
        loss.backward();
        return std::vector<torch::Tensor>{loss.detach().cpu(), a.grad().cpu(), b.grad().cpu()};
      };
      const auto cpu = run(torch::kCPU), cuda = run(gpu);
      BOOST_TEST(max_abs_diff(cpu[0], cuda[0]) < 1e-9);
      BOOST_TEST(max_abs_diff(cpu[1], cuda[1]) < 1e-9);
      BOOST_TEST(max_abs_diff(cpu[2], cuda[2]) < 1e-9);
    }
  }
}

#if defined(SELFSUP_WITH_NCCL)
// An NCCL process group of one rank: every collective the trainer uses leaves a CUDA tensor as
// a world of one must (a sum of one, a gather of one), through c10d's NCCL backend.
BOOST_AUTO_TEST_CASE(nccl_at_world_size_one, *boost::unit_test::precondition(CudaPresent{})) {
  namespace sdd = selfsup::distributed::detail;
  c10d::TCPStoreOptions store_options;
  store_options.port = 0;
  store_options.isServer = true;
  store_options.waitWorkers = false;
  store_options.timeout = std::chrono::seconds(30);
  auto store = selfsup::detail::make_tcp_store("127.0.0.1", store_options);
  sdd::Environment e;
  e.present = true;
  e.master_addr = "127.0.0.1";
  e.port = dynamic_cast<c10d::TCPStore&>(*store).getPort();
  auto group = sdd::make_nccl_group(store, 0, 1, 0, std::chrono::seconds(30));
  sdd::C10dCommunicator comm(e, group, "nccl", std::chrono::seconds(30));
  BOOST_TEST(comm.backend_name() == "nccl");
  auto x = torch::arange(6, torch::TensorOptions().dtype(torch::kFloat32).device(gpu)).reshape({2, 3});
  auto sum = x.clone();
  comm.all_reduce_sum(sum);
  BOOST_TEST(torch::equal(sum.cpu(), x.cpu()));
  auto out = torch::empty_like(x);
  comm.all_gather(x, out);
  BOOST_TEST(torch::equal(out.cpu(), x.cpu()));
  auto async = x.clone();
  comm.all_reduce_sum_async(async)->wait();
  BOOST_TEST(torch::equal(async.cpu(), x.cpu()));
  auto root = x.clone();
  comm.broadcast(root, 0);
  BOOST_TEST(torch::equal(root.cpu(), x.cpu()));
  // A CPU tensor goes through the GPU and comes back.
  auto host = torch::ones({4});
  comm.all_reduce_sum(host);
  BOOST_TEST(torch::equal(host, torch::ones({4})));
}
#endif

// One step in bf16 autocast: the forward runs in bfloat16, the weights and their update stay
// float32, and the loss is near the float32 step's.
BOOST_AUTO_TEST_CASE(a_bf16_autocast_step, *boost::unit_test::precondition(CudaPresent{})) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 32, .seed = 3}, ss::data::SyntheticSplit::train, gpu);
  auto step = [&](bool bf16) {
    torch::manual_seed(4);
    auto encoder = ss::models::make_resnet_encoder({.depth = 18, .cifar_stem = true, .width = 16},
                                                   ss::models::EncoderOptions{.projector = {.hidden_dim = 64, .out_dim = 32}});
    ss::Trainer trainer(ss::recipes::SimCLR{.views = ss::views::SimCLRViews({.size = 32, .seed = 5})}, encoder,
                        {.epochs = 1, .batch_size = 32, .log_every = 1, .max_steps = 1, .bf16_autocast = bf16,
                         .channels_last = bf16});
    auto before = trainer.encoder()->parameters()[0].detach().clone();
    const auto result = trainer.fit(data);
    auto after = trainer.encoder()->parameters()[0];
    BOOST_TEST(after.scalar_type() == torch::kFloat32);
    BOOST_TEST(!torch::equal(before, after.detach()));
    return result.log.at(0).loss;
  };
  const double full = step(false);
  const double mixed = step(true);
  BOOST_TEST_MESSAGE("first-step loss: float32 " << full << ", bf16 autocast " << mixed);
  BOOST_TEST(std::isfinite(mixed));
  BOOST_TEST(std::abs(mixed - full) < 0.05 * std::abs(full));
}

// A checkpoint written from the GPU resumes on the GPU where the uninterrupted run would be.
BOOST_AUTO_TEST_CASE(a_checkpoint_saved_on_the_gpu_resumes, *boost::unit_test::precondition(CudaPresent{})) {
  auto data = ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 6}, ss::data::SyntheticSplit::train, gpu);
  using Recipe = ss::Recipe<ss::views::SimCLRViews, ss::pairs::Augmented, ss::negatives::Queue, ss::losses::InfoNCE>;
  auto make = [] {
    torch::manual_seed(7);
    auto encoder = ss::models::make_small_cnn_encoder({.width = 4}, ss::models::EncoderOptions{
        .projector = {.hidden_dim = 16, .out_dim = 8}, .momentum_target = true, .momentum = 0.9});
    return ss::Trainer(Recipe{.views = ss::views::SimCLRViews({.size = 16, .seed = 8}),
                              .negatives = ss::negatives::Queue({.size = 24})},
                       encoder, {.epochs = 2, .batch_size = 8, .learning_rate = 0.1, .log_every = 1});
  };
  auto straight = make();
  straight.fit(data);
  const auto path = selfsup::test::temp_path("cuda-resume.pt").string();
  auto first = make();
  selfsup::test::StopAfter stop{3, path};
  BOOST_TEST(first.fit(data, stop).steps == 3);
  auto resumed = make();
  resumed.load_checkpoint(path);
  BOOST_TEST(resumed.steps_done() == 3);
  resumed.fit(data);
  for (const auto& p : resumed.encoder()->parameters()) BOOST_TEST(p.device().is_cuda());
  BOOST_TEST(same_parameters(straight.encoder()->parameters(), resumed.encoder()->parameters(), 1e-6));
  BOOST_TEST(resumed.recipe().negatives.keys().device().is_cuda());
  BOOST_TEST(torch::allclose(straight.recipe().negatives.keys().cpu(), resumed.recipe().negatives.keys().cpu(), 1e-5, 1e-6));
}

BOOST_AUTO_TEST_SUITE_END()
