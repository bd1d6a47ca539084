#pragma once
/// \file
/// Internal to data::ImageFolder: reading and decoding JPEG (libjpeg-turbo) and PNG (libpng)
/// files by content, the resize and centre crop, and the decoding threads. Declares nothing
/// without libjpeg-turbo's and libpng's headers.

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>)

#include <fmt/core.h>
#include <png.h>
#include <torch/torch.h>
#include <turbojpeg.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
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

/// An RGB image decoded to (H, W, 3) bytes, or the reason it could not be.
struct Decoded {
  std::vector<uint8_t> rgb;
  int width = 0, height = 0;
  std::string error;  ///< empty on success
};

inline Decoded decode_jpeg(const std::vector<uint8_t>& bytes, bool header_only) {
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
  if (header_only) return out;
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  // Warnings (a truncated stream, "premature end of data") leave part of the image grey: a wrong
  // image, so they count as errors too.
  if (tjDecompress2(handle.get(), data, size, out.rgb.data(), out.width, 0, out.height, TJPF_RGB,
                    TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0) {
    out.error = std::string("JPEG data: ") + tjGetErrorStr2(handle.get());
  }
  return out;
}

inline Decoded decode_png(const std::vector<uint8_t>& bytes, bool header_only) {
  Decoded out;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    out.error = std::string("PNG header: ") + image.message;
    png_image_free(&image);
    return out;
  }
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  if (header_only) {
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

// Decodes by content (magic bytes), not by file extension.
inline Decoded decode_file(const std::filesystem::path& path, bool header_only) {
  auto bytes = read_whole(path);
  if (!bytes) return {{}, 0, 0, "cannot open the file"};
  if (bytes->size() >= 3 && (*bytes)[0] == 0xFF && (*bytes)[1] == 0xD8 && (*bytes)[2] == 0xFF) {
    return decode_jpeg(*bytes, header_only);
  }
  if (bytes->size() >= 8 && png_sig_cmp(bytes->data(), 0, 8) == 0) return decode_png(*bytes, header_only);
  return {{}, 0, 0, bytes->empty() ? "the file is empty" : "neither a JPEG nor a PNG file"};
}

// (H, W, 3) bytes -> uint8 (3, size, size): shorter side resized to `size`, centre crop.
inline torch::Tensor resize_crop(const Decoded& d, int64_t size) {
  auto hwc = torch::from_blob(const_cast<uint8_t*>(d.rgb.data()), {d.height, d.width, 3}, torch::kByte);
  auto x = hwc.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32);               // (1, 3, H, W)
  const double scale = static_cast<double>(size) / std::min(d.height, d.width);
  const auto h = std::max<int64_t>(size, std::llround(d.height * scale));
  const auto w = std::max<int64_t>(size, std::llround(d.width * scale));
  if (h != d.height || w != d.width) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{h, w})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(scale < 1.0));
  }
  x = x.narrow(2, (h - size) / 2, size).narrow(3, (w - size) / 2, size);
  return x.squeeze(0).round_().clamp_(0, 255).to(torch::kByte);                    // (3, S, S)
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
