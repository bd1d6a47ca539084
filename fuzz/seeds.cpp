// Writes the fuzzers' seed corpora: small valid inputs of each format, in <dir>/corpus_<name>.
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
  for (const char* name : {"cifar", "stl10", "pair_table"}) fs::create_directories(dir / ("corpus_" + std::string(name)));
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
  return 0;
}
