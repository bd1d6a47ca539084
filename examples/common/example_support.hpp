#pragma once
// What the example programs share: command lines through CLI11 (every flag with its default and
// allowed values in --help, errors that name the program, the flag and the value), the datasets
// they train on (--data synthetic | cifar10:PATH | cifar100:PATH | stl10:PATH | folder:PATH, a
// budget of --per-class images per class, an optional semantic pair table), and output paths
// checked before the long work starts.
#include <selfsup/selfsup.hpp>
#include <selfsup/report/file.hpp>
#if SELFSUP_EXAMPLES_IMAGE_IO
#include <selfsup/data/image_folder.hpp>
#endif

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace selfsup::examples {

/// Makes `app`'s parse errors start with the program's name ("train: --epochs: Value 0 not in
/// range 1 to 100000").
inline void name_errors(CLI::App& app) {
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    std::string name = a->get_name();  // with the sub-command given, if any ("curate mine")
    for (const auto* sub : a->get_subcommands()) name += " " + sub->get_name();
    return name + ": " + CLI::FailureMessage::simple(a, e);
  });
}

/// Parses the command line; the exit status when the program should stop now (after --help: 0;
/// after an error, printed with the program's name: not 0).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

/// Upper bounds of numeric flags: beyond them a value is a typo, not a plan.
/// For a program's `catch (...)`: prints the error being handled as one line on stderr
/// (LibTorch's without its backtrace) and returns EXIT_FAILURE.
inline int print_error() {
  try {
    throw;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "{}\n", e.what_without_backtrace());
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "an unknown error\n");
  }
  return EXIT_FAILURE;
}

inline constexpr int64_t max_epochs = 100'000;
inline constexpr int64_t max_batch = 1 << 20;
inline constexpr int64_t max_steps = int64_t{1} << 40;

/// --device cpu|cuda.
inline void add_device(CLI::App& app, std::string& device) {
  app.add_option("--device", device, "where to train (cuda: the first GPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

/// --seed S: a non-negative integer.
inline void add_seed(CLI::App& app, std::uint64_t& seed) {
  app.add_option("--seed", seed, "seeds the data, the weights, the views and the batches")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

/// The device named by --device (checked to be available).
inline torch::Device parse_device(std::string_view program, const std::string& name) {
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      throw std::invalid_argument(fmt::format("{}: --device cuda, but no CUDA device is available", program));
    }
    return torch::kCUDA;
  }
  if (name != "cpu") throw std::invalid_argument(fmt::format("{}: --device must be cpu or cuda, got '{}'", program, name));
  return torch::kCPU;
}

/// Checks that `path` (given with `flag`) can be written, before the long work starts; nothing
/// for an empty path (the output is off).
inline void check_output(std::string_view program, std::string_view flag, const std::string& path) {
  if (path.empty()) return;
  try {
    report::check_writable(path, flag);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", program, e.what()));
  }
}

/// Writes an output file with `write(path)`, naming the program in any error.
template <class Write>
void write_output(std::string_view program, const std::string& path, Write&& write) {
  try {
    write(path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(fmt::format("{}: {}", program, e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", program, e.what()));
  }
  // The note goes to stderr when the output itself went to stdout.
  const bool to_stdout = path == "-" || path == "/dev/stdout" || path == "/dev/fd/1" || path == "/proc/self/fd/1";
  fmt::print(to_stdout ? stderr : stdout, "wrote {}\n", path);
}

struct DataOptions {
  std::string spec = "synthetic";    ///< --data
  std::string pairs;                 ///< --pairs FILE: a semantic pair table of the training split
  /// --per-class K: synthetic: training images generated per class (default
  /// `synthetic_per_class`); other datasets: a seeded class-balanced subset of K images per
  /// class of the training split (default: all of it).
  std::optional<int64_t> per_class;
  int64_t synthetic_per_class = 300;
  std::optional<int64_t> image_size; ///< folder: side of the views and evaluation reads (default 64)
  std::uint64_t seed = 0;
};

struct Data {
  data::InMemoryDataset train, test;
  std::optional<data::InMemoryDataset> shifted;  ///< the embedded dataset's shifted split
  std::optional<data::PairTable> pairs;          ///< semantic pairs of the training split
  std::string name;
  /// With --per-class on a stored dataset: the full split's index of each training image
  /// (int64, CPU); undefined when the training split is the whole split.
  torch::Tensor chosen;
  /// Image folders: each training image's path relative to PATH/train (a pair table's form).
  std::vector<std::string> train_paths;
  /// Image folders: the class of each label (train/'s folder names); empty elsewhere.
  std::vector<std::string> class_names;
};

inline constexpr std::string_view data_forms =
    "synthetic, synthetic:unreachable, cifar10:PATH, cifar100:PATH, stl10:PATH or folder:PATH";

/// The embedded dataset: `synthetic`, or its first version, `synthetic:unreachable`.
inline bool is_synthetic(const std::string& spec) { return spec == "synthetic" || spec == "synthetic:unreachable"; }

/// --data, --pairs, --per-class, --image-size and --seed, into `d`.
inline void add_data_options(CLI::App& app, DataOptions& d) {
  app.add_option("--data", d.spec, "synthetic (the embedded dataset; synthetic:unreachable: its first version, "
                                   "with stripes, texture and clutter), cifar10:PATH, cifar100:PATH, stl10:PATH or "
                                   "folder:PATH (PATH/train/<class>/<image>, PATH/val/...)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (is_synthetic(v)) return {};
            for (std::string_view prefix : {"cifar10:", "cifar100:", "stl10:", "folder:"}) {
              if (v.rfind(prefix, 0) == 0) {
                return v.size() > prefix.size() ? std::string() : fmt::format("needs a path after '{}'", prefix);
              }
            }
            return fmt::format("must be {}, got '{}'", data_forms, v);
          },
          "synthetic|synthetic:unreachable|cifar10:PATH|cifar100:PATH|stl10:PATH|folder:PATH", "data"));
  app.add_option("--pairs", d.pairs, "a semantic pair table (CSV) of the full training split; remapped to the "
                                     "--per-class subset")
      ->check(CLI::ExistingFile);
  app.add_option("--per-class", d.per_class,
                 fmt::format("images per class: synthetic: generated (default {}); other datasets: a seeded "
                             "class-balanced subset of the training split (default: all)", d.synthetic_per_class))
      ->check(CLI::Range(int64_t{2}, int64_t{10'000'000}));
  app.add_option("--image-size", d.image_size, "folder: side of the training views (cut from the full images) and of "
                                               "the evaluation reads (Resize, then CenterCrop) (default 64)")
      ->check(CLI::Range(int64_t{8}, int64_t{1024}));
  add_seed(app, d.seed);
}

/// Loads the training and test splits named by `options.spec` onto `device`:
///   synthetic      the embedded dataset (train, test and shifted splits; its curated pair table),
///                  `per_class` images generated per class; synthetic:unreachable its first
///                  version (data::SyntheticNuisance::unreachable)
///   cifar10:PATH   the binary release (PATH/cifar-10-batches-bin or PATH itself)
///   cifar100:PATH  likewise (cifar-100-binary), fine labels
///   stl10:PATH     stl10_binary (train and test; the unlabeled split is not used)
///   folder:PATH    PATH/train/<class>/<image> and PATH/val/<class>/<image> (JPEG or PNG; the
///                  ImageNet and Imagenette layout): held in memory as evaluation reads at
///                  `image_size` (Resize, then CenterCrop), training views cut from the full
///                  images on disk (data::with_folder_views)
/// Outside the embedded dataset, `per_class` keeps a seeded class-balanced subset of the training
/// split, chosen from its labels before any image is loaded; a larger `per_class` than a class
/// has is an error. A pair table (`options.pairs`) indexes the full training split, by index or
/// by path (folders), and is remapped to the subset (pairs leaving it are dropped and counted).
inline Data load_data(std::string_view program, const DataOptions& options, const torch::Device& device) try {
  const auto& spec = options.spec;
  auto root_of = [&](std::string_view prefix) -> std::optional<std::filesystem::path> {
    if (spec.rfind(prefix, 0) != 0) return std::nullopt;
    auto root = spec.substr(prefix.size());
    if (root.empty()) throw std::invalid_argument(fmt::format("--data {} needs a path after '{}'", spec, prefix));
    return std::filesystem::path(root);
  };
  // The subset of the training split with these labels, or undefined for all of it.
  auto choose = [&](const torch::Tensor& labels) -> torch::Tensor {
    if (!options.per_class) return {};
    return data::class_balanced_subset(labels, *options.per_class, options.seed, "--per-class");
  };
  if (options.image_size && spec.rfind("folder:", 0) != 0) {
    throw std::invalid_argument(fmt::format("--image-size applies to --data folder:PATH only (views and evaluation "
                                            "reads there are made at that size); {} has a fixed image size: leave it out",
                                            spec));
  }
  Data d;
  torch::Tensor chosen;
  int64_t full_size = 0;
  std::vector<std::string> paths;
  if (is_synthetic(spec)) {
    const int64_t per_class = options.per_class.value_or(options.synthetic_per_class);
    // 10 classes of 32 x 32 x 3 bytes: refuse what this machine's memory cannot hold before
    // generating anything.
    const double bytes = 10.0 * static_cast<double>(per_class) * 32 * 32 * 3;
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    if (memory > 0 && bytes > memory / 2) {
      throw std::invalid_argument(fmt::format(
          "--per-class {}: the embedded dataset would need {:.1f} GiB for its training images, more than half of this "
          "machine's {:.1f} GiB of memory", per_class, bytes / (1 << 30), memory / (1 << 30)));
    }
    const auto nuisance = spec == "synthetic" ? data::SyntheticNuisance::reachable : data::SyntheticNuisance::unreachable;
    const data::SyntheticOptions train{.classes = 10, .per_class = per_class, .size = 32, .seed = options.seed,
                                       .nuisance = nuisance};
    const data::SyntheticOptions eval{.classes = 10, .per_class = 100, .size = 32, .seed = options.seed,
                                      .nuisance = nuisance};
    d.train = data::make_synthetic(train, data::SyntheticSplit::train, device);
    d.test = data::make_synthetic(eval, data::SyntheticSplit::test, device);
    d.shifted = data::make_synthetic(eval, data::SyntheticSplit::shifted, device);
    d.pairs = data::make_synthetic_pairs(train, {.seed = options.seed});
    d.name = spec == "synthetic" ? "the embedded dataset" : "the embedded dataset's first version (unreachable nuisances)";
  } else if (auto root = root_of("cifar10:")) {
    const auto labels = data::read_cifar10_labels(*root);
    full_size = labels.numel();
    chosen = choose(labels);
    d.train = chosen.defined() ? data::read_cifar10(*root, data::CifarSplit::train, device, chosen)
                               : data::read_cifar10(*root, data::CifarSplit::train, device);
    d.test = data::read_cifar10(*root, data::CifarSplit::test, device);
    d.name = "CIFAR-10";
  } else if (auto root = root_of("cifar100:")) {
    constexpr auto fine = data::Cifar100Labels::fine;
    const auto labels = data::read_cifar100_labels(*root, data::CifarSplit::train, fine);
    full_size = labels.numel();
    chosen = choose(labels);
    d.train = chosen.defined() ? data::read_cifar100(*root, data::CifarSplit::train, fine, device, chosen)
                               : data::read_cifar100(*root, data::CifarSplit::train, fine, device);
    d.test = data::read_cifar100(*root, data::CifarSplit::test, fine, device);
    d.name = "CIFAR-100";
  } else if (auto root = root_of("stl10:")) {
    const auto labels = data::read_stl10_labels(*root, data::Stl10Split::train);
    full_size = labels.numel();
    chosen = choose(labels);
    d.train = data::read_stl10(*root, data::Stl10Split::train, device);
    if (chosen.defined()) d.train = data::subset(d.train, chosen);
    d.test = data::read_stl10(*root, data::Stl10Split::test, device);
    d.name = "STL-10";
  } else if (auto root = root_of("folder:")) {
#if SELFSUP_EXAMPLES_IMAGE_IO
    for (const char* sub : {"train", "val"}) {
      if (!std::filesystem::is_directory(*root / sub)) {
        throw std::invalid_argument(fmt::format(
            "--data folder:{} expects the sub-folders train/ and val/ (each <class>/<image>), but {} is not a directory",
            root->string(), (*root / sub).string()));
      }
    }
    // Headers only while scanning; the decoding threads are this machine's cores.
    const data::ImageFolderOptions folder{
        .size = options.image_size.value_or(64),
        .threads = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()))};
    auto train = std::make_shared<const data::ImageFolder>(*root / "train", folder, device);
    // One class list for both splits, the training split's: a label means one class in both.
    auto val_options = folder;
    val_options.classes = train->class_names();
    data::ImageFolder test(*root / "val", val_options, device);
    full_size = train->size();
    chosen = choose(train->labels(torch::arange(train->size(), torch::kLong)).cpu());
    // Evaluation reads (Resize, CenterCrop) in memory; training views cut from the full images.
    d.train = chosen.defined() ? data::InMemoryDataset(train->images(chosen), train->labels(chosen)) : train->load_all();
    d.train = data::with_folder_views(d.train, train, chosen);
    d.test = test.load_all();
    paths = train->paths();
    d.class_names = train->class_names();
    d.name = fmt::format("{} ({} classes)", root->string(), train->class_names().size());
#else
    throw std::invalid_argument(
        "--data folder:PATH needs image decoding, and this build has none (install libturbojpeg0-dev, libjpeg62-turbo-dev and "
        "libpng-dev and reconfigure)");
#endif
  } else {
    throw std::invalid_argument(fmt::format("--data must be {}, got '{}'", data_forms, spec));
  }
  if (chosen.defined()) {
    d.name += fmt::format(", {} images per class of {}", *options.per_class, full_size);
    d.chosen = chosen.to(torch::kCPU, torch::kLong);
  }
  if (!paths.empty()) {
    if (chosen.defined()) {
      const auto c = d.chosen.accessor<int64_t, 1>();
      for (int64_t i = 0; i < c.size(0); ++i) d.train_paths.push_back(paths[static_cast<size_t>(c[i])]);
    } else {
      d.train_paths = paths;
    }
  }
  if (!options.pairs.empty()) {
    const int64_t size = chosen.defined() ? full_size : d.train.size();
    auto table = data::read_pair_table(options.pairs, {.dataset_size = size, .paths = paths, .split_folder = "train"});
    if (chosen.defined()) {
      auto remapped = data::remap_pairs(table, chosen, full_size);
      fmt::print("--pairs {}: {} of {} pairs kept, {} dropped (an image outside the --per-class subset)\n",
                 options.pairs, remapped.table.size(), table.size(), remapped.dropped);
      table = std::move(remapped.table);
    }
    // How much of the training split the table covers: anchors without a partner train on
    // augmented views or leave the epoch, so a table that covers little is not a semantic run.
    const auto stats = data::pair_table_stats(table, d.train.size());
    const double coverage = static_cast<double>(stats.anchors_with_partner) / static_cast<double>(d.train.size());
    fmt::print("--pairs {}: {} pairs; {} of {} training images ({:.1f}%) have a semantic partner\n", options.pairs,
               table.size(), stats.anchors_with_partner, d.train.size(), 100.0 * coverage);
    if (coverage < 0.5) {
      fmt::print(stderr, "{}: warning: --pairs {} gives a semantic partner to only {:.1f}% of the training images; "
                 "the others train without one\n", program, options.pairs, 100.0 * coverage);
    }
    d.pairs = std::move(table);
  }
  return d;
} catch (const c10::Error& e) {
  throw std::runtime_error(fmt::format("{}: {}", program, e.what_without_backtrace()));
} catch (const std::exception& e) {
  throw std::runtime_error(fmt::format("{}: {}", program, e.what()));
}

}  // namespace selfsup::examples
