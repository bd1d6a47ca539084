// detail/files.hpp: the output rule every writer follows (checkpoints, exports, reports, pair
// tables), one case per kind of path: a regular file replaced atomically with its permission
// bits, a symbolic link whose target is replaced, a FIFO and a device written through, a device
// that fails (/dev/full), stdout, and what is refused (a folder, a read-only file, a missing
// folder). report::check_writable applies the same rule before work starts.
#include <selfsup/detail/files.hpp>
#include <selfsup/report/file.hpp>

#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
namespace sd = selfsup::detail;

namespace {

struct Folder {
  fs::path path;
  Folder() {
    static int count = 0;
    path = fs::temp_directory_path() / ("selfsup_files_" + std::to_string(::getpid()) + "_" + std::to_string(count++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Folder() {
    std::error_code ignored;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path, ignored);
  }
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool only_entry(const fs::path& folder, std::size_t count) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(folder), fs::directory_iterator())) == count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(detail_tests)

BOOST_AUTO_TEST_CASE(output_rule_replaces_a_regular_file_keeping_its_permissions) {
  Folder dir;
  const auto file = dir.path / "out.json";
  sd::write_whole_file(file, "new\n", "test");
  BOOST_TEST(read(file) == "new\n");
  put(file, "old");
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  struct stat before {};
  ::stat(file.c_str(), &before);
  sd::write_whole_file(file, {"a", "b"}, "test");
  struct stat after {};
  ::stat(file.c_str(), &after);
  BOOST_TEST(read(file) == "ab");
  BOOST_TEST((after.st_mode & 07777) == 0600u);
  BOOST_TEST(after.st_ino != before.st_ino);  // replaced by a rename, not rewritten in place
  BOOST_TEST(only_entry(dir.path, 1));        // no temporary left
}

BOOST_AUTO_TEST_CASE(output_rule_replaces_a_links_target_and_keeps_the_link) {
  Folder dir;
  fs::create_directories(dir.path / "real");
  const auto target = dir.path / "real" / "result.json";
  put(target, "old");
  const auto link = dir.path / "link.json";
  fs::create_symlink("real/result.json", link);  // relative, as `ln -s` makes them
  const auto chain = dir.path / "chain.json";
  fs::create_symlink(link, chain);
  sd::write_whole_file(chain, "new", "test");
  BOOST_TEST(fs::is_symlink(chain));
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(read(target) == "new");
  // A dangling link: its target is created.
  const auto dangling = dir.path / "dangling.json";
  fs::create_symlink("real/made.json", dangling);
  sd::write_whole_file(dangling, "made", "test");
  BOOST_TEST(fs::is_symlink(dangling));
  BOOST_TEST(read(dir.path / "real" / "made.json") == "made");
  // A cycle is refused by name.
  fs::create_symlink("b", dir.path / "a");
  fs::create_symlink("a", dir.path / "b");
  BOOST_TEST(error_of([&] { sd::write_whole_file(dir.path / "a", "x", "test"); }).find("symbolic links") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(output_rule_writes_through_a_fifo_and_devices) {
  Folder dir;
  const auto fifo = dir.path / "pipe";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // The reader's end opened first (without blocking), so that the writer's open returns at once
  // and a writer that replaced the FIFO instead leaves the reader with nothing, not a hang.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  BOOST_REQUIRE(reader >= 0);
  sd::write_whole_file(fifo, {"through ", "the pipe"}, "test");
  char buffer[64] = {};
  const auto got = ::read(reader, buffer, sizeof buffer);
  ::close(reader);
  BOOST_TEST(std::string(buffer, got > 0 ? static_cast<size_t>(got) : 0) == "through the pipe");
  struct stat st {};
  ::lstat(fifo.c_str(), &st);
  BOOST_TEST(S_ISFIFO(st.st_mode));  // still a pipe, not a regular file
  BOOST_TEST(only_entry(dir.path, 1));

  // The system's devices are written only once the rule says they are written through: a
  // regression must fail here, not replace /dev/null with a file (as root it could).
  BOOST_REQUIRE(sd::resolve_output("/dev/null", "test").write_through);
  sd::write_whole_file("/dev/null", "discarded", "test");
  ::stat("/dev/null", &st);
  BOOST_TEST(S_ISCHR(st.st_mode));
  // A device that fails: an error naming it, and the device is still a device.
  if (::access("/dev/full", W_OK) == 0) {
    BOOST_REQUIRE(sd::resolve_output("/dev/full", "test").write_through);
    const auto e = error_of([] { sd::write_whole_file("/dev/full", std::string(1 << 16, 'x'), "selfsup::test"); });
    BOOST_TEST(e.find("selfsup::test") != std::string::npos);
    BOOST_TEST(e.find("/dev/full") != std::string::npos);
    ::stat("/dev/full", &st);
    BOOST_TEST(S_ISCHR(st.st_mode));
  }
}

BOOST_AUTO_TEST_CASE(output_rule_writes_standard_output_through) {
  Folder dir;
  const auto captured = dir.path / "stdout";
  std::fflush(stdout);
  const int saved = ::dup(1);
  const int file = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  BOOST_REQUIRE(saved >= 0);
  BOOST_REQUIRE(file >= 0);
  ::dup2(file, 1);
  std::string error;
  try {
    if (!sd::resolve_output("/dev/stdout", "test").write_through) throw std::runtime_error("/dev/stdout would be replaced");
    sd::write_whole_file("-", "one\n", "test");
    sd::write_whole_file("/dev/stdout", "two\n", "test");
  } catch (const std::exception& e) {
    error = e.what();
  }
  ::dup2(saved, 1);
  ::close(saved);
  ::close(file);
  BOOST_TEST(error == "");
  BOOST_TEST(read(captured) == "one\ntwo\n");
  BOOST_TEST(only_entry(dir.path, 1));
}

BOOST_AUTO_TEST_CASE(output_rule_refuses_folders_read_only_files_and_missing_folders) {
  Folder dir;
  auto e = error_of([&] { sd::write_whole_file(dir.path, "x", "selfsup::test"); });
  BOOST_TEST(e.find("is a folder") != std::string::npos);
  const auto locked = dir.path / "locked.json";
  put(locked, "keep");
  fs::permissions(locked, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::replace);
  e = error_of([&] { sd::write_whole_file(locked, "x", "selfsup::test"); });  // refused even as root
  BOOST_TEST(e.find("read-only") != std::string::npos);
  BOOST_TEST(e.find(locked.string()) != std::string::npos);
  BOOST_TEST(read(locked) == "keep");
  e = error_of([&] { selfsup::report::check_writable(locked, "--json"); });
  BOOST_TEST(e.find("--json") != std::string::npos);
  BOOST_TEST(e.find("read-only") != std::string::npos);
  // A link to a read-only file is refused the same way, naming where it leads.
  fs::create_symlink(locked, dir.path / "to_locked.json");
  e = error_of([&] { selfsup::report::check_writable(dir.path / "to_locked.json", "--export"); });
  BOOST_TEST(e.find("leads to") != std::string::npos);
  e = error_of([&] { sd::write_whole_file(dir.path / "missing" / "out.json", "x", "selfsup::test"); });
  BOOST_TEST(e.find("does not exist") != std::string::npos);
  // Pipes and devices pass the early check without being opened (a FIFO has no reader yet).
  BOOST_REQUIRE(::mkfifo((dir.path / "pipe").c_str(), 0600) == 0);
  BOOST_CHECK_NO_THROW(selfsup::report::check_writable(dir.path / "pipe", "--json"));
  BOOST_CHECK_NO_THROW(selfsup::report::check_writable("-", "--json"));
  BOOST_CHECK_NO_THROW(selfsup::report::check_writable("/dev/null", "--json"));
}

BOOST_AUTO_TEST_SUITE_END()
