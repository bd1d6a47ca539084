#pragma once
/// \file
/// Internal to data::ImageFolder: reading and decoding JPEG (libjpeg-turbo) and PNG (libpng)
/// files by content, with the image's size read from its header and checked against a pixel
/// limit before any pixel memory is allocated, and the decoding threads. Declares nothing
/// without libjpeg-turbo's and libpng's headers. No LibTorch here, so the fuzz target in fuzz/
/// builds these exact decoders with clang.

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>)

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace selfsup::data {

namespace detail {

inline std::optional<std::vector<uint8_t>> read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Images with more pixels than this are refused unless a dataset sets its own limit: a file
/// with a forged header (a "decompression bomb": 69 bytes claiming 100000 x 100000 pixels)
/// would otherwise allocate gigabytes. The value is Pillow's default limit.
inline constexpr int64_t default_max_pixels = 89'478'485;

/// An RGB image decoded to (H, W, 3) bytes, or the reason it could not be.
struct Decoded {
  std::vector<uint8_t> rgb;
  int width = 0, height = 0;
  std::string error;  ///< empty on success
};

/// An error when width x height exceeds `max_pixels`, else empty.
inline std::string check_pixels(int64_t width, int64_t height, int64_t max_pixels) {
  if (width * height <= max_pixels) return {};
  return "the header claims " + std::to_string(width) + " x " + std::to_string(height) + " = " +
         std::to_string(width * height) + " pixels, more than the limit of " + std::to_string(max_pixels) +
         " (ImageFolderOptions::max_pixels)";
}

inline Decoded decode_jpeg(const std::vector<uint8_t>& bytes, bool header_only, int64_t max_pixels) {
  Decoded out;
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) return {{}, 0, 0, "cannot create a TurboJPEG decoder"};
  int subsampling = 0, colorspace = 0;
  auto* data = const_cast<unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());
  if (tjDecompressHeader3(handle.get(), data, size, &out.width, &out.height, &subsampling, &colorspace) != 0) {
    out.error = std::string("JPEG header: ") + tjGetErrorStr2(handle.get());
    return out;
  }
  if (out.width <= 0 || out.height <= 0) {
    out.error = "JPEG header gives an empty image";
    return out;
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    out.error = "CMYK JPEG; only grey and colour (RGB/YCbCr) images are read";
    return out;
  }
  out.error = check_pixels(out.width, out.height, max_pixels);
  if (header_only || !out.error.empty()) return out;
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  // Warnings (a truncated stream, "premature end of data") leave part of the image grey: a wrong
  // image, so they count as errors too.
  if (tjDecompress2(handle.get(), data, size, out.rgb.data(), out.width, 0, out.height, TJPF_RGB,
                    TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0) {
    out.error = std::string("JPEG data: ") + tjGetErrorStr2(handle.get());
  }
  return out;
}

inline Decoded decode_png(const std::vector<uint8_t>& bytes, bool header_only, int64_t max_pixels) {
  Decoded out;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    out.error = std::string("PNG header: ") + image.message;
    png_image_free(&image);
    return out;
  }
  // libpng refuses sides above 1,000,000 by default, so both fit in an int.
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.error = check_pixels(image.width, image.height, max_pixels);
  if (header_only || !out.error.empty()) {
    png_image_free(&image);
    return out;
  }
  image.format = PNG_FORMAT_RGB;  // grey, palette and alpha images converted to RGB
  out.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr)) {
    out.error = std::string("PNG data: ") + image.message;
  }
  png_image_free(&image);
  return out;
}

/// Decodes `bytes` by content (magic bytes), not by file extension; images over `max_pixels`
/// are refused from their header, and running out of memory is an error, not an exception.
inline Decoded decode_bytes(const std::vector<uint8_t>& bytes, bool header_only,
                            int64_t max_pixels = default_max_pixels) {
  try {
    if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
      return decode_jpeg(bytes, header_only, max_pixels);
    }
    if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) return decode_png(bytes, header_only, max_pixels);
  } catch (const std::bad_alloc&) {
    return {{}, 0, 0, "out of memory while decoding"};
  }
  return {{}, 0, 0, bytes.empty() ? "the file is empty" : "neither a JPEG nor a PNG file"};
}

inline Decoded decode_file(const std::filesystem::path& path, bool header_only,
                           int64_t max_pixels = default_max_pixels) {
  std::optional<std::vector<uint8_t>> bytes;
  try {
    bytes = read_whole(path);
  } catch (const std::bad_alloc&) {
    return {{}, 0, 0, "out of memory while reading the file"};
  }
  if (!bytes) return {{}, 0, 0, "cannot open the file"};
  return decode_bytes(*bytes, header_only, max_pixels);
}

/// The first `limit` bytes of a file (all of it when shorter), and whether that is all of it.
inline std::optional<std::vector<uint8_t>> read_prefix(const std::filesystem::path& path, size_t limit, bool& whole) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<uint8_t> bytes(limit);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(limit));
  bytes.resize(static_cast<size_t>(in.gcount()));
  whole = bytes.size() < limit || in.peek() == std::char_traits<char>::eof();
  return bytes;
}

/// A file's size and format from its header alone, checked against `max_pixels`: reads the first
/// 64 KiB, and the whole file only when its header lies further in (a JPEG with large metadata
/// segments before its frame header). Scanning a folder of a million images reads this much of each.
inline Decoded read_header(const std::filesystem::path& path, int64_t max_pixels = default_max_pixels) {
  constexpr size_t prefix = size_t{64} << 10;
  bool whole = false;
  std::optional<std::vector<uint8_t>> bytes;
  try {
    bytes = read_prefix(path, prefix, whole);
  } catch (const std::bad_alloc&) {
    return {{}, 0, 0, "out of memory while reading the file"};
  }
  if (!bytes) return {{}, 0, 0, "cannot open the file"};
  auto header = decode_bytes(*bytes, /*header_only=*/true, max_pixels);
  if (header.error.empty() || whole) return header;
  return decode_file(path, /*header_only=*/true, max_pixels);
}

// Runs fn(i) for i in [0, n) on `threads` threads; the first exception is rethrown here.
template <class F>
void parallel_for(int64_t n, int64_t threads, F&& fn) {
  const int64_t t = std::max<int64_t>(1, std::min(threads, n));
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (int64_t i = next++; i < n; i = next++) fn(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next = n;
    }
  };
  std::vector<std::thread> pool;
  for (int64_t k = 1; k < t; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

inline bool is_image_name(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

}  // namespace detail

}  // namespace selfsup::data

#endif
