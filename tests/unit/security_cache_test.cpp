// Issue 12, the kernel cache findings: a symlinked QJIT_CACHE_DIR was followed without checking who owns the link
// (`ln -s /etc L` made root write /etc/.lock, finding 8); a FIFO at an entry path hung every reader, `qjit cache
// verify` never returned (finding 9); `cache verify --dir /nonexistent` exited 0 and --dir errors called the
// directory "QJIT_CACHE_PATH" (finding 14). Real files in a temporary directory; the CLI cases run the binary.
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cache/disk_store.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit::cache {
namespace {

using testing::TempDir;

const char* const kCli = qjit::testing::qjit_cli();

TEST(SecurityCacheTest, SymlinkedCacheDirOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a link owned by another user";
  TempDir tmp;
  const std::string target = tmp.sub("etc");
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);  // root's, 0755: would pass the directory checks by itself
  const std::string link = tmp.sub("L");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ASSERT_EQ(::lchown(link.c_str(), 4242, 4242), 0);  // planted by uid 4242
  auto store = DiskStore::open(testing::writable_options(link));
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message().find("is a symbolic link owned by uid 4242"), std::string::npos)
      << store.error().message();
  struct stat st;
  EXPECT_NE(::stat((target + "/.lock").c_str(), &st), 0);
  // A link the user (root) made is the user's decision and is followed.
  ASSERT_EQ(::lchown(link.c_str(), 0, 0), 0);
  auto mine = DiskStore::open(testing::writable_options(link));
  EXPECT_TRUE(mine.has_value()) << mine.error().message();
}

TEST(SecurityCacheTest, FifoAtAnEntryPathIsRefusedWithoutHanging) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  ASSERT_TRUE(store->store(testing::test_entry(1)).ok());
  const CompileKey key = testing::test_key(2);
  const std::string fifo = store->entry_path(key);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  if (kCli) {
    qjit::testing::ProcessLimits limits;
    limits.timeout_seconds = 20;
    auto verify = qjit::testing::run_process(kCli, {"cache", "verify", "--dir", tmp.path()}, {}, limits);
    EXPECT_FALSE(verify.timed_out) << "qjit cache verify hung on a FIFO";
    EXPECT_EQ(verify.code, 1) << verify.output;
    EXPECT_NE(verify.output.find("is a FIFO; expected a regular file"), std::string::npos) << verify.output;
    auto ls = qjit::testing::run_process(kCli, {"cache", "ls", "--dir", tmp.path()}, {}, limits);
    EXPECT_FALSE(ls.timed_out);
  }
  // The loader (every engine's select) misses, and removes the FIFO from its own writable store.
  auto r = store->load(key);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::NotFound);
  struct stat st;
  EXPECT_NE(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(store->load(testing::test_key(1)).has_value());
}

TEST(SecurityCacheTest, DirFlagMustExistAndErrorsNameIt) {
  if (!kCli) GTEST_SKIP() << "the qjit command is not built";
  auto missing = qjit::testing::run_process(kCli, {"cache", "verify", "--dir", "/nonexistent/qjit-cache"});
  EXPECT_EQ(missing.code, 1) << missing.output;
  EXPECT_NE(missing.output.find("--dir '/nonexistent/qjit-cache' does not exist"), std::string::npos) << missing.output;
  TempDir tmp;
  const std::string open_dir = tmp.sub("open");
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  for (const char* cmd : {"verify", "stats", "prune"}) {
    auto r = qjit::testing::run_process(kCli, {"cache", cmd, "--dir", open_dir});
    EXPECT_EQ(r.code, 1) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("(--dir) '" + open_dir + "' is writable by group or others"), std::string::npos)
        << cmd << ": " << r.output;
    EXPECT_EQ(r.output.find("QJIT_CACHE_PATH"), std::string::npos) << cmd << ": " << r.output;
  }
}

// Exit statuses tell the truth: `qjit cache clear` that could not remove an entry (here a directory squatting on an
// entry name) exits 1 with a count; so does a prune that stays over its bound.
TEST(SecurityCacheTest, ClearAndPruneExitNonZeroWhenEntriesStay) {
  if (!kCli) GTEST_SKIP() << "the qjit command is not built";
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  ASSERT_TRUE(store->store(testing::test_entry(1, 4096)).ok());
  ASSERT_EQ(::mkdir(store->entry_path(testing::test_key(2)).c_str(), 0700), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, store->entry_path(testing::test_key(2)).c_str(), nullptr, 0), 0);
  auto prune = qjit::testing::run_process(kCli, {"cache", "prune", "--max-bytes", "1", "--dir", tmp.path()});
  EXPECT_EQ(prune.code, 1) << prune.output;
  EXPECT_NE(prune.output.find("could not be removed"), std::string::npos) << prune.output;
  auto clear = qjit::testing::run_process(kCli, {"cache", "clear", "--dir", tmp.path()});
  EXPECT_EQ(clear.code, 1) << clear.output;
  EXPECT_NE(clear.output.find("clear: 1 entries"), std::string::npos) << clear.output;
  ASSERT_EQ(::rmdir(store->entry_path(testing::test_key(2)).c_str()), 0);
  auto again = qjit::testing::run_process(kCli, {"cache", "clear", "--dir", tmp.path()});
  EXPECT_EQ(again.code, 0) << again.output;
}

}  // namespace
}  // namespace qjit::cache
