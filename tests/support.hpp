#pragma once
// Shared by the tests: the reference values written by tests/reference/make_reference.py.

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
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
