#pragma once
/// \file
/// The binary dataset formats (CIFAR-10/100, STL-10) decoded from a byte stream into buffers the
/// caller provides, with errors that name the file and the byte offset. No LibTorch tensors here
/// (only its error type), so that the libFuzzer targets in fuzz/ can build these exact decoders
/// with clang; data/cifar.hpp and data/stl10.hpp wrap them into tensors.

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace selfsup::data {

/// Which of CIFAR-100's two labels the dataset carries.
enum class Cifar100Labels { fine, coarse };

/// The layout of one binary CIFAR record: label bytes, then 1024 red, 1024 green and 1024 blue
/// bytes of a 32 × 32 image in row-major order.
struct CifarFormat {
  int64_t label_bytes = 1;              ///< 1 for CIFAR-10, 2 for CIFAR-100 (coarse, fine)
  int64_t label_index = 0;              ///< which label byte becomes the label
  std::vector<int64_t> classes = {10};  ///< number of classes of each label byte, for validation

  static constexpr int64_t image_bytes = 3 * 32 * 32;
  int64_t record() const { return label_bytes + image_bytes; }
  static CifarFormat cifar10() { return {1, 0, {10}}; }
  static CifarFormat cifar100(Cifar100Labels labels = Cifar100Labels::fine) {
    return {2, labels == Cifar100Labels::coarse ? 0 : 1, {20, 100}};
  }
};

inline constexpr int64_t stl10_side = 96;
inline constexpr int64_t stl10_image_bytes = 3 * stl10_side * stl10_side;

namespace detail {

/// A stream of `size` bytes and the name that error messages give it.
struct ByteSource {
  std::istream& in;
  int64_t size;
  std::string name;
};

/// Opens `path`, naming it in the message when it is missing or unreadable.
inline std::ifstream open_binary(const std::filesystem::path& path, std::string_view fn, int64_t& size) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  TORCH_CHECK(!ec, fn, ": cannot open ", path.string(), " (", ec.message(), ")");
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in, fn, ": cannot open ", path.string());
  size = static_cast<int64_t>(bytes);
  return in;
}

/// Number of whole records of `record` bytes in the source; rejects an empty source and a
/// trailing partial record, naming the byte offset where it starts.
inline int64_t count_records(const ByteSource& src, int64_t record, std::string_view what,
                             std::string_view fn) {
  TORCH_CHECK(src.size > 0, fn, ": ", src.name, " is empty (0 bytes); expected ", what, " of ",
              record, " bytes each");
  const int64_t n = src.size / record, rest = src.size % record;
  TORCH_CHECK(rest == 0, fn, ": ", src.name, " is truncated or not in the expected format: ",
              src.size, " bytes is not a whole number of ", record, "-byte ", what,
              "; the last one starts at byte offset ", n * record, " and has only ", rest, " bytes");
  return n;
}

/// Reads `n` records of `record` bytes in chunks of about 16 MiB; `use(bytes, rows, first)` gets
/// each chunk and the index of its first record.
template <class F>
void for_each_chunk(const ByteSource& src, int64_t n, int64_t record, std::string_view fn, F&& use) {
  const int64_t rows = std::max<int64_t>(1, (int64_t{16} << 20) / record);
  std::vector<uint8_t> buffer(static_cast<size_t>(std::min(rows, n) * record));
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t len = std::min(rows, n - start);
    const auto want = static_cast<std::streamsize>(len * record);
    src.in.read(reinterpret_cast<char*>(buffer.data()), want);
    const auto got = src.in.gcount();
    TORCH_CHECK(got == want, fn, ": ", src.name, ": read only ", got, " of ", want,
                " bytes from byte offset ", start * record, "; the file is truncated or unreadable");
    use(static_cast<const uint8_t*>(buffer.data()), len, start);
  }
}

/// Decodes CIFAR records. `alloc(n)` returns buffers for n images (n · 3072 bytes, (N, 3, 32, 32)
/// order) and n int64 labels; every label byte is checked against its number of classes.
template <class Alloc>
int64_t decode_cifar_into(const ByteSource& src, const CifarFormat& format, std::string_view fn, Alloc&& alloc) {
  TORCH_CHECK(format.label_bytes >= 1 && format.label_index >= 0 && format.label_index < format.label_bytes &&
                  static_cast<int64_t>(format.classes.size()) == format.label_bytes,
              fn, ": inconsistent CifarFormat");
  const int64_t record = format.record();
  const int64_t n = count_records(src, record, "records", fn);
  const auto buffers = alloc(n);
  uint8_t* images = buffers.first;  // named, not a structured binding: lambdas capture it
  int64_t* labels = buffers.second;
  for_each_chunk(src, n, record, fn, [&](const uint8_t* chunk, int64_t rows, int64_t first) {
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* rec = chunk + r * record;
      const int64_t index = first + r;
      for (int64_t b = 0; b < format.label_bytes; ++b) {
        TORCH_CHECK(rec[b] < format.classes[b], fn, ": ", src.name, ": record ", index,
                    " at byte offset ", index * record + b, " has label ", static_cast<int>(rec[b]),
                    ", outside [0, ", format.classes[b], "); is this a CIFAR-",
                    format.label_bytes == 1 ? "10" : "100", " file?");
      }
      labels[index] = rec[format.label_index];
      std::memcpy(images + index * CifarFormat::image_bytes, rec + format.label_bytes, CifarFormat::image_bytes);
    }
  });
  return n;
}

/// Decodes STL-10 images; `alloc(n)` returns a buffer of n · 27648 bytes, filled in (N, 3, 96, 96)
/// row-major order from the file's column-major channels.
template <class Alloc>
int64_t decode_stl10_images_into(const ByteSource& src, std::string_view fn, Alloc&& alloc) {
  const int64_t n = count_records(src, stl10_image_bytes, "images", fn);
  uint8_t* images = alloc(n);
  constexpr int64_t s = stl10_side;
  for_each_chunk(src, n, stl10_image_bytes, fn, [&](const uint8_t* chunk, int64_t rows, int64_t first) {
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* in = chunk + r * stl10_image_bytes;
      uint8_t* out = images + (first + r) * stl10_image_bytes;
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t x = 0; x < s; ++x)
          for (int64_t y = 0; y < s; ++y) out[(c * s + y) * s + x] = in[(c * s + x) * s + y];
    }
  });
  return n;
}

/// Decodes `expected` STL-10 labels (bytes 1-10) into labels 0-9.
inline void decode_stl10_labels_into(const ByteSource& src, int64_t expected, std::string_view images_name,
                                     std::string_view fn, int64_t* labels) {
  TORCH_CHECK(src.size == expected, fn, ": ", src.name, " holds ", src.size, " labels but ",
              images_name, " holds ", expected, " images");
  for_each_chunk(src, expected, 1, fn, [&](const uint8_t* chunk, int64_t rows, int64_t first) {
    for (int64_t r = 0; r < rows; ++r) {
      TORCH_CHECK(chunk[r] >= 1 && chunk[r] <= 10, fn, ": ", src.name, ": byte offset ", first + r,
                  " holds label ", static_cast<int>(chunk[r]), ", outside 1 to 10");
      labels[first + r] = chunk[r] - 1;
    }
  });
}

}  // namespace detail
}  // namespace selfsup::data
