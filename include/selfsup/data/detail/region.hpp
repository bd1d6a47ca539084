#pragma once
/// \file
/// Internal to data::ImageFolder: one box of a JPEG or PNG file decoded and resampled to an output
/// size. For a JPEG only what the box needs is decoded: at 1/2, 1/4 or 1/8 scale in the DCT when
/// the box stays at least as large as the output there (libjpeg's scaled IDCT), only the rows
/// from the box's top (jpeg_skip_scanlines) to its bottom, and only the iMCU columns around it
/// (jpeg_crop_scanline); a PNG is decoded whole. Then one resampling (resample.hpp). Headers are
/// checked against the pixel limit before any pixel memory is allocated. No LibTorch here, so
/// the fuzz target builds this exact code.

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>) && __has_include(<jpeglib.h>)

#include <selfsup/data/detail/decode.hpp>
#include <selfsup/data/detail/resample.hpp>

// jpeglib.h needs FILE and size_t declared before it.
#include <cstddef>
#include <cstdio>
#include <csetjmp>
#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace selfsup::data::detail {

/// A box in an image's own pixels: top, left, height, width (fractional edges allowed).
struct PixelBox {
  double top = 0, left = 0, height = 0, width = 0;
  /// Whether the resampling reads only pixels inside the box, as a crop that is then resized
  /// does (RandomResizedCrop); false: also the pixels around it that the filter reaches, as a
  /// resize of the whole image that is then cropped does (Resize, then CenterCrop).
  bool within = true;
};

/// The limits [lo, hi) of the source pixels a box's axis may read at scale 1/k, of `size`.
inline std::pair<int, int> tap_limits(double start, double extent, int k, int size, bool within) {
  if (!within) return {0, size};
  const int lo = static_cast<int>(std::floor(start / k));
  const int hi = static_cast<int>(std::ceil((start + extent) / k));
  return {std::max(lo, 0), std::min(hi, size)};
}

inline AxisTaps box_taps(double start, double extent, int k, int size, bool within, int out) {
  const auto [lo, hi] = tap_limits(start, extent, k, size, within);
  return axis_taps(start / k, (start + extent) / k, lo, hi, out);
}

/// Buffers a decoding thread reuses from one image to the next.
struct RegionScratch {
  std::vector<uint8_t> rgb, tmp;
  std::vector<int32_t> acc;
};

/// What decode_box did, for tests and benchmarks.
struct RegionInfo {
  int width = 0, height = 0;  ///< the full image's size, from its header
  int scale_denom = 1;        ///< 1, 2, 4 or 8: the DCT scaling used
  int rows = 0, cols = 0;     ///< decoded rows and columns (at that scale)
  std::string error;          ///< empty on success
};

namespace jpeg {

struct ErrorManager {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" inline void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (a truncated stream, "premature end of data") leave part of the image grey: a wrong
// image, so they stop the decode as errors do.
extern "C" inline void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);
}

}  // namespace jpeg

/// The DCT scale (1, 2, 4 or 8) at which a box of box_h x box_w pixels is still at least
/// out_h x out_w: decoding at a smaller scale never upsamples what a full decode would downsample.
inline int dct_scale_for(double box_h, double box_w, int out_h, int out_w) {
  for (int k : {8, 4, 2}) {
    if (box_h / k >= out_h && box_w / k >= out_w) return k;
  }
  return 1;
}

// The region decode proper. Only trivially destructible objects live in this frame across
// setjmp, as longjmp requires; `info.error` is written after the jump.
inline bool decode_jpeg_box(const std::vector<uint8_t>& bytes, const PixelBox& box, int out_h, int out_w,
                            bool dct_scaling, int64_t max_pixels, RegionScratch& scratch, RgbRows& rows,
                            AxisTaps& ty, AxisTaps& tx, RegionInfo& info) {
  jpeg_decompress_struct cinfo;
  jpeg::ErrorManager err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg::on_error;
  err.mgr.emit_message = jpeg::on_message;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    info.error = std::string("JPEG data: ") + err.message;
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  info.width = static_cast<int>(cinfo.image_width);
  info.height = static_cast<int>(cinfo.image_height);
  const char* refusal = nullptr;
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    refusal = "CMYK JPEG; only grey and colour (RGB/YCbCr) images are read";
  } else if (info.width <= 0 || info.height <= 0) {
    refusal = "JPEG header gives an empty image";
  }
  if (refusal == nullptr) info.error = check_pixels(info.width, info.height, max_pixels);
  if (refusal == nullptr && info.error.empty() &&
      (box.top < 0 || box.left < 0 || box.height <= 0 || box.width <= 0 || box.top + box.height > info.height ||
       box.left + box.width > info.width)) {
    refusal = "the box lies outside the image";
  }
  if (refusal != nullptr || !info.error.empty()) {
    jpeg_destroy_decompress(&cinfo);
    if (refusal != nullptr) info.error = refusal;
    return false;
  }
  const int k = dct_scaling ? dct_scale_for(box.height, box.width, out_h, out_w) : 1;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(k);
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  const int full_w = static_cast<int>(cinfo.output_width), full_h = static_cast<int>(cinfo.output_height);
  // The box at this scale, and the source rows and columns its taps read.
  ty = box_taps(box.top, box.height, k, full_h, box.within, out_h);
  tx = box_taps(box.left, box.width, k, full_w, box.within, out_w);
  // The columns, two more on each side: jpeg_crop_scanline widens them to whole iMCU columns,
  // and the outermost column of its window lacks its neighbour's chroma for the smooth
  // upsampling (it differs from a full decode's), so it must not be one the taps read.
  const int margin = 2;
  const int c0 = std::max(tx.lo - margin, 0), c1 = std::min(tx.hi + margin, full_w);
  JDIMENSION x0 = static_cast<JDIMENSION>(c0), width = static_cast<JDIMENSION>(c1 - c0);
  if (width < cinfo.output_width) {
    jpeg_crop_scanline(&cinfo, &x0, &width);
  } else {
    x0 = 0;
    width = cinfo.output_width;
  }
  const int row0 = ty.lo, row1 = ty.hi;
  const size_t stride = static_cast<size_t>(cinfo.output_width) * 3;  // crop_scanline narrows output_width
  try {
    scratch.rgb.resize(stride * static_cast<size_t>(row1 - row0));
  } catch (const std::bad_alloc&) {
    jpeg_destroy_decompress(&cinfo);
    info.error = "out of memory while decoding";
    return false;
  }
  if (row0 > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(row0));
  // Row pointers for all the rows at once: libjpeg then hands out whole iMCU rows per call.
  JSAMPROW lines[64];
  while (static_cast<int>(cinfo.output_scanline) < row1) {
    const int at = static_cast<int>(cinfo.output_scanline);
    const int n = std::min(row1 - at, 64);
    for (int i = 0; i < n; ++i) lines[i] = scratch.rgb.data() + stride * static_cast<size_t>(at - row0 + i);
    jpeg_read_scanlines(&cinfo, lines, static_cast<JDIMENSION>(n));
  }
  // The rows below the box are never decoded: abort instead of finishing.
  jpeg_destroy_decompress(&cinfo);
  rows = {scratch.rgb.data(), row1 - row0, static_cast<int>(width), static_cast<int>(stride), row0,
          static_cast<int>(x0), full_h, full_w};
  info.scale_denom = k;
  info.rows = row1 - row0;
  info.cols = static_cast<int>(width);
  return true;
}

inline bool decode_png_box(const std::vector<uint8_t>& bytes, const PixelBox& box, int out_h, int out_w,
                           int64_t max_pixels, RegionScratch& scratch, RgbRows& rows, AxisTaps& ty, AxisTaps& tx,
                           RegionInfo& info) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    info.error = std::string("PNG header: ") + image.message;
    png_image_free(&image);
    return false;
  }
  info.width = static_cast<int>(image.width);
  info.height = static_cast<int>(image.height);
  info.error = check_pixels(image.width, image.height, max_pixels);
  if (info.error.empty() && (box.top < 0 || box.left < 0 || box.height <= 0 || box.width <= 0 ||
                             box.top + box.height > info.height || box.left + box.width > info.width)) {
    info.error = "the box lies outside the image";
  }
  if (!info.error.empty()) {
    png_image_free(&image);
    return false;
  }
  image.format = PNG_FORMAT_RGB;  // grey, palette and alpha images converted to RGB
  scratch.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, scratch.rgb.data(), 0, nullptr)) {
    info.error = std::string("PNG data: ") + image.message;
    png_image_free(&image);
    return false;
  }
  png_image_free(&image);
  ty = box_taps(box.top, box.height, 1, info.height, box.within, out_h);
  tx = box_taps(box.left, box.width, 1, info.width, box.within, out_w);
  rows = {scratch.rgb.data(), info.height, info.width, info.width * 3, 0, 0, info.height, info.width};
  info.rows = info.height;
  info.cols = info.width;
  return true;
}

/// Decodes what `box` needs of the JPEG or PNG `bytes` (by content) and writes the box resampled
/// to out_h x out_w into planar uint8 `out` (3, out_h, out_w), mirrored when `flip`. Errors (an
/// undecodable file, a box outside the image, too many pixels, running out of memory) come back
/// in RegionInfo::error, with `out` untouched.
inline RegionInfo decode_box(const std::vector<uint8_t>& bytes, const PixelBox& box, int out_h, int out_w,
                             bool flip, uint8_t* out, RegionScratch& scratch, bool dct_scaling = true,
                             int64_t max_pixels = default_max_pixels) {
  RegionInfo info;
  try {
    RgbRows rows;
    AxisTaps ty, tx;
    bool ok = false;
    if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
      ok = decode_jpeg_box(bytes, box, out_h, out_w, dct_scaling, max_pixels, scratch, rows, ty, tx, info);
    } else if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) {
      ok = decode_png_box(bytes, box, out_h, out_w, max_pixels, scratch, rows, ty, tx, info);
    } else {
      info.error = bytes.empty() ? "the file is empty" : "neither a JPEG nor a PNG file";
    }
    if (ok) render(rows, ty, tx, out_h, out_w, flip, out, scratch.acc, scratch.tmp);
  } catch (const std::bad_alloc&) {
    info.error = "out of memory while decoding";
  }
  return info;
}

}  // namespace selfsup::data::detail

#endif
