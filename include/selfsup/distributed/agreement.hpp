#pragma once
/// \file
/// Data parallel: ranks that agree before they train. Every rank's facts (the options that shape
/// the run, the model's layout, the data's identity: name -> value) are compared with rank 0's in
/// one exchange of fixed shape (the texts' lengths, then the texts padded to the longest), so
/// that it is safe before any collective whose sizes depend on those facts: ranks started with
/// another batch size, method or model are refused by name instead of aborting inside Gloo or
/// NCCL, and ranks with another seed or dataset instead of training silently on different data.
/// Once training, check_states_agree compares the ranks' models bit for bit.

#include <selfsup/detail/crc32c.hpp>
#include <selfsup/distributed/collectives.hpp>
#include <selfsup/distributed/context.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace selfsup::distributed {

/// Throws std::runtime_error, on every rank, when the ranks' `facts` differ, naming each rank
/// and fact that differs from rank 0's (values with a line break are not allowed). `fn` names
/// the caller. Collective; nothing in a run of one process.
inline void check_ranks_alike(const std::map<std::string, std::string>& facts, std::string_view fn) {
  if (!current().distributed()) return;
  std::string text;
  for (const auto& [key, value] : facts) {
    TORCH_CHECK(key.find_first_of("=\n") == std::string::npos && value.find('\n') == std::string::npos, fn,
                ": a fact compared across ranks has '=' or a line break: '", key, "'");
    text += key + "=" + value + "\n";
  }
  const auto all = gather_bytes(text);
  auto parse = [](const std::string& t) {
    std::map<std::string, std::string> out;
    std::istringstream in(t);
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
  };
  const auto root = parse(all.at(0));
  std::string report;
  for (size_t r = 1; r < all.size(); ++r) {
    const auto other = parse(all[r]);
    std::set<std::string> keys;
    for (const auto& [k, v] : root) keys.insert(k);
    for (const auto& [k, v] : other) keys.insert(k);
    std::string differ;
    for (const auto& key : keys) {
      const auto a = root.find(key), b = other.find(key);
      const std::string mine = b == other.end() ? "(not set)" : b->second;
      const std::string theirs = a == root.end() ? "(not set)" : a->second;
      if (mine != theirs) differ += fmt::format("{}{} {} (rank 0: {})", differ.empty() ? "" : "; ", key, mine, theirs);
    }
    if (!differ.empty()) report += fmt::format("\n  rank {}: {}", r, differ);
  }
  if (!report.empty()) {
    throw std::runtime_error(fmt::format("{}: the {} ranks do not run alike, so nothing was trained:{}\nStart every "
                                         "rank with the same options and data.",
                                         fn, all.size(), report));
  }
}

/// The CRC-32C of every parameter's and buffer's bytes of `module`, in their order.
inline uint32_t state_checksum(torch::nn::Module& module) {
  uint32_t crc = 0;
  auto add = [&](const torch::Tensor& t) {
    if (!t.defined() || t.numel() == 0) return;
    auto c = t.detach().to(torch::kCPU).contiguous();
    crc = selfsup::detail::crc32c(std::string_view(static_cast<const char*>(c.data_ptr()), c.nbytes()), crc);
  };
  for (const auto& p : module.parameters()) add(p);
  for (const auto& b : module.buffers()) add(b);
  return crc;
}

/// Throws, on every rank, unless every rank's `module` holds bit-identical parameters and buffers
/// (state_checksum, compared across ranks), naming the ranks that differ from rank 0 and `fn`;
/// `steps` is the step the check follows. Collective; nothing is exchanged in a run of one
/// process. Returns this rank's checksum.
inline uint32_t check_states_agree(torch::nn::Module& module, int64_t steps, std::string_view fn) {
  const uint32_t crc = state_checksum(module);
  const auto& ctx = current();
  if (!ctx.distributed()) return crc;
  auto all = all_gather(torch::tensor({static_cast<int64_t>(crc)}, torch::kLong));
  std::string differ;
  for (int64_t r = 1; r < all.size(0); ++r) {
    if (all[r].item<int64_t>() != all[0].item<int64_t>()) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  }
  TORCH_CHECK(differ.empty(), fn, ": after step ", steps, " the parameters of rank(s) ", differ,
              " differ from rank 0's: the ranks no longer train one model (a rank that ran other steps, or a "
              "parameter changed outside the trainer on one rank)");
  return crc;
}

}  // namespace selfsup::distributed
