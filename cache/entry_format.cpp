// Encoding and verifying entry files. The checksum is xxHash64 over the header's first 56 bytes followed by the
// xxHash64 of the body (metadata + payload), so a flip anywhere in the file -- sizes, key, metadata, payload -- is
// caught. xxHash64 rather than SHA-256 because verification sits on the warm-start path (≤ 1 ms per kernel) and the
// threat it covers is accident (torn writes, bad disks); tampering is kept out by the store's permission checks.
#include "cache/entry_format.h"

#include <cmath>
#include <cstring>

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/xxhash.h"

namespace qjit::cache {
namespace {

constexpr std::size_t kChecksumOffset = 56;

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
void store_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

std::uint64_t compute_checksum(llvm::ArrayRef<std::uint8_t> header, llvm::ArrayRef<std::uint8_t> body) {
  std::uint8_t buf[kChecksumOffset + 8];
  std::memcpy(buf, header.data(), kChecksumOffset);
  const std::uint64_t body_hash = llvm::xxHash64(body);
  for (int i = 0; i < 8; ++i) buf[kChecksumOffset + i] = static_cast<std::uint8_t>(body_hash >> (8 * i));
  return llvm::xxHash64(llvm::ArrayRef<std::uint8_t>(buf, sizeof(buf)));
}

Status defect_status(EntryDefect d, EntryDefect* out, const std::string& detail) {
  if (out) *out = d;
  return Status(StatusCode::CacheIo,
                llvm::formatv("cache entry rejected ({0}): {1}", entry_defect_name(d), detail).str());
}

// Reads one length-prefixed string, advancing `pos`; false when it does not fit.
bool get_string(llvm::ArrayRef<std::uint8_t> b, std::size_t& pos, std::string& out) {
  if (b.size() - pos < 4) return false;
  const std::uint32_t n = get_u32(b.data() + pos);
  pos += 4;
  if (n > kMaxMetadataString || b.size() - pos < n) return false;
  out.assign(reinterpret_cast<const char*>(b.data() + pos), n);
  pos += n;
  return true;
}

}  // namespace

std::string_view entry_defect_name(EntryDefect defect) noexcept {
  switch (defect) {
    case EntryDefect::None: return "none";
    case EntryDefect::TooShort: return "too short";
    case EntryDefect::BadMagic: return "bad magic";
    case EntryDefect::UnsupportedVersion: return "unsupported format version";
    case EntryDefect::SizeMismatch: return "size mismatch";
    case EntryDefect::TooLarge: return "size beyond limits";
    case EntryDefect::KeyMismatch: return "key mismatch";
    case EntryDefect::ChecksumMismatch: return "checksum mismatch";
    case EntryDefect::BadMetadata: return "bad metadata";
  }
  return "unknown";
}

std::vector<std::uint8_t> encode_entry(const Entry& entry) {
  std::vector<std::uint8_t> meta;
  put_string(meta, entry.meta.entry_name.substr(0, kMaxMetadataString));
  put_string(meta, entry.meta.arch.substr(0, kMaxMetadataString));
  put_string(meta, entry.meta.nvrtc_version.substr(0, kMaxMetadataString));
  put_u32(meta, static_cast<std::uint32_t>(entry.meta.registers));
  put_u32(meta, static_cast<std::uint32_t>(entry.meta.shared_bytes));
  std::uint64_t seconds_bits;
  std::memcpy(&seconds_bits, &entry.meta.compile_seconds, sizeof(seconds_bits));
  put_u64(meta, seconds_bits);

  std::vector<std::uint8_t> out(kEntryHeaderSize + meta.size() + entry.payload.size());
  std::uint8_t* p = out.data();
  std::memcpy(p, kEntryMagic, sizeof(kEntryMagic));
  store_u32(p + 8, kEntryFormatVersion);
  store_u32(p + 12, static_cast<std::uint32_t>(meta.size()));
  store_u64(p + 16, entry.payload.size());
  std::memcpy(p + 24, entry.key.digest.data(), CompileKey::kSize);
  // bytes 56..63: the checksum, filled below
  std::memcpy(p + kEntryHeaderSize, meta.data(), meta.size());
  if (!entry.payload.empty())
    std::memcpy(p + kEntryHeaderSize + meta.size(), entry.payload.data(), entry.payload.size());
  const llvm::ArrayRef<std::uint8_t> all(out);
  const std::uint64_t sum = compute_checksum(all.take_front(kEntryHeaderSize), all.drop_front(kEntryHeaderSize));
  store_u64(p + kChecksumOffset, sum);
  return out;
}

Result<EntryHeader> decode_entry_header(llvm::ArrayRef<std::uint8_t> b, EntryDefect* defect) {
  if (defect) *defect = EntryDefect::None;
  if (b.size() < kEntryHeaderSize)
    return defect_status(EntryDefect::TooShort, defect,
                         llvm::formatv("file is {0} bytes, a header needs {1}", b.size(), kEntryHeaderSize).str());
  if (std::memcmp(b.data(), kEntryMagic, sizeof(kEntryMagic)) != 0)
    return defect_status(EntryDefect::BadMagic, defect, "first 8 bytes are not \"QJITKRNL\"");
  EntryHeader h;
  h.format_version = get_u32(b.data() + 8);
  h.metadata_size = get_u32(b.data() + 12);
  h.payload_size = get_u64(b.data() + 16);
  std::memcpy(h.key.digest.data(), b.data() + 24, CompileKey::kSize);
  h.checksum = get_u64(b.data() + kChecksumOffset);
  if (h.format_version != kEntryFormatVersion)
    return defect_status(
        EntryDefect::UnsupportedVersion, defect,
        llvm::formatv("format version is {0}, expected {1}", h.format_version, kEntryFormatVersion).str());
  if (h.metadata_size > kMaxMetadataBytes || h.payload_size > kMaxPayloadBytes)
    return defect_status(EntryDefect::TooLarge, defect,
                         llvm::formatv("metadata size {0} (limit {1}) or payload size {2} (limit {3})", h.metadata_size,
                                       kMaxMetadataBytes, h.payload_size, kMaxPayloadBytes)
                             .str());
  return h;
}

Result<EntryMetadata> decode_entry_metadata(llvm::ArrayRef<std::uint8_t> b, EntryDefect* defect) {
  if (defect) *defect = EntryDefect::None;
  EntryMetadata m;
  std::size_t pos = 0;
  if (!get_string(b, pos, m.entry_name) || !get_string(b, pos, m.arch) || !get_string(b, pos, m.nvrtc_version))
    return defect_status(EntryDefect::BadMetadata, defect, "a metadata string overruns the metadata block");
  if (b.size() - pos != 16)
    return defect_status(EntryDefect::BadMetadata, defect,
                         llvm::formatv("metadata has {0} bytes after its strings, expected 16", b.size() - pos).str());
  m.registers = static_cast<int>(get_u32(b.data() + pos));
  m.shared_bytes = static_cast<int>(get_u32(b.data() + pos + 4));
  const std::uint64_t bits = get_u64(b.data() + pos + 8);
  std::memcpy(&m.compile_seconds, &bits, sizeof(bits));
  if (m.registers < 0 || m.shared_bytes < 0 || !std::isfinite(m.compile_seconds) || m.compile_seconds < 0)
    return defect_status(EntryDefect::BadMetadata, defect,
                         llvm::formatv("registers {0}, shared_bytes {1}, compile_seconds {2} must be >= 0 and finite",
                                       m.registers, m.shared_bytes, m.compile_seconds)
                             .str());
  return m;
}

namespace {

// Everything but building the Entry: header, sizes, key, checksum, metadata.
Result<EntryMetadata> verify_entry(llvm::ArrayRef<std::uint8_t> b, const CompileKey* expected_key, EntryDefect* defect,
                                   EntryHeader& h) {
  QJIT_ASSIGN_OR_RETURN(h, decode_entry_header(b, defect));
  if (b.size() != h.file_size())
    return defect_status(EntryDefect::SizeMismatch, defect,
                         llvm::formatv("file is {0} bytes, header says {1}", b.size(), h.file_size()).str());
  if (expected_key && !(h.key == *expected_key))
    return defect_status(EntryDefect::KeyMismatch, defect,
                         llvm::formatv("stored key {0}, expected {1}", h.key.hex(), expected_key->hex()).str());
  const std::uint64_t sum = compute_checksum(b.take_front(kEntryHeaderSize), b.drop_front(kEntryHeaderSize));
  if (sum != h.checksum)
    return defect_status(EntryDefect::ChecksumMismatch, defect,
                         llvm::formatv("stored {0:x16}, computed {1:x16}", h.checksum, sum).str());
  return decode_entry_metadata(b.slice(kEntryHeaderSize, h.metadata_size), defect);
}

}  // namespace

Result<Entry> decode_entry(llvm::ArrayRef<std::uint8_t> b, const CompileKey* expected_key, EntryDefect* defect) {
  EntryHeader h;
  Entry e;
  QJIT_ASSIGN_OR_RETURN(e.meta, verify_entry(b, expected_key, defect, h));
  e.key = h.key;
  const auto payload = b.drop_front(kEntryHeaderSize + h.metadata_size);
  e.payload.assign(payload.begin(), payload.end());
  return e;
}

Result<Entry> decode_entry(std::vector<std::uint8_t>&& bytes, const CompileKey* expected_key, EntryDefect* defect) {
  EntryHeader h;
  Entry e;
  QJIT_ASSIGN_OR_RETURN(e.meta, verify_entry(bytes, expected_key, defect, h));
  e.key = h.key;
  // NOTE: shifting the payload down inside the file buffer instead of copying it out saves a second large
  // allocation; for cubins beyond malloc's mmap threshold the page faults of that allocation cost more than
  // reading the file.
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(kEntryHeaderSize + h.metadata_size));
  e.payload = std::move(bytes);
  return e;
}

}  // namespace qjit::cache
