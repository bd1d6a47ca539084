#pragma once
// The review page's HTTP server (curate review): the candidates, the journal and the images it
// serves, given by the program; cpp-httplib underneath (server.cpp, the only unit that includes
// it, and free of LibTorch).
#include <selfsup/curate/candidates_file.hpp>
#include <selfsup/curate/journal.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::examples::curate {

/// One image's bytes and its media type ("image/png", "image/jpeg").
struct ImageBytes {
  std::string bytes;
  std::string type;
};

struct ReviewSetup {
  const selfsup::curate::CandidateSet* candidates = nullptr;
  /// For each candidate, the image index /image/INDEX serves for its first and second image.
  std::vector<std::int64_t> first_image, second_image;
  std::int64_t images = 0;
  /// Reads image `index` (0 <= index < images); may throw std::runtime_error (a file gone).
  std::function<ImageBytes(std::int64_t)> read_image;
  std::vector<std::string> classes;  ///< the class filter's names; empty: no labels
  bool hide_labels = false;
  std::string host = "127.0.0.1";
  int port = 0;       ///< 0: any free port
  std::string token;  ///< every request must carry it
};

/// Serves the page until SIGINT or SIGTERM; `ready(url)` is called once the port is bound.
/// Returns the process's exit status.
int serve_review(const ReviewSetup& setup, selfsup::curate::Journal& journal,
                 const std::function<void(const std::string& url)>& ready);

/// 32 random hex digits from the system's random source.
std::string random_token();

}  // namespace selfsup::examples::curate
