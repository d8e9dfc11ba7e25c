// The entry format: encode/decode round trip, and every corruption kind -- truncation, appended bytes, a flipped
// byte anywhere (magic, version, sizes, key, checksum, metadata, payload), garbage, zero length, another format
// version, oversize fields -- decoded as a named defect, never as an entry.
#include <cstring>

#include <gtest/gtest.h>

#include "cache/entry_format.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

using testing::test_entry;

EntryDefect defect_of(const std::vector<std::uint8_t>& bytes, const CompileKey* expected) {
  EntryDefect d = EntryDefect::None;
  auto r = decode_entry(bytes, expected, &d);
  EXPECT_FALSE(r.has_value());
  if (!r) {
    EXPECT_EQ(r.error().code(), StatusCode::CacheIo);
    EXPECT_NE(r.error().message().find(std::string(entry_defect_name(d))), std::string::npos) << r.error().message();
  }
  return d;
}

TEST(CacheEntryFormatTest, RoundTripsEveryField) {
  const Entry e = test_entry(7);
  const auto bytes = encode_entry(e);
  ASSERT_EQ(std::memcmp(bytes.data(), "QJITKRNL", 8), 0);
  EXPECT_EQ(bytes.size(), kEntryHeaderSize + 4 + 2 + 4 + 6 + 4 + 4 + 16 + e.payload.size());
  EntryDefect d;
  auto r = decode_entry(bytes, &e.key, &d);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(d, EntryDefect::None);
  EXPECT_EQ(r->key, e.key);
  EXPECT_EQ(r->meta.entry_name, "k7");
  EXPECT_EQ(r->meta.arch, "sm_90a");
  EXPECT_EQ(r->meta.nvrtc_version, "13.0");
  EXPECT_EQ(r->meta.registers, e.meta.registers);
  EXPECT_EQ(r->meta.shared_bytes, e.meta.shared_bytes);
  EXPECT_EQ(r->meta.compile_seconds, e.meta.compile_seconds);
  EXPECT_EQ(r->payload, e.payload);
  // Without an expected key (verify of an unknown file) it still decodes.
  EXPECT_TRUE(decode_entry(bytes, nullptr).has_value());
  // The buffer-reusing overload (the load path) yields the same entry and the same rejections.
  auto moved = decode_entry(std::vector<std::uint8_t>(bytes), &e.key);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->payload, e.payload);
  EXPECT_EQ(moved->meta.entry_name, r->meta.entry_name);
  auto flipped = bytes;
  flipped[kEntryHeaderSize + 20] ^= 4;
  EXPECT_FALSE(decode_entry(std::move(flipped), &e.key, &d).has_value());
  EXPECT_EQ(d, EntryDefect::ChecksumMismatch);
}

TEST(CacheEntryFormatTest, EncodingIsDeterministic) {
  EXPECT_EQ(encode_entry(test_entry(3)), encode_entry(test_entry(3)));
}

TEST(CacheEntryFormatTest, TruncationAtEveryLengthIsDetected) {
  const Entry e = test_entry(1, 300);
  const auto bytes = encode_entry(e);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + n);
    const EntryDefect d = defect_of(cut, &e.key);
    EXPECT_EQ(d, n < kEntryHeaderSize ? EntryDefect::TooShort : EntryDefect::SizeMismatch) << "length " << n;
  }
}

TEST(CacheEntryFormatTest, AppendedBytesAreDetected) {
  const Entry e = test_entry(2);
  auto bytes = encode_entry(e);
  bytes.push_back(0);
  EXPECT_EQ(defect_of(bytes, &e.key), EntryDefect::SizeMismatch);
}

TEST(CacheEntryFormatTest, EverySingleByteFlipIsDetected) {
  const Entry e = test_entry(4, 200);
  const auto good = encode_entry(e);
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x80}) {
      auto bad = good;
      bad[i] ^= mask;
      EntryDefect d = EntryDefect::None;
      EXPECT_FALSE(decode_entry(bad, &e.key, &d).has_value()) << "flip at byte " << i;
      EXPECT_FALSE(decode_entry(bad, nullptr, &d).has_value()) << "flip at byte " << i << " without expected key";
      EXPECT_NE(d, EntryDefect::None);
    }
  }
}

TEST(CacheEntryFormatTest, FlipsAreNamedByWhereTheyLand) {
  const Entry e = test_entry(5, 100);
  const auto good = encode_entry(e);
  auto flip = [&](std::size_t at) {
    auto b = good;
    b[at] ^= 0x10;
    return b;
  };
  EXPECT_EQ(defect_of(flip(0), &e.key), EntryDefect::BadMagic);
  EXPECT_EQ(defect_of(flip(8), &e.key), EntryDefect::UnsupportedVersion);
  EXPECT_EQ(defect_of(flip(16), &e.key), EntryDefect::SizeMismatch);       // payload size
  EXPECT_EQ(defect_of(flip(30), &e.key), EntryDefect::KeyMismatch);        // key, caught by the expected key
  EXPECT_EQ(defect_of(flip(30), nullptr), EntryDefect::ChecksumMismatch);  // ... and by the checksum
  EXPECT_EQ(defect_of(flip(60), &e.key), EntryDefect::ChecksumMismatch);   // the checksum itself
  EXPECT_EQ(defect_of(flip(kEntryHeaderSize + 5), &e.key), EntryDefect::ChecksumMismatch);  // metadata
  EXPECT_EQ(defect_of(flip(good.size() - 1), &e.key), EntryDefect::ChecksumMismatch);       // payload
}

TEST(CacheEntryFormatTest, WrongKeyIsAMismatch) {
  const Entry e = test_entry(6);
  const CompileKey other = testing::test_key(60);
  EXPECT_EQ(defect_of(encode_entry(e), &other), EntryDefect::KeyMismatch);
}

TEST(CacheEntryFormatTest, GarbageZeroLengthAndOtherVersionsAreRejected) {
  const Entry e = test_entry(8);
  EXPECT_EQ(defect_of({}, &e.key), EntryDefect::TooShort);
  EXPECT_EQ(defect_of(testing::test_payload(99, 4096), &e.key), EntryDefect::BadMagic);
  auto v2 = encode_entry(e);
  v2[8] = 2;  // a future format version, otherwise intact
  EXPECT_EQ(defect_of(v2, &e.key), EntryDefect::UnsupportedVersion);
}

TEST(CacheEntryFormatTest, OversizeFieldsAreRejectedWithoutAllocating) {
  const Entry e = test_entry(9);
  auto huge_payload = encode_entry(e);
  for (int i = 16; i < 24; ++i) huge_payload[i] = 0xff;
  EXPECT_EQ(defect_of(huge_payload, &e.key), EntryDefect::TooLarge);
  auto huge_meta = encode_entry(e);
  huge_meta[14] = 0x7f;
  EXPECT_EQ(defect_of(huge_meta, &e.key), EntryDefect::TooLarge);
}

TEST(CacheEntryFormatTest, MetadataIsValidated) {
  // A string length that overruns the block, trailing bytes, and a negative register count.
  EXPECT_FALSE(decode_entry_metadata(std::vector<std::uint8_t>{0xff, 0xff, 0, 0}).has_value());
  Entry e = test_entry(10);
  const auto bytes = encode_entry(e);
  const std::uint32_t meta_size = bytes[12] | bytes[13] << 8;
  std::vector<std::uint8_t> meta(bytes.begin() + kEntryHeaderSize, bytes.begin() + kEntryHeaderSize + meta_size);
  ASSERT_TRUE(decode_entry_metadata(meta).has_value());
  auto longer = meta;
  longer.push_back(0);
  EntryDefect d;
  EXPECT_FALSE(decode_entry_metadata(longer, &d).has_value());
  EXPECT_EQ(d, EntryDefect::BadMetadata);
  auto negative = meta;
  negative[meta.size() - 13] = 0x80;  // high byte of registers
  EXPECT_FALSE(decode_entry_metadata(negative, &d).has_value());
  EXPECT_EQ(d, EntryDefect::BadMetadata);
}

}  // namespace
}  // namespace qjit::cache
