// Fuzzes the semantic pair table parser that data::parse_pair_table and data::read_pair_table
// call, with a dataset of 1000 images whose first four also have paths.
#include "common.hpp"

#include <selfsup/data/pair_table_text.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace d = selfsup::data;
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> p{"cat/a.jpg", "cat/b.jpg", "dog/c.png", "dog/d.png"};
    for (int i = 4; i < 1000; ++i) p.push_back("other/" + std::to_string(i) + ".png");
    return p;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto t = d::detail::parse_pair_table_text(text, {.paths = paths}, "fuzz.csv", "fuzz");
    SELFSUP_FUZZ_REQUIRE(t.first.size() == t.second.size());
    for (size_t i = 0; i < t.first.size(); ++i) {
      SELFSUP_FUZZ_REQUIRE(t.first[i] >= 0 && t.first[i] < 1000 && t.second[i] >= 0 && t.second[i] < 1000);
      SELFSUP_FUZZ_REQUIRE(t.first[i] != t.second[i]);
    }
    if (t.has_class) {
      SELFSUP_FUZZ_REQUIRE(t.classes.size() == t.first.size());
      for (auto c : t.classes) {
        SELFSUP_FUZZ_REQUIRE(c >= 0);
        if (!t.class_names.empty()) SELFSUP_FUZZ_REQUIRE(c < static_cast<int64_t>(t.class_names.size()));
      }
    } else {
      SELFSUP_FUZZ_REQUIRE(t.classes.empty() && t.class_names.empty());
    }
  } catch (const c10::Error&) {
  }
  return 0;
}
