// Writes the fuzzers' seed corpora: small valid inputs of each format, in <dir>/corpus_<name>.
#include <selfsup/train/detail/checkpoint_file.hpp>

#if __has_include(<turbojpeg.h>) && __has_include(<png.h>)
#include <png.h>
#include <turbojpeg.h>
#define SEEDS_WITH_IMAGES 1
#endif

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

static void write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const fs::path dir = argv[1];
  for (const char* name : {"cifar", "stl10", "pair_table", "checkpoint", "image"}) {
    fs::create_directories(dir / ("corpus_" + std::string(name)));
  }
  // CIFAR-10: selector 0, two records (label, 3072 pixels); CIFAR-100: selector 1, one record.
  std::vector<uint8_t> c10{0};
  for (int r = 0; r < 2; ++r) {
    c10.push_back(static_cast<uint8_t>(r + 3));
    for (int i = 0; i < 3072; ++i) c10.push_back(static_cast<uint8_t>(i * 7 + r));
  }
  write(dir / "corpus_cifar" / "cifar10", c10);
  std::vector<uint8_t> c100{1, 4, 42};
  for (int i = 0; i < 3072; ++i) c100.push_back(static_cast<uint8_t>(i));
  write(dir / "corpus_cifar" / "cifar100", c100);
  // STL-10: one label byte at the end, one image.
  std::vector<uint8_t> stl{1};
  for (int i = 0; i < 27648; ++i) stl.push_back(static_cast<uint8_t>(i * 13));
  stl.push_back(7);
  write(dir / "corpus_stl10" / "one_image", stl);
  auto text = [&](const char* name, const std::string& s) {
    write(dir / "corpus_pair_table" / name, std::vector<uint8_t>(s.begin(), s.end()));
  };
  text("indices", "first,second\n0,1\n2,3\n999,4\n");
  text("classes", "first,second,class\n0,1,cat\n2,3,dog\n5,6,cat\n");
  text("paths", "first,second,class\ncat/a.jpg,cat/b.jpg,0\n./dog/c.png,dog/d.png,1\n# comment\n\n7,8,1\r\n");
  // Checkpoints: framed payloads (a zip's first bytes, and an empty one), and an unframed archive.
  auto bytes = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  namespace c = selfsup::checkpoint::detail;
  const std::string zip("PK\x03\x04\x14\x00\x00\x00 archive", 18);
  write(dir / "corpus_checkpoint" / "framed", bytes(c::frame_header(zip) + zip));
  write(dir / "corpus_checkpoint" / "empty_payload", bytes(c::frame_header("")));
  write(dir / "corpus_checkpoint" / "unframed", bytes(zip));
#if SEEDS_WITH_IMAGES
  // A 16 x 12 colour gradient as JPEG (4:2:0) and PNG (RGB and grey).
  std::vector<uint8_t> rgb(16 * 12 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 5);
  tjhandle h = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  if (tjCompress2(h, rgb.data(), 16, 0, 12, TJPF_RGB, &jpeg, &jpeg_size, TJSAMP_420, 80, 0) == 0) {
    write(dir / "corpus_image" / "gradient.jpg", std::vector<uint8_t>(jpeg, jpeg + jpeg_size));
  }
  tjFree(jpeg);
  tjDestroy(h);
  for (bool grey : {false, true}) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = 16;
    image.height = 12;
    image.format = grey ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t png_size = 0;
    if (png_image_write_to_memory(&image, nullptr, &png_size, 0, rgb.data(), 0, nullptr)) {
      std::vector<uint8_t> png(png_size);
      if (png_image_write_to_memory(&image, png.data(), &png_size, 0, rgb.data(), 0, nullptr)) {
        png.resize(png_size);
        write(dir / "corpus_image" / (grey ? "grey.png" : "rgb.png"), png);
      }
    }
  }
#endif
  return 0;
}
