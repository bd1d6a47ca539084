// Fuzzes the JPEG and PNG decoding that data::ImageFolder runs on every file (libjpeg-turbo and
// libpng behind selfsup's header checks and pixel limit), with a limit of 2^20 pixels: the header,
// the whole image, and the box decoding of training views (part of the rows and columns, at a
// reduced DCT scale, then the resampling).
#include "common.hpp"

#include <selfsup/data/detail/decode.hpp>
#include <selfsup/data/detail/region.hpp>

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
  if (header.error.empty()) {
    // The lower right quarter of the image at 16 x 16 (a reduced DCT scale when it is large
    // enough): a file that decodes whole decodes in part too.
    d::RegionScratch scratch;
    std::vector<uint8_t> out(3 * 16 * 16);
    const double h = header.height, w = header.width;
    const auto box = d::decode_box(bytes, {h / 2, w / 2, h - h / 2, w - w / 2}, 16, 16, size % 2 == 1, out.data(),
                                   scratch, /*dct_scaling=*/true, max_pixels);
    if (image.error.empty()) SELFSUP_FUZZ_REQUIRE(box.error.empty());
    if (box.error.empty()) SELFSUP_FUZZ_REQUIRE(box.width == header.width && box.height == header.height);
  }
  return 0;
}
