// The on-disk entry format: one self-describing file per compiled kernel. The layout (little-endian) is a fixed
// 64-byte header -- magic, format version, metadata size, payload size, the full 32-byte compile key, a checksum --
// then the metadata (entry name, arch, NVRTC version, registers, shared memory, compile time), then the payload (the
// cubin). decode_entry checks every field before it hands anything back, so a torn, truncated, bit-flipped, stale or
// foreign file is reported as a defect and never reaches cuModuleLoadData. docs/CACHE.md describes the format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/compile_key.h"
#include "llvm/ADT/ArrayRef.h"
#include "qjit/status.h"

namespace qjit::cache {

struct EntryMetadata {
  std::string entry_name, arch, nvrtc_version;
  int registers = 0;
  int shared_bytes = 0;
  double compile_seconds = 0;
};

struct Entry {
  CompileKey key;
  EntryMetadata meta;
  std::vector<std::uint8_t> payload;  // the cubin
};

inline constexpr char kEntryMagic[8] = {'Q', 'J', 'I', 'T', 'K', 'R', 'N', 'L'};
inline constexpr std::uint32_t kEntryFormatVersion = 1;
inline constexpr std::size_t kEntryHeaderSize = 64;
// NOTE: limits make a corrupt size field a clean defect instead of a multi-gigabyte allocation.
inline constexpr std::uint32_t kMaxMetadataBytes = 64 * 1024;
inline constexpr std::uint32_t kMaxMetadataString = 4096;
inline constexpr std::uint64_t kMaxPayloadBytes = 256ull << 20;

// Why an entry was rejected; tests and `qjit cache verify` report it.
enum class EntryDefect {
  None,
  TooShort,            // fewer bytes than the header (includes zero-length files)
  BadMagic,            // not a qjit entry at all
  UnsupportedVersion,  // written by another format version
  SizeMismatch,        // header sizes disagree with the file size (truncated or appended)
  TooLarge,            // a size field beyond the format's limits
  KeyMismatch,         // the stored key is not the key this file is filed under
  ChecksumMismatch,    // a byte of header, metadata or payload changed
  BadMetadata,         // metadata fields malformed
};
std::string_view entry_defect_name(EntryDefect defect) noexcept;

struct EntryHeader {
  std::uint32_t format_version = 0;
  std::uint32_t metadata_size = 0;
  std::uint64_t payload_size = 0;
  CompileKey key;
  std::uint64_t checksum = 0;

  std::uint64_t file_size() const { return kEntryHeaderSize + metadata_size + payload_size; }
};

// The complete file image of an entry.
std::vector<std::uint8_t> encode_entry(const Entry& entry);

// Parses the fixed header: magic, version and size limits (not the checksum, which needs the whole file).
Result<EntryHeader> decode_entry_header(llvm::ArrayRef<std::uint8_t> bytes, EntryDefect* defect = nullptr);

// Parses the metadata block (exactly header.metadata_size bytes).
Result<EntryMetadata> decode_entry_metadata(llvm::ArrayRef<std::uint8_t> bytes, EntryDefect* defect = nullptr);

// Verifies and parses a whole file image. `expected_key` (may be null) must match the stored key. On failure the
// Status is CacheIo, its message names the defect, and `*defect` (if given) says which.
Result<Entry> decode_entry(llvm::ArrayRef<std::uint8_t> bytes, const CompileKey* expected_key,
                           EntryDefect* defect = nullptr);
// The same, reusing the file buffer as the payload (the load path: no second copy of a large cubin).
Result<Entry> decode_entry(std::vector<std::uint8_t>&& bytes, const CompileKey* expected_key,
                           EntryDefect* defect = nullptr);

}  // namespace qjit::cache
