#pragma once
// Running a benchmark's Python peer: a script beside the benchmark, run with Debian's python3,
// whose first line is its measurement alone and whose further lines describe it.
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>

namespace bench {

struct PeerResult {
  double value = 0.0;       ///< the number on the peer's first line
  std::string description;  ///< the lines after it, without the final line break
};

/// Runs `SELFSUP_BENCHMARK_DIR/<script> <arguments>` with /usr/bin/python3. Returns its first
/// line's number, or nothing (after printing what it said) when it could not run.
inline std::optional<PeerResult> run_peer(const std::string& script, const std::string& arguments) {
  const auto command = fmt::format("/usr/bin/python3 '{}/{}' {} 2>&1", SELFSUP_BENCHMARK_DIR, script, arguments);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) {
    fmt::print("  peer: could not start '{}'\n", command);
    return std::nullopt;
  }
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe.get())) output += buffer;
  try {
    size_t used = 0;
    PeerResult r{std::stod(output, &used), ""};
    const auto line_end = output.find('\n');
    if (used != (line_end == std::string::npos ? output.size() : line_end)) throw std::invalid_argument("");
    if (line_end != std::string::npos) r.description = output.substr(line_end + 1);
    while (!r.description.empty() && r.description.back() == '\n') r.description.pop_back();
    return r;
  } catch (const std::exception&) {
    fmt::print("  peer '{}' failed:\n{}\n", command, output);
    return std::nullopt;
  }
}

}  // namespace bench
