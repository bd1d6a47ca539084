// Fuzzes the STL-10 image and label decoders that data::read_stl10 and data::decode_stl10 call.
// The first byte k says how many of the last bytes are the label file (0: no labels); the bytes
// between are the image file.
#include "common.hpp"

#include <selfsup/data/record_reader.hpp>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  namespace d = selfsup::data;
  const size_t k = data[0] < size - 1 ? data[0] : size - 1;
  const uint8_t* image_bytes = data + 1;
  const auto n_image_bytes = static_cast<int64_t>(size - 1 - k);
  std::istringstream in(std::string(reinterpret_cast<const char*>(image_bytes), size - 1 - k));
  std::vector<uint8_t> images;
  try {
    const int64_t n = d::detail::decode_stl10_images_into({in, n_image_bytes, "fuzz_X.bin"}, "fuzz", [&](int64_t count) {
      images.assign(static_cast<size_t>(count * d::stl10_image_bytes), 0);
      return images.data();
    });
    SELFSUP_FUZZ_REQUIRE(n > 0 && n * d::stl10_image_bytes == n_image_bytes);
    // Column-major storage: file byte 1 is pixel (c 0, y 1, x 0), byte 96 is (c 0, y 0, x 1).
    SELFSUP_FUZZ_REQUIRE(images[1 * 96 + 0] == image_bytes[1]);
    SELFSUP_FUZZ_REQUIRE(images[0 * 96 + 1] == image_bytes[96]);
    if (k > 0) {
      std::istringstream lin(std::string(reinterpret_cast<const char*>(data + size - k), k));
      std::vector<int64_t> labels(static_cast<size_t>(n), -1);
      d::detail::decode_stl10_labels_into({lin, static_cast<int64_t>(k), "fuzz_y.bin"}, n, "fuzz_X.bin", "fuzz", labels.data());
      SELFSUP_FUZZ_REQUIRE(static_cast<int64_t>(k) == n);
      for (int64_t i = 0; i < n; ++i) SELFSUP_FUZZ_REQUIRE(labels[i] == data[size - k + i] - 1 && labels[i] >= 0 && labels[i] <= 9);
    }
  } catch (const c10::Error&) {
  }
  return 0;
}
