// Fuzzes the reader of a checkpoint file's frame (length and CRC-32C checks) that
// checkpoint::read runs before LibTorch sees any byte of the archive.
#include "common.hpp"

#include <selfsup/detail/crc32c.hpp>
#include <selfsup/train/detail/checkpoint_file.hpp>

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace c = selfsup::checkpoint::detail;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto u = c::unframe(bytes);
  if (!u.error.empty()) {
    SELFSUP_FUZZ_REQUIRE(u.payload.empty());
    return 0;
  }
  if (u.framed) {
    // Accepted: the payload is exactly what the frame announces, with a matching checksum, and
    // framing it again gives the same bytes.
    SELFSUP_FUZZ_REQUIRE(u.payload.data() == bytes.data() + c::header_size);
    SELFSUP_FUZZ_REQUIRE(u.payload.size() + c::header_size == bytes.size());
    SELFSUP_FUZZ_REQUIRE(c::frame_header(u.payload) + std::string(u.payload) == bytes);
  } else {
    SELFSUP_FUZZ_REQUIRE(u.payload == bytes && bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4));
  }
  return 0;
}
