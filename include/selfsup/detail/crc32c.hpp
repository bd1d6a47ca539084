#pragma once
/// \file
/// Internal: CRC-32C (the Castagnoli polynomial, reflected 0x82F63B78, as iSCSI, ext4 and
/// Btrfs use it), computed eight bytes at a time from tables built at compile time. Checks
/// checkpoint files for corruption; no LibTorch here, so the fuzz targets build it with clang.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace selfsup::detail {

namespace crc32c_tables {

inline constexpr uint32_t polynomial = 0x82F63B78u;

constexpr std::array<std::array<uint32_t, 256>, 8> make() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ polynomial : c >> 1;
    t[0][i] = c;
  }
  // t[k][i]: the CRC of byte i followed by k zero bytes, for the eight-bytes-a-step loop.
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
  }
  return t;
}

inline constexpr auto table = make();

}  // namespace crc32c_tables

/// Continues a CRC-32C over `bytes`; start with crc = 0 (the finalising XORs are inside).
inline uint32_t crc32c(std::string_view bytes, uint32_t crc = 0) {
  const auto& t = crc32c_tables::table;
  auto p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  crc = ~crc;
  while (n >= 8) {
    // Little-endian order, byte by byte: the same result on every host.
    const uint32_t lo = crc ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
    crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
          t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFFu];
  return ~crc;
}

}  // namespace selfsup::detail
