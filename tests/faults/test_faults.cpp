// Fault injection: what a full disk, a killed writer, a corrupted or truncated checkpoint, a
// diverging run, a resume with other options, a hidden or empty folder, a forged image header and
// a non-UTF-8 path do to selfsup. Each case reproduces a way results were once lost or silently
// wrong; now each is a clear error, naming the file, or correct behaviour.
#include "../support.hpp"

#include <selfsup/data/pair_table.hpp>
#include <selfsup/detail/crc32c.hpp>
#include <selfsup/report/json.hpp>
#include <selfsup/selfsup.hpp>
#include <selfsup/train/detail/checkpoint_file.hpp>

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>) && __has_include(<jpeglib.h>)
#include <selfsup/data/image_folder.hpp>
#define SELFSUP_EXAMPLES_IMAGE_IO 1
#include "../../examples/common/example_support.hpp"
#define SELFSUP_FAULTS_IMAGES 1
#endif

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ss = selfsup;
namespace fs = std::filesystem;

namespace {
namespace faults {

using selfsup::test::throws_with;

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / "selfsup-faults" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// A file-size limit for the scope, as a full disk: writes beyond it fail with EFBIG (SIGXFSZ
// ignored meanwhile).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    BOOST_TEST_REQUIRE(getrlimit(RLIMIT_FSIZE, &before_) == 0);
    handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = before_;
    small.rlim_cur = bytes;
    BOOST_TEST_REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &before_);
    std::signal(SIGXFSZ, handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit before_{};
  void (*handler_)(int) = nullptr;
};

// CRC-32C one bit at a time, straight from the definition: the reference for the table version.
uint32_t crc32c_bitwise(const std::string& s) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

// A loss that turns bad on purpose: the loss itself not finite from call `nan_loss_from` on, or a
// finite loss whose gradient is NaN at call `nan_gradient_at` (0 * sqrt(0): the parameters turn
// NaN while the loss still looks fine).
struct PoisonedLoss {
  static constexpr bool contrastive = true;
  int64_t nan_loss_from = -1;
  int64_t nan_gradient_at = -1;
  int64_t calls = 0;
  torch::Tensor operator()(const ss::LossInput& in) {
    auto loss = ss::functional::nt_xent(in.z0, in.z1);
    ++calls;
    if (nan_loss_from > 0 && calls >= nan_loss_from) return loss * std::numeric_limits<double>::quiet_NaN();
    if (calls == nan_gradient_at) return loss + 0.0 * (in.z0.sum() * 0.0).sqrt();
    return loss;
  }
};

using Poisoned = ss::recipes::SimCLR::with_views<ss::views::CropFlip>::with_loss<PoisonedLoss>;
using Plain = ss::recipes::SimCLR::with_views<ss::views::CropFlip>;

// 32 images, batch 8: four steps an epoch.
ss::data::InMemoryDataset small_data() {
  return ss::data::make_synthetic({.classes = 4, .per_class = 8, .size = 16, .seed = 3});
}

ss::models::ProjectedEncoder<ss::models::SmallCNN> small_encoder() {
  torch::manual_seed(5);
  return ss::models::make_small_cnn_encoder({.width = 4}, {.hidden_dim = 8, .out_dim = 8});
}

ss::TrainerOptions small_options() {
  return {.epochs = 3, .batch_size = 8, .learning_rate = 0.05, .log_every = 1};
}

auto poisoned_trainer(PoisonedLoss loss, int64_t log_every) {
  auto options = small_options();
  options.log_every = log_every;
  return ss::Trainer(Poisoned{.views = ss::views::CropFlip({.size = 16}), .loss = loss}, small_encoder(), options);
}

auto plain_trainer(const ss::TrainerOptions& options) {
  return ss::Trainer(Plain{.views = ss::views::CropFlip({.size = 16})}, small_encoder(), options);
}

template <class T>
bool all_finite(T& trainer) {
  for (const auto& p : trainer.encoder()->parameters()) {
    if (!torch::isfinite(p).all().template item<bool>()) return false;
  }
  return true;
}

}  // namespace faults
}  // namespace

BOOST_AUTO_TEST_SUITE(faults_tests)

using namespace faults;

// ---- checksums and the checkpoint frame ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(crc32c_matches_its_definition) {
  // The check value of the CRC catalogue for CRC-32C.
  BOOST_TEST(ss::detail::crc32c("123456789") == 0xE3069283u);
  std::mt19937 random(1);
  for (size_t length : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 64u, 1000u}) {
    std::string s(length, '\0');
    for (auto& c : s) c = static_cast<char>(random() & 0xFF);
    BOOST_TEST(ss::detail::crc32c(s) == crc32c_bitwise(s), "length " << length);
    // In two pieces, continued.
    const auto half = s.substr(0, length / 2);
    BOOST_TEST(ss::detail::crc32c(s.substr(length / 2), ss::detail::crc32c(half)) == crc32c_bitwise(s));
  }
}

// Truncated, bit-flipped, overwritten and extended checkpoints are all refused, naming the file
// and what is wrong, before LibTorch reads them; the trainer is left untouched.
BOOST_AUTO_TEST_CASE(damaged_checkpoints_are_refused_by_name) {
  const auto dir = fresh_dir("damaged");
  const auto good = (dir / "good.pt").string();
  auto trainer = plain_trainer(small_options());
  trainer.fit(small_data());
  trainer.save_checkpoint(good);
  const std::string bytes = slurp(good);
  BOOST_TEST_REQUIRE(bytes.size() > 1000u);
  BOOST_TEST(bytes.substr(0, 21) == "selfsup checkpoint 1\n");

  auto refused = [&](const std::string& content, const std::string& why) {
    const auto path = (dir / "damaged.pt").string();
    spit(path, content);
    auto fresh = plain_trainer(small_options());
    const auto before = fresh.encoder()->parameters().front().clone();
    const bool ok = throws_with([&] { fresh.load_checkpoint(path); }, "refusing '" + path + "': " + why);
    BOOST_TEST(torch::equal(before, fresh.encoder()->parameters().front()));
    BOOST_TEST(fresh.steps_done() == 0);
    return ok;
  };
  const size_t n = bytes.size();
  BOOST_TEST(refused("", "the file is empty"));
  for (size_t keep : {size_t{5}, size_t{20}, size_t{36}, size_t{37}, size_t{100}, n / 2, n - 1}) {
    BOOST_TEST(refused(bytes.substr(0, keep), "truncated"), "truncated to " << keep);
  }
  for (size_t at : {size_t{0}, size_t{3}}) {
    auto flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    BOOST_TEST(refused(flipped, "not a selfsup checkpoint"), "bit flipped at " << at);
  }
  for (size_t at : {size_t{22}, size_t{30}, size_t{35}}) {  // length, payload checksum, header checksum
    auto flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
    BOOST_TEST(refused(flipped, "corrupt: the header's checksum"), "bit flipped at " << at);
  }
  for (size_t at : {size_t{37}, n / 3, n / 2, n - 1}) {
    auto flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x04);
    BOOST_TEST(refused(flipped, "corrupt: the payload's CRC-32C"), "bit flipped at " << at);
  }
  auto overwritten = bytes;
  for (size_t i = 0; i < 64; ++i) overwritten[n / 2 + i] = 'x';
  BOOST_TEST(refused(overwritten, "corrupt: the payload's CRC-32C"));
  BOOST_TEST(refused(bytes + "tail", "corrupt: 4 bytes after the end of the payload"));
  auto version2 = bytes;
  version2[19] = '2';
  BOOST_TEST(refused(version2, "a selfsup checkpoint of another format version"));

  // An earlier selfsup's checkpoint (the archive without the frame) still loads.
  const auto legacy = (dir / "legacy.pt").string();
  spit(legacy, bytes.substr(ss::checkpoint::detail::header_size));
  auto resumed = plain_trainer(small_options());
  resumed.load_checkpoint(legacy);
  BOOST_TEST(resumed.steps_done() == trainer.steps_done());
}

// The frame reader on its own, as the fuzz target drives it: what it accepts round-trips.
BOOST_AUTO_TEST_CASE(the_frame_round_trips) {
  const std::string zip = std::string("PK\x03\x04", 4) + " an archive";
  for (const std::string& payload : {zip, std::string(1000, 'a'), std::string()}) {
    const auto framed = ss::checkpoint::detail::frame_header(payload) + payload;
    const auto u = ss::checkpoint::detail::unframe(framed);
    BOOST_TEST(u.error.empty());
    BOOST_TEST(u.framed);
    BOOST_TEST(std::string(u.payload) == payload);
  }
}

// ---- a killed writer, a full disk -----------------------------------------------------------------

// A writer killed at random points of a checkpoint write never leaves a checkpoint that fails to
// load: the path holds the previous complete file or the new one. Temporary files the killed
// writers left behind are removed by the next write.
BOOST_AUTO_TEST_CASE(a_writer_killed_mid_write_leaves_a_loadable_checkpoint) {
  const auto dir = fresh_dir("killed");
  const auto path = (dir / "run.pt").string();
  auto trainer = plain_trainer(small_options());
  trainer.fit(small_data());
  trainer.save_checkpoint(path);
  // The bytes of two valid checkpoints (two states) the children alternate between.
  const std::string first = slurp(path);
  {
    torch::NoGradGuard no_grad;  // another state: one weight moved
    trainer.encoder()->parameters().front().add_(1.0);
  }
  trainer.save_checkpoint(path);
  const std::string second = slurp(path);
  BOOST_TEST_REQUIRE(first != second);

  std::mt19937 random(7);
  int killed_while_running = 0;
  for (int round = 0; round < 25; ++round) {
    const pid_t child = fork();
    BOOST_TEST_REQUIRE(child >= 0);
    if (child == 0) {
      // Only the file writer runs in the child (no LibTorch): write the two versions in turn.
      for (unsigned long i = 0;; ++i) {
        const std::string& bytes = i % 2 ? first : second;
        try {
          ss::detail::write_whole_file(path, {std::string_view(bytes)}, "child");
        } catch (...) {
          _exit(3);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 20000));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    killed_while_running += WIFSIGNALED(status) ? 1 : 0;
    const std::string now = slurp(path);
    BOOST_TEST((now == first || now == second), "round " << round << ": the checkpoint is neither version");
    auto resumed = plain_trainer(small_options());
    BOOST_CHECK_NO_THROW(resumed.load_checkpoint(path));
  }
  BOOST_TEST(killed_while_running == 25);
  trainer.save_checkpoint(path);  // removes what the killed writers left
  BOOST_TEST(files_in(dir) == 1u);
}

// Outputs on a full disk: an error naming the file and the reason; the earlier file is kept and
// no temporary file is left.
BOOST_AUTO_TEST_CASE(outputs_on_a_full_disk_fail_loudly_and_keep_the_previous_file) {
  const auto dir = fresh_dir("full-outputs");
  const auto path = (dir / "results.json").string();
  ss::report::write_json(ss::report::Json{{"run", 1}}, path);
  const auto before = slurp(path);
  ss::report::Json big = ss::report::Json::array();
  for (int i = 0; i < 2000; ++i) big.push_back(i);
  {
    FileSizeLimit limit(256);
    BOOST_TEST(throws_with([&] { ss::report::write_json(big, path); }, "writing '" + path + ".tmp-"));
  }
  BOOST_TEST(slurp(path) == before);
  BOOST_TEST(files_in(dir) == 1u);
}

// A long run that may not be stopped by a full disk: the checkpoint hook reports each failed
// write and training goes on; the previous checkpoint is kept whole.
BOOST_AUTO_TEST_CASE(a_checkpoint_hook_can_report_a_full_disk_and_go_on) {
  const auto dir = fresh_dir("full-hook");
  const auto path = (dir / "run.pt").string();
  auto first = plain_trainer(small_options());
  first.fit(small_data());
  first.save_checkpoint(path);
  const auto good = slurp(path);
  auto trainer = plain_trainer(small_options());
  ss::hooks::Checkpoint stop{.path = path};
  ss::hooks::Checkpoint go_on{.path = path, .stop_on_write_error = false};
  {
    FileSizeLimit limit(1024);
    BOOST_TEST(throws_with([&] { trainer.fit(small_data(), stop); }, "the previous checkpoint at '" + path + "'"));
    auto again = plain_trainer(small_options());
    BOOST_TEST(again.fit(small_data(), go_on).steps == 12);
  }
  BOOST_TEST(go_on.failed_writes == 3);
  BOOST_TEST(slurp(path) == good);
  BOOST_TEST(files_in(dir) == 1u);
}

// ---- divergence -----------------------------------------------------------------------------------

// A loss that turns NaN at step 6 (epoch 2) stops training at that step, whatever log_every is,
// naming the last good checkpoint (step 4), which stays on disk as it was.
BOOST_AUTO_TEST_CASE(divergence_stops_at_its_step_with_every_log_every) {
  for (int64_t log_every : {1, 3, 5, 1000}) {
    BOOST_TEST_CONTEXT("log_every " << log_every) {
      const auto dir = fresh_dir("diverge-" + std::to_string(log_every));
      const auto path = (dir / "run.pt").string();
      auto trainer = poisoned_trainer({.nan_loss_from = 6}, log_every);
      ss::hooks::Checkpoint checkpoint{.path = path};
      BOOST_TEST(throws_with([&] { trainer.fit(small_data(), checkpoint); },
                             "the loss became nan at step 6 (epoch 2); training stopped"));
      BOOST_TEST(throws_with([&] { trainer.fit(small_data(), checkpoint); },
                             "The last good checkpoint is '" + path + "' (step 4)"));
      // The model in memory is the one before the bad step: it never took a NaN gradient.
      BOOST_TEST(all_finite(trainer));
      auto resumed = poisoned_trainer({}, log_every);
      resumed.load_checkpoint(path);
      BOOST_TEST(resumed.steps_done() == 4);
      BOOST_TEST(all_finite(resumed));
    }
  }
}

// Parameters that turned NaN while the loss still looked finite (a NaN gradient at the last step
// of epoch 2) are never saved: the epoch's checkpoint is refused, naming the tensor, and the one
// of epoch 1 is kept.
BOOST_AUTO_TEST_CASE(a_checkpoint_of_non_finite_parameters_is_refused) {
  const auto dir = fresh_dir("nan-parameters");
  const auto path = (dir / "run.pt").string();
  auto trainer = poisoned_trainer({.nan_gradient_at = 8}, 1000);
  ss::hooks::Checkpoint checkpoint{.path = path};
  BOOST_TEST(throws_with([&] { trainer.fit(small_data(), checkpoint); },
                         "not writing '" + path + "': the model's 'backbone."));
  BOOST_TEST(throws_with([&] { trainer.save_checkpoint(path); }, "is not finite after step 8"));
  BOOST_TEST(throws_with([&] { trainer.save_checkpoint(path); },
                         "The last good checkpoint, '" + path + "' (step 4), is unchanged"));
  auto resumed = poisoned_trainer({}, 1);
  resumed.load_checkpoint(path);
  BOOST_TEST(resumed.steps_done() == 4);
  BOOST_TEST(all_finite(resumed));
}

// ---- a resume with other options --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_resume_that_changes_the_run_is_refused_with_the_differences) {
  const auto dir = fresh_dir("options");
  const auto path = (dir / "run.pt").string();
  auto options = small_options();
  options.epochs = 1;
  options.run = {{"data", "synthetic"}, {"temperature", "0.5"}};
  auto first = plain_trainer(options);
  first.fit(small_data());
  first.save_checkpoint(path);

  auto refused = [&](ss::TrainerOptions o, const std::string& difference) {
    auto t = plain_trainer(o);
    const bool ok = throws_with([&] { t.load_checkpoint(path); }, "with other options; resuming would silently "
                                                                  "change the run:\n  " + difference + "\n");
    BOOST_TEST(t.steps_done() == 0);
    return ok;
  };
  auto o = options;
  o.batch_size = 16;
  BOOST_TEST(refused(o, "batch_size: checkpoint 8, now 16"));
  o = options;
  o.optimizer = ss::OptimizerKind::adamw;
  BOOST_TEST(refused(o, "optimizer: checkpoint sgd, now adamw"));
  o = options;
  o.learning_rate = 0.5;
  BOOST_TEST(refused(o, "learning_rate: checkpoint 0.05, now 0.5"));
  o = options;
  o.seed = 9;
  BOOST_TEST(refused(o, "seed: checkpoint 0, now 9"));
  o = options;
  o.run["data"] = "cifar10:/data";
  BOOST_TEST(refused(o, "run.data: checkpoint synthetic, now cifar10:/data"));
  o = options;
  o.run.erase("temperature");
  BOOST_TEST(refused(o, "run.temperature: checkpoint 0.5, now (not set)"));
  o = options;
  o.epochs = 3;
  BOOST_TEST(refused(o, "epochs: checkpoint 1, now 3"));

  // Allowed explicitly, more epochs continue the run.
  o.may_change_on_resume = {"epochs"};
  auto longer = plain_trainer(o);
  longer.load_checkpoint(path);
  BOOST_TEST(longer.steps_done() == 4);
  BOOST_TEST(longer.fit(small_data()).steps == 8);

  // Another optimiser cannot take over the saved state, and a misspelt name is refused.
  o.may_change_on_resume = {"optimizer"};
  BOOST_TEST(throws_with([&] { plain_trainer(o); }, "may_change_on_resume cannot hold 'optimizer'"));
  o.may_change_on_resume = {"epoch"};
  BOOST_TEST(throws_with([&] { plain_trainer(o); }, "'epoch' is not a recorded option"));
}

// ---- outputs ----------------------------------------------------------------------------------------

// A path with a byte that is not UTF-8 still gives valid JSON (U+FFFD in its place).
BOOST_AUTO_TEST_CASE(json_with_a_non_utf8_path_is_valid) {
  const ss::report::Json json{{"data", std::string("folder:/data/caf\xe9")}};
  const auto text = ss::report::dump(json);
  BOOST_TEST(text.find("caf\xef\xbf\xbd") != std::string::npos);
  BOOST_CHECK_NO_THROW(BOOST_TEST(ss::report::Json::parse(text).at("data").get<std::string>() == "folder:/data/caf\xef\xbf\xbd"));
}

// A pair table may name images from the dataset root (train/<class>/<file>) or from the training
// split's folder; an unknown path names both forms.
BOOST_AUTO_TEST_CASE(pair_table_paths_from_the_root_or_the_split) {
  const std::vector<std::string> paths = {"cat/a.jpg", "cat/b.jpg", "dog/c.jpg"};
  const ss::data::PairTableOptions o{.paths = paths, .split_folder = "train"};
  auto table = ss::data::parse_pair_table("first,second\ntrain/cat/a.jpg,cat/b.jpg\n./train/dog/c.jpg,cat/a.jpg\n", o);
  BOOST_TEST(table.size() == 2);
  BOOST_TEST(table.first[0].item<int64_t>() == 0);
  BOOST_TEST(table.second[0].item<int64_t>() == 1);
  BOOST_TEST(table.first[1].item<int64_t>() == 2);
  BOOST_TEST(throws_with([&] { ss::data::parse_pair_table("first,second\nval/cat/a.jpg,cat/b.jpg\n", o); },
                         "unknown image path 'val/cat/a.jpg' (not among the dataset's 3 images, named from the "
                         "dataset root as 'train/<class>/<file>' or from the 'train' folder as '<class>/<file>')"));
  // A folder given as the table is named as one (it used to read as an empty file).
  const auto folder = fresh_dir("pair-table-folder");
  BOOST_TEST(throws_with([&] { ss::data::read_pair_table(folder); },
                         "read_pair_table: " + folder.string() + " is a folder; expected a pair table file"));
}

#if SELFSUP_FAULTS_IMAGES

namespace {
namespace faults {

void write_png(const fs::path& path, int64_t h, int64_t w, uint8_t value) {
  std::vector<uint8_t> pixels(static_cast<size_t>(h * w * 3), value);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(w);
  image.height = static_cast<png_uint_32>(h);
  image.format = PNG_FORMAT_RGB;
  BOOST_REQUIRE(png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr));
}

std::string jpeg(int64_t h, int64_t w) {
  std::vector<uint8_t> pixels(static_cast<size_t>(h * w * 3), 90);
  tjhandle handle = tjInitCompress();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  BOOST_REQUIRE(tjCompress2(handle, pixels.data(), static_cast<int>(w), 0, static_cast<int>(h), TJPF_RGB, &buffer,
                            &size, TJSAMP_444, 90, 0) == 0);
  std::string out(reinterpret_cast<char*>(buffer), size);
  tjFree(buffer);
  tjDestroy(handle);
  return out;
}

// The CRC-32 of PNG chunks (ISO 3309, reflected 0xEDB88320), one bit at a time.
uint32_t png_crc(const std::string& s) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
  }
  return ~crc;
}

void put_be32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + static_cast<size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
}

// A real 8 x 8 PNG whose header is rewritten to claim side x side pixels (its IHDR checksum
// recomputed, so libpng accepts the header).
std::string png_bomb(const fs::path& scratch, uint32_t side) {
  write_png(scratch, 8, 8, 10);
  auto bytes = slurp(scratch);
  BOOST_REQUIRE(bytes.substr(12, 4) == "IHDR");
  put_be32(bytes, 16, side);
  put_be32(bytes, 20, side);
  put_be32(bytes, 29, png_crc(bytes.substr(12, 17)));
  return bytes;
}

// A real 8 x 8 JPEG whose frame header (SOF0) claims side x side pixels.
std::string jpeg_bomb(uint16_t side) {
  auto bytes = jpeg(8, 8);
  const auto sof = bytes.find("\xFF\xC0");
  BOOST_REQUIRE(sof != std::string::npos);
  for (size_t at : {sof + 5, sof + 7}) {  // height, then width, big-endian
    bytes[at] = static_cast<char>(side >> 8);
    bytes[at + 1] = static_cast<char>(side & 0xFF);
  }
  return bytes;
}

int64_t label_of(const ss::data::ImageFolder& folder, const std::string& path) {
  const auto& paths = folder.paths();
  const auto it = std::find(paths.begin(), paths.end(), path);
  BOOST_REQUIRE(it != paths.end());
  return folder.labels(torch::tensor({static_cast<int64_t>(it - paths.begin())}, torch::kLong)).item<int64_t>();
}

}  // namespace faults
}  // namespace

using namespace faults;

// Hidden folders and files, an empty class folder, a class missing from val/ and one only in val/:
// both splits share the training split's labels, and each odd entry is reported.
BOOST_AUTO_TEST_CASE(image_folder_splits_share_one_class_list) {
  const auto root = fresh_dir("layout");
  for (const char* d : {"train/cat", "train/dog", "train/fox", "train/.ipynb_checkpoints", "train/empty",
                        "val/bird", "val/cat", "val/dog", "val/.ipynb_checkpoints"}) {
    fs::create_directories(root / d);
  }
  write_png(root / "train/cat/a.png", 8, 8, 10);
  write_png(root / "train/dog/b.png", 8, 8, 20);
  write_png(root / "train/fox/c.png", 8, 8, 30);
  write_png(root / "train/.ipynb_checkpoints/x.png", 8, 8, 40);
  write_png(root / "train/cat/.hidden.png", 8, 8, 50);
  write_png(root / "val/bird/d.png", 8, 8, 60);
  write_png(root / "val/cat/e.png", 8, 8, 70);
  write_png(root / "val/dog/f.png", 8, 8, 80);
  write_png(root / "val/.ipynb_checkpoints/y.png", 8, 8, 90);

  const ss::data::ImageFolderOptions o{.size = 8, .threads = 1, .warn = false};
  ss::data::ImageFolder train(root / "train", o);
  BOOST_TEST(train.class_names() == (std::vector<std::string>{"cat", "dog", "fox"}));
  BOOST_TEST(train.empty_folders() == std::vector<std::string>{"empty"});
  BOOST_TEST(train.size() == 3);
  auto v = o;
  v.classes = train.class_names();
  ss::data::ImageFolder val(root / "val", v);
  BOOST_TEST(val.size() == 2);  // bird is not a training class
  BOOST_TEST(val.unlisted_folders() == std::vector<std::string>{"bird"});
  BOOST_TEST(val.missing_classes() == std::vector<std::string>{"fox"});
  BOOST_TEST(label_of(val, "cat/e.png") == label_of(train, "cat/a.png"));
  BOOST_TEST(label_of(val, "dog/f.png") == label_of(train, "dog/b.png"));

  // The examples' loader gives the same labels: a perfect feature separates val/ exactly.
  const auto data = ss::examples::load_data("test", {.spec = "folder:" + root.string(), .image_size = 8}, torch::kCPU);
  BOOST_TEST(data.train.size() == 3);
  BOOST_TEST(data.test.size() == 2);
  const auto all = torch::arange(2, torch::kLong);
  auto labels = data.test.labels(all);
  BOOST_TEST(labels[0].item<int64_t>() == 0);  // cat
  BOOST_TEST(labels[1].item<int64_t>() == 1);  // dog
}

// Forged headers (a 69-byte-scale PNG claiming 100000 x 100000 pixels, a JPEG claiming 65500^2)
// are refused from their headers, naming the file, before any pixel memory is allocated.
BOOST_AUTO_TEST_CASE(image_bombs_are_refused_by_their_headers) {
  const auto root = fresh_dir("bombs");
  fs::create_directories(root / "train/a");
  spit(root / "train/a/bomb.png", png_bomb(root / "scratch.png", 100000));
  spit(root / "train/a/bomb.jpg", jpeg_bomb(65500));
  write_png(root / "train/a/fine.png", 8, 8, 10);
  fs::remove(root / "scratch.png");

  ss::data::ImageFolder skipping(root / "train", {.size = 8, .threads = 1, .warn = false});
  BOOST_TEST(skipping.size() == 1);
  BOOST_TEST(skipping.skipped() == 2);
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(throws_with([&] { ss::data::ImageFolder(root / "train", {.size = 8, .threads = 1, .on_bad = ss::data::BadImage::stop}); },
                         "cannot decode " + (root / "train/a/bomb.jpg").string() +
                             ": the header claims 65500 x 65500 = 4290250000 pixels, more than the limit of 89478485"));
  BOOST_TEST(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 30.0);
  const auto png = ss::data::detail::decode_file(root / "train/a/bomb.png", false);
  BOOST_TEST(png.error.find("the header claims 100000 x 100000") != std::string::npos, png.error);
  BOOST_TEST(png.rgb.empty());
  // A lower limit refuses ordinary images too, with the limit named.
  BOOST_TEST(throws_with([&] { ss::data::ImageFolder(root / "train", {.size = 8, .on_bad = ss::data::BadImage::stop, .max_pixels = 63}); },
                         "more than the limit of 63 (ImageFolderOptions::max_pixels)"));
}

#endif

BOOST_AUTO_TEST_SUITE_END()
