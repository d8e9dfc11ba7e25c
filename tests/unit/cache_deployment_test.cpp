// Deployment and trust: the writable store is created 0700; stores and entries other users could write are refused
// with a clear error; QJIT_CACHE_PATH stores are searched after the writable one and never written;
// QJIT_CACHE_READONLY never writes anything; and with the compiler unavailable a warm read-only store still serves
// hits while a miss fails with an error that names the kernel and how to warm the store.
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cache/disk_store.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

using testing::LogCapture;
using testing::TempDir;
using testing::test_entry;
using testing::test_key;

// A prebuilt store made by another process, as a container image would ship it.
void prebuild(const std::string& dir, std::initializer_list<int> seeds) {
  auto store = DiskStore::open(testing::writable_options(dir));
  ASSERT_TRUE(store.has_value()) << store.error().message();
  for (int s : seeds) ASSERT_TRUE((*store)->store(test_entry(s)).ok());
}

Result<Entry> compiler_unavailable() {
  return Status(StatusCode::CompilerUnavailable, "libnvrtc.so could not be loaded (QJIT_NVRTC_LIBRARY=/nonexistent)");
}

TEST(CacheDeploymentTest, WritableStoreIsCreatedPrivate) {
  TempDir tmp;
  const std::string dir = tmp.sub("a/b/qjit");
  ASSERT_TRUE(DiskStore::open(testing::writable_options(dir)).has_value());
  for (const std::string& d : {tmp.sub("a"), tmp.sub("a/b"), dir}) {
    struct stat st;
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
}

TEST(CacheDeploymentTest, GroupWritableStoreIsRefusedWithAClearError) {
  TempDir tmp;
  const std::string dir = tmp.sub("shared");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0770), 0);
  auto s = DiskStore::open(testing::writable_options(dir));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), StatusCode::CacheIo);
  const std::string& m = s.error().message();
  EXPECT_NE(m.find(dir), std::string::npos) << m;
  EXPECT_NE(m.find("writable by group or others (mode 0770)"), std::string::npos) << m;
  EXPECT_NE(m.find("chmod go-w"), std::string::npos) << m;
  // The same rule holds for a read-only store.
  StoreOptions o = testing::writable_options(tmp.sub("mine"));
  o.readonly_dirs = {dir};
  auto r = DiskStore::open(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("QJIT_CACHE_PATH"), std::string::npos) << r.error().message();
}

TEST(CacheDeploymentTest, AStoreThatIsAFileIsRefused) {
  TempDir tmp;
  testing::write_file(tmp.sub("file"), {1});
  auto s = DiskStore::open(testing::writable_options(tmp.sub("file")));
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("not a directory"), std::string::npos) << s.error().message();
}

TEST(CacheDeploymentTest, EntryWritableByOthersIsRefusedAndReplaced) {
  TempDir tmp;
  prebuild(tmp.path(), {1});
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  const std::string path = store->entry_path(test_key(1));
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  LogCapture log;
  int compiles = 0;
  auto r = store->get_or_create(test_key(1), [&]() -> Result<Entry> {
    ++compiles;
    return test_entry(1);
  });
  const std::string logged = log.finish();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(compiles, 1);
  EXPECT_NE(logged.find("writable by group or others (mode 0666)"), std::string::npos) << logged;
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the replacement is private again";
}

TEST(CacheDeploymentTest, StoresAndEntriesOwnedByAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown files to another user";
  TempDir tmp;
  const std::string theirs = tmp.sub("theirs"), mine = tmp.sub("mine");
  prebuild(theirs, {1});
  ASSERT_EQ(::chown(theirs.c_str(), 12345, 12345), 0);
  auto w = DiskStore::open(testing::writable_options(theirs));
  ASSERT_FALSE(w.has_value());
  EXPECT_NE(w.error().message().find("owned by uid 12345, expected uid 0"), std::string::npos) << w.error().message();
  StoreOptions o = testing::writable_options(mine);
  o.readonly_dirs = {theirs};
  EXPECT_FALSE(DiskStore::open(o).has_value()) << "a read-only store owned by another non-root user is refused too";
  // An entry chowned to someone else inside our own store is rejected, removed and recompiled.
  prebuild(mine, {2});
  auto store = *DiskStore::open(testing::writable_options(mine));
  ASSERT_EQ(::chown(store->entry_path(test_key(2)).c_str(), 12345, 12345), 0);
  LogCapture log;
  int compiles = 0;
  ASSERT_TRUE(store
                  ->get_or_create(test_key(2),
                                  [&] {
                                    ++compiles;
                                    return Result<Entry>(test_entry(2));
                                  })
                  .has_value());
  const std::string logged = log.finish();
  EXPECT_EQ(compiles, 1);
  EXPECT_NE(logged.find("owned by uid 12345"), std::string::npos) << logged;
}

TEST(CacheDeploymentTest, UnprivilegedUserReadsARootOwnedImageCache) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to build a root-owned store and switch users";
  TempDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  const std::string image = tmp.sub("image-cache");
  prebuild(image, {1, 2});
  // As an image layer ships it: root-owned, 0755 directory, 0644 files.
  ASSERT_EQ(::chmod(image.c_str(), 0755), 0);
  for (int s : {1, 2}) ASSERT_EQ(::chmod((image + "/" + test_key(s).hex() + ".qjk").c_str(), 0644), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(50);  // nobody
    StoreOptions o;
    o.writable_dir = tmp.sub("nobody-cannot-create-this");
    o.readonly_dirs = {image};
    o.read_only = true;
    auto store = DiskStore::open(o);
    if (!store) ::_exit(51);
    for (int s : {1, 2}) {
      auto e = (*store)->load(test_key(s));
      if (!e || e->payload != test_entry(s).payload) ::_exit(52);
    }
    ::_exit((*store)->counters().bad_entries == 0 ? 0 : 53);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "50: setuid, 51: open refused, 52: load failed, 53: entry rejected";
}

TEST(CacheDeploymentTest, ReadOnlyStoresAreSearchedAfterTheWritableOneAndNeverWritten) {
  TempDir tmp;
  const std::string ro = tmp.sub("prebuilt"), rw = tmp.sub("mine");
  prebuild(ro, {1, 2});
  ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);  // as in an image layer
  StoreOptions o = testing::writable_options(rw);
  o.readonly_dirs = {tmp.sub("does-not-exist"), ro};
  auto store = *DiskStore::open(o);
  // A hit from the read-only store; nothing is copied into the writable one.
  auto hit = store->get_or_create(test_key(1), [] { return compiler_unavailable(); });
  ASSERT_TRUE(hit.has_value()) << hit.error().message();
  EXPECT_EQ(hit->payload, test_entry(1).payload);
  EXPECT_TRUE(testing::names_with_prefix(rw, test_key(1).hex()).empty());
  // The writable store shadows the read-only one.
  Entry newer = test_entry(2);
  newer.payload = testing::test_payload(222);
  ASSERT_TRUE(store->store(newer).ok());
  EXPECT_EQ(store->load(test_key(2))->payload, newer.payload);
  // A bad entry in a read-only store is skipped (logged), not deleted, and the search goes on.
  ASSERT_EQ(::chmod(ro.c_str(), 0755), 0);
  const std::string ro_entry = ro + "/" + test_key(1).hex() + ".qjk";
  auto bytes = testing::read_file(ro_entry);
  bytes.back() ^= 1;
  testing::write_file(ro_entry, bytes, 0644);
  ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);
  LogCapture log;
  EXPECT_FALSE(store->load(test_key(1)).has_value());
  const std::string logged = log.finish();
  EXPECT_NE(logged.find("skipping"), std::string::npos) << logged;
  EXPECT_EQ(::access(ro_entry.c_str(), F_OK), 0) << "read-only stores are never modified";
}

TEST(CacheDeploymentTest, ReadOnlyModeNeverWrites) {
  TempDir tmp;
  const std::string dir = tmp.sub("cache");
  prebuild(dir, {1});
  struct stat before;
  ASSERT_EQ(::stat(dir.c_str(), &before), 0);
  const auto names_before = testing::names_with_prefix(dir, "");
  StoreOptions o = testing::writable_options(dir);
  o.read_only = true;
  o.max_bytes = 1;  // would evict everything if pruning ran
  auto store = *DiskStore::open(o);
  EXPECT_TRUE(store->load(test_key(1)).has_value());
  int compiles = 0;
  auto miss = store->get_or_create(test_key(2), [&]() -> Result<Entry> {
    ++compiles;
    return test_entry(2);
  });
  ASSERT_TRUE(miss.has_value()) << "compiling is allowed, storing is not";
  EXPECT_EQ(compiles, 1);
  EXPECT_TRUE(store->store(test_entry(3)).ok()) << "store is a no-op when read-only";
  EXPECT_EQ(store->prune(0).status().code(), StatusCode::Unsupported);
  EXPECT_EQ(store->clear().status().code(), StatusCode::Unsupported);
  EXPECT_EQ(testing::names_with_prefix(dir, ""), names_before) << "no entry, temp or lock file appeared";
  struct stat after;
  ASSERT_EQ(::stat(dir.c_str(), &after), 0);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  // A read-only store that does not exist is simply empty.
  o.writable_dir = tmp.sub("never-created");
  ASSERT_TRUE(DiskStore::open(o).has_value());
  EXPECT_NE(::access(o.writable_dir.c_str(), F_OK), 0);
}

TEST(CacheDeploymentTest, WithoutACompilerHitsWorkAndAMissSaysHowToWarmTheCache) {
  TempDir tmp;
  const std::string ro = tmp.sub("image-cache");
  prebuild(ro, {1, 2, 3});
  StoreOptions o;
  o.writable_dir = tmp.sub("home-cache");
  o.readonly_dirs = {ro};
  o.read_only = true;
  auto store = *DiskStore::open(o);
  for (int seed : {1, 2, 3}) {
    auto r = store->get_or_create(test_key(seed), [] { return compiler_unavailable(); });
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->payload, test_entry(seed).payload);
  }
  auto miss = store->get_or_create(test_key(4), [] { return compiler_unavailable(); });
  ASSERT_FALSE(miss.has_value());
  EXPECT_EQ(miss.error().code(), StatusCode::CompilerUnavailable);
  const std::string& m = miss.error().message();
  EXPECT_NE(m.find(test_key(4).hex()), std::string::npos) << m;
  EXPECT_NE(m.find("qjit warmup"), std::string::npos) << m;
  EXPECT_NE(m.find(ro), std::string::npos) << m;
  EXPECT_NE(m.find("QJIT_NVRTC_LIBRARY=/nonexistent"), std::string::npos) << "the loader's own reason is kept: " << m;
}

}  // namespace
}  // namespace qjit::cache
