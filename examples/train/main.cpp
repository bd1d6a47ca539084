// train: one command-line trainer for the self-supervised methods (selfsup::methods::all), each
// crossed with the sources of positive pairs (methods::pair_sources), every combination a recipe
// compiled ahead of time. It knows no method by name: its listings, defaults and refusals come
// from each method's methods::Info.
//
//   train --method NAME [--positives augmented|semantic|mix|same_label|nearest_neighbour]
//         [--data synthetic|synthetic:unreachable|cifar10:PATH|cifar100:PATH|stl10:PATH|folder:PATH] [--pairs FILE]
//         [--device cpu|cuda] [--epochs N] [--batch-size B] [--lr X] [--weight-decay X]
//         [--optimizer sgd|lars|adamw] [--temperature X] [--backbone NAME] [--heads paper|small]
//         [--width W] [--mix P] [--queue-size K] [--support-size K] [--warmup-epochs E]
//         [--max-steps S] [--log-every S] [--checkpoint PATH [--resume [--allow-change NAME]...]]
//         [--json PATH] [--seed S] [--seeds N] [--per-class K] [--image-size S] [--quiet]
//         [--stem imagenet|cifar] [--init PATH] [--export PATH] [--patch-size P] [--drop-path R]
//         [--local-crops K] [--teacher-temperature T] [--teacher-warmup-epochs E] [--queue-start-epoch E]
//   train --list | --list-recipes | --help
//
// It trains, then reports kNN top-1 on the test split (and on the embedded dataset's shifted
// split), linear-probe top-1 and training images per second, and writes them as JSON (--json).
// With --seeds N it trains N runs (seeds S, S+1, ...: weights, views, pairs and epoch order; the
// data stays the one --seed S makes) and reports each accuracy's mean with its 95 % interval.
// --init PATH starts the backbone from a state dict (torchvision's names for ResNets, as Python's
// torch.save(model.state_dict(), PATH) writes it); --export PATH writes the trained backbone so
// that torch.load reads it under the same names (with --max-steps 0: the initial weights).
// --list prints every method with its paper and its defaults, and the pair sources compiled for
// it; --list-recipes prints one "method positives" line per compiled recipe; --help every flag with
// its default and allowed values. Learning rates follow each paper's linear rule, base rate · B /
// 256 with B the global batch (--batch-size times the processes), unless --lr is given.
// Progress: a live line on a terminal, plain lines in a log file.
// Under torchrun (or any launcher that sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) it trains
// data parallel: --batch-size per process, rank 0 prints, evaluates and writes (README: "Many
// processes, GPUs and nodes").
#include "train.hpp"

#include <selfsup/detail/crc32c.hpp>
#include <selfsup/distributed/init.hpp>
#include <selfsup/eval/statistics.hpp>
#include <selfsup/models/weights.hpp>
#include <selfsup/report/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <optional>
#include <set>
#include <stdexcept>

namespace train {
namespace {

ss::OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return ss::OptimizerKind::sgd;
  if (name == "lars") return ss::OptimizerKind::lars;
  if (name == "adamw") return ss::OptimizerKind::adamw;
  throw std::invalid_argument(fmt::format("train: --optimizer must be sgd, lars or adamw, got '{}'", name));
}

struct Parsed {
  Config config;
  bool list = false;
  bool list_recipes = false;
  bool list_markdown = false;
  bool positives_given = false;
  std::set<std::string> given;  ///< the flags given on the command line that apply to some runs only
};

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : ss::methods::infos<>) names.emplace_back(m.name);
  return names;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? std::string(sep) : "") + v[i];
  return out;
}

/// "a", "a and b", "a, b and c".
std::string and_list(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i == 0 ? "" : i + 1 == v.size() ? " and " : ", ") + v[i];
  return out;
}

/// The methods that read `knob`, and those that do not.
std::pair<std::vector<std::string>, std::vector<std::string>> methods_reading(ss::methods::Knob knob) {
  std::pair<std::vector<std::string>, std::vector<std::string>> out;
  for (const auto& m : ss::methods::infos<>) (ss::methods::has(m.knobs(), knob) ? out.first : out.second).emplace_back(m.name);
  return out;
}

/// The pair sources that read `knob`.
std::vector<std::string> pair_sources_reading(ss::methods::Knob knob) {
  std::vector<std::string> out;
  ss::methods::for_each_pair_source(ss::methods::pair_sources{}, [&]<class P>() {
    if (ss::methods::has(ss::methods::PairSource<P>::knobs, knob)) out.emplace_back(ss::methods::PairSource<P>::name);
  });
  return out;
}

/// "default: the method's (moco_v2 4096, swav 3840)": each method's value of a knob.
template <class Get>
std::string method_defaults(ss::methods::Knob knob, Get get) {
  std::vector<std::string> v;
  for (const auto& m : ss::methods::infos<>) {
    if (ss::methods::has(m.knobs(), knob)) v.push_back(fmt::format("{} {}", m.name, get(m)));
  }
  std::string out = "default: the method's (";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + ")";
}

/// Reads the command line into `p`; the exit status when the program should stop now (--help,
/// or an error, printed).
std::optional<int> parse(int argc, char** argv, Parsed& p) {
  Config& c = p.config;
  using CLI::Range;
  namespace ex = ss::examples;
  CLI::App app{"Trains one self-supervised method with one source of positive pairs, then reports kNN and "
               "linear-probe accuracy of the frozen features.", "train"};
  ex::name_errors(app);
  app.add_option("--method", c.method, "the method (--list for each one's paper and defaults)")
      ->capture_default_str()->check(CLI::IsMember(method_names()));
  app.add_option("--positives", c.positives, "where each anchor's positive comes from (default: augmented, or "
                                             "the method's first compiled source; --list)")
      ->check(CLI::IsMember(pair_source_names()));
  ex::add_data_options(app, c.data);
  ex::add_device(app, c.device);
  app.add_option("--epochs", c.epochs)->capture_default_str()->check(Range(int64_t{1}, ex::max_epochs));
  app.add_option("--batch-size", c.batch_size, "anchors per step")
      ->capture_default_str()->check(Range(int64_t{2}, ex::max_batch));
  app.add_option("--lr", c.learning_rate, "learning rate (default: the method's base rate · B / 256)")
      ->check(Range(1e-12, 1e3));
  app.add_option("--weight-decay", c.weight_decay, "weight decay (default: the method's)")->check(Range(0.0, 1.0));
  app.add_option("--optimizer", c.optimizer, "optimiser (default: the method's)")
      ->check(CLI::IsMember({"sgd", "lars", "adamw"}));
  app.add_option("--temperature", c.temperature, "the loss's temperature (default: the method's; --list)")
      ->check(Range(1e-6, 1e6));
  app.add_option("--backbone", c.backbone, "auto: small_cnn on the embedded dataset, resnet18 elsewhere")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "small_cnn", "resnet18", "resnet34", "resnet50", "vit_tiny", "vit_small"}));
  app.add_option("--patch-size", c.patch_size, "ViT patch size (0: 16 from 96 px up, 4 below); the image side must "
                                               "be a multiple")
      ->capture_default_str()->check(Range(int64_t{0}, int64_t{64}));
  app.add_option("--drop-path", c.drop_path, "ViT stochastic depth rate of the last block")
      ->capture_default_str()->check(Range(0.0, 0.9));
  app.add_option("--heads", c.heads, "projector sizes: the paper's, or hidden widths / 8 (auto: small for small_cnn)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "paper", "small"}));
  app.add_option("--width", c.width, "small_cnn width")->capture_default_str()->check(Range(int64_t{1}, int64_t{4096}));
  using ss::methods::Info;
  using ss::methods::Knob;
  app.add_option("--mix", c.mix, "mix: probability of a semantic partner")->capture_default_str()->check(Range(0.0, 1.0));
  app.add_option("--queue-size", c.queue_size, "a queue of keys or embeddings, " +
                     method_defaults(Knob::queue_size, [](const Info& m) { return m.queue_size; }))
      ->check(Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--queue-start-epoch", c.queue_start_epoch, "use the queue from this epoch on, " +
                     method_defaults(Knob::queue_start_epoch, [](const Info& m) { return m.queue_start_epoch; }))
      ->check(Range(int64_t{0}, ex::max_epochs));
  app.add_option("--local-crops", c.local_crops, "multi-crop: local views per image, " +
                     method_defaults(Knob::local_crops, [](const Info& m) { return m.local_crops; }))
      ->check(Range(int64_t{0}, int64_t{64}));
  app.add_option("--teacher-temperature", c.teacher_temperature, "the teacher's temperature after the warm-up, " +
                     method_defaults(Knob::teacher_temperature, [](const Info& m) { return *m.teacher_temperature; }))
      ->check(Range(1e-4, 10.0));
  app.add_option("--teacher-warmup-epochs", c.teacher_warmup_epochs, "epochs of the teacher temperature's linear "
                                                                     "warm-up from the method's")
      ->capture_default_str()->check(Range(int64_t{0}, ex::max_epochs));
  app.add_option("--support-size", c.support_size, "a support set of embeddings (--positives nearest_neighbour)")
      ->capture_default_str()->check(Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--warmup-epochs", c.warmup_epochs)->capture_default_str()->check(Range(int64_t{0}, ex::max_epochs));
  app.add_option("--max-steps", c.max_steps, "stop after this many steps in all (-1: every epoch; 0: train "
                                             "nothing)")
      ->capture_default_str()->check(Range(int64_t{-1}, ex::max_steps));
  app.add_option("--stem", c.stem, "ResNet stem: imagenet (7x7 stride 2 and max-pool) or cifar (3x3 stride 1); "
                                   "auto: cifar up to 64 px")
      ->capture_default_str()->check(CLI::IsMember({"auto", "imagenet", "cifar"}));
  app.add_option("--init", c.init, "the backbone's initial weights: a state dict saved by torch.save (torchvision's "
                                   "names for ResNets) or by --export")
      ->check(CLI::ExistingFile);
  app.add_option("--export", c.export_path, "after training, write the backbone here as a state dict torch.load "
                                            "reads (torchvision's names for ResNets)");
  app.add_option("--log-every", c.log_every, "read the loss back every this many steps (progress lines)")
      ->capture_default_str()->check(Range(int64_t{1}, ex::max_steps));
  app.add_option("--checkpoint", c.checkpoint, "saved after every epoch, atomically");
  auto* resume = app.add_flag("--resume", c.resume, "continue from --checkpoint (a new run starts there when "
                                                    "it does not exist yet, and says so)");
  resume->needs(app.get_option("--checkpoint"));
  app.add_option("--allow-change", c.allow_change, "with --resume: an option that may differ from the "
                                                   "checkpoint's run (epochs, max-steps); repeatable")
      ->check(CLI::IsMember({"epochs", "max-steps"}))
      ->needs(resume);
  app.add_option("--json", c.json, "write the results to this JSON file");
  app.add_option("--seeds", c.seeds, "train this many runs, seeded --seed, --seed + 1, ..., and report means with "
                                     "95 % intervals")
      ->capture_default_str()->check(Range(int64_t{1}, int64_t{1000}));
  app.add_option("--timeout", c.timeout_seconds, "data parallel: seconds the rendezvous and any collective may wait "
                                                  "for the other ranks (a waiting rank says so every 30 s)")
      ->capture_default_str()->check(Range(1.0, 7.0 * 24 * 3600));
  app.add_flag("--quiet", c.quiet, "no progress, no banner");
  app.add_flag("--list", p.list, "every method with its paper, defaults and compiled pair sources");
  app.add_flag("--list-recipes", p.list_recipes, "one 'method positives' line per compiled recipe");
  app.add_flag("--list-markdown", p.list_markdown, "the methods as the Markdown table of docs/methods.md");
  if (auto exit = ex::parse(app, argc, argv)) return exit;
  p.positives_given = app.count("--positives") > 0;
  for (const char* flag : {"--local-crops", "--queue-size", "--queue-start-epoch", "--teacher-temperature",
                           "--teacher-warmup-epochs", "--temperature", "--support-size", "--mix", "--patch-size",
                           "--drop-path", "--width", "--stem", "--export"}) {
    if (app.count(flag) > 0) p.given.insert(flag);
  }
  return std::nullopt;
}

/// Refuses, before any work, a flag given for a method, pair source or backbone it does not
/// apply to (it would be ignored), the same way for every such flag.
void refuse_flags_that_do_not_apply(const Config& c, const ss::methods::Info& chosen_method,
                                    const std::set<std::string>& given, const std::string& backbone) {
  using ss::methods::Knob;
  unsigned pair_knobs = 0;  // those of the chosen pair source
  ss::methods::for_each_pair_source(ss::methods::pair_sources{}, [&]<class P>() {
    if (ss::methods::PairSource<P>::name == c.positives) pair_knobs = ss::methods::PairSource<P>::knobs;
  });
  struct Rule {
    const char* flag;
    bool applies;
    std::string where;  // what it applies to
    std::string chosen;  // what was chosen instead
  };
  const std::string method = "--method " + c.method, positives = "--positives " + c.positives,
                    with_backbone = "--backbone " + backbone;
  const bool resnet = backbone.starts_with("resnet"), vit = backbone.starts_with("vit_");
  // A method's knob applies to the methods whose Info reads it; a pair source's to those sources.
  auto method_rule = [&](const char* flag, Knob knob, std::string_view what) -> Rule {
    const auto [readers, others] = methods_reading(knob);
    return {flag, ss::methods::has(chosen_method.knobs(), knob),
            readers.size() <= 3 ? and_list(readers) : fmt::format("the methods with {} (not {})", what, join(others)),
            method};
  };
  auto pair_rule = [&](const char* flag, Knob knob) -> Rule {
    return {flag, ss::methods::has(pair_knobs, knob), "--positives " + and_list(pair_sources_reading(knob)),
            positives};
  };
  const Rule rules[] = {
      method_rule("--local-crops", Knob::local_crops, "local crops"),
      method_rule("--queue-size", Knob::queue_size, "a queue"),
      method_rule("--queue-start-epoch", Knob::queue_start_epoch, "a queue that starts later"),
      method_rule("--teacher-temperature", Knob::teacher_temperature, "a teacher temperature"),
      method_rule("--teacher-warmup-epochs", Knob::teacher_temperature, "a teacher temperature"),
      method_rule("--temperature", Knob::temperature, "a temperature"),
      pair_rule("--support-size", Knob::support_size),
      pair_rule("--mix", Knob::mix),
      {"--patch-size", vit, "the ViT backbones (vit_tiny, vit_small)", with_backbone},
      {"--drop-path", vit, "the ViT backbones (vit_tiny, vit_small)", with_backbone},
      {"--width", backbone == "small_cnn", "the small_cnn backbone", with_backbone},
      {"--stem", resnet, "the ResNet backbones", with_backbone},
      {"--export", resnet || backbone == "small_cnn",
       "the ResNet and small_cnn backbones (a ViT has no reference names to export under)", with_backbone},
  };
  for (const auto& rule : rules) {
    if (given.count(rule.flag) > 0 && !rule.applies) {
      throw std::invalid_argument(
          fmt::format("train: {} applies to {}, not to {}; drop it", rule.flag, rule.where, rule.chosen));
    }
  }
}

/// CRC-32C of a tensor's bytes (none for an undefined one), continuing `crc`.
std::uint32_t tensor_crc32c(const torch::Tensor& t, std::uint32_t crc = 0) {
  if (!t.defined() || t.numel() == 0) return crc;
  const auto c = t.detach().to(torch::kCPU).contiguous();
  return ss::detail::crc32c(std::string_view(static_cast<const char*>(c.data_ptr()), c.nbytes()), crc);
}

void list(const Registry& registry) {
  fmt::print("{:<14}{:<44}{:<7}{:>8}{:>9}  {:<40}{}\n", "method", "paper", "optim", "lr/256", "wd", "positives",
             "loss (defaults)");
  for (const auto& entry : registry.methods()) {
    const auto& m = entry.info;
    fmt::print("{:<14}{:<44}{:<7}{:>8}{:>9}  {:<40}{}\n", m.name, fmt::format("{} [{}]", m.title, m.citation),
               ss::optimizer_name(m.optimizer), m.base_lr, m.weight_decay, join(registry.positives_of(m.name)),
               m.loss);
  }
  fmt::print("\nHeads: the paper's sizes with --heads paper (the default for ResNets), hidden widths / 8 with "
             "--heads small (the default for small_cnn).\n");
}

/// The methods table of docs/methods.md, from the same definitions as --list.
void list_markdown(const Registry& registry) {
  fmt::print("| method (`--method`) | views | positives (`--positives`) | negatives | loss (defaults) | encoder heads | "
             "optimiser, lr per 256, weight decay | citation |\n");
  fmt::print("|---|---|---|---|---|---|---|---|\n");
  for (const auto& entry : registry.methods()) {
    const auto& m = entry.info;
    const std::string_view optimizer = m.optimizer == ss::OptimizerKind::sgd    ? "SGD"
                                       : m.optimizer == ss::OptimizerKind::lars ? "LARS"
                                                                                : "AdamW";
    std::string schedule = fmt::format("{}, {}, {}", optimizer, m.base_lr, m.weight_decay);
    if (m.final_weight_decay >= 0) schedule += fmt::format(" → {} (cosine)", m.final_weight_decay);
    if (m.clip_grad_norm > 0) schedule += fmt::format(", gradient norm clipped at {}", m.clip_grad_norm);
    fmt::print("| {} (`{}`) | `{}` | {} | `{}` | `{}`: {} | {} | {} | {} |\n", m.title, m.name, entry.roles.views,
               join(registry.positives_of(m.name)), entry.roles.negatives, entry.roles.loss, m.loss, m.heads, schedule,
               m.citation);
  }
}

/// The backbone's name: `auto` is small_cnn on the embedded dataset, resnet18 elsewhere.
std::string backbone_name(const Config& c) {
  if (c.backbone != "auto") return c.backbone;
  return ss::examples::is_synthetic(c.data.spec) ? "small_cnn" : "resnet18";
}

/// The backbone named `name`.
std::function<ss::models::AnyBackbone()> make_backbone(const Config& c, const std::string& name, int64_t image_size) {
  if (name == "small_cnn") {
    const ss::models::SmallCNNOptions o{.width = c.width};
    return [o] { return ss::models::AnyBackbone(ss::models::SmallCNN(o)); };
  }
  for (int64_t depth : {18, 34, 50}) {
    if (name == fmt::format("resnet{}", depth)) {
      const bool cifar = c.stem == "auto" ? image_size <= 64 : c.stem == "cifar";
      const ss::models::ResNetOptions o{.depth = depth, .cifar_stem = cifar};
      return [o] { return ss::models::AnyBackbone(ss::models::ResNet(o)); };
    }
  }
  if (name == "vit_tiny" || name == "vit_small") {
    auto o = name == "vit_tiny" ? ss::models::vit_tiny(image_size, c.patch_size) : ss::models::vit_small(image_size, c.patch_size);
    if (image_size % o.patch_size != 0) {
      throw std::invalid_argument(fmt::format("train: --backbone {}: the images are {} px, not a multiple of the patch "
                                              "size {}; pick --patch-size (a divisor of {}) or --image-size",
                                              name, image_size, o.patch_size, image_size));
    }
    o.drop_path_rate = c.drop_path;
    return [o] { return ss::models::AnyBackbone(ss::models::VisionTransformer(o)); };
  }
  throw std::invalid_argument(fmt::format(
      "train: --backbone must be small_cnn, resnet18, resnet34, resnet50, vit_tiny, vit_small or auto, got '{}'", name));
}

int run(int argc, char** argv) {
  Registry registry;
  add_part0(registry);
  add_part1(registry);
  add_part2(registry);
  add_part3(registry);

  Parsed parsed;
  if (auto exit = parse(argc, argv, parsed)) return *exit;
  if (parsed.list) {
    list(registry);
    return EXIT_SUCCESS;
  }
  if (parsed.list_markdown) {
    list_markdown(registry);
    return EXIT_SUCCESS;
  }
  if (parsed.list_recipes) {  // one "method positives" line per compiled recipe, for scripts
    for (const auto& m : registry.methods()) {
      for (const auto& p : registry.positives_of(m.info.name)) fmt::print("{} {}\n", m.info.name, p);
    }
    return EXIT_SUCCESS;
  }
  Config& c = parsed.config;
  const Registry::Method* entry = registry.method(c.method);
  if (entry == nullptr) {
    throw std::invalid_argument(fmt::format("train: --method must be one of {}, got '{}'", join(method_names()), c.method));
  }
  const ss::methods::Info& method = entry->info;
  // Under torchrun (RANK, WORLD_SIZE, ...): data parallel, rank 0 the one that prints and writes.
  const auto ctx = ss::distributed::init_from_env(
      {.timeout = std::chrono::milliseconds(static_cast<int64_t>(c.timeout_seconds * 1000.0))});
  if (!ctx.is_main()) c.quiet = true;
  const auto compiled = registry.positives_of(c.method);
  if (!parsed.positives_given && !registry.find(c.method, c.positives)) c.positives = compiled.front();
  const Runner* runner = registry.find(c.method, c.positives);
  if (runner == nullptr) {
    throw std::invalid_argument(fmt::format("train: --positives for {} must be one of {}, got '{}'", c.method,
                                            join(compiled), c.positives));
  }
  refuse_flags_that_do_not_apply(c, method, parsed.given, backbone_name(c));
  const torch::Device device = ss::examples::parse_device("train", c.device);
  ss::examples::check_output("train", "--json", c.json);
  ss::examples::check_output("train", "--checkpoint", c.checkpoint);
  if (!c.export_path.empty() && c.seeds > 1) {
    throw std::invalid_argument(fmt::format(
        "train: --export writes one backbone, and --seeds {} trains {}; export each seed's run on its own", c.seeds,
        c.seeds));
  }
  ss::examples::check_output("train", "--export", c.export_path);
  std::optional<ss::models::StateDict> init_state;
  if (!c.init.empty()) {  // before the data: fail early
    std::vector<std::string> notes;
    init_state = ss::models::read_state_dict(c.init, &notes);
    for (const auto& note : notes) fmt::print("--init {}: {}\n", c.init, note);
  }
  if (!c.checkpoint.empty() && c.seeds > 1) {
    throw std::invalid_argument(fmt::format(
        "train: --checkpoint saves one run, and --seeds {} asks for {}; checkpoint each seed as its own run "
        "(--seed S --checkpoint PATH-S, then combine the JSON), or drop --checkpoint", c.seeds, c.seeds));
  }
  if (!c.checkpoint.empty()) {
    const bool exists = std::filesystem::exists(c.checkpoint);
    if (exists && !c.resume) {
      throw std::invalid_argument(fmt::format(
          "train: --checkpoint {} already exists and would be overwritten by a new run; add --resume to continue "
          "it, or name another path", c.checkpoint));
    }
    if (!exists && c.resume && ctx.is_main()) {
      fmt::print(stderr, "train: --resume: no checkpoint at '{}' yet: a new run starts and saves there\n",
                 c.checkpoint);
    }
  }
  const auto data = ss::examples::load_data("train", c.data, device);
  const int64_t image_size = data.train.all_images().size(2);
  if (c.batch_size > data.train.size()) {
    throw std::invalid_argument(fmt::format("train: --batch-size {} exceeds the {} training images", c.batch_size,
                                            data.train.size()));
  }

  // The encoder: backbone, the method's heads (paper or small), momentum target if it has one.
  const std::string backbone_kind = backbone_name(c);
  const bool vit = backbone_kind.starts_with("vit_");
  auto backbone = make_backbone(c, backbone_kind, image_size);
  const auto probe = backbone();  // its width, and whether --init fits it
  const int64_t features = probe->out_dim();
  if (init_state) {  // every backbone made (the online one and a momentum target) starts from the file
    const auto report = ss::models::import_weights(probe.ptr(), *init_state, "--init " + c.init);
    if (!c.quiet) {
      fmt::print("--init {}: {} tensors{}\n", c.init, report.tensors,
                 report.ignored.empty() ? std::string()
                                        : fmt::format(", the classifier head left out ({})", join(report.ignored)));
    }
    backbone = [make = backbone, &init_state, &c] {
      auto b = make();
      ss::models::import_weights(b.ptr(), *init_state, "--init " + c.init);
      return b;
    };
  }
  std::string heads = c.heads;
  if (heads == "auto") heads = backbone_kind == "small_cnn" ? "small" : "paper";
  if (heads != "paper" && heads != "small") {
    throw std::invalid_argument(fmt::format("train: --heads must be paper, small or auto, got '{}'", c.heads));
  }
  const int64_t steps_per_epoch = std::max<int64_t>(1, data.train.size() / (c.batch_size * ctx.world_size()));
  Setup setup{.config = c, .train = data.train, .pairs = data.pairs, .image_size = image_size,
              .steps_per_epoch = steps_per_epoch, .rank = ctx.rank()};
  auto encoder_options = entry->encoder(features, setup.method_settings());
  if (heads == "small") encoder_options = ss::methods::small_heads(encoder_options);
  // The paper's optimiser, its learning rate by the linear rule on the global batch (W processes
  // of B train as one of W·B), unless the command line says otherwise.
  setup.trainer = ss::methods::paper_optimizer(
      method, {.epochs = c.epochs, .batch_size = c.batch_size, .schedule = {.warmup_steps = c.warmup_epochs * steps_per_epoch},
               .seed = c.data.seed, .log_every = c.log_every, .max_steps = c.max_steps},
      c.batch_size * ctx.world_size());
  if (c.optimizer) setup.trainer.optimizer = parse_optimizer(*c.optimizer);
  if (c.learning_rate) setup.trainer.learning_rate = *c.learning_rate;
  const double weight_decay = c.weight_decay.value_or(method.weight_decay);
  setup.trainer.weight_decay = weight_decay;
  // The paper's ratio of the final to the initial weight decay (DINO: 0.04 to 0.4), under
  // --weight-decay too.
  if (method.final_weight_decay >= 0) {
    setup.trainer.final_weight_decay = weight_decay * method.final_weight_decay / method.weight_decay;
  }
  const auto kind = setup.trainer.optimizer;
  const double lr = setup.trainer.learning_rate;
  // What else shapes the run: a checkpoint records it, and a resume that changes it is refused.
  auto or_default = [](const auto& v) { return v ? fmt::format("{}", *v) : std::string("default"); };
  setup.trainer.run = {{"method", c.method},
                       {"positives", c.positives},
                       {"data", c.data.spec},
                       {"per_class", or_default(c.data.per_class)},
                       {"image_size", std::to_string(image_size)},
                       {"pairs", c.data.pairs},
                       {"temperature", or_default(c.temperature)},
                       {"backbone", backbone_kind},
                       {"heads", heads},
                       {"width", std::to_string(c.width)},
                       {"mix", fmt::format("{}", c.mix)},
                       // a method without a queue records 4096, as every checkpoint before has it
                       {"queue_size", std::to_string(c.queue_size.value_or(method.queue_size >= 0 ? method.queue_size
                                                                                                  : 4096))},
                       {"support_size", std::to_string(c.support_size)},
                       {"stem", c.stem},
                       {"init", c.init}};
  // The data's identity, not only its name: a resume, or a rank, on other images, labels or pairs
  // under the same names is refused.
  setup.trainer.run["data.train_crc32c"] =
      fmt::format("{:08x}", tensor_crc32c(data.train.all_labels(), tensor_crc32c(data.train.all_images())));
  if (data.pairs) {
    setup.trainer.run["data.pairs_crc32c"] =
        fmt::format("{:08x}", tensor_crc32c(data.pairs->second, tensor_crc32c(data.pairs->first)));
  }
  // Recorded only where they apply, so that the checkpoints of other runs keep their records.
  if (vit) {
    setup.trainer.run["patch_size"] = std::to_string(c.patch_size);
    setup.trainer.run["drop_path"] = fmt::format("{}", c.drop_path);
  }
  using ss::methods::Knob;
  if (ss::methods::has(method.knobs(), Knob::local_crops)) setup.trainer.run["local_crops"] = or_default(c.local_crops);
  if (ss::methods::has(method.knobs(), Knob::teacher_temperature)) {
    setup.trainer.run["teacher_temperature"] = or_default(c.teacher_temperature);
    setup.trainer.run["teacher_warmup_epochs"] = std::to_string(c.teacher_warmup_epochs);
  }
  if (ss::methods::has(method.knobs(), Knob::queue_start_epoch)) {
    setup.trainer.run["queue_start_epoch"] = std::to_string(c.queue_start_epoch.value_or(method.queue_start_epoch));
  }
  for (const auto& name : c.allow_change) setup.trainer.may_change_on_resume.insert(name == "max-steps" ? "max_steps" : name);
  setup.make_encoder = [&] {
    torch::manual_seed(setup.run_seed);
    return Encoder(ss::models::BackboneFactory<ss::models::AnyBackbone>{backbone}, encoder_options);
  };
  const ss::eval::KNNOptions knn{};  // k = 20, T = 0.1: the setting every program shares
  std::vector<std::uint64_t> seeds;
  for (int64_t i = 0; i < c.seeds; ++i) seeds.push_back(c.data.seed + static_cast<std::uint64_t>(i));
  if (!c.quiet) {
    fmt::print("{} ({}) with {} positives on {} ({} training images, {}x{}), {} backbone, {} heads, {} lr {:.4g}, "
               "batch {}, {} epochs, {}, device {}{}\n",
               method.title, method.citation, c.positives, data.name, data.train.size(), image_size, image_size,
               backbone_kind, heads, ss::optimizer_name(kind), lr, c.batch_size, c.epochs,
               seeds.size() == 1 ? fmt::format("seed {}", seeds.front())
                                 : fmt::format("seeds {} to {}", seeds.front(), seeds.back()),
               c.device,
               ctx.distributed() ? fmt::format(", {} processes ({}, global batch {})", ctx.world_size(),
                                               ctx.communicator()->backend_name(), c.batch_size * ctx.world_size())
                                 : std::string());
  }

  // One run per seed: train, then evaluate the frozen backbone's features.
  struct RunResult {
    int64_t steps = 0;
    int64_t resumed_from_step = 0;
    std::optional<double> final_loss;  ///< the last logged loss (the trainer stops when one is not finite)
    double knn_top1 = 0.0;
    std::optional<double> shifted_knn_top1;
    double linear_top1 = 0.0;
    double images_per_s = 0.0;
  };
  // The frozen backbone's features: kNN on the test (and shifted) split, the linear probe.
  auto evaluate = [&](Encoder& encoder) {
    RunResult r;
    r.knn_top1 = ss::eval::knn_evaluate(encoder, data.train, data.test, knn).top1;
    if (data.shifted) r.shifted_knn_top1 = ss::eval::knn_evaluate(encoder, data.train, *data.shifted, knn).top1;
    r.linear_top1 =
        ss::eval::linear_probe(encoder, data.train, data.test, {.max_iterations = 100, .seed = c.data.seed}).top1;
    return r;
  };
  std::optional<std::string> export_error;  // reported after the results, which are not lost
  std::vector<RunResult> runs;
  std::vector<RunResult> untrained;  // each seed's initial weights, the network its run starts from
  for (size_t i = 0; i < seeds.size(); ++i) {
    setup.run_seed = seeds[i];
    setup.trainer.seed = seeds[i];
    if (!c.quiet && seeds.size() > 1) fmt::print("seed {} ({}/{})\n", seeds[i], i + 1, seeds.size());
    auto outcome = (*runner)(setup);
    if (!ctx.is_main()) continue;  // rank 0 evaluates, reports and writes
    {
      auto initial = setup.make_encoder();  // seeded as the run's own: the weights it started from
      initial->to(device);
      untrained.push_back(evaluate(initial));
    }
    if (ctx.distributed() && !c.quiet) {
      fmt::print("all {} ranks hold bit-identical parameters (CRC-32C {:08x})\n", ctx.world_size(),
                 outcome.parameters_crc32c);
    }
    RunResult r = evaluate(outcome.encoder);
    r.steps = outcome.fit.steps;
    r.resumed_from_step = outcome.resumed_from_step;
    if (!outcome.fit.log.empty()) r.final_loss = outcome.fit.log.back().loss;
    r.images_per_s = outcome.fit.images_per_second();
    runs.push_back(r);
    if (!c.export_path.empty()) {
      try {
        ss::examples::write_output("train", c.export_path, [&](const std::string& path) {
          ss::models::export_weights(outcome.encoder->backbone, path);
        });
      } catch (const std::exception& e) {  // the results are still reported; the run then fails
        export_error = e.what();
      }
    }
  }

  if (!ctx.is_main()) return EXIT_SUCCESS;
  // Each accuracy over the runs: the values, and their mean, deviation and 95 % interval.
  auto column_of = [](const std::vector<RunResult>& of, auto get) {
    std::vector<double> v;
    for (const auto& r : of) v.push_back(get(r));
    return v;
  };
  auto column = [&](auto get) { return column_of(runs, get); };
  const auto get_knn = [](const RunResult& r) { return r.knn_top1; };
  const auto get_shifted = [](const RunResult& r) { return *r.shifted_knn_top1; };
  const auto get_linear = [](const RunResult& r) { return r.linear_top1; };
  const auto knn_runs = column(get_knn);
  const auto linear_runs = column(get_linear);
  const auto knn_stats = ss::stats::summarize(knn_runs, "knn_top1");
  const auto linear_stats = ss::stats::summarize(linear_runs, "linear_top1");
  std::optional<std::vector<double>> shifted_runs;
  std::optional<ss::stats::Summary> shifted_stats;
  if (data.shifted) {
    shifted_runs = column(get_shifted);
    shifted_stats = ss::stats::summarize(*shifted_runs, "shifted_knn_top1");
  }
  // The same for the untrained network, and each run's paired difference from it (same seed).
  const auto untrained_knn = column_of(untrained, get_knn);
  const auto untrained_linear = column_of(untrained, get_linear);
  const auto untrained_knn_stats = ss::stats::summarize(untrained_knn, "untrained knn_top1");
  const auto untrained_linear_stats = ss::stats::summarize(untrained_linear, "untrained linear_top1");
  const auto knn_gain = ss::stats::paired_difference(knn_runs, untrained_knn, "knn_top1 - untrained");
  const auto linear_gain = ss::stats::paired_difference(linear_runs, untrained_linear, "linear_top1 - untrained");
  std::optional<std::vector<double>> untrained_shifted;
  std::optional<ss::stats::Summary> untrained_shifted_stats, shifted_gain;
  if (data.shifted) {
    untrained_shifted = column_of(untrained, get_shifted);
    untrained_shifted_stats = ss::stats::summarize(*untrained_shifted, "untrained shifted_knn_top1");
    shifted_gain = ss::stats::paired_difference(*shifted_runs, *untrained_shifted, "shifted_knn_top1 - untrained");
  }
  std::optional<double> final_loss;
  std::vector<std::optional<double>> final_losses;
  for (const auto& r : runs) final_losses.push_back(r.final_loss);
  if (std::all_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.final_loss.has_value(); })) {
    final_loss = ss::stats::summarize(column([](const RunResult& r) { return *r.final_loss; }), "final_loss").mean;
  }
  const double images_per_s =
      ss::stats::summarize(column([](const RunResult& r) { return r.images_per_s; }), "images_per_s").mean;

  fmt::print("\n{:<14}{:<20}{:>8}{:>12}{:>14}{:>14}{:>12}\n", seeds.size() > 1 ? "seed" : "method", "positives", "steps",
             "kNN top-1", "shifted kNN", "linear top-1", "images/s");
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    fmt::print("{:<14}{:<20}{:>8}{:>12.3f}{:>14}{:>14.3f}{:>12.0f}\n",
               seeds.size() > 1 ? std::to_string(seeds[i]) : c.method, c.positives, r.steps, r.knn_top1,
               r.shifted_knn_top1 ? fmt::format("{:.3f}", *r.shifted_knn_top1) : std::string("-"), r.linear_top1,
               r.images_per_s);
  }
  for (size_t i = 0; i < untrained.size(); ++i) {
    const auto& r = untrained[i];
    fmt::print("{:<14}{:<20}{:>8}{:>12.3f}{:>14}{:>14.3f}{:>12}\n",
               seeds.size() > 1 ? std::to_string(seeds[i]) : c.method, "untrained", 0, r.knn_top1,
               r.shifted_knn_top1 ? fmt::format("{:.3f}", *r.shifted_knn_top1) : std::string("-"), r.linear_top1, "-");
  }
  fmt::print("kNN: weighted vote of the k = {} nearest training images (cosine), temperature {}\n", knn.k,
             knn.temperature);
  if (seeds.size() > 1) {
    auto cell = [](const ss::stats::Summary& s) { return fmt::format("{:.3f} ± {:.3f}", s.mean, *s.ci95); };
    fmt::print("\n{} {} over {} seeds, mean ± half-width of the 95 % interval (Student t):\n", c.method, c.positives,
               seeds.size());
    fmt::print("  kNN top-1 {}   shifted kNN {}   linear top-1 {}\n", cell(knn_stats),
               shifted_stats ? cell(*shifted_stats) : std::string("-"), cell(linear_stats));
    fmt::print("untrained (the same seeds' initial weights):\n");
    fmt::print("  kNN top-1 {}   shifted kNN {}   linear top-1 {}\n", cell(untrained_knn_stats),
               untrained_shifted_stats ? cell(*untrained_shifted_stats) : std::string("-"), cell(untrained_linear_stats));
  }
  {
    // The gain over the network the run started from, seed by seed.
    auto gain = [&](const ss::stats::Summary& s) {
      return s.ci95 ? fmt::format("{:+.3f} ± {:.3f}{}", s.mean, *s.ci95, s.interval_excludes_zero() ? "" : " (includes 0)")
                    : fmt::format("{:+.3f}", s.mean);
    };
    fmt::print("{} from the untrained network{}:\n  kNN top-1 {}   shifted kNN {}   linear top-1 {}\n",
               seeds.size() > 1 ? "trained - untrained, paired by seed" : "trained - untrained",
               seeds.size() > 1 ? ", mean ± 95 % half-width" : "", gain(knn_gain),
               shifted_gain ? gain(*shifted_gain) : std::string("-"), gain(linear_gain));
  }
  if (!c.json.empty()) {
    using ss::report::number;
    using ss::report::Json;
    auto array = [](const auto& values) {
      Json a = Json::array();
      for (const auto& v : values) a.push_back(number(v));
      return a;
    };
    Json json{{"method", c.method},
              {"positives", c.positives},
              {"data", c.data.spec},
              {"steps", runs.front().steps},
              {"resumed_from_step", runs.front().resumed_from_step},
              {"final_loss", number(final_loss)},
              {"knn_top1", number(knn_stats.mean)},
              {"shifted_knn_top1", shifted_stats ? number(shifted_stats->mean) : Json(nullptr)},
              {"linear_top1", number(linear_stats.mean)},
              {"images_per_s", number(images_per_s)},
              {"world_size", ctx.world_size()},
              {"global_batch_size", c.batch_size * ctx.world_size()}};
    json["seeds"] = seeds;
    json["knn"] = {{"k", knn.k}, {"temperature", knn.temperature}};
    json["final_loss_runs"] = array(final_losses);
    json["knn_top1_runs"] = array(knn_runs);
    json["shifted_knn_top1_runs"] = shifted_runs ? array(*shifted_runs) : Json(nullptr);
    json["linear_top1_runs"] = array(linear_runs);
    json["knn_top1_ci95"] = ss::report::half_width(knn_stats);
    json["shifted_knn_top1_ci95"] = shifted_stats ? ss::report::half_width(*shifted_stats) : Json(nullptr);
    json["linear_top1_ci95"] = ss::report::half_width(linear_stats);
    json["untrained"] = {{"knn_top1", number(untrained_knn_stats.mean)},
                         {"shifted_knn_top1", untrained_shifted_stats ? number(untrained_shifted_stats->mean) : Json(nullptr)},
                         {"linear_top1", number(untrained_linear_stats.mean)},
                         {"knn_top1_runs", array(untrained_knn)},
                         {"shifted_knn_top1_runs", untrained_shifted ? array(*untrained_shifted) : Json(nullptr)},
                         {"linear_top1_runs", array(untrained_linear)},
                         {"knn_top1_ci95", ss::report::half_width(untrained_knn_stats)},
                         {"shifted_knn_top1_ci95",
                          untrained_shifted_stats ? ss::report::half_width(*untrained_shifted_stats) : Json(nullptr)},
                         {"linear_top1_ci95", ss::report::half_width(untrained_linear_stats)}};
    auto difference = [](const ss::stats::Summary& d) { return Json{{"mean", number(d.mean)}, {"ci95", ss::report::half_width(d)}}; };
    json["vs_untrained"] = {{"knn_top1", difference(knn_gain)},
                            {"shifted_knn_top1", shifted_gain ? difference(*shifted_gain) : Json(nullptr)},
                            {"linear_top1", difference(linear_gain)}};
    ss::examples::write_output("train", c.json, [&](const std::string& path) { ss::report::write_json(json, path); });
  }
  if (export_error) {
    throw std::runtime_error(*export_error + " (the trained run's results are above" +
                             (c.json.empty() ? std::string(")") : " and in " + c.json + ")"));
  }
  return EXIT_SUCCESS;
}

}  // namespace
}  // namespace train

int main(int argc, char** argv) try {
  selfsup::runtime::tune_cpu_training();  // from the start: data loading and evaluation too
  return train::run(argc, argv);
} catch (...) {
  return selfsup::examples::print_error();
}
