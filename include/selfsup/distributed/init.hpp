#pragma once
/// \file
/// selfsup::distributed::init_from_env: joins the processes a launcher started (torchrun,
/// mpirun, srun) on LibTorch's c10d: a TCPStore for the rendezvous at MASTER_ADDR:MASTER_PORT,
/// then ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA) for the collectives.
///
///   int main() {
///     auto ctx = selfsup::distributed::init_from_env();   // world size 1 without the variables
///     ...                                                  // the Trainer finds the context itself
///   }
///
/// Environment (torchrun sets them all): RANK and WORLD_SIZE (both or neither), LOCAL_RANK
/// (defaults to RANK), MASTER_ADDR and MASTER_PORT. Malformed or inconsistent values are refused
/// before anything communicates. A rank that dies or hangs makes the others stop within the
/// timeout with an error naming it: each rank keeps a heartbeat counter in the store, and a
/// failed collective reads which counters stopped.

#include <selfsup/detail/torch_compat.hpp>
#include <selfsup/distributed/context.hpp>
#include <selfsup/distributed/detail/wait_notice.hpp>

#include <fmt/core.h>
#if SELFSUP_DETAIL_GLOO
// c10d's Gloo header declares its classes only for builds that say Gloo is there (every LibTorch
// build for Linux has it; Debian's libtorch-dev needs libgloo-dev for Gloo's own headers).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#if defined(SELFSUP_WITH_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace selfsup::distributed {

namespace detail {

#if defined(SELFSUP_WITH_NCCL)
/// An NCCL group on GPU `local_rank` (untested on the CPU-only development machines).
inline c10::intrusive_ptr<selfsup::detail::C10dBackend> make_nccl_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                                        int64_t rank, int64_t world, int64_t local_rank,
                                                                        std::chrono::milliseconds timeout) {
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(local_rank));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(rank), static_cast<int>(world), options);
}
#else
inline c10::intrusive_ptr<selfsup::detail::C10dBackend> make_nccl_group(const c10::intrusive_ptr<c10d::Store>&, int64_t,
                                                                        int64_t, int64_t, std::chrono::milliseconds) {
  TORCH_CHECK(false, "selfsup::distributed::init_from_env: this build has no NCCL");
}
#endif

/// The variables of the environment that describe a run, checked.
struct Environment {
  bool present = false;  ///< RANK and WORLD_SIZE are set
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;
  int port = 0;
  bool agent_store = false;   ///< torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE)
  std::string store_prefix;   ///< torchrun's key prefix for its workers' attempt
};

inline std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

inline int64_t parse_env_int(const char* name, const std::string& text, int64_t low, int64_t high) {
  int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  TORCH_CHECK(!text.empty() && ec == std::errc() && ptr == end && value >= low && value <= high,
              "selfsup::distributed::init_from_env: ", name, " must be an integer in [", low, ", ", high,
              "], got '", text, "'");
  return value;
}

/// Reads and checks RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
inline Environment read_environment() {
  constexpr const char* fn = "selfsup::distributed::init_from_env";
  Environment e;
  const auto rank = env("RANK"), world = env("WORLD_SIZE");
  TORCH_CHECK(rank.has_value() == world.has_value(), fn, ": RANK and WORLD_SIZE must be set together (a "
              "launcher such as torchrun sets both), but only ", rank ? "RANK" : "WORLD_SIZE", " is set");
  if (!rank) return e;
  e.present = true;
  e.world_size = parse_env_int("WORLD_SIZE", *world, 1, 1 << 20);
  e.rank = parse_env_int("RANK", *rank, 0, e.world_size - 1);
  const auto local = env("LOCAL_RANK");
  e.local_rank = local ? parse_env_int("LOCAL_RANK", *local, 0, e.world_size - 1) : e.rank;
  if (e.world_size == 1) return e;
  const auto addr = env("MASTER_ADDR"), port = env("MASTER_PORT");
  TORCH_CHECK(addr.has_value() && !addr->empty(), fn, ": WORLD_SIZE is ", e.world_size,
              " but MASTER_ADDR (the address of rank 0's rendezvous store) is not set");
  TORCH_CHECK(port.has_value(), fn, ": WORLD_SIZE is ", e.world_size, " but MASTER_PORT is not set");
  e.master_addr = *addr;
  e.port = static_cast<int>(parse_env_int("MASTER_PORT", *port, 1, 65535));
  e.agent_store = env("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  if (e.agent_store) e.store_prefix = "/worker/attempt_" + env("TORCHELASTIC_RESTART_COUNT").value_or("0");
  return e;
}

inline std::string seconds_text(std::chrono::milliseconds ms) {
  return fmt::format("{:g} s", static_cast<double>(ms.count()) / 1000.0);
}

/// Connects to (or, on rank 0 without torchrun's agent store, hosts) the rendezvous store.
inline c10::intrusive_ptr<c10d::Store> connect_store(const Environment& e, bool server, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(e.port);
  options.isServer = server;
  options.numWorkers = static_cast<std::size_t>(e.world_size);
  options.waitWorkers = false;  // the join check below names the ranks that never came
  options.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = selfsup::detail::make_tcp_store(e.master_addr, options);
  } catch (const std::exception& error) {
    TORCH_CHECK(false, "selfsup::distributed::init_from_env: rank ", e.rank, " of ", e.world_size,
                server ? fmt::format(" could not host the rendezvous store on port {} (is the port in use? "
                                     "set MASTER_PORT to a free one)", e.port)
                       : fmt::format(" could not reach the rendezvous store at {}:{} within {} (is rank 0 "
                                     "running, and is the address reachable from this node?)",
                                     e.master_addr, e.port, seconds_text(timeout)),
                ": ", error.what());
  }
  if (!e.store_prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(e.store_prefix, store);
  return store;
}

inline std::string alive_key(int64_t rank) { return fmt::format("selfsup/alive/{}", rank); }

/// Keeps this rank's counter in the store rising once a second, on its own connection, so that
/// another rank whose collective failed can tell which ranks are gone or stuck.
class Heartbeat {
 public:
  Heartbeat(const Environment& e, std::chrono::milliseconds timeout) {
    store_ = connect_store(e, /*server=*/false, timeout);
    store_->add(alive_key(e.rank), 1);
    thread_ = std::thread([this, rank = e.rank] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
        try {
          store_->add(alive_key(rank), 1);
        } catch (...) {
          return;  // the store is gone: its host has stopped
        }
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

/// The communicator over a c10d process group.
class C10dCommunicator final : public Communicator {
 public:
  C10dCommunicator(Environment e, c10::intrusive_ptr<selfsup::detail::C10dBackend> group, std::string backend,
                   std::chrono::milliseconds timeout,
                   std::chrono::milliseconds notice_every = std::chrono::seconds(30))
      : env_(std::move(e)), group_(std::move(group)), backend_(std::move(backend)), timeout_(timeout),
        notices_(fmt::format("selfsup::distributed: rank {} of {}", env_.rank, env_.world_size), timeout,
                 notice_every) {
    heartbeat_ = std::make_unique<Heartbeat>(env_, timeout_);
  }

  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    Timed timed(blocked_);
    auto src = on_device(in.contiguous());
    auto dst = on_device(out);
    std::vector<torch::Tensor> inputs{src};
    std::vector<std::vector<torch::Tensor>> outputs{dst.chunk(env_.world_size, 0)};
    wait(group_->allgather(outputs, inputs), "all_gather");
    if (!dst.is_same(out)) out.copy_(dst);
  }
  void all_reduce_sum(torch::Tensor& t) override {
    Timed timed(blocked_);
    auto work = on_device(t);
    std::vector<torch::Tensor> tensors{work};
    wait(group_->allreduce(tensors), "all_reduce");
    if (!work.is_same(t)) t.copy_(work);
  }
  std::unique_ptr<Pending> all_reduce_sum_async(torch::Tensor& t) override {
    TORCH_CHECK(t.is_contiguous() && (backend_ != "nccl" || t.is_cuda()),
                "selfsup::distributed: an asynchronous all-reduce needs a contiguous tensor on the backend's device");
    std::vector<torch::Tensor> tensors{t};
    return std::make_unique<Work>(this, group_->allreduce(tensors));
  }
  void broadcast(torch::Tensor& t, int64_t root) override {
    Timed timed(blocked_);
    auto work = on_device(t);
    std::vector<torch::Tensor> tensors{work};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    wait(group_->broadcast(tensors, options), "broadcast");
    if (!work.is_same(t)) t.copy_(work);
  }
  std::string backend_name() const override { return backend_; }
  double blocked_seconds() const override { return static_cast<double>(blocked_.load()) * 1e-9; }

  /// Which ranks stopped answering: their heartbeat counters did not move in three seconds.
  std::string diagnose() const {
    try {
      auto store = connect_store(env_, false, std::chrono::seconds(5));
      auto read = [&] {
        std::vector<int64_t> v;
        for (int64_t r = 0; r < env_.world_size; ++r) v.push_back(store->add(alive_key(r), 0));
        return v;
      };
      const auto before = read();
      std::this_thread::sleep_for(std::chrono::seconds(3));
      const auto after = read();
      std::vector<std::string> gone;
      for (int64_t r = 0; r < env_.world_size; ++r) {
        if (r != env_.rank && after[static_cast<size_t>(r)] == before[static_cast<size_t>(r)]) {
          gone.push_back(std::to_string(r));
        }
      }
      if (gone.empty()) {
        return "Every other rank's process still answers: one of them may be stuck in its own work, or "
               "called collectives in another order.";
      }
      std::string list;
      for (const auto& g : gone) list += (list.empty() ? "" : ", ") + g;
      return fmt::format("Missing rank{} {}: {} process has died or hangs.", gone.size() > 1 ? "s" : "", list,
                         gone.size() > 1 ? "their" : "its");
    } catch (const std::exception&) {
      return env_.agent_store
                 ? fmt::format("The launcher's store at {}:{} no longer answers: the launcher has stopped.",
                               env_.master_addr, env_.port)
                 : fmt::format("Missing rank 0: the rendezvous store it hosts at {}:{} no longer answers, so "
                               "its process has died.", env_.master_addr, env_.port);
    }
  }

 private:
  struct Timed {
    explicit Timed(std::atomic<int64_t>& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
    ~Timed() {
      total_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
    }
    std::atomic<int64_t>& total_;
    std::chrono::steady_clock::time_point start_;
  };

  class Work final : public Pending {
   public:
    Work(C10dCommunicator* owner, decltype(std::declval<selfsup::detail::C10dBackend&>().barrier()) work)
        : owner_(owner), work_(std::move(work)) {}
    void wait() override {
      Timed timed(owner_->blocked_);
      owner_->wait(work_, "all_reduce of a gradient bucket");
    }

   private:
    C10dCommunicator* owner_;
    decltype(std::declval<selfsup::detail::C10dBackend&>().barrier()) work_;
  };

  torch::Tensor on_device(const torch::Tensor& t) const {
    if (backend_ == "nccl" && !t.is_cuda()) {
      return t.to(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env_.local_rank)));
    }
    return t;
  }

  template <class W>
  void wait(const W& work, const char* what) const {
    const auto start = std::chrono::steady_clock::now();
    WaitNotices::Guard notice(notices_, fmt::format("the other ranks in {} ({})", what, backend_));
    try {
      work->wait(timeout_);
    } catch (const std::exception& error) {
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string first = error.what();
      if (const auto nl = first.find('\n'); nl != std::string::npos) first.resize(nl);
      TORCH_CHECK(false, "selfsup::distributed: rank ", env_.rank, " of ", env_.world_size, ": ", what, " (",
                  backend_, ") failed after ", fmt::format("{:.1f}", waited), " s (timeout ", seconds_text(timeout_),
                  "): ", first, "\n", diagnose());
    }
  }

  Environment env_;
  c10::intrusive_ptr<selfsup::detail::C10dBackend> group_;
  std::string backend_;
  std::chrono::milliseconds timeout_;
  mutable WaitNotices notices_;
  std::atomic<int64_t> blocked_{0};
  std::unique_ptr<Heartbeat> heartbeat_;
};

#if SELFSUP_DETAIL_GLOO
inline std::shared_ptr<::gloo::transport::Device> gloo_device(const Environment& e) {
  if (const auto ifname = env("GLOO_SOCKET_IFNAME"); ifname && !ifname->empty()) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(*ifname);
  }
  if (e.master_addr == "localhost" || e.master_addr.rfind("127.", 0) == 0) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

inline c10::intrusive_ptr<selfsup::detail::C10dBackend> make_gloo_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                                        const Environment& e,
                                                                        std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(e));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(e.rank), static_cast<int>(e.world_size),
                                                     options);
}
#else
inline c10::intrusive_ptr<selfsup::detail::C10dBackend> make_gloo_group(const c10::intrusive_ptr<c10d::Store>&,
                                                                        const Environment&, std::chrono::milliseconds) {
  TORCH_CHECK(false, "selfsup::distributed::init_from_env: this build has no Gloo");
}
#endif

}  // namespace detail

/// Joins the run the environment describes and makes it the current context (current()).
/// Without RANK and WORLD_SIZE, or with WORLD_SIZE=1: a run of one process, with no process group
/// and no communication. Throws with the variable, address, port or rank at fault when the
/// environment is malformed, the rendezvous cannot complete within `options.timeout`, or two
/// processes claim one rank.
inline Context init_from_env(const InitOptions& options = {}) {
  constexpr const char* fn = "selfsup::distributed::init_from_env";
  TORCH_CHECK(options.timeout.count() > 0, fn, ": InitOptions::timeout must be positive, got ",
              options.timeout.count(), " ms");
  const auto e = detail::read_environment();
  if (!e.present || e.world_size == 1) {
    Context ctx(e.rank, 1, e.local_rank, nullptr, options.timeout);
    set_current(ctx);
    return ctx;
  }
  Backend backend = options.backend;
  if (backend == Backend::automatic) {
    backend = selfsup::detail::c10d_nccl_available && torch::cuda::is_available() ? Backend::nccl : Backend::gloo;
  }
  TORCH_CHECK(backend != Backend::nccl || selfsup::detail::c10d_nccl_available, fn,
              ": the NCCL backend was asked for, but this build has no NCCL (it needs a LibTorch with CUDA and "
              "selfsup's CMake option SELFSUP_WITH_NCCL; use Backend::gloo)");
  TORCH_CHECK(backend != Backend::gloo || selfsup::detail::c10d_gloo_available, fn,
              ": the Gloo backend ", options.backend == Backend::automatic ? "(the one for CPU tensors) " : "",
              "was asked for, but Gloo's headers were not found when this program was compiled (Debian: "
              "libgloo-dev); on GPUs use Backend::nccl");

  TORCH_CHECK(options.notice_every.count() > 0, fn, ": InitOptions::notice_every must be positive, got ",
              options.notice_every.count(), " ms");
  detail::WaitNotices notices(fmt::format("{}: rank {} of {}", fn, e.rank, e.world_size), options.timeout,
                              options.notice_every);
  // Past the timeout and a grace for the error paths below, a rendezvous still blocked in a
  // socket call (a program that is not a rendezvous store on the port accepts and never answers)
  // ends the process, naming the port.
  const auto grace = std::chrono::milliseconds(15'000);
  detail::WaitNotices::Guard waiting(
      notices, fmt::format("the rendezvous of {} ranks at {}:{}", e.world_size, e.master_addr, e.port),
      options.timeout + grace,
      fmt::format("{}: rank {} of {}: the rendezvous at {}:{} did not answer within {} (timeout) + {}: is another "
                  "program listening on MASTER_PORT {}? Start the run on a free port.",
                  fn, e.rank, e.world_size, e.master_addr, e.port, detail::seconds_text(options.timeout),
                  detail::seconds_text(grace), e.port));
  const bool server = e.rank == 0 && !e.agent_store;
  auto store = detail::connect_store(e, server, options.timeout);
  // Each rank claims its number: two processes with one RANK are refused before the group forms.
  const auto claims = store->add(fmt::format("selfsup/claim/{}", e.rank), 1);
  TORCH_CHECK(claims == 1, fn, ": RANK ", e.rank, " is claimed by more than one process (WORLD_SIZE ", e.world_size,
              "); every process needs its own RANK in [0, WORLD_SIZE)");
  c10::intrusive_ptr<selfsup::detail::C10dBackend> group;
  const auto start = std::chrono::steady_clock::now();
  try {
    if (backend == Backend::gloo) {
      group = detail::make_gloo_group(store, e, options.timeout);
    } else {
      group = detail::make_nccl_group(store, e.rank, e.world_size, e.local_rank, options.timeout);
    }
  } catch (const std::exception& error) {
    std::string missing;
    try {
      store->setTimeout(std::chrono::seconds(5));
      for (int64_t r = 0; r < e.world_size; ++r) {
        if (!store->check({fmt::format("selfsup/claim/{}", r)})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      }
    } catch (...) {
      missing = "unknown (the store no longer answers)";
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string first = error.what();
    if (const auto nl = first.find('\n'); nl != std::string::npos) first.resize(nl);
    TORCH_CHECK(false, fn, ": rank ", e.rank, " of ", e.world_size, ": the rendezvous at ", e.master_addr, ":", e.port,
                " did not complete after waiting ", fmt::format("{:.1f}", waited), " s (timeout ",
                detail::seconds_text(options.timeout), "); ",
                missing.empty() ? std::string("every rank reached the store") : "ranks that never arrived: " + missing,
                ": ", first);
  }
  auto comm = std::make_shared<detail::C10dCommunicator>(e, std::move(group), backend == Backend::gloo ? "gloo" : "nccl",
                                                         options.timeout, options.notice_every);
  Context ctx(e.rank, e.world_size, e.local_rank, std::move(comm), options.timeout);
  set_current(ctx);
  return ctx;
}

}  // namespace selfsup::distributed
