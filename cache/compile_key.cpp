// make_compile_key: SHA-256 over a tagged, length-prefixed encoding of the key ingredients, plus the hex form used as
// the entry's file name.
#include "cache/compile_key.h"

#include <cstring>

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SHA256.h"

namespace qjit::cache {
namespace {

// NOTE: bump the domain string whenever the encoding below changes, so keys of the old encoding can never collide
// with keys of the new one (the old entries simply stop being found and age out through pruning).
constexpr std::string_view kKeyDomain = "qjit.compile-key.v1";

enum class Tag : std::uint8_t {
  Domain = 1,
  Source,
  EntryName,
  NvrtcVersion,
  OptionCount,
  Option,
  Arch,
  QjitVersion,
};

void put_u64(llvm::SHA256& h, std::uint64_t v) {
  std::uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  h.update(llvm::ArrayRef<std::uint8_t>(b, 8));
}

// tag, little-endian 64-bit length, bytes: unambiguous whatever the strings contain.
void put_field(llvm::SHA256& h, Tag tag, std::string_view bytes) {
  const std::uint8_t t = static_cast<std::uint8_t>(tag);
  h.update(llvm::ArrayRef<std::uint8_t>(&t, 1));
  put_u64(h, bytes.size());
  h.update(llvm::StringRef(bytes.data(), bytes.size()));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string CompileKey::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(kSize * 2, '0');
  for (std::size_t i = 0; i < kSize; ++i) {
    s[2 * i] = kDigits[digest[i] >> 4];
    s[2 * i + 1] = kDigits[digest[i] & 15];
  }
  return s;
}

std::optional<CompileKey> CompileKey::from_hex(std::string_view text) {
  if (text.size() != kSize * 2) return std::nullopt;
  CompileKey key;
  for (std::size_t i = 0; i < kSize; ++i) {
    const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key.digest[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

std::size_t CompileKeyHash::operator()(const CompileKey& key) const noexcept {
  std::uint64_t v;
  std::memcpy(&v, key.digest.data(), sizeof(v));
  return static_cast<std::size_t>(v);
}

CompileKey make_compile_key(const KeyIngredients& in) {
  llvm::SHA256 h;
  put_field(h, Tag::Domain, kKeyDomain);
  put_field(h, Tag::Source, in.source);
  put_field(h, Tag::EntryName, in.entry_name);
  put_field(h, Tag::NvrtcVersion, in.nvrtc_version);
  const std::uint8_t count_tag = static_cast<std::uint8_t>(Tag::OptionCount);
  h.update(llvm::ArrayRef<std::uint8_t>(&count_tag, 1));
  put_u64(h, in.options.size());
  for (const auto& option : in.options) put_field(h, Tag::Option, option);
  put_field(h, Tag::Arch, in.arch);
  put_field(h, Tag::QjitVersion, in.qjit_version);
  const llvm::StringRef raw = h.final();
  CompileKey key;
  std::memcpy(key.digest.data(), raw.data(), CompileKey::kSize);
  return key;
}

}  // namespace qjit::cache
