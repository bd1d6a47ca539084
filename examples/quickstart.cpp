// quickstart: SimCLR on the embedded dataset, then kNN accuracy of the frozen features.
//
//   quickstart [--epochs N] [--seed S] [--per-class K] [--device cpu|cuda]
//   quickstart --help
//
// Trains a small CNN with augmented pairs (two crop-and-flip views of one image), in-batch
// negatives and NT-Xent, shows its progress as it trains (epoch, step, loss, images per second,
// time left), and prints the kNN top-1 accuracy on the test and shifted splits before and after.
#include "common/example_support.hpp"

#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace ss = selfsup;

struct Args {
  int64_t epochs = 10;
  std::uint64_t seed = 0;
  int64_t per_class = 200;
  std::string device = "cpu";
};

/// The command line into `a`; the exit status when the program should stop now.
static std::optional<int> parse(int argc, char** argv, Args& a) {
  namespace ex = ss::examples;
  CLI::App app{"SimCLR on the embedded dataset, then kNN accuracy of the frozen features.", "quickstart"};
  ex::name_errors(app);
  app.add_option("--epochs", a.epochs)->capture_default_str()->check(CLI::Range(int64_t{1}, ex::max_epochs));
  ex::add_seed(app, a.seed);
  app.add_option("--per-class", a.per_class, "training images generated per class")
      ->capture_default_str()->check(CLI::Range(int64_t{13}, int64_t{1'000'000}));  // at least one batch of 128
  ex::add_device(app, a.device);
  return ex::parse(app, argc, argv);
}

int main(int argc, char** argv) try {
  selfsup::runtime::tune_cpu_training();  // from the start: data loading and evaluation too
  Args args;
  if (auto exit = parse(argc, argv, args)) return *exit;
  const torch::Device device = ss::examples::parse_device("quickstart", args.device);
  torch::manual_seed(args.seed);

  const ss::data::SyntheticOptions data_options{.classes = 10, .per_class = args.per_class, .size = 32,
                                                .seed = args.seed};
  auto train = ss::data::make_synthetic(data_options, ss::data::SyntheticSplit::train, device);
  auto test = ss::data::make_synthetic({.classes = 10, .per_class = 50, .size = 32, .seed = args.seed},
                                       ss::data::SyntheticSplit::test, device);
  auto shifted = ss::data::make_synthetic({.classes = 10, .per_class = 50, .size = 32, .seed = args.seed},
                                          ss::data::SyntheticSplit::shifted, device);

  // SimCLR with a weaker augmentation (crop and flip only), which learns faster on this data.
  ss::recipes::SimCLR::with_views<ss::views::CropFlip> recipe{
      .views = ss::views::CropFlip({.size = 32, .scale = {0.2, 1.0}, .seed = args.seed}),
      .loss = {{.temperature = 0.2}}};
  auto encoder = ss::models::make_small_cnn_encoder({.width = 16}, {.hidden_dim = 256, .out_dim = 64});
  ss::Trainer trainer(std::move(recipe), encoder,
                      {.epochs = args.epochs, .batch_size = 128, .learning_rate = 0.1,
                       .seed = args.seed, .log_every = 5});

  const ss::eval::KNNOptions knn{};  // k = 20, T = 0.1: the setting every program shares
  auto before = ss::eval::knn_evaluate(trainer.encoder(), train, test, knn);
  auto before_shifted = ss::eval::knn_evaluate(trainer.encoder(), train, shifted, knn);
  fmt::print("SimCLR on the embedded dataset: {} training images, device {}\n", train.size(), args.device);
  ss::hooks::Progress progress;
  auto result = trainer.fit(train, progress);
  auto after = ss::eval::knn_evaluate(trainer.encoder(), train, test, knn);
  auto after_shifted = ss::eval::knn_evaluate(trainer.encoder(), train, shifted, knn);

  fmt::print("\n{:<22}{:>10}{:>10}\n", "kNN top-1 (k = 20)", "test", "shifted");
  fmt::print("{:<22}{:>10.3f}{:>10.3f}\n", "random encoder", before.top1, before_shifted.top1);
  fmt::print("{:<22}{:>10.3f}{:>10.3f}\n", "after SimCLR", after.top1, after_shifted.top1);
  fmt::print("{} steps, {:.0f} training images per second\n", result.steps, result.images_per_second());
  return EXIT_SUCCESS;
} catch (...) {
  return selfsup::examples::print_error();
}
