// The cache's environment contract: defaults (QJIT_CACHE_DIR, else $XDG_CACHE_HOME/qjit, else ~/.cache/qjit), the
// read-only path list, QJIT_CACHE_READONLY, QJIT_CACHE_MAX_BYTES with suffixes, and a clear error for each malformed
// value.
#include <map>

#include <gtest/gtest.h>

#include "cache/store_options.h"

namespace qjit::cache {
namespace {

Result<StoreOptions> from(std::map<std::string, std::string> env) {
  return options_from_environment([&](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

TEST(CacheOptionsTest, DirectoryPrecedence) {
  EXPECT_EQ(from({{"QJIT_CACHE_DIR", "/c"}, {"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}})->writable_dir, "/c");
  EXPECT_EQ(from({{"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}})->writable_dir, "/x/qjit");
  EXPECT_EQ(from({{"HOME", "/h"}})->writable_dir, "/h/.cache/qjit");
  // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored; an empty QJIT_CACHE_DIR means unset.
  EXPECT_EQ(from({{"QJIT_CACHE_DIR", ""}, {"XDG_CACHE_HOME", "rel"}, {"HOME", "/h"}})->writable_dir, "/h/.cache/qjit");
}

TEST(CacheOptionsTest, DefaultsAreWritableAndUnbounded) {
  auto o = from({{"HOME", "/h"}});
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->read_only);
  EXPECT_EQ(o->max_bytes, 0u);
  EXPECT_TRUE(o->readonly_dirs.empty());
  EXPECT_EQ(o->lock_timeout.count(), 30000);
}

TEST(CacheOptionsTest, ReadOnlyPathListSkipsEmptyElements) {
  auto o = from({{"HOME", "/h"}, {"QJIT_CACHE_PATH", "/opt/app/qjit::/usr/share/qjit:"}});
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->readonly_dirs, (std::vector<std::string>{"/opt/app/qjit", "/usr/share/qjit"}));
}

TEST(CacheOptionsTest, ReadOnlyFlag) {
  for (const char* yes : {"1", "true", "YES", "on"})
    EXPECT_TRUE(from({{"HOME", "/h"}, {"QJIT_CACHE_READONLY", yes}})->read_only) << yes;
  for (const char* no : {"0", "", "false", "off"})
    EXPECT_FALSE(from({{"HOME", "/h"}, {"QJIT_CACHE_READONLY", no}})->read_only) << no;
  auto bad = from({{"HOME", "/h"}, {"QJIT_CACHE_READONLY", "maybe"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::InvalidArgument);
  EXPECT_NE(bad.error().message().find("QJIT_CACHE_READONLY='maybe'"), std::string::npos) << bad.error().message();
}

TEST(CacheOptionsTest, MaxBytesAcceptsSuffixes) {
  EXPECT_EQ(from({{"HOME", "/h"}, {"QJIT_CACHE_MAX_BYTES", "1048576"}})->max_bytes, 1048576u);
  EXPECT_EQ(from({{"HOME", "/h"}, {"QJIT_CACHE_MAX_BYTES", "512k"}})->max_bytes, 512u << 10);
  EXPECT_EQ(from({{"HOME", "/h"}, {"QJIT_CACHE_MAX_BYTES", "64M"}})->max_bytes, 64u << 20);
  EXPECT_EQ(from({{"HOME", "/h"}, {"QJIT_CACHE_MAX_BYTES", "2G"}})->max_bytes, 2ull << 30);
  for (const char* bad : {"-5", "1.5G", "lots", "G", "99999999999999999999"}) {
    auto r = from({{"HOME", "/h"}, {"QJIT_CACHE_MAX_BYTES", bad}});
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message().find("QJIT_CACHE_MAX_BYTES"), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(from({{"HOME", "/h"}, {"QJIT_CACHE_MAX_BYTES", "20000000000T"}}).has_value()) << "overflow";
}

TEST(CacheOptionsTest, LockTimeout) {
  EXPECT_EQ(from({{"HOME", "/h"}, {"QJIT_CACHE_LOCK_TIMEOUT_MS", "250"}})->lock_timeout.count(), 250);
  EXPECT_FALSE(from({{"HOME", "/h"}, {"QJIT_CACHE_LOCK_TIMEOUT_MS", "soon"}}).has_value());
}

}  // namespace
}  // namespace qjit::cache
