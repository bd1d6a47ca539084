// Fuzzes the CIFAR-10/100 record decoder that data::read_cifar10/100 and data::decode_cifar call.
// The first byte picks the format, the rest is the file.
#include "common.hpp"

#include <selfsup/data/record_reader.hpp>

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  namespace d = selfsup::data;
  const int pick = data[0] % 3;
  const auto format = pick == 0   ? d::CifarFormat::cifar10()
                      : pick == 1 ? d::CifarFormat::cifar100(d::Cifar100Labels::fine)
                                  : d::CifarFormat::cifar100(d::Cifar100Labels::coarse);
  const uint8_t* bytes = data + 1;
  const auto n_bytes = static_cast<int64_t>(size - 1);
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes), size - 1));
  std::vector<uint8_t> images;
  std::vector<int64_t> labels;
  try {
    const int64_t n = d::detail::decode_cifar_into({in, n_bytes, "fuzz.bin"}, format, "fuzz", [&](int64_t count) {
      images.assign(static_cast<size_t>(count * d::CifarFormat::image_bytes), 0);
      labels.assign(static_cast<size_t>(count), -1);
      return std::make_pair(images.data(), labels.data());
    });
    SELFSUP_FUZZ_REQUIRE(n > 0 && n * format.record() == n_bytes);
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* rec = bytes + r * format.record();
      SELFSUP_FUZZ_REQUIRE(labels[r] >= 0 && labels[r] < format.classes[format.label_index]);
      SELFSUP_FUZZ_REQUIRE(labels[r] == rec[format.label_index]);
      // First and last pixel of every image are the record's bytes after its labels.
      SELFSUP_FUZZ_REQUIRE(images[r * 3072] == rec[format.label_bytes]);
      SELFSUP_FUZZ_REQUIRE(images[r * 3072 + 3071] == rec[format.record() - 1]);
    }
  } catch (const c10::Error&) {
    // Rejected with a message: the intended outcome for a bad file.
  }
  return 0;
}
