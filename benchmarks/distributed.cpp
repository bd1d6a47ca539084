// distributed: what a SimCLR step costs on 1 and more processes, and how much of it is
// communication.
//
//   bench_distributed [--ranks 1,2] [--batch B] [--width W] [--size S] [--steps N] [--model smallcnn|resnet18]
//
// Started without RANK in the environment, it starts itself once per configuration, as torchrun
// would (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, a free MASTER_PORT), on Gloo:
//   - 1 process with 1 thread, and 1 process with all the machine's cores;
//   - W processes with cores / W threads each, for every W of --ranks above 1.
// Each rank runs Trainer::step on its own batch B (the global batch is W·B), synchronised
// BatchNorm, the loss on the gathered batch and bucketed gradient averaging included. Rank 0
// reports the mean step time and the seconds spent blocked in collectives. The table gives each
// configuration's global images per second, the share of the step spent in communication, the
// weak-scaling efficiency (one 1-thread process's step time over the W-process step time: 1 when
// W processes of B images take as long as one), and the throughput against one process using the
// whole machine.
#include "cli.hpp"

#include <selfsup/distributed/init.hpp>
#include <selfsup/selfsup.hpp>

#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace ss = selfsup;

namespace {

struct Settings {
  std::vector<int> ranks{1, 2};
  int64_t batch = 64, width = 16, size = 32, steps = 20;
  std::string model = "smallcnn";
};

template <class Encoder>
int rank_main(Encoder encoder, const Settings& s) {
  const auto ctx = ss::distributed::init_from_env();
  const auto W = ctx.world_size();
  // Enough images that every rank has a full batch.
  auto data = ss::data::make_synthetic({.classes = 10, .per_class = (W * s.batch) / 10 + 2, .size = s.size},
                                       ss::data::SyntheticSplit::train, torch::kCPU);
  ss::Trainer trainer(ss::recipes::SimCLR{.views = ss::views::SimCLRViews(ss::views::SimCLRViewOptions::cifar(s.size))},
                      encoder, {.batch_size = s.batch});
  // This rank's batch: rows [r·B, (r+1)·B) of the first W·B images.
  auto anchors = torch::arange(ctx.rank() * s.batch, (ctx.rank() + 1) * s.batch, torch::kLong);
  for (int i = 0; i < 3; ++i) trainer.step(data, anchors);  // warm-up
  auto* comm = ctx.communicator();
  const double blocked_before = comm != nullptr ? comm->blocked_seconds() : 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < s.steps; ++i) trainer.step(data, anchors).template item<double>();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double blocked = (comm != nullptr ? comm->blocked_seconds() : 0.0) - blocked_before;
  if (ctx.is_main()) {
    fmt::print("RESULT {} {:.6f} {:.6f}\n", W, seconds / static_cast<double>(s.steps),
               blocked / static_cast<double>(s.steps));
  }
  return 0;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("bench_distributed: cannot find a free port on 127.0.0.1");
  }
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

struct Measure {
  int world = 1, threads = 1;
  double step_s = 0, blocked_s = 0;
};

/// Starts `world` copies of this program with torchrun's variables and `threads` threads each;
/// rank 0's result line.
Measure launch(const std::string& self, const std::vector<std::string>& args, int world, int threads) {
  const int port = free_port();
  std::vector<pid_t> children;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("bench_distributed: pipe() failed");
  for (int r = 0; r < world; ++r) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("bench_distributed: fork() failed");
    if (pid == 0) {
      if (r == 0) dup2(pipe_fds[1], STDOUT_FILENO);
      close(pipe_fds[0]);
      close(pipe_fds[1]);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("SELFSUP_BENCH_THREADS", std::to_string(threads).c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(self.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(self.c_str(), argv.data());
      _exit(127);
    }
    children.push_back(pid);
  }
  close(pipe_fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) out.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  bool ok = true;
  for (auto pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  Measure m{.world = world, .threads = threads};
  const auto at = out.find("RESULT ");
  if (!ok || at == std::string::npos ||
      std::sscanf(out.c_str() + at, "RESULT %d %lf %lf", &m.world, &m.step_s, &m.blocked_s) != 3) {
    throw std::runtime_error(fmt::format("bench_distributed: the run on {} process(es) failed:\n{}", world, out));
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) try {
  Settings s;
  CLI::App app{"bench_distributed: SimCLR step time on 1 and more processes (Gloo), and its communication share"};
  app.add_option("--ranks", s.ranks, "process counts to measure (1 is always measured)")->delimiter(',')->capture_default_str();
  app.add_option("--batch", s.batch, "images per process and step")->capture_default_str()->check(CLI::Range(2, 1 << 16));
  app.add_option("--width", s.width, "SmallCNN width")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--size", s.size, "image side")->capture_default_str()->check(CLI::Range(16, 512));
  app.add_option("--steps", s.steps, "timed steps")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--model", s.model, "smallcnn or resnet18")->capture_default_str()->check(CLI::IsMember({"smallcnn", "resnet18"}));
  if (auto exit = bench::parse(app, argc, argv)) return *exit;
  ss::runtime::tune_cpu_training();

  if (std::getenv("RANK") != nullptr) {  // one rank of a configuration
    if (const char* t = std::getenv("SELFSUP_BENCH_THREADS")) torch::set_num_threads(std::atoi(t));
    torch::manual_seed(0);
    if (s.model == "resnet18") {
      return rank_main(ss::models::make_resnet_encoder({.depth = 18, .cifar_stem = true},
                                                       {.projector = ss::models::heads::simclr(512)}),
                       s);
    }
    return rank_main(ss::models::make_small_cnn_encoder({.width = s.width}, {.projector = {.hidden_dim = 256, .out_dim = 64}}), s);
  }

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string self = "/proc/self/exe";
  std::vector<std::string> args(argv + 1, argv + argc);
  char path[4096];
  const auto n = readlink(self.c_str(), path, sizeof(path) - 1);
  if (n <= 0) throw std::runtime_error("bench_distributed: cannot find its own executable");
  const std::string exe(path, static_cast<size_t>(n));

  fmt::print("SimCLR step, {} at {}x{}, batch {} per process, {} timed steps, Gloo on 127.0.0.1, {} cores\n", s.model,
             s.size, s.size, s.batch, s.steps, cores);
  const auto one_thread = launch(exe, args, 1, 1);
  const auto one_all = launch(exe, args, 1, cores);
  std::vector<Measure> all{one_thread, one_all};
  for (int w : s.ranks) {
    if (w > 1) all.push_back(launch(exe, args, w, std::max(1, cores / w)));
  }
  fmt::print("{:>9}{:>9}{:>11}{:>12}{:>16}{:>14}{:>16}\n", "processes", "threads", "step ms", "images/s", "communication",
             "weak scaling", "vs 1 process");
  const double base_ips = static_cast<double>(s.batch) / one_all.step_s;
  for (const auto& m : all) {
    const double ips = static_cast<double>(m.world * s.batch) / m.step_s;
    fmt::print("{:>9}{:>9}{:>11.1f}{:>12.0f}{:>15.1f}%{:>14.2f}{:>15.2f}x\n", m.world, m.threads, m.step_s * 1e3, ips,
               100.0 * m.blocked_s / m.step_s, one_thread.step_s / m.step_s, ips / base_ips);
  }
  fmt::print("communication: time blocked in collectives (gather, BatchNorm statistics, gradient buckets) per step; "
             "weak scaling: 1-thread step time of one process / this step time; vs 1 process: global images/s "
             "against one process with {} threads\n", cores);
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "{}\n", e.what());
  return 1;
}
