// DiskStore on one process: store/load, misses, the atomic-write leftovers, each corruption kind found on disk
// (detected before anything is returned, logged, removed and replaced by a fresh compile), and get_or_create's
// contract with its compile callback.
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cache/disk_store.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

using testing::LogCapture;
using testing::TempDir;
using testing::test_entry;
using testing::test_key;

std::shared_ptr<DiskStore> open_store(const std::string& dir) {
  auto s = DiskStore::open(testing::writable_options(dir));
  EXPECT_TRUE(s.has_value()) << s.error().message();
  return s ? *s : nullptr;
}

TEST(CacheDiskStoreTest, StoresAndLoadsAnEntryInAFreshStoreObject) {
  TempDir tmp;
  const Entry e = test_entry(1);
  ASSERT_TRUE(open_store(tmp.path())->store(e).ok());
  auto store = open_store(tmp.path());
  auto r = store->load(e.key);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->payload, e.payload);
  EXPECT_EQ(r->meta.entry_name, "k1");
  EXPECT_EQ(store->counters().disk_hits, 1u);
  // One file, named by the key, private to the user, and no temp file left behind.
  EXPECT_EQ(testing::names_with_prefix(tmp.path(), e.key.hex()), std::vector<std::string>{e.key.hex() + ".qjk"});
  EXPECT_TRUE(testing::temp_files(tmp.path()).empty());
  struct stat st;
  ASSERT_EQ(::stat(store->entry_path(e.key).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST(CacheDiskStoreTest, MissIsNotFound) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto r = store->load(test_key(2));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::NotFound);
  EXPECT_NE(r.error().message().find(test_key(2).hex()), std::string::npos);
  EXPECT_EQ(store->counters().disk_misses, 1u);
}

TEST(CacheDiskStoreTest, StoreRejectsInvalidEntries) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  Entry e = test_entry(3);
  e.payload.clear();
  EXPECT_EQ(store->store(e).code(), StatusCode::InvalidArgument);
  e = test_entry(3);
  e.meta.registers = -1;
  const Status s = store->store(e);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_NE(s.message().find("registers"), std::string::npos) << s.message();
}

TEST(CacheDiskStoreTest, OverwritingAnEntryReplacesItWhole) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  Entry e = test_entry(4, 5000);
  ASSERT_TRUE(store->store(e).ok());
  e.payload = testing::test_payload(44, 100);
  ASSERT_TRUE(store->store(e).ok());
  auto r = store->load(e.key);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->payload, e.payload);
}

// One corruption applied to a stored file; the store must reject it before returning anything.
struct Corruption {
  const char* name;
  void (*apply)(std::vector<std::uint8_t>&);
};

const Corruption kCorruptions[] = {
    {"truncated", [](std::vector<std::uint8_t>& b) { b.resize(b.size() / 2); }},
    {"truncated_header", [](std::vector<std::uint8_t>& b) { b.resize(40); }},
    {"flipped_key_byte", [](std::vector<std::uint8_t>& b) { b[24 + 7] ^= 0x01; }},
    {"flipped_payload_byte", [](std::vector<std::uint8_t>& b) { b[b.size() - 10] ^= 0x40; }},
    {"flipped_checksum_byte", [](std::vector<std::uint8_t>& b) { b[57] ^= 0x02; }},
    {"garbage", [](std::vector<std::uint8_t>& b) { b = testing::test_payload(1234, b.size()); }},
    {"zero_length", [](std::vector<std::uint8_t>& b) { b.clear(); }},
    {"wrong_version", [](std::vector<std::uint8_t>& b) { b[8] = 7; }},
    {"appended", [](std::vector<std::uint8_t>& b) { b.push_back(0x55); }},
};

TEST(CacheDiskStoreTest, EachCorruptionIsDetectedLoggedRemovedAndReplaced) {
  for (const auto& c : kCorruptions) {
    SCOPED_TRACE(c.name);
    TempDir tmp;
    const Entry e = test_entry(5);
    ASSERT_TRUE(open_store(tmp.path())->store(e).ok());
    auto store = open_store(tmp.path());
    const std::string path = store->entry_path(e.key);
    auto bytes = testing::read_file(path);
    c.apply(bytes);
    testing::write_file(path, bytes);

    LogCapture log;
    int compiles = 0;
    auto r = store->get_or_create(e.key, [&]() -> Result<Entry> {
      ++compiles;
      return test_entry(5);
    });
    const std::string logged = log.finish();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(compiles, 1) << "a corrupt entry must be a miss, never a load";
    EXPECT_EQ(r->payload, e.payload);
    EXPECT_EQ(store->counters().bad_entries, 1u);
    EXPECT_NE(logged.find("rejected and removed"), std::string::npos) << logged;
    EXPECT_NE(logged.find(e.key.hex()), std::string::npos) << logged;
    // Replaced: the file on disk is whole again and a fresh store object hits it.
    auto again = open_store(tmp.path())->load(e.key);
    ASSERT_TRUE(again.has_value()) << again.error().message();
    EXPECT_EQ(again->payload, e.payload);
  }
}

TEST(CacheDiskStoreTest, EntryFiledUnderAnotherKeyIsRejected) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  const Entry a = test_entry(6), b = test_entry(7);
  ASSERT_TRUE(store->store(a).ok());
  // A whole, valid entry for key a, renamed to key b's name.
  ASSERT_EQ(::rename(store->entry_path(a.key).c_str(), store->entry_path(b.key).c_str()), 0);
  LogCapture log;
  auto r = store->load(b.key);
  const std::string logged = log.finish();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::NotFound);
  EXPECT_NE(logged.find("key mismatch"), std::string::npos) << logged;
  EXPECT_NE(::access(store->entry_path(b.key).c_str(), F_OK), 0) << "the foreign entry is removed";
}

TEST(CacheDiskStoreTest, SymlinkInPlaceOfAnEntryIsNeverFollowed) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  const Entry e = test_entry(8);
  testing::write_file(tmp.sub("elsewhere"), encode_entry(e));
  ASSERT_EQ(::symlink(tmp.sub("elsewhere").c_str(), store->entry_path(e.key).c_str()), 0);
  LogCapture log;
  EXPECT_FALSE(store->load(e.key).has_value());
  log.finish();
  EXPECT_EQ(store->counters().bad_entries, 1u);
}

TEST(CacheDiskStoreTest, GetOrCreateCompilesOnceThenHits) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  int compiles = 0;
  auto compile = [&]() -> Result<Entry> {
    ++compiles;
    return test_entry(9);
  };
  for (int i = 0; i < 3; ++i) {
    auto r = store->get_or_create(test_key(9), compile);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->payload, test_entry(9).payload);
  }
  EXPECT_EQ(compiles, 1);
  const CacheCounters c = store->counters();
  EXPECT_EQ(c.compiles, 1u);
  EXPECT_EQ(c.stores, 1u);
  EXPECT_EQ(c.disk_hits, 2u);
  EXPECT_EQ(c.disk_misses, 1u);
}

TEST(CacheDiskStoreTest, GetOrCreatePassesCompileErrorsThroughAndStoresNothing) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto r = store->get_or_create(
      test_key(10), [] { return Result<Entry>(Status(StatusCode::CompileFailed, "nvrtc: error: expected a ';'")); });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::CompileFailed);
  EXPECT_EQ(r.error().message(), "nvrtc: error: expected a ';'");
  EXPECT_TRUE(testing::names_with_prefix(tmp.path(), test_key(10).hex()).empty());
}

TEST(CacheDiskStoreTest, GetOrCreateRejectsAnEntryForAnotherKey) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto r = store->get_or_create(test_key(11), [] { return Result<Entry>(test_entry(12)); });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::InvalidArgument);
  EXPECT_NE(r.error().message().find(test_key(11).hex()), std::string::npos);
}

TEST(CacheDiskStoreTest, UnrelatedFilesInTheStoreAreIgnored) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  testing::write_file(tmp.sub("README"), {'h', 'i'});
  testing::write_file(tmp.sub(".tmp-123-0-abc"), {1, 2, 3});
  ASSERT_TRUE(store->store(test_entry(13)).ok());
  auto v = store->verify();
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), 1u);
  EXPECT_TRUE((*v)[0].ok);
  auto s = store->stats();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->entries, 1u);
  EXPECT_EQ(s->stores[0].temp_files, 1u);
}

}  // namespace
}  // namespace qjit::cache
