// Replays the cache_entry fuzz corpus (tests/fuzz/corpus/cache_entry) through the entry parser in every build, so
// inputs the fuzzer once found interesting stay covered without clang: seeds named valid_* must decode and
// re-encode to the same bytes; every other file must be rejected with a named defect; nothing may crash.
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "cache/entry_format.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

TEST(CacheFuzzCorpusTest, EveryCorpusInputDecodesOrIsRejectedCleanly) {
  const std::filesystem::path dir = std::filesystem::path(QJIT_SOURCE_DIR) / "tests/fuzz/corpus/cache_entry";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0, valid = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    SCOPED_TRACE(name);
    const auto bytes = testing::read_file(f.path().string());
    ++files;
    EntryDefect defect = EntryDefect::None;
    auto r = decode_entry(bytes, nullptr, &defect);
    if (name.starts_with("valid_")) {
      ASSERT_TRUE(r.has_value()) << r.error().message();
    }
    if (r) {
      ++valid;
      EXPECT_EQ(encode_entry(*r), bytes) << "an accepted file must be the canonical encoding of its entry";
      CompileKey other = r->key;
      other.digest[31] ^= 0x20;
      EXPECT_FALSE(decode_entry(bytes, &other).has_value());
    } else {
      EXPECT_NE(defect, EntryDefect::None);
      EXPECT_EQ(r.error().code(), StatusCode::CacheIo);
    }
  }
  EXPECT_GE(files, 10);
  EXPECT_GE(valid, 3);
}

}  // namespace
}  // namespace qjit::cache
