// Where the kernel cache lives and how it may be used, resolved from the environment: QJIT_CACHE_DIR (the writable
// store), QJIT_CACHE_PATH (read-only stores searched after it, e.g. a prebuilt cache shipped in a container image),
// QJIT_CACHE_READONLY=1 (never write anything), QJIT_CACHE_MAX_BYTES (bound for LRU pruning) and
// QJIT_CACHE_LOCK_TIMEOUT_MS (how long a process waits for another one compiling the same kernel).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llvm/ADT/STLFunctionalExtras.h"
#include "qjit/status.h"

namespace qjit::cache {

struct StoreOptions {
  std::string writable_dir;                            // searched first; written unless read_only
  std::string writable_dir_origin = "QJIT_CACHE_DIR";  // where writable_dir came from, for messages ("--dir")
  std::vector<std::string> readonly_dirs;              // searched after it, in order; never written
  bool read_only = false;                              // true: writable_dir is only read, nothing anywhere is written
  std::uint64_t max_bytes = 0;                         // 0 = unbounded; else LRU-pruned after each store
  std::chrono::milliseconds lock_timeout{30000};
};

// Reads a variable; nullopt when unset. Tests pass their own lookup instead of touching the process environment.
using EnvLookup = llvm::function_ref<std::optional<std::string>(const char* name)>;

Result<StoreOptions> options_from_environment();
Result<StoreOptions> options_from_environment(EnvLookup lookup);

// "1048576", "512k", "64M", "2G" (powers of 1024) -> bytes; an error naming `field` otherwise.
Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view field);

}  // namespace qjit::cache
