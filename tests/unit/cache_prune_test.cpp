// Bounded size: pruning keeps the writable store under its bound by evicting the least recently used entries (a
// disk hit counts as a use), removes temp files of dead writers once they are stale, runs by itself after a store
// when QJIT_CACHE_MAX_BYTES is set, and clear removes everything but the lock file.
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cache/disk_store.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

using testing::TempDir;
using testing::test_entry;
using testing::test_key;

// Sets an entry's last use (atime) and write time (mtime) to `seconds_ago`, so the test controls LRU order.
void age(const std::string& path, int seconds_ago) {
  const std::time_t t = std::time(nullptr) - seconds_ago;
  const struct timespec times[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

bool present(DiskStore& store, int seed) { return ::access(store.entry_path(test_key(seed)).c_str(), F_OK) == 0; }

TEST(CachePruneTest, EvictsLeastRecentlyUsedUntilUnderTheBound) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  std::uint64_t entry_bytes = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->store(test_entry(i, 1000)).ok());
    age(store->entry_path(test_key(i)), 1000 - i * 10);  // entry 0 is the oldest
    struct stat st;
    ::stat(store->entry_path(test_key(i)).c_str(), &st);
    entry_bytes = static_cast<std::uint64_t>(st.st_size);
  }
  // Using entries 0 and 1 makes them the most recent.
  ASSERT_TRUE(store->load(test_key(0)).has_value());
  ASSERT_TRUE(store->load(test_key(1)).has_value());
  auto rep = store->prune(entry_bytes * 4 + entry_bytes / 2);
  ASSERT_TRUE(rep.has_value()) << rep.error().message();
  EXPECT_EQ(rep->removed_entries, 6u);
  EXPECT_EQ(rep->kept_entries, 4u);
  EXPECT_EQ(rep->removed_bytes, entry_bytes * 6);
  EXPECT_LE(rep->kept_bytes, entry_bytes * 4 + entry_bytes / 2);
  for (int i : {0, 1, 8, 9}) EXPECT_TRUE(present(*store, i)) << "recently used entry " << i << " was evicted";
  for (int i = 2; i < 8; ++i) EXPECT_FALSE(present(*store, i)) << "stale entry " << i << " was kept";
  auto stats = store->stats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_LE(stats->bytes, entry_bytes * 4 + entry_bytes / 2);
}

TEST(CachePruneTest, ListingAndVerifyingDoNotCountAsUse) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  ASSERT_TRUE(store->store(test_entry(1, 1000)).ok());
  ASSERT_TRUE(store->store(test_entry(2, 1000)).ok());
  age(store->entry_path(test_key(1)), 500);
  age(store->entry_path(test_key(2)), 100);
  ASSERT_TRUE(store->verify().has_value());
  ASSERT_TRUE(store->list().has_value());
  auto rep = store->prune(1500);
  ASSERT_TRUE(rep.has_value());
  EXPECT_FALSE(present(*store, 1));
  EXPECT_TRUE(present(*store, 2));
}

TEST(CachePruneTest, StoreKeepsTheStoreUnderMaxBytes) {
  TempDir tmp;
  StoreOptions o = testing::writable_options(tmp.path());
  o.max_bytes = 20000;
  auto store = *DiskStore::open(o);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(store->store(test_entry(i, 3000)).ok());
    auto s = store->stats();
    ASSERT_TRUE(s.has_value());
    EXPECT_LE(s->bytes, o.max_bytes) << "after store " << i;
  }
  // The newest entries survive.
  EXPECT_TRUE(present(*store, 29));
  EXPECT_FALSE(present(*store, 0));
}

TEST(CachePruneTest, StaleTempFilesAreRemovedFreshOnesKept) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  // Stale = older than kStaleTempSeconds AND written by a pid that no longer exists (runtime/safe_file.h): a young
  // temp of a dead writer, or an old one of a live writer (a long write), stays.
  const std::string dead = std::to_string(testing::dead_pid());
  const std::string live = std::to_string(::getpid());
  const std::string stale = "x.qjk.tmp-" + dead + "-0dead", fresh = ".tmp-" + dead + "-0-live",
                    writing = "y.qjk.tmp-" + live + "-0busy";
  testing::write_file(tmp.sub(stale), testing::test_payload(1, 500));
  testing::write_file(tmp.sub(fresh), testing::test_payload(2, 500));
  testing::write_file(tmp.sub(writing), testing::test_payload(3, 500));
  age(tmp.sub(stale), kStaleTempSeconds + 60);
  age(tmp.sub(writing), kStaleTempSeconds + 60);
  auto rep = store->prune(0);
  ASSERT_TRUE(rep.has_value());
  EXPECT_EQ(rep->removed_temp_files, 1u);
  EXPECT_EQ(rep->removed_entries, 0u);
  EXPECT_EQ(testing::temp_files(tmp.path()), (std::vector<std::string>{fresh, writing}));
}

TEST(CachePruneTest, ClearRemovesEntriesAndTempsButKeepsOtherFiles) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->store(test_entry(i)).ok());
  ASSERT_TRUE(store->get_or_create(test_key(5), [] { return Result<Entry>(test_entry(5)); }).has_value());
  testing::write_file(tmp.sub(".tmp-9-9-x"), {1});
  testing::write_file(tmp.sub("notes.txt"), {1});
  auto rep = store->clear();
  ASSERT_TRUE(rep.has_value());
  EXPECT_EQ(rep->removed_entries, 6u);
  EXPECT_EQ(rep->removed_temp_files, 1u);
  auto stats = store->stats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->entries, 0u);
  EXPECT_EQ(::access(tmp.sub("notes.txt").c_str(), F_OK), 0);
  EXPECT_EQ(::access(tmp.sub(".lock").c_str(), F_OK), 0) << "the lock file outlives clear (others may hold it)";
}

TEST(CachePruneTest, ListReportsMetadataNewestFirst) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->store(test_entry(i)).ok());
    age(store->entry_path(test_key(i)), 100 - i);
  }
  auto l = store->list();
  ASSERT_TRUE(l.has_value());
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].entry_name, "k2");
  EXPECT_EQ((*l)[2].entry_name, "k0");
  EXPECT_EQ((*l)[0].key_hex, test_key(2).hex());
  EXPECT_EQ((*l)[0].registers, test_entry(2).meta.registers);
  EXPECT_TRUE((*l)[0].ok);
}

}  // namespace
}  // namespace qjit::cache
