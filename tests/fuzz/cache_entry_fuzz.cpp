// libFuzzer target for the cache entry parser, two ways. Raw: whatever bytes sit in a store file, decoding must never
// crash, read out of bounds or allocate without limit, never accept a wrong key, and whatever it accepts must be
// exactly the canonical encoding of what it returned. Structured: because random bytes almost never carry a valid
// checksum, the same input also builds an entry (FuzzedDataProvider), which must survive encode -> decode intact and
// must be rejected once any single byte of its encoding is changed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <fuzzer/FuzzedDataProvider.h>

#include "cache/entry_format.h"

namespace {

void structured(const std::uint8_t* data, std::size_t size) {
  using namespace qjit::cache;
  FuzzedDataProvider in(data, size);
  Entry e;
  for (auto& b : e.key.digest) b = in.ConsumeIntegral<std::uint8_t>();
  e.meta.entry_name = in.ConsumeRandomLengthString(300);
  e.meta.arch = in.ConsumeRandomLengthString(16);
  e.meta.nvrtc_version = in.ConsumeRandomLengthString(16);
  e.meta.registers = in.ConsumeIntegralInRange<int>(0, 1 << 30);
  e.meta.shared_bytes = in.ConsumeIntegralInRange<int>(0, 1 << 30);
  e.meta.compile_seconds = in.ConsumeFloatingPointInRange<double>(0.0, 1e6);
  const std::size_t flip_at = in.ConsumeIntegral<std::size_t>();
  const std::uint8_t flip_mask = in.ConsumeIntegralInRange<std::uint8_t>(1, 255);
  const auto payload = in.ConsumeRemainingBytes<std::uint8_t>();
  e.payload.assign(payload.begin(), payload.end());

  auto bytes = encode_entry(e);
  auto back = decode_entry(bytes, &e.key);
  if (!back || back->payload != e.payload || back->meta.entry_name != e.meta.entry_name ||
      back->meta.arch != e.meta.arch || back->meta.nvrtc_version != e.meta.nvrtc_version ||
      back->meta.registers != e.meta.registers || back->meta.shared_bytes != e.meta.shared_bytes ||
      back->meta.compile_seconds != e.meta.compile_seconds)
    std::abort();
  bytes[flip_at % bytes.size()] ^= flip_mask;
  if (decode_entry(bytes, &e.key).has_value() || decode_entry(bytes, nullptr).has_value()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qjit::cache;
  const llvm::ArrayRef<std::uint8_t> bytes(data, size);
  (void)decode_entry_header(bytes);
  (void)decode_entry_metadata(bytes);

  auto any = decode_entry(bytes, nullptr);
  // With the key the file would be filed under (its stored key) and with another key.
  CompileKey stored;
  if (size >= 56) std::memcpy(stored.digest.data(), data + 24, CompileKey::kSize);
  auto filed = decode_entry(bytes, &stored);
  CompileKey other = stored;
  other.digest[0] ^= 1;
  if (decode_entry(bytes, &other).has_value()) std::abort();  // a wrong key must never be accepted

  if (any.has_value() != filed.has_value()) std::abort();
  if (any) {
    const auto again = encode_entry(*any);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  }
  structured(data, size);
  return 0;
}
