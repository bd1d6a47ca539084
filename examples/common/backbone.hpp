#pragma once
// What evaluate, mine_pairs and curate share: a frozen backbone from --init (a state dict) or
// --checkpoint (a checkpoint of train), and embedding a dataset with a progress line.
#include "common/example_support.hpp"

#include <selfsup/models/weights.hpp>

#include <fmt/core.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::examples {

namespace ss = selfsup;
namespace ex = selfsup::examples;

struct Common {
  std::string init;
  std::string checkpoint;
  std::string device = "cpu";
  ex::DataOptions data{};
  int64_t batch_size = 256;
  std::string json;
  bool quiet = false;
};

inline void add_common(CLI::App& app, Common& c) {
  auto* init = app.add_option("--init", c.init, "the backbone: a state dict saved by torch.save (torchvision's "
                                               "ResNet names) or by train --export")
                   ->check(CLI::ExistingFile);
  app.add_option("--checkpoint", c.checkpoint, "the backbone of a checkpoint that train --checkpoint wrote (instead of "
                                               "--init)")
      ->check(CLI::ExistingFile)->excludes(init);
  ex::add_data_options(app, c.data);
  ex::add_device(app, c.device);
  app.add_option("--batch-size", c.batch_size, "images embedded at once")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, ex::max_batch));
  app.add_option("--json", c.json, "write the results to this JSON file");
  app.add_flag("--quiet", c.quiet, "no progress lines");
}

/// The backbone behind an Encoder's `features` (what evaluation and mining call).
struct FrozenImpl : torch::nn::Module {
  explicit FrozenImpl(ss::models::AnyBackbone b) : backbone(register_module("backbone", std::move(b))) {}
  torch::Tensor features(const torch::Tensor& x) { return backbone->forward(x); }
  torch::Tensor forward(const torch::Tensor& x) { return features(x); }
  ss::models::AnyBackbone backbone;
};
TORCH_MODULE(Frozen);

/// data::embed with a progress line: redrawn on a terminal, every 10 seconds in a log.
template <class D>
torch::Tensor embed(Frozen& model, const D& data, int64_t batch_size, const std::string& what, bool quiet) {
  const bool terminal = ::isatty(::fileno(stdout)) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto printed = start;
  auto progress = [&](int64_t done, int64_t n) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = done == n;
    if (quiet || !(last || std::chrono::duration<double>(now - printed).count() >= (terminal ? 0.2 : 10.0))) return;
    printed = now;
    const double seconds = std::chrono::duration<double>(now - start).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    const double eta = rate > 0 ? static_cast<double>(n - done) / rate : 0.0;
    fmt::print("{}embedding {}: {}/{} images ({:.1f}%)  {:.0f} img/s  ETA {}:{:02d}{}", terminal ? "\r" : "", what, done,
               n, 100.0 * static_cast<double>(done) / static_cast<double>(n), rate, static_cast<int>(eta) / 60,
               static_cast<int>(eta) % 60, terminal && !last ? "" : "\n");
    std::fflush(stdout);
  };
  return ss::data::embed(model, data, batch_size, progress);
}

/// The backbone of a checkpoint written by examples/train: its run record names the backbone
/// (kind, width, image size, stem), and the encoder's state holds its tensors.
inline ss::models::AnyBackbone backbone_of_checkpoint(const std::string& path) {
  const std::string what = "--checkpoint " + path;
  auto archive = ss::checkpoint::read(path, what);
  c10::IValue recorded;
  if (!archive.try_read("selfsup.options", recorded)) {
    throw std::invalid_argument(what + " does not record its run (a checkpoint of an earlier selfsup); export its "
                                "backbone with train --export and pass --init");
  }
  const auto record = ss::checkpoint::parse_record(recorded.toStringRef());
  auto get = [&](const std::string& key, const std::string& otherwise = {}) {
    const auto it = record.find("run." + key);
    if (it != record.end()) return it->second;
    if (!otherwise.empty()) return otherwise;
    throw std::invalid_argument(what + " was not written by examples/train (its record has no " + key + ")");
  };
  const std::string kind = get("backbone");
  const int64_t width = std::stoll(get("width"));
  const int64_t image_size = std::stoll(get("image_size"));
  const std::string stem = get("stem", "auto");
  ss::models::AnyBackbone backbone{nullptr};
  if (kind == "small_cnn") {
    backbone = ss::models::AnyBackbone(ss::models::SmallCNN(ss::models::SmallCNNOptions{.width = width}));
  } else if (kind == "resnet18" || kind == "resnet34" || kind == "resnet50") {
    const bool cifar = stem == "auto" ? image_size <= 64 : stem == "cifar";
    backbone = ss::models::AnyBackbone(ss::models::ResNet(
        ss::models::ResNetOptions{.depth = std::stoll(kind.substr(6)), .cifar_stem = cifar}));
  } else {
    throw std::invalid_argument(what + ": its backbone '" + kind + "' is not one these programs know");
  }
  torch::serialize::InputArchive encoder, state;
  if (!archive.try_read("encoder", encoder) || !encoder.try_read("backbone", state)) {
    throw std::invalid_argument(what + " holds no encoder backbone");
  }
  backbone->load(state);
  return backbone;
}

/// The backbone from --init or --checkpoint on `device`, and a line that says what it is.
inline Frozen load_backbone(std::string_view program, const Common& c, const torch::Device& device, std::string& description) {
  if (c.init.empty() && c.checkpoint.empty()) {
    throw std::invalid_argument(fmt::format("{}: give the backbone: --init PATH (a state dict) or --checkpoint PATH (a "
                                            "checkpoint of train)", program));
  }
  ss::models::AnyBackbone backbone{nullptr};
  if (!c.init.empty()) {
    std::vector<std::string> notes;
    const auto state = ss::models::read_state_dict(c.init, &notes);
    if (!c.quiet) {
      for (const auto& note : notes) fmt::print("--init {}: {}\n", c.init, note);
    }
    std::vector<std::string> head;
    for (const auto& [name, t] : state) {
      if (name.rfind("fc.", 0) == 0) head.push_back(name);
    }
    backbone = ss::models::backbone_for(state, "--init " + c.init);
    if (!head.empty() && !c.quiet) {
      fmt::print("--init {}: the classifier head left out ({} tensors)\n", c.init, head.size());
    }
  } else {
    backbone = backbone_of_checkpoint(c.checkpoint);
  }
  const auto inner = backbone->inner();
  if (const auto* r = dynamic_cast<const ss::models::ResNetImpl*>(inner.get())) {
    description = fmt::format("ResNet-{} ({} stem, width {})", r->options().depth,
                              r->options().cifar_stem ? "CIFAR" : "ImageNet", r->options().width);
  } else {
    description = fmt::format("SmallCNN ({} features)", backbone->out_dim());
  }
  Frozen model(backbone);
  model->to(device);
  return model;
}

}  // namespace selfsup::examples
