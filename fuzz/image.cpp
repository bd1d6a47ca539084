// Fuzzes the JPEG and PNG decoding that data::ImageFolder runs on every file (libjpeg-turbo and
// libpng behind selfsup's header checks and pixel limit), with a limit of 2^20 pixels.
#include "common.hpp"

#include <selfsup/data/detail/decode.hpp>

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace d = selfsup::data::detail;
  constexpr int64_t max_pixels = int64_t{1} << 20;
  const std::vector<uint8_t> bytes(data, data + size);
  const auto header = d::decode_bytes(bytes, /*header_only=*/true, max_pixels);
  const auto image = d::decode_bytes(bytes, /*header_only=*/false, max_pixels);
  if (header.error.empty()) {
    SELFSUP_FUZZ_REQUIRE(header.width > 0 && header.height > 0);
    SELFSUP_FUZZ_REQUIRE(static_cast<int64_t>(header.width) * header.height <= max_pixels);
    SELFSUP_FUZZ_REQUIRE(header.rgb.empty());
  }
  if (image.error.empty()) {
    // A decoded image is whole, within the limit, and its header said so before any allocation.
    SELFSUP_FUZZ_REQUIRE(header.error.empty());
    SELFSUP_FUZZ_REQUIRE(image.width == header.width && image.height == header.height);
    SELFSUP_FUZZ_REQUIRE(image.rgb.size() == static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3);
  }
  return 0;
}
