// The compile key: stable for equal ingredients, different when any ingredient changes, unambiguous where naive
// concatenation would collide, and round-tripping through its hex file name.
#include <gtest/gtest.h>

#include "cache/compile_key.h"
#include "cache/disk_store.h"

namespace qjit::cache {
namespace {

KeyIngredients base() {
  return {"extern \"C\" __global__ void gemm() {}", "gemm", "13.0", {"--std=c++17", "-arch=sm_90a"}, "sm_90a", "0.1.0"};
}

TEST(CacheKeyTest, StableForEqualIngredients) {
  EXPECT_EQ(make_compile_key(base()), make_compile_key(base()));
  // Copies of the strings, not the same pointers: the key depends on content only.
  const std::string src(base().source), name(base().entry_name);
  KeyIngredients copy = base();
  copy.source = src;
  copy.entry_name = name;
  EXPECT_EQ(make_compile_key(copy), make_compile_key(base()));
}

TEST(CacheKeyTest, PinnedDigestCatchesAccidentalEncodingChanges) {
  // If this changes, every shipped prebuilt cache silently stops matching: bump the key domain deliberately and
  // update this value, do not just update the value. The value was computed independently (Python hashlib) from
  // the encoding docs/CACHE.md specifies, so it also checks that the document and the code agree.
  EXPECT_EQ(make_compile_key(base()).hex(), "39274642ee9e58eb75c62773cf9e01825bc7b611d2d5a726131cb72a463d6304");
}

TEST(CacheKeyTest, EveryIngredientChangesTheKey) {
  const CompileKey k0 = make_compile_key(base());
  std::vector<KeyIngredients> variants(7, base());
  variants[0].source = "extern \"C\" __global__ void gemm() { }";
  variants[1].entry_name = "gemm2";
  variants[2].nvrtc_version = "13.1";
  variants[3].options.push_back("-lineinfo");
  variants[4].options = {"-arch=sm_90a", "--std=c++17"};  // order is an ingredient
  variants[5].arch = "sm_90";
  variants[6].qjit_version = "0.1.1";
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const CompileKey k = make_compile_key(variants[i]);
    EXPECT_NE(k, k0) << "variant " << i;
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(k, make_compile_key(variants[j])) << i << " vs " << j;
  }
}

TEST(CacheKeyTest, FieldBoundariesAreUnambiguous) {
  KeyIngredients a = base(), b = base();
  a.options = {"ab"};
  b.options = {"a", "b"};
  EXPECT_NE(make_compile_key(a), make_compile_key(b));
  a = base();
  b = base();
  a.options = {};
  b.options = {""};
  EXPECT_NE(make_compile_key(a), make_compile_key(b));
  a = base();
  b = base();
  a.source = "xy";
  a.entry_name = "z";
  b.source = "x";
  b.entry_name = "yz";
  EXPECT_NE(make_compile_key(a), make_compile_key(b));
}

TEST(CacheKeyTest, HexRoundTripsAndRejectsMalformedText) {
  const CompileKey k = make_compile_key(base());
  const std::string hex = k.hex();
  ASSERT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  ASSERT_TRUE(CompileKey::from_hex(hex).has_value());
  EXPECT_EQ(*CompileKey::from_hex(hex), k);
  EXPECT_FALSE(CompileKey::from_hex(hex.substr(1)).has_value());
  EXPECT_FALSE(CompileKey::from_hex(hex + "0").has_value());
  std::string bad = hex;
  bad[10] = 'g';
  EXPECT_FALSE(CompileKey::from_hex(bad).has_value());
}

TEST(CacheKeyTest, EntryFileNamesAreCanonical) {
  const CompileKey k = make_compile_key(base());
  EXPECT_EQ(key_from_entry_name(k.hex() + ".qjk"), k);
  std::string upper = k.hex();
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_FALSE(key_from_entry_name(upper + ".qjk").has_value()) << "only the lower-case spelling is an entry";
  EXPECT_FALSE(key_from_entry_name(k.hex()).has_value());
  EXPECT_FALSE(key_from_entry_name(".tmp-" + k.hex() + ".qjk").has_value());
  EXPECT_FALSE(key_from_entry_name(".lock").has_value());
}

TEST(CacheKeyTest, HashUsesTheDigest) {
  const CompileKey a = make_compile_key(base());
  KeyIngredients other = base();
  other.arch = "sm_80";
  EXPECT_NE(CompileKeyHash{}(a), CompileKeyHash{}(make_compile_key(other)));
  EXPECT_EQ(CompileKeyHash{}(a), CompileKeyHash{}(make_compile_key(base())));
}

}  // namespace
}  // namespace qjit::cache
