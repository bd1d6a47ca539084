#pragma once
// What the example programs share: a small command-line reader whose errors name the program,
// the flag and the value, and the datasets they train on (--data synthetic | cifar10:PATH |
// cifar100:PATH | stl10:PATH | folder:PATH, with an optional semantic pair table).
#include <selfsup/selfsup.hpp>
#if SELFSUP_EXAMPLES_IMAGE_IO
#include <selfsup/data/image_folder.hpp>
#endif

#include <fmt/core.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace selfsup::examples {

/// Reads `--flag value` arguments in order:
///   Cli cli("train", argc, argv);
///   while (cli.next()) {
///     if (cli.is("--epochs")) epochs = cli.integer(1);
///     else cli.unknown();
///   }
class Cli {
 public:
  Cli(std::string program, int argc, char** argv) : program_(std::move(program)), argc_(argc), argv_(argv) {}

  /// Moves to the next flag; false at the end.
  bool next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    return true;
  }
  bool is(std::string_view flag) const { return flag_ == flag; }
  const std::string& flag() const { return flag_; }
  const std::string& program() const { return program_; }

  /// The flag's value (the next argument).
  std::string value() {
    if (i_ + 1 >= argc_) fail(fmt::format("{} needs a value", flag_));
    return argv_[++i_];
  }

  /// The flag's value as an integer in [lo, hi].
  int64_t integer(int64_t lo = std::numeric_limits<int64_t>::min(),
                  int64_t hi = std::numeric_limits<int64_t>::max()) {
    const auto v = value();
    int64_t n = 0;
    const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (error != std::errc() || end != v.data() + v.size() || n < lo || n > hi) {
      fail(fmt::format("{} expects an integer in [{}, {}], got '{}'", flag_, lo, hi, v));
    }
    return n;
  }

  /// The flag's value as a finite number in [lo, hi].
  double real(double lo = -std::numeric_limits<double>::max(), double hi = std::numeric_limits<double>::max()) {
    const auto v = value();
    double x = 0;
    const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (error != std::errc() || end != v.data() + v.size() || !(x >= lo && x <= hi)) {
      fail(fmt::format("{} expects a number in [{}, {}], got '{}'", flag_, lo, hi, v));
    }
    return x;
  }

  [[noreturn]] void unknown() const { fail(fmt::format("unknown argument '{}'", flag_)); }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(fmt::format("{}: {}", program_, what));
  }

 private:
  std::string program_;
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string flag_;
};

/// `cpu` or `cuda` (checked to be available).
inline torch::Device parse_device(std::string_view program, const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      throw std::invalid_argument(fmt::format("{}: --device cuda, but no CUDA device is available", program));
    }
    return torch::kCUDA;
  }
  throw std::invalid_argument(fmt::format("{}: --device must be cpu or cuda, got '{}'", program, name));
}

struct DataOptions {
  std::string spec = "synthetic";  ///< --data
  std::string pairs;               ///< --pairs FILE: a semantic pair table of the training split
  int64_t per_class = 300;         ///< synthetic: training images per class
  int64_t image_size = 64;         ///< folder: side of the decoded images
  std::uint64_t seed = 0;
};

struct Data {
  data::InMemoryDataset train, test;
  std::optional<data::InMemoryDataset> shifted;  ///< the embedded dataset's shifted split
  std::optional<data::PairTable> pairs;          ///< semantic pairs of the training split
  std::string name;
};

inline constexpr std::string_view data_forms =
    "synthetic, cifar10:PATH, cifar100:PATH, stl10:PATH or folder:PATH";

/// Loads the training and test splits named by `options.spec` onto `device`:
///   synthetic      the embedded dataset (train, test and shifted splits; its curated pair table)
///   cifar10:PATH   the binary release (PATH/cifar-10-batches-bin or PATH itself)
///   cifar100:PATH  likewise (cifar-100-binary), fine labels
///   stl10:PATH     stl10_binary (train and test; the unlabeled split is not used)
///   folder:PATH    PATH/train/<class>/<image> and PATH/val/<class>/<image> (JPEG or PNG; the
///                  ImageNet and Imagenette layout), decoded once at `image_size`
/// A pair table (`options.pairs`) indexes the training split, by index or by path (folders).
inline Data load_data(std::string_view program, const DataOptions& options, const torch::Device& device) {
  const auto& spec = options.spec;
  auto root_of = [&](std::string_view prefix) -> std::optional<std::filesystem::path> {
    if (spec.rfind(prefix, 0) != 0) return std::nullopt;
    auto root = spec.substr(prefix.size());
    if (root.empty()) throw std::invalid_argument(fmt::format("{}: --data {} needs a path after '{}'", program, spec, prefix));
    return std::filesystem::path(root);
  };
  Data d;
  std::vector<std::string> paths;
  if (spec == "synthetic") {
    const data::SyntheticOptions train{.classes = 10, .per_class = options.per_class, .size = 32, .seed = options.seed};
    const data::SyntheticOptions eval{.classes = 10, .per_class = 100, .size = 32, .seed = options.seed};
    d.train = data::make_synthetic(train, data::SyntheticSplit::train, device);
    d.test = data::make_synthetic(eval, data::SyntheticSplit::test, device);
    d.shifted = data::make_synthetic(eval, data::SyntheticSplit::shifted, device);
    d.pairs = data::make_synthetic_pairs(train, {.seed = options.seed});
    d.name = "the embedded dataset";
  } else if (auto root = root_of("cifar10:")) {
    d.train = data::read_cifar10(*root, data::CifarSplit::train, device);
    d.test = data::read_cifar10(*root, data::CifarSplit::test, device);
    d.name = "CIFAR-10";
  } else if (auto root = root_of("cifar100:")) {
    d.train = data::read_cifar100(*root, data::CifarSplit::train, data::Cifar100Labels::fine, device);
    d.test = data::read_cifar100(*root, data::CifarSplit::test, data::Cifar100Labels::fine, device);
    d.name = "CIFAR-100";
  } else if (auto root = root_of("stl10:")) {
    d.train = data::read_stl10(*root, data::Stl10Split::train, device);
    d.test = data::read_stl10(*root, data::Stl10Split::test, device);
    d.name = "STL-10";
  } else if (auto root = root_of("folder:")) {
#if SELFSUP_EXAMPLES_IMAGE_IO
    for (const char* sub : {"train", "val"}) {
      if (!std::filesystem::is_directory(*root / sub)) {
        throw std::invalid_argument(fmt::format(
            "{}: --data folder:{} expects the sub-folders train/ and val/ (each <class>/<image>), but {} is not a directory",
            program, root->string(), (*root / sub).string()));
      }
    }
    const data::ImageFolderOptions folder{.size = options.image_size};
    data::ImageFolder train(*root / "train", folder, device), test(*root / "val", folder, device);
    d.train = train.load_all();
    d.test = test.load_all();
    paths = train.paths();
    d.name = fmt::format("{} ({} classes)", root->string(), train.class_names().size());
#else
    throw std::invalid_argument(fmt::format(
        "{}: --data folder:PATH needs image decoding, and this build has none (install libturbojpeg0-dev and "
        "libpng-dev and reconfigure)", program));
#endif
  } else {
    throw std::invalid_argument(fmt::format("{}: --data must be {}, got '{}'", program, data_forms, spec));
  }
  if (!options.pairs.empty()) {
    d.pairs = data::read_pair_table(options.pairs, {.dataset_size = d.train.size(), .paths = paths});
  }
  return d;
}

}  // namespace selfsup::examples
