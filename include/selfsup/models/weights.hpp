#pragma once
/// \file
/// Backbone weights in and out of PyTorch: a file that Python's `torch.load` reads as a state dict
/// under the reference implementation's names, and the same files read back, including a state
/// dict saved in Python with `torch.save(model.state_dict(), path)`.
///
///   models::export_weights(encoder->backbone, "resnet18.pt");
///   // Python: torchvision.models.resnet18().load_state_dict(torch.load("resnet18.pt"), strict=False)
///   auto report = models::import_weights(encoder->backbone, "torchvision_resnet50.pt");
///
/// Names: torchvision's for the ResNets (`conv1.weight`, `bn1.running_mean`,
/// `layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`, ...; the CIFAR stem is a 3x3
/// `conv1`), selfsup's own for the SmallCNN, which has no reference implementation. The layouts
/// are the same as the reference's (OIHW convolutions, BatchNorm's four tensors and its int64
/// count). LibTorch's `torch::pickle_save` / `torch::pickle_load` write and read the files;
/// detail/pickle_filter.hpp makes Python's OrderedDict state dicts readable to the latter.

#include <selfsup/detail/files.hpp>
#include <selfsup/models/any_backbone.hpp>
#include <selfsup/models/detail/pickle_filter.hpp>
#include <selfsup/models/resnet.hpp>
#include <selfsup/models/small_cnn.hpp>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::models {

/// Tensors by name, in order.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

namespace detail {

inline std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t dot; (dot = name.find('.', from)) != std::string::npos; from = dot + 1) parts.push_back(name.substr(from, dot - from));
  parts.push_back(name.substr(from));
  return parts;
}

/// torchvision's name for the ResNet tensor selfsup names `name` ("stem.0.weight" ->
/// "conv1.weight", "stages.2.body.4.bias" -> "layer2.0.bn2.bias", ...).
inline std::string torchvision_name(const ResNetImpl& net, const std::string& name) {
  const auto p = split_dots(name);
  auto fail = [&] {
    throw std::logic_error("selfsup::models: no torchvision name for the ResNet tensor '" + name + "'");
  };
  if (p.size() == 3 && p[0] == "stem") {
    if (p[1] == "0") return "conv1." + p[2];
    if (p[1] == "1") return "bn1." + p[2];
    fail();
  }
  if (p.size() != 5 || p[0] != "stages") fail();
  const int64_t depth = net.options().depth;
  const std::array<int64_t, 4> blocks = depth == 18 ? std::array<int64_t, 4>{2, 2, 2, 2} : std::array<int64_t, 4>{3, 4, 6, 3};
  int64_t index = std::stoll(p[1]);
  int64_t stage = 0;
  while (stage < 4 && index >= blocks[stage]) index -= blocks[stage++];
  if (stage == 4) fail();
  const std::string block = "layer" + std::to_string(stage + 1) + "." + std::to_string(index) + ".";
  if (p[2] == "shortcut") return block + "downsample." + p[3] + "." + p[4];
  if (p[2] != "body") fail();
  // body: conv, bn, relu, conv, bn (basic) or conv, bn, relu, conv, bn, relu, conv, bn (bottleneck)
  static const std::map<std::string, std::string> layer = {{"0", "conv1"}, {"1", "bn1"}, {"3", "conv2"},
                                                           {"4", "bn2"},   {"6", "conv3"}, {"7", "bn3"}};
  const auto it = layer.find(p[3]);
  if (it == layer.end()) fail();
  return block + it->second + "." + p[4];
}

/// The module behind an AnyBackbone, or the module itself.
inline std::shared_ptr<torch::nn::Module> unwrap(const std::shared_ptr<torch::nn::Module>& m) {
  if (auto* any = dynamic_cast<AnyBackboneImpl*>(m.get())) return unwrap(any->inner());
  return m;
}

/// Every parameter and buffer of `module` with its reference name, as (reference name, tensor).
inline StateDict reference_entries(const std::shared_ptr<torch::nn::Module>& module) {
  const auto m = unwrap(module);
  const auto* resnet = dynamic_cast<const ResNetImpl*>(m.get());
  const bool own_names = resnet == nullptr;
  if (own_names && dynamic_cast<const SmallCNNImpl*>(m.get()) == nullptr) {
    throw std::invalid_argument("selfsup::models weights: the backbone is neither a ResNet nor a SmallCNN (got " +
                                m->name() + "); export its named_parameters() and named_buffers() yourself");
  }
  StateDict out;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    out.emplace_back(own_names ? name : torchvision_name(*resnet, name), t);
  };
  for (const auto& item : m->named_parameters()) add(item.key(), item.value());
  for (const auto& item : m->named_buffers()) add(item.key(), item.value());
  return out;
}

inline std::vector<char> read_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::invalid_argument(what + ": '" + path + "' is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(what + ": cannot open '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(what + ": reading '" + path + "' failed");
  return bytes;
}

/// `bytes` (a torch.save zip archive) with its data.pkl passed through filter_state_dict_pickle,
/// rewritten by LibTorch's own archive writer.
inline std::vector<char> filtered_archive(const std::vector<char>& bytes, const std::string& what) {
  std::istringstream stream(std::string(bytes.begin(), bytes.end()));
  caffe2::serialize::PyTorchStreamReader reader(&stream);
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    const char* c = static_cast<const char*>(data);
    out.insert(out.end(), c, c + size);
    return size;
  });
  std::map<std::string, size_t> record_sizes;
  std::vector<StorageRef> storages;
  for (const auto& record : reader.getAllRecords()) {
    // The writer writes its own version (and, in newer LibTorch, serialization id).
    if (record == "version" || record == ".data/version" || record == ".data/serialization_id") continue;
    auto [data, size] = reader.getRecord(record);
    const char* c = static_cast<const char*>(data.get());
    record_sizes[record] = size;
    if (record == "data.pkl") {
      storages = storage_refs(std::string_view(c, size), what);
      const auto filtered = filter_state_dict_pickle(std::string_view(c, size), what);
      writer.writeRecord(record, filtered.data(), filtered.size());
    } else {
      writer.writeRecord(record, c, size);
    }
  }
  writer.writeEndOfFile();
  // LibTorch's reader takes numel elements from a storage's record whatever its length: a record
  // shorter than its storage (a cut or damaged file) is refused here, before it is read past.
  for (const auto& s : storages) {
    if (s.numel < 0) throw std::invalid_argument(what + ": the storage '" + s.key + "' has a negative or huge size");
    if (s.numel == 0) continue;
    const auto it = record_sizes.find("data/" + s.key);
    if (it == record_sizes.end()) {
      throw std::invalid_argument(what + ": the storage '" + s.key + "' (" + s.type + ") has no record data/" + s.key +
                                  " in the archive (a damaged file)");
    }
    if (s.item_size > 0 && static_cast<uint64_t>(it->second) < static_cast<uint64_t>(s.numel) * static_cast<uint64_t>(s.item_size)) {
      throw std::invalid_argument(what + ": the storage '" + s.key + "' holds " + std::to_string(s.numel) + " " + s.type +
                                  " elements (" + std::to_string(s.numel * s.item_size) + " bytes), but its record has " +
                                  std::to_string(it->second) + " bytes (a cut or damaged file)");
    }
  }
  return out;
}

}  // namespace detail

/// `module`'s parameters and buffers (a ResNet or SmallCNN, bare or in an AnyBackbone) under the
/// reference names, as CPU tensors.
inline StateDict reference_state_dict(const std::shared_ptr<torch::nn::Module>& module) {
  StateDict out = detail::reference_entries(module);
  for (auto& [name, t] : out) t = t.detach().to(torch::kCPU).contiguous().clone();
  return out;
}

/// `state` in torch.save's format (a zip archive whose data.pkl is a dict of tensors), as bytes
/// that PyTorch 2.6's default `torch.load(path)` (weights_only=True) reads: LibTorch's pickler
/// with the type tags of TorchScript's aggregates left out (`torch::pickle_save` writes them, and
/// `torch.jit._pickle.restore_type_tag` is not among the names weights_only allows). Tensors go
/// to the CPU.
inline std::vector<char> state_dict_bytes(const StateDict& state) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : state) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickle.insert(pickle.end(), data, data + size); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(dict));
  pickler.stop();
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    const char* c = static_cast<const char*>(data);
    out.insert(out.end(), c, c + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

/// Writes `state` to `path` in torch.save's format (state_dict_bytes), atomically.
inline void write_state_dict(const StateDict& state, const std::string& path) {
  const auto bytes = state_dict_bytes(state);
  selfsup::detail::write_whole_file(path, std::string_view(bytes.data(), bytes.size()),
                                    "selfsup::models::write_state_dict");
}

/// Writes `module`'s reference_state_dict to `path` in torch.save's format, atomically.
inline void export_weights(const std::shared_ptr<torch::nn::Module>& module, const std::string& path) {
  const auto bytes = state_dict_bytes(reference_state_dict(module));
  selfsup::detail::write_whole_file(path, std::string_view(bytes.data(), bytes.size()),
                                    "selfsup::models::export_weights");
}

template <class Holder>
  requires requires(Holder h) { h.ptr(); }
void export_weights(const Holder& module, const std::string& path) {
  export_weights(std::static_pointer_cast<torch::nn::Module>(module.ptr()), path);
}

namespace detail {

/// The keys under which training code elsewhere nests a model's weights in its checkpoint dict
/// (Lightning and solo-learn: state_dict; torchvision's references: model; DINO: teacher and
/// student), in the order they are tried.
inline const std::vector<std::string>& nested_state_dict_keys() {
  static const std::vector<std::string> keys = {"state_dict", "model", "model_state_dict", "module", "net",
                                                "network",    "teacher", "student",        "encoder", "backbone"};
  return keys;
}

inline bool all_tensors(const c10::impl::GenericDict& dict) {
  for (const auto& item : dict) {
    if (!item.key().isString() || !item.value().isTensor()) return false;
  }
  return true;
}

/// The prefixes P ('' included) under which `state` holds a whole backbone's first tensors:
/// P + conv1.weight, bn1.weight and layer1.0.conv1.weight (a ResNet, torchvision's names), or
/// P + layers.0.weight (a SmallCNN).
inline std::vector<std::string> backbone_prefixes(const StateDict& state) {
  std::map<std::string, int> names;
  for (const auto& [name, t] : state) names[name] = 1;
  std::vector<std::string> out;
  auto ends = [](const std::string& name, const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const auto& [name, t] : state) {
    std::string prefix;
    if (ends(name, "conv1.weight")) {
      prefix = name.substr(0, name.size() - std::string("conv1.weight").size());
      if (!names.count(prefix + "bn1.weight") || !names.count(prefix + "layer1.0.conv1.weight")) continue;
    } else if (ends(name, "layers.0.weight")) {
      prefix = name.substr(0, name.size() - std::string("layers.0.weight").size());
    } else {
      continue;
    }
    if (!prefix.empty() && prefix.back() != '.') continue;
    if (std::find(out.begin(), out.end(), prefix) == out.end()) out.push_back(prefix);
  }
  return out;
}

}  // namespace detail

/// Reads a state dict written by torch.save (a dict or OrderedDict of tensors, as
/// `model.state_dict()` gives) or by export_weights. Weights saved the ways training code
/// elsewhere saves them are found: nested in a checkpoint's dict (under one of
/// detail::nested_state_dict_keys, e.g. Lightning's `{"state_dict": ..., "epoch": 3}`) and under a
/// prefix (`module.` of DataParallel, `backbone.` of solo-learn, `module.encoder_q.` of MoCo;
/// a momentum branch such as `encoder_k.` is passed over): what was used is appended to `notes`
/// when given. Anything else is refused with what the file holds and the fix; so is a tensor
/// whose storage record is shorter than its storage, a selfsup checkpoint (read with
/// checkpoint::read), a malformed pickle, naming the file.
inline StateDict read_state_dict(const std::string& path, std::vector<std::string>* notes) {
  const std::string what = "selfsup::models::read_state_dict: '" + path + "'";
  const auto bytes = detail::read_file(path, "selfsup::models::read_state_dict");
  if (std::string_view(bytes.data(), std::min<size_t>(bytes.size(), 19)) == "selfsup checkpoint ") {
    throw std::invalid_argument(what + " is a selfsup checkpoint, not a state dict: the programs read it with "
                                "--checkpoint PATH (checkpoint::read); train --export writes a backbone's state dict");
  }
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K') {
    const bool legacy = !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80;  // a bare pickle
    throw std::invalid_argument(
        what + " is not a file of torch.save's format (a zip archive)" +
        (legacy ? ": it is a bare pickle, torch.save's format before PyTorch 1.6 (or "
                  "_use_new_zipfile_serialization=False)"
                : "") +
        "; save it in Python with torch.save(model.state_dict(), path)");
  }
  c10::IValue value;
  try {
    value = torch::pickle_load(detail::filtered_archive(bytes, what));
  } catch (const c10::Error& e) {
    throw std::invalid_argument(what + ": LibTorch cannot read it: " + e.what_without_backtrace());
  } catch (const std::invalid_argument&) {
    throw;  // the filter's own errors name the file
  } catch (const std::exception& e) {
    throw std::invalid_argument(what + ": LibTorch cannot read it (a damaged or unsupported file): " + e.what());
  }
  if (!value.isGenericDict()) {
    throw std::invalid_argument(what + " holds a " + value.tagKind() + ", expected a dict of tensors (a state dict)");
  }
  auto dict = value.toGenericDict();
  if (!detail::all_tensors(dict)) {
    std::string contents;
    for (const auto& item : dict) {
      contents += (contents.empty() ? "" : ", ") +
                  (item.key().isString() ? item.key().toStringRef() : "(a " + item.key().tagKind() + ")") + " (" +
                  item.value().tagKind() + ")";
    }
    bool found = false;
    for (const auto& key : detail::nested_state_dict_keys()) {
      const auto it = dict.find(key);
      if (it == dict.end() || !it->value().isGenericDict() || !detail::all_tensors(it->value().toGenericDict())) continue;
      dict = it->value().toGenericDict();
      if (notes != nullptr) notes->push_back("read the state dict under '" + key + "' of the file's dict (" + contents + ")");
      found = true;
      break;
    }
    if (!found) {
      std::string tried;
      for (const auto& key : detail::nested_state_dict_keys()) tried += (tried.empty() ? "" : ", ") + key;
      throw std::invalid_argument(what + " holds a dict of " + contents + ": not a state dict (names to tensors), "
                                  "and none of its entries " + tried + " is one. Save the model's weights in Python "
                                  "with torch.save(model.state_dict(), path)");
    }
  }
  StateDict out;
  for (const auto& item : dict) {
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  // A backbone under a prefix: its tensors, renamed; a momentum branch only when nothing else is.
  auto prefixes = detail::backbone_prefixes(out);
  if (prefixes.empty() || std::find(prefixes.begin(), prefixes.end(), "") != prefixes.end()) return out;
  auto momentum = [](const std::string& p) {
    for (const char* m : {"encoder_k.", "momentum", "target", "ema."}) {
      if (p.find(m) != std::string::npos) return true;
    }
    return false;
  };
  std::vector<std::string> online;
  for (const auto& p : prefixes) {
    if (!momentum(p)) online.push_back(p);
  }
  if (!online.empty()) prefixes = online;
  if (prefixes.size() > 1) {
    std::string list;
    for (const auto& p : prefixes) list += (list.empty() ? "'" : ", '") + p + "'";
    throw std::invalid_argument(what + " holds several backbones, under the prefixes " + list + "; save the one "
                                "you mean in Python: torch.save({k[len(P):]: v for k, v in sd.items() if "
                                "k.startswith(P)}, path)");
  }
  const auto& prefix = prefixes.front();
  StateDict kept;
  int64_t left_out = 0;
  for (auto& [name, t] : out) {
    if (name.rfind(prefix, 0) == 0) {
      kept.emplace_back(name.substr(prefix.size()), t);
    } else {
      ++left_out;
    }
  }
  if (notes != nullptr) {
    notes->push_back("read the " + std::to_string(kept.size()) + " tensors under the prefix '" + prefix + "' (" +
                     std::to_string(left_out) + " others left out)");
  }
  return kept;
}

inline StateDict read_state_dict(const std::string& path) { return read_state_dict(path, nullptr); }

/// What import_weights did.
struct ImportReport {
  int64_t tensors = 0;               ///< copied into the backbone
  std::vector<std::string> ignored;  ///< the reference's classifier head (fc.*), not part of a backbone
};

/// Copies `state` (reference names) into `module`'s parameters and buffers. Every tensor of the
/// backbone must be there with its shape; a name the backbone does not have, a missing name or a
/// shape that differs is an error that lists them all. A classifier head (`fc.*`) is ignored and
/// reported. dtypes are converted; the values land on the module's device.
inline ImportReport import_weights(const std::shared_ptr<torch::nn::Module>& module, const StateDict& state,
                                   const std::string& source = "the state dict") {
  const std::string fn = "selfsup::models::import_weights";
  auto targets = detail::reference_entries(module);
  std::map<std::string, torch::Tensor> given;
  ImportReport report;
  std::vector<std::string> unknown, missing, shapes;
  for (const auto& [name, t] : state) {
    if (name.rfind("fc.", 0) == 0) {
      report.ignored.push_back(name);
      continue;
    }
    given[name] = t;
  }
  std::map<std::string, bool> known;
  std::string first;  // the first difference in the backbone's own order: usually the cause
  for (const auto& [name, target] : targets) {
    known[name] = true;
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      if (first.empty()) first = name + " is missing";
    } else if (it->second.sizes() != target.sizes()) {
      std::ostringstream s;
      s << name << " (expected " << target.sizes() << ", got " << it->second.sizes() << ")";
      shapes.push_back(s.str());
      if (first.empty()) first = "the shape of " + s.str();
    }
  }
  for (const auto& [name, t] : given) {
    if (!known.count(name)) unknown.push_back(name);
  }
  if (!unknown.empty() || !missing.empty() || !shapes.empty()) {
    auto list = [](const std::vector<std::string>& v) {
      std::string out;
      const size_t shown = std::min<size_t>(v.size(), 20);
      for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + v[i];
      if (v.size() > shown) out += ", ... (" + std::to_string(v.size() - shown) + " more)";
      return out;
    };
    std::string message = fn + ": " + source + " does not fit the backbone";
    if (!first.empty()) message += "; first: " + first;
    if (!shapes.empty()) message += "\n  shapes differ: " + list(shapes);
    if (!missing.empty()) message += "\n  missing: " + list(missing);
    if (!unknown.empty()) message += "\n  not in the backbone: " + list(unknown);
    message += "\n(a ResNet's stem must match: --stem imagenet for torchvision's 7x7 conv1, --stem cifar for a 3x3 one)";
    throw std::invalid_argument(message);
  }
  // Values a backbone cannot be trusted with, refused by name before anything is copied.
  for (const auto& [name, target] : targets) {
    const auto& t = given.at(name);
    if (target.is_floating_point() && !t.is_floating_point()) {
      throw std::invalid_argument(fn + ": " + source + ": '" + name + "' holds " + std::string(c10::toString(t.scalar_type())) +
                                  " values, expected floating point (a quantised or damaged file?)");
    }
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) {
      throw std::invalid_argument(fn + ": " + source + ": '" + name + "' holds NaN or infinite values (weights of a "
                                  "diverged run?)");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    target.copy_(given.at(name).to(target.device(), target.scalar_type()));
    ++report.tensors;
  }
  return report;
}

/// The backbone a state dict describes, with its weights: a ResNet (depth from its blocks, the
/// stem from conv1's kernel, the width from conv1's channels; torchvision's names) or a SmallCNN
/// (selfsup's names, the width from its first convolution). `what` names the source in errors.
inline AnyBackbone backbone_for(const StateDict& state, const std::string& what = "the state dict") {
  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  auto has = [&](const std::string& name) { return by_name.count(name) > 0; };
  AnyBackbone backbone{nullptr};
  if (has("conv1.weight")) {
    const auto& conv1 = by_name.at("conv1.weight");
    if (conv1.dim() != 4) throw std::invalid_argument("selfsup::models::backbone_for: " + what + ": conv1.weight is not 4-d");
    // The depth from the blocks per stage (torchvision: 18: 2 2 2 2, 34 and 50: 3 4 6 3,
    // 101: 3 4 23 3, 152: 3 8 36 3); bottleneck blocks have a conv3.
    std::array<int64_t, 4> blocks{};
    for (int64_t stage = 0; stage < 4; ++stage) {
      while (has("layer" + std::to_string(stage + 1) + "." + std::to_string(blocks[stage]) + ".conv1.weight")) ++blocks[stage];
    }
    const bool bottleneck = has("layer1.0.conv3.weight");
    const std::array<int64_t, 4> basic18{2, 2, 2, 2}, deep{3, 4, 6, 3};
    const int64_t depth = blocks == basic18 && !bottleneck ? 18 : blocks == deep ? (bottleneck ? 50 : 34) : 0;
    if (depth == 0) {
      const int64_t layers = 2 + (bottleneck ? 3 : 2) * (blocks[0] + blocks[1] + blocks[2] + blocks[3]);
      throw std::invalid_argument(
          "selfsup::models::backbone_for: " + what + " holds a ResNet with " + std::to_string(blocks[0]) + ", " +
          std::to_string(blocks[1]) + ", " + std::to_string(blocks[2]) + " and " + std::to_string(blocks[3]) + " " +
          (bottleneck ? "bottleneck" : "basic") + " blocks per stage (ResNet-" + std::to_string(layers) +
          "); selfsup's ResNets are ResNet-18, 34 and 50");
    }
    backbone = AnyBackbone(ResNet(ResNetOptions{.depth = depth, .cifar_stem = conv1.size(2) == 3,
                                                .width = conv1.size(0), .in_channels = conv1.size(1)}));
  } else if (has("layers.0.weight")) {
    const auto& conv = by_name.at("layers.0.weight");
    if (conv.dim() != 4) throw std::invalid_argument("selfsup::models::backbone_for: " + what + ": layers.0.weight is not 4-d");
    backbone = AnyBackbone(SmallCNN(SmallCNNOptions{.in_channels = conv.size(1), .width = conv.size(0)}));
  } else {
    throw std::invalid_argument("selfsup::models::backbone_for: " + what +
                                " holds neither a ResNet (conv1.weight, torchvision's names) nor a SmallCNN "
                                "(layers.0.weight)");
  }
  import_weights(backbone.ptr(), state, what);
  return backbone;
}

/// import_weights from the file `path` (read_state_dict).
inline ImportReport import_weights(const std::shared_ptr<torch::nn::Module>& module, const std::string& path) {
  return import_weights(module, read_state_dict(path), "'" + path + "'");
}

template <class Holder>
  requires requires(Holder h) { h.ptr(); }
ImportReport import_weights(const Holder& module, const std::string& path) {
  return import_weights(std::static_pointer_cast<torch::nn::Module>(module.ptr()), path);
}

}  // namespace selfsup::models
