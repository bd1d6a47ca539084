#pragma once
// Shared by the tests: the reference values written by tests/reference/make_reference.py.

#include "plain_norm_encoder.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::test {

/// Tensor `name` (float64, CPU) from the reference files tests/reference/*.txt, each written by
/// the Python script of the same stem.
inline torch::Tensor reference(const std::string& name) {
  static const std::map<std::string, torch::Tensor> table = [] {
    std::map<std::string, torch::Tensor> t;
    for (const auto& entry : std::filesystem::directory_iterator(SELFSUP_TEST_DATA_DIR)) {
      if (entry.path().extension() != ".txt") continue;
      std::ifstream in(entry.path());
      if (!in) throw std::runtime_error("cannot open " + entry.path().string());
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream row(line);
        std::string key;
        int64_t dims = 0;
        row >> key >> dims;
        std::vector<int64_t> shape(dims);
        for (auto& s : shape) row >> s;
        std::vector<double> values;
        double v = 0;
        while (row >> v) values.push_back(v);
        if (!t.emplace(key, torch::tensor(values, torch::kFloat64).reshape(shape)).second)
          throw std::runtime_error("reference value " + key + " appears twice");
      }
    }
    return t;
  }();
  auto it = table.find(name);
  if (it == table.end()) throw std::runtime_error("no reference value named " + name);
  return it->second.clone();
}

/// Largest absolute difference between two tensors, compared in float64 on the CPU.
inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.detach().to(torch::kCPU, torch::kFloat64) - b.detach().to(torch::kCPU, torch::kFloat64))
      .abs()
      .max()
      .item<double>();
}

/// The devices to run device-generic tests on: the CPU, and CUDA when one is present.
inline std::vector<torch::Device> devices() {
  std::vector<torch::Device> d{torch::kCPU};
  if (torch::cuda::is_available()) d.emplace_back(torch::kCUDA);
  return d;
}

/// The range a softmax cross-entropy over `candidates` logits can take when each logit is a
/// cosine similarity divided by `temperature`: from the positive at +1 and every other candidate
/// at -1 (the least) to the reverse (the most). The mean over anchors stays inside it too.
inline std::pair<double, double> cosine_softmax_range(int64_t candidates, double temperature) {
  const double others = static_cast<double>(candidates - 1), e = 2.0 / temperature;
  return {std::log1p(others * std::exp(-e)), std::log1p(others * std::exp(e))};
}

/// What is wrong with the logged losses of a run that should have trained, or "" when nothing
/// is: `count` entries, each finite and within [lo, hi] (the range the loss's formula allows;
/// 1e-4 of slack for float32), and not all the same value (a loss that neither the batches nor
/// the updated weights move is not what the optimiser is stepping on).
template <class Log>
std::string logged_losses_problem(const Log& log, size_t count, double lo, double hi) {
  std::ostringstream why;
  if (log.size() != count) {
    why << log.size() << " logged steps, expected " << count;
    return why.str();
  }
  double least = 0, most = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    const double loss = log[i].loss;
    if (!(loss >= lo - 1e-4 && loss <= hi + 1e-4)) {
      why << "step " << log[i].step << ": loss " << loss << " outside [" << lo << ", " << hi << "]";
      return why.str();
    }
    least = i == 0 ? loss : std::min(least, loss);
    most = i == 0 ? loss : std::max(most, loss);
  }
  if (count > 1 && most - least < 1e-6) {
    why << "every logged loss is " << least;
    return why.str();
  }
  return "";
}

/// True when `fn` throws an exception (a c10::Error or any std::exception) whose message
/// contains `needle`.
template <class F>
bool throws_with(F&& fn, const std::string& needle) {
  try {
    fn();
  } catch (const std::exception& e) {
    return std::string(e.what()).find(needle) != std::string::npos;
  }
  return false;
}

}  // namespace selfsup::test
