#pragma once
/// \file
/// Internal: the frame around a checkpoint's LibTorch archive, which lets a reader refuse a
/// truncated or corrupted file before LibTorch parses it. No LibTorch here, so the fuzz target
/// in fuzz/ builds this exact reader with clang.
///
/// Layout (integers little-endian):
///
///   bytes  0..20  "selfsup checkpoint 1\n"  (magic and format version)
///   bytes 21..28  payload length, uint64
///   bytes 29..32  CRC-32C of the payload
///   bytes 33..36  CRC-32C of bytes 0..32
///   bytes 37..    the payload: a LibTorch archive (a zip file), exactly `length` bytes
///
/// A file that starts with a zip signature instead is a checkpoint of an earlier selfsup,
/// without a checksum: it is read as it is (`framed` false), and the reader says so.

#include <selfsup/detail/crc32c.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace selfsup::checkpoint::detail {

inline constexpr std::string_view magic = "selfsup checkpoint 1\n";
inline constexpr size_t header_size = 37;

inline void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFFu);
}
inline void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFFu);
}
inline uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return v;
}
inline uint32_t get_u32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return v;
}

/// The header that frames `payload`.
inline std::string frame_header(std::string_view payload) {
  std::string h(magic);
  put_u64(h, payload.size());
  put_u32(h, selfsup::detail::crc32c(payload));
  put_u32(h, selfsup::detail::crc32c(h));
  return h;
}

/// What a file's bytes hold: the archive (a view into the bytes), or why they are refused.
struct Unframed {
  std::string_view payload;
  bool framed = false;  ///< false: an earlier selfsup's unframed archive, not checked
  std::string error;    ///< empty when `payload` may be read
};

/// Checks the frame of `bytes` (the whole file) and returns the archive inside it.
inline Unframed unframe(std::string_view bytes) {
  Unframed out;
  if (bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    out.payload = bytes;  // an unframed archive from an earlier version
    return out;
  }
  if (bytes.empty()) {
    out.error = "the file is empty";
    return out;
  }
  const auto head = bytes.substr(0, magic.size());
  if (head != magic.substr(0, head.size())) {
    out.error = "not a selfsup checkpoint (it does not begin with \"selfsup checkpoint\")";
    if (head.substr(0, 19) == magic.substr(0, 19)) out.error = "a selfsup checkpoint of another format version";
    return out;
  }
  if (bytes.size() < header_size) {
    out.error = "truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
                std::to_string(header_size) + "-byte header";
    return out;
  }
  if (get_u32(bytes.substr(33, 4)) != selfsup::detail::crc32c(bytes.substr(0, 33))) {
    out.error = "corrupt: the header's checksum does not match";
    return out;
  }
  const uint64_t length = get_u64(bytes.substr(21, 8));
  const uint64_t present = bytes.size() - header_size;
  if (present != length) {
    out.error = present < length ? "truncated: " + std::to_string(present) + " of " + std::to_string(length) +
                                       " payload bytes present"
                                 : "corrupt: " + std::to_string(present - length) +
                                       " bytes after the end of the payload";
    return out;
  }
  const auto payload = bytes.substr(header_size);
  const uint32_t stored = get_u32(bytes.substr(29, 4)), computed = selfsup::detail::crc32c(payload);
  if (stored != computed) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "corrupt: the payload's CRC-32C is %08x, the header says %08x",
                  static_cast<unsigned>(computed), static_cast<unsigned>(stored));
    out.error = buffer;
    return out;
  }
  out.payload = payload;
  out.framed = true;
  return out;
}

}  // namespace selfsup::checkpoint::detail
