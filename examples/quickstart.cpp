// quickstart: SimCLR on the embedded dataset, then kNN accuracy of the frozen features.
//
//   quickstart [--epochs N] [--seed S] [--per-class K] [--device cpu|cuda]
//
// Trains a small CNN with augmented pairs (two crop-and-flip views of one image), in-batch
// negatives and NT-Xent, and prints the loss as it trains and the kNN top-1 accuracy on the test
// and shifted splits before and after training.
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace ss = selfsup;

struct Args {
  int64_t epochs = 10;
  std::uint64_t seed = 0;
  int64_t per_class = 200;
  std::string device = "cpu";
};

static Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("quickstart: {} needs a value", flag));
      return argv[++i];
    };
    if (flag == "--epochs") a.epochs = std::stoll(value());
    else if (flag == "--seed") a.seed = std::stoull(value());
    else if (flag == "--per-class") a.per_class = std::stoll(value());
    else if (flag == "--device") a.device = value();
    else throw std::invalid_argument(fmt::format("quickstart: unknown argument '{}'", flag));
  }
  if (a.device != "cpu" && a.device != "cuda")
    throw std::invalid_argument(fmt::format("quickstart: --device must be cpu or cuda, got '{}'", a.device));
  return a;
}

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  const torch::Device device(args.device == "cuda" ? torch::kCUDA : torch::kCPU);
  torch::manual_seed(args.seed);

  const ss::data::SyntheticOptions data_options{.classes = 10, .per_class = args.per_class, .size = 32,
                                                .seed = args.seed};
  auto train = ss::data::make_synthetic(data_options, ss::data::SyntheticSplit::train, device);
  auto test = ss::data::make_synthetic({.classes = 10, .per_class = 50, .size = 32, .seed = args.seed},
                                       ss::data::SyntheticSplit::test, device);
  auto shifted = ss::data::make_synthetic({.classes = 10, .per_class = 50, .size = 32, .seed = args.seed},
                                          ss::data::SyntheticSplit::shifted, device);

  ss::recipes::SimCLR recipe{
      .views = ss::views::CropFlip({.size = 32, .scale = {0.2, 1.0}, .seed = args.seed}),
      .loss = {{.temperature = 0.2}}};
  auto encoder = ss::models::make_small_cnn_encoder({.width = 16}, {.hidden_dim = 256, .out_dim = 64});
  ss::Trainer trainer(std::move(recipe), encoder,
                      {.epochs = args.epochs, .batch_size = 128, .learning_rate = 0.1,
                       .seed = args.seed, .log_every = 15, .verbose = true});

  const ss::eval::KNNOptions knn{.k = 20, .temperature = 0.1};
  auto before = ss::eval::knn_evaluate(trainer.encoder(), train, test, knn);
  auto before_shifted = ss::eval::knn_evaluate(trainer.encoder(), train, shifted, knn);
  fmt::print("SimCLR on the embedded dataset: {} training images, device {}\n", train.size(), args.device);
  auto result = trainer.fit(train);
  auto after = ss::eval::knn_evaluate(trainer.encoder(), train, test, knn);
  auto after_shifted = ss::eval::knn_evaluate(trainer.encoder(), train, shifted, knn);

  fmt::print("\n{:<22}{:>10}{:>10}\n", "kNN top-1 (k = 20)", "test", "shifted");
  fmt::print("{:<22}{:>10.3f}{:>10.3f}\n", "random encoder", before.top1, before_shifted.top1);
  fmt::print("{:<22}{:>10.3f}{:>10.3f}\n", "after SimCLR", after.top1, after_shifted.top1);
  fmt::print("{} steps, {:.0f} training images per second\n", result.steps, result.images_per_second());
  return EXIT_SUCCESS;
} catch (const c10::Error& e) {
  fmt::print(stderr, "{}\n", e.what_without_backtrace());
  return EXIT_FAILURE;
} catch (const std::exception& e) {
  fmt::print(stderr, "{}\n", e.what());
  return EXIT_FAILURE;
}
