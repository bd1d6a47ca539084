// Backbone weights in and out of PyTorch. With SELFSUP_INTEROP_DIR set (ctest sets it, after
// tests/interop/torchvision_weights.py made the files there): torchvision ResNets saved by Python
// are imported, give torchvision's features, and are exported for the Python check that follows.
// Without it, the cases that need those files say so and check nothing else.
#include "../support.hpp"

#include <selfsup/models/weights.hpp>
#include <selfsup/selfsup.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace ss = selfsup;
using selfsup::test::throws_with;
namespace models = selfsup::models;

namespace {

std::string interop_dir() {
  const char* dir = std::getenv("SELFSUP_INTEROP_DIR");
  return dir == nullptr ? std::string() : std::string(dir);
}


torch::Tensor entry(const models::StateDict& state, const std::string& name) {
  for (const auto& [n, t] : state) {
    if (n == name) return t;
  }
  throw std::runtime_error("no entry " + name);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(interop_tests)

BOOST_AUTO_TEST_CASE(torchvision_resnets_round_trip) {
  const auto dir = interop_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SELFSUP_INTEROP_DIR is not set: run this through ctest (unit.interop)");
    return;
  }
  const auto reference = models::read_state_dict(dir + "/reference.pt");
  const auto x = entry(reference, "x");
  for (int64_t depth : {18, 34, 50}) {
    const std::string name = "resnet" + std::to_string(depth);
    models::ResNet net(models::ResNetOptions{.depth = depth});
    const auto report = models::import_weights(net, dir + "/" + name + ".pt");
    BOOST_TEST(report.tensors == static_cast<int64_t>(models::reference_state_dict(net.ptr()).size()));
    BOOST_TEST((report.ignored == std::vector<std::string>{"fc.weight", "fc.bias"}));
    net->eval();
    torch::NoGradGuard no_grad;
    const auto expected = entry(reference, name);
    const double diff = (net->forward(x) - expected).abs().max().item<double>();
    BOOST_TEST_MESSAGE(name << ": features differ from torchvision's by " << diff);
    // Float32 rounding, relative to the features' scale (ResNet-50's reach ~650): the sums of the
    // matrix products come in another order with another number of BLAS threads. A weight put in
    // the wrong place differs by the scale itself.
    BOOST_TEST(diff <= 1e-5 * std::max(1.0, expected.abs().max().item<double>()));
    models::export_weights(net, dir + "/export-" + name + ".pt");
  }
  // The CIFAR stem: exported for Python to build the same network and compare its features.
  torch::manual_seed(3);
  models::ResNet cifar(models::ResNetOptions{.depth = 18, .cifar_stem = true});
  cifar->eval();
  models::export_weights(cifar, dir + "/export-cifar-resnet18.pt");
  {
    torch::NoGradGuard no_grad;
    models::write_state_dict({{"x", x}, {"cifar-resnet18", cifar->forward(x)}}, dir + "/cpp-features.pt");
  }

  // What does not fit is refused, all of it listed.
  BOOST_TEST(throws_with([&] { models::import_weights(cifar, dir + "/resnet18.pt"); },
                               "shapes differ: conv1.weight (expected [64, 3, 3, 3], got [64, 3, 7, 7])"));
  models::ResNet deeper(models::ResNetOptions{.depth = 34});
  BOOST_TEST(throws_with([&] { models::import_weights(deeper, dir + "/resnet18.pt"); },
                               "missing: layer1.2.conv1.weight"));
  models::ResNet shallower(models::ResNetOptions{.depth = 18});
  BOOST_TEST(throws_with([&] { models::import_weights(shallower, dir + "/resnet34.pt"); },
                               "not in the backbone: layer1.2.bn1.bias"));
  // A state dict of one entry, which Python pickles with SETITEM.
  const auto one = models::read_state_dict(dir + "/one_entry.pt");
  BOOST_TEST_REQUIRE(one.size() == 1u);
  BOOST_TEST(one[0].first == "weight");
  BOOST_TEST((one[0].second.sizes() == torch::IntArrayRef{2, 3}));
}

// Without Python: export and import through an AnyBackbone, the SmallCNN under its own names, and
// the refusals of files that are not state dicts.
// Weights as training code elsewhere saves them (torchvision_weights.py make_foreign): nested in
// a checkpoint's dict, under prefixes; and files a reader must refuse.
BOOST_AUTO_TEST_CASE(weights_saved_elsewhere) {
  const auto dir = interop_dir();
  if (dir.empty()) {
    BOOST_TEST_MESSAGE("SELFSUP_INTEROP_DIR is not set: run this through ctest (unit.interop)");
    return;
  }
  const auto plain = models::read_state_dict(dir + "/resnet18.pt");
  auto same_as_plain = [&](const models::StateDict& state) {
    BOOST_TEST(state.size() == plain.size());
    for (const auto& [name, t] : state) BOOST_TEST(torch::equal(t, entry(plain, name)), name);
  };
  std::vector<std::string> notes;
  const auto lightning = models::read_state_dict(dir + "/lightning.pt", &notes);
  same_as_plain(lightning);
  BOOST_TEST(notes.size() == 2u);
  BOOST_TEST(notes.at(0).find("under 'state_dict'") != std::string::npos);
  BOOST_TEST(notes.at(0).find("epoch (Int)") != std::string::npos);
  BOOST_TEST(notes.at(1).find("under the prefix 'backbone.' (2 others left out)") != std::string::npos);
  notes.clear();
  const auto moco = models::read_state_dict(dir + "/moco.pt", &notes);  // the query encoder, not the key encoder
  same_as_plain(moco);
  BOOST_TEST(notes.at(1).find("'module.encoder_q.'") != std::string::npos);
  models::ResNet net(models::ResNetOptions{.depth = 18});
  BOOST_TEST(models::import_weights(net.ptr(), moco, "moco.pt").tensors == static_cast<int64_t>(moco.size()) - 2);  // fc.*

  BOOST_TEST(throws_with([&] { models::read_state_dict(dir + "/no_state_dict.pt"); },
                         "holds a dict of epoch (Int), weights (GenericList): not a state dict"));
  BOOST_TEST(throws_with([&] { models::read_state_dict(dir + "/bad_pickle.pt"); }, "bad_pickle.pt'"));
  // A record shorter than its storage: refused before LibTorch's reader would read past it.
  BOOST_TEST(throws_with([&] { models::read_state_dict(dir + "/short.pt"); },
                         "short.pt': the storage '0' holds 4096 FloatStorage elements (16384 bytes), but its record "
                         "has 8192 bytes"));
}

// What a backbone must not be given, refused by name before anything is copied.
BOOST_AUTO_TEST_CASE(weights_refused_by_name) {
  models::ResNet net(models::ResNetOptions{.depth = 18, .width = 8});
  const auto good = models::reference_state_dict(net.ptr());
  auto with = [&](const std::string& name, const torch::Tensor& t) {
    auto state = good;
    for (auto& [n, v] : state) {
      if (n == name) v = t;
    }
    return state;
  };
  const auto w = entry(good, "layer1.0.conv1.weight");
  BOOST_TEST(throws_with([&] { models::import_weights(net.ptr(), with("layer1.0.conv1.weight", w.to(torch::kInt)), "f"); },
                         "'layer1.0.conv1.weight' holds Int values, expected floating point"));
  auto nan = entry(good, "layer2.0.bn1.running_var").clone();
  nan[0] = std::nan("");
  BOOST_TEST(throws_with([&] { models::import_weights(net.ptr(), with("layer2.0.bn1.running_var", nan), "f"); },
                         "'layer2.0.bn1.running_var' holds NaN or infinite values"));
  // One changed tensor changes many shapes after it; the message leads with the first.
  models::ResNet wide(models::ResNetOptions{.depth = 18, .width = 16});
  BOOST_TEST(throws_with([&] { models::import_weights(net.ptr(), models::reference_state_dict(wide.ptr()), "f"); },
                         "does not fit the backbone; first: the shape of conv1.weight (expected [8, 3, 7, 7], got [16, 3, 7, 7])"));
  // A ResNet-101's blocks (3, 4, 23, 3 bottlenecks) are named, not listed as mismatches.
  models::ResNet fifty(models::ResNetOptions{.depth = 50, .width = 8});
  auto deeper = models::reference_state_dict(fifty.ptr());
  const auto block = models::reference_state_dict(fifty.ptr());
  for (int64_t i = 6; i < 23; ++i) {
    for (const auto& [name, t] : block) {
      if (name.rfind("layer3.5.", 0) == 0) deeper.emplace_back("layer3." + std::to_string(i) + name.substr(8), t);
    }
  }
  BOOST_TEST(throws_with([&] { models::backbone_for(deeper, "r101.pt"); },
                         "r101.pt holds a ResNet with 3, 4, 23 and 3 bottleneck blocks per stage (ResNet-101); "
                         "selfsup's ResNets are ResNet-18, 34 and 50"));
  BOOST_CHECK_NO_THROW(models::backbone_for(block, "r50.pt"));
}

BOOST_AUTO_TEST_CASE(weights_files) {
  const auto dir = std::filesystem::temp_directory_path() / ("selfsup-weights-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  torch::manual_seed(1);
  models::AnyBackbone a(models::ResNet(models::ResNetOptions{.depth = 18, .width = 8}));
  models::AnyBackbone b(models::ResNet(models::ResNetOptions{.depth = 18, .width = 8}));
  const auto path = (dir / "a.pt").string();
  models::export_weights(a, path);
  const auto state = models::read_state_dict(path);
  BOOST_TEST(state.front().first == "conv1.weight");
  const auto report = models::import_weights(b, path);
  BOOST_TEST(report.ignored.empty());
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) BOOST_TEST(torch::equal(item.value(), pb[item.key()]), item.key());
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& item : ba) BOOST_TEST(torch::equal(item.value(), bb[item.key()]), item.key());

  models::SmallCNN small(models::SmallCNNOptions{.width = 4});
  models::export_weights(small, (dir / "small.pt").string());
  BOOST_TEST(models::read_state_dict((dir / "small.pt").string()).front().first == "layers.0.weight");

  models::StateDict extra = models::reference_state_dict(small.ptr());
  extra.emplace_back("head.weight", torch::zeros({2}));
  BOOST_TEST(throws_with([&] { models::import_weights(small.ptr(), extra, "the test's dict"); },
                               "the test's dict does not fit the backbone\n  not in the backbone: head.weight"));
  std::ofstream(dir / "text.pt") << "not a zip";
  BOOST_TEST(throws_with([&] { models::read_state_dict((dir / "text.pt").string()); },
                               "is not a file of torch.save's format"));
  std::ofstream(dir / "legacy.pt", std::ios::binary) << std::string("\x80\x02\x8a\x0a", 4);  // a bare pickle's start
  BOOST_TEST(throws_with([&] { models::read_state_dict((dir / "legacy.pt").string()); },
                         "it is a bare pickle, torch.save's format before PyTorch 1.6"));
  BOOST_TEST(throws_with([&] { models::read_state_dict((dir / "none.pt").string()); }, "cannot open"));
  std::ofstream(dir / "checkpoint.pt", std::ios::binary) << "selfsup checkpoint 1\n" << std::string(40, '\0');
  BOOST_TEST(throws_with([&] { models::read_state_dict((dir / "checkpoint.pt").string()); },
                         "is a selfsup checkpoint, not a state dict: the programs read it with --checkpoint PATH"));
  BOOST_TEST(throws_with([&] { models::read_state_dict(dir.string()); }, "is a folder, expected a file"));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
