// The few POSIX file operations the store is built from, each retrying EINTR and short transfers and reporting
// failures as CacheIo naming the path: whole-file reads, full writes, directory fsync, and directory listing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/compile_key.h"
#include "qjit/status.h"

namespace qjit::cache {

// Reads the whole of `fd` (expected `size` bytes from fstat) into `out`. CacheIo when the file changes size
// underneath -- which, for a store that only ever renames whole files into place, means someone else is writing it.
Status read_whole_file(int fd, std::uint64_t size, const std::string& path, std::vector<std::uint8_t>& out);
// pread of exactly `n` bytes at `offset`; CacheIo on error or short file.
Status read_at(int fd, std::uint64_t offset, std::size_t n, const std::string& path, std::uint8_t* out);
Status write_all(int fd, const std::uint8_t* data, std::size_t n, const std::string& path);
// Makes a rename in `dir` durable.
Status fsync_directory(const std::string& dir);
// The names in `dir` (no "." or ".."); an empty list when it does not exist.
Result<std::vector<std::string>> list_directory(const std::string& dir);
// The key an entry file name encodes ("<64 hex>.qjk"), or nullopt for any other name.
std::optional<CompileKey> key_from_entry_name(std::string_view name);

}  // namespace qjit::cache
