#pragma once
// The benchmarks' command lines: CLI11, with errors that name the program, the flag and the value.
#include <CLI/CLI.hpp>

#include <optional>

namespace bench {

/// Parses; the exit status when the program should stop now (--help: 0; an error, printed
/// after the program's name: not 0).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    return a->get_name() + ": " + CLI::FailureMessage::simple(a, e);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

}  // namespace bench
