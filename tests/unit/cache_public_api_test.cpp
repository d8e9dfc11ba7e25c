// The public cache API (include/qjit/cache.h) an engine uses: resolving the location from the real process
// environment and running stats, list, verify, prune and clear on it.
#include <optional>
#include <stdlib.h>

#include <gtest/gtest.h>

#include "cache/disk_store.h"
#include "qjit/cache.h"
#include "tests/support/cache_test_util.h"

namespace qjit {
namespace {

using cache::testing::TempDir;

// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  void set(const char* name, const std::string& value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(CachePublicApiTest, LocationComesFromTheEnvironment) {
  TempDir tmp;
  ScopedEnv env;
  env.set("QJIT_CACHE_DIR", tmp.sub("w"));
  env.set("QJIT_CACHE_PATH", tmp.sub("a") + ":" + tmp.sub("b"));
  env.set("QJIT_CACHE_READONLY", "0");
  env.set("QJIT_CACHE_MAX_BYTES", "1M");
  auto loc = cache_location_from_environment();
  ASSERT_TRUE(loc.has_value()) << loc.error().message();
  EXPECT_EQ(loc->writable_dir, tmp.sub("w"));
  EXPECT_EQ(loc->readonly_dirs, (std::vector<std::string>{tmp.sub("a"), tmp.sub("b")}));
  EXPECT_FALSE(loc->read_only);
  EXPECT_EQ(loc->max_bytes, 1u << 20);
  env.set("QJIT_CACHE_MAX_BYTES", "a lot");
  EXPECT_EQ(cache_location_from_environment().status().code(), StatusCode::InvalidArgument);
}

TEST(CachePublicApiTest, MaintenanceOperations) {
  TempDir tmp;
  CacheLocation loc;
  loc.writable_dir = tmp.sub("w");
  {
    auto store = *cache::DiskStore::open(cache::testing::writable_options(loc.writable_dir));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->store(cache::testing::test_entry(i, 1000)).ok());
  }
  auto stats = cache_stats(loc);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->entries, 4u);
  ASSERT_EQ(stats->stores.size(), 1u);
  EXPECT_TRUE(stats->stores[0].present);
  EXPECT_FALSE(stats->stores[0].read_only);
  auto listed = list_cache(loc);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 4u);

  // Corrupt one entry: verify reports it, verify with remove_bad deletes it.
  const std::string victim = (*listed)[0].path;
  auto bytes = cache::testing::read_file(victim);
  bytes[100] ^= 1;
  cache::testing::write_file(victim, bytes);
  auto checked = verify_cache(loc);
  ASSERT_TRUE(checked.has_value());
  int bad = 0;
  for (const auto& r : *checked) bad += r.ok ? 0 : 1;
  EXPECT_EQ(bad, 1);
  ASSERT_TRUE(verify_cache(loc, /*remove_bad=*/true).has_value());
  EXPECT_EQ(cache_stats(loc)->entries, 3u);

  auto pruned = prune_cache(loc, 2 * bytes.size());
  ASSERT_TRUE(pruned.has_value());
  EXPECT_EQ(pruned->kept_entries, 2u);
  auto cleared = clear_cache(loc);
  ASSERT_TRUE(cleared.has_value());
  EXPECT_EQ(cleared->removed_entries, 2u);
  EXPECT_EQ(cache_stats(loc)->entries, 0u);

  loc.read_only = true;
  EXPECT_EQ(prune_cache(loc, 0).status().code(), StatusCode::Unsupported);
}

}  // namespace
}  // namespace qjit
