// The file rules themselves (runtime/safe_file.h), on real files in a temporary directory: readers refuse FIFOs,
// symlinks (when asked), foreign-writable files and files over the cap before reading a byte; AtomicFile leaves no
// temporary behind when it is abandoned or fails, and refuses untrusted directories; temporaries are recognised
// and pruned only when stale and their writer is dead; FileLock excludes another process.
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "runtime/json_limits.h"
#include "runtime/safe_file.h"
#include "tests/support/cache_test_util.h"

namespace qjit::runtime {
namespace {

using cache::testing::TempDir;

ReadRules rules(std::uint64_t max = 1 << 20) {
  ReadRules r;
  r.what = "test file";
  r.max_bytes = max;
  return r;
}

TEST(RuntimeSafeFileTest, ReadersRefuseWhatIsNotARegularFileBeforeReading) {
  TempDir tmp;
  ASSERT_EQ(::mkfifo(tmp.sub("fifo").c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto fifo = read_text_file(tmp.sub("fifo"), rules());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "opening a FIFO blocked";
  ASSERT_FALSE(fifo.has_value());
  EXPECT_NE(fifo.error().message().find("is a FIFO; expected a regular file"), std::string::npos);
  auto dir = read_text_file(tmp.path(), rules());
  ASSERT_FALSE(dir.has_value());
  EXPECT_NE(dir.error().message().find("is a directory"), std::string::npos);
  auto missing = read_text_file(tmp.sub("none"), rules());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::NotFound);

  std::ofstream(tmp.sub("real")) << "hello";
  ASSERT_EQ(::symlink(tmp.sub("real").c_str(), tmp.sub("link").c_str()), 0);
  EXPECT_EQ(*read_text_file(tmp.sub("link"), rules()), "hello");
  ReadRules no_follow = rules();
  no_follow.follow_symlinks = false;
  auto link = read_text_file(tmp.sub("link"), no_follow);
  ASSERT_FALSE(link.has_value());
  EXPECT_NE(link.error().message().find("is a symbolic link"), std::string::npos);

  ReadRules strict = rules();
  strict.refuse_foreign_write = true;
  ASSERT_EQ(::chmod(tmp.sub("real").c_str(), 0666), 0);
  EXPECT_FALSE(read_text_file(tmp.sub("real"), strict).has_value());

  // A sparse 1 GiB file: refused by its size, instantly, without a GiB of memory.
  const int fd = ::open(tmp.sub("big").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{1} << 30), 0);
  ::close(fd);
  auto big = read_text_file(tmp.sub("big"), rules(1 << 20));
  ASSERT_FALSE(big.has_value());
  EXPECT_NE(big.error().message().find("is 1073741824 bytes; expected at most 1048576"), std::string::npos);
}

TEST(RuntimeSafeFileTest, AtomicFileLeavesNoTemporaryWhenAbandonedAndRefusesUntrustedDirectories) {
  TempDir tmp;
  WriteRules w;
  w.what = "test output";
  {
    auto f = AtomicFile::create(tmp.sub("out"), w);
    ASSERT_TRUE(f.has_value()) << f.error().message();
    ASSERT_TRUE(f->write(std::as_bytes(std::span<const char>("abc", 3))).ok());
    EXPECT_EQ(cache::testing::temp_files(tmp.path()).size(), 1u);
  }  // never committed
  EXPECT_TRUE(cache::testing::temp_files(tmp.path()).empty());
  struct stat st;
  EXPECT_NE(::stat(tmp.sub("out").c_str(), &st), 0);
  ASSERT_TRUE(write_file_atomically(tmp.sub("out"), std::string_view("xyz"), w).ok());
  EXPECT_EQ(cache::testing::read_file(tmp.sub("out")).size(), 3u);

  const std::string open_dir = tmp.sub("open");
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  auto refused = write_file_atomically(open_dir + "/out", std::string_view("x"), w);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("without the sticky bit"), std::string::npos) << refused.message();
  w.dir_rule = DirRule::Private;
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);
  EXPECT_FALSE(write_file_atomically(open_dir + "/out", std::string_view("x"), w).ok());
}

TEST(RuntimeSafeFileTest, TemporariesAreRecognisedAndPrunedOnlyWhenStaleAndDead) {
  std::string_view target;
  long pid = 0;
  EXPECT_TRUE(parse_temp_name("w.st.tmp-123-00ff", &target, &pid));
  EXPECT_EQ(target, "w.st");
  EXPECT_EQ(pid, 123);
  EXPECT_TRUE(parse_temp_name(".tmp-9-9-x", &target, &pid));  // the cache's older names
  EXPECT_EQ(target, "");
  for (const char* bad : {"w.st", "w.st.tmp-", "w.st.tmp-x-1", "w.st.tmp-12", "w.st.tmp-12-"})
    EXPECT_FALSE(parse_temp_name(bad, nullptr, nullptr)) << bad;
  TempDir tmp;
  const std::string dead = std::to_string(cache::testing::dead_pid());
  for (const std::string n : {"a.tmp-" + dead + "-1", "b.tmp-" + dead + "-1"}) std::ofstream(tmp.sub(n)) << "x";
  EXPECT_EQ(prune_stale_temps(tmp.path(), {}, 3600), 0u);  // young
  EXPECT_EQ(prune_stale_temps(tmp.path(), "a", -1), 1u);   // only a's, once old enough
  EXPECT_EQ(cache::testing::temp_files(tmp.path()), std::vector<std::string>{"b.tmp-" + dead + "-1"});
}

TEST(RuntimeSafeFileTest, FileLockExcludesAnotherProcessAndRefusesSymlinks) {
  TempDir tmp;
  const std::string path = tmp.sub("db.lock");
  auto held = FileLock::acquire(path, std::chrono::milliseconds(100), "test lock", StatusCode::CacheIo);
  ASSERT_TRUE(held.has_value()) << held.error().message();
  const pid_t child = ::fork();
  if (child == 0) {
    auto other = FileLock::acquire(path, std::chrono::milliseconds(50), "test lock", StatusCode::CacheIo);
    ::_exit(other.has_value() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a second process took a held lock";
  ASSERT_EQ(::symlink(tmp.sub("elsewhere").c_str(), tmp.sub("link.lock").c_str()), 0);
  auto link = FileLock::acquire(tmp.sub("link.lock"), std::chrono::milliseconds(10), "test lock", StatusCode::CacheIo);
  ASSERT_FALSE(link.has_value());
  struct stat st;
  EXPECT_NE(::stat(tmp.sub("elsewhere").c_str(), &st), 0) << "O_CREAT followed the symlink";
}

TEST(RuntimeJsonLimitsTest, ScanBoundsDepthValuesAndMembersAndFindsRepeatedKeys) {
  const JsonScan s = scan_json(R"({"a": [1, 2, {"b": "x,[{"}], "c": null})");
  EXPECT_EQ(s.depth, 3);
  EXPECT_EQ(s.top_level_members, 2u);
  EXPECT_GE(s.values, 6u);
  JsonLimits limits;
  limits.max_depth = 2;
  EXPECT_FALSE(parse_json_bounded(R"([[[1]]])", limits, "t").has_value());
  limits.max_depth = 8;
  limits.unique_top_level_keys = true;
  auto dup = parse_json_bounded(R"({"k\u0041": 1, "kA": 2})", limits, "t");
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message().find("key \"kA\" appears more than once"), std::string::npos)
      << dup.error().message();
  EXPECT_TRUE(parse_json_bounded(R"({"a": {"a": 1}, "b": 2})", limits, "t").has_value());
}

}  // namespace
}  // namespace qjit::runtime
