// The kernel cache as an engine or operator sees it: which directories qjit uses (resolved from the QJIT_CACHE_*
// environment exactly as the plans resolve it), what they hold, and the maintenance operations behind
// `qjit cache stats | ls | verify | prune | clear`. Compiled kernels are cached on disk automatically; nothing here
// is needed to use qjit, only to inspect, bound or check the cache. docs/CACHE.md describes the format and rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/status.h"

namespace qjit {

// Where the cache lives. From the environment: QJIT_CACHE_DIR (default $XDG_CACHE_HOME/qjit, else ~/.cache/qjit),
// QJIT_CACHE_PATH (':'-separated read-only stores searched after it), QJIT_CACHE_READONLY=1, QJIT_CACHE_MAX_BYTES.
struct CacheLocation {
  std::string writable_dir;
  std::vector<std::string> readonly_dirs;
  bool read_only = false;
  std::uint64_t max_bytes = 0;  // 0 = unbounded
};
Result<CacheLocation> cache_location_from_environment();

// What one process's store did since it was opened (hits and misses are disk lookups, after the in-memory cache).
struct CacheCounters {
  std::uint64_t disk_hits = 0;
  std::uint64_t disk_misses = 0;
  std::uint64_t compiles = 0;       // compile callbacks run by get_or_create
  std::uint64_t stores = 0;         // entries written
  std::uint64_t bad_entries = 0;    // entries rejected on load (corrupt, foreign, wrong permissions)
  std::uint64_t lock_timeouts = 0;  // lock waits that timed out (or failed) and compiled without the lock
};

struct CacheStoreUsage {
  std::string dir;
  bool read_only = false;  // a QJIT_CACHE_PATH store, or any store under QJIT_CACHE_READONLY=1
  bool present = false;    // false when the directory does not exist (yet)
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
  std::uint64_t temp_files = 0;  // unfinished writes (a writer died); pruning removes stale ones
};

struct CacheStats {
  std::vector<CacheStoreUsage> stores;  // the writable store first
  std::uint64_t entries = 0;            // over all stores
  std::uint64_t bytes = 0;
  std::uint64_t max_bytes = 0;
  CacheCounters counters;  // this store object's counters (zero for a freshly opened one)
};

// One entry file. `ok` and `problem` come from a full verification in verify_cache; list operations check only the
// header and metadata.
struct CacheEntryReport {
  std::string path;
  std::string key_hex;
  std::string store_dir;
  bool read_only_store = false;
  std::uint64_t bytes = 0;      // file size
  std::int64_t last_used = 0;   // seconds since the epoch (what LRU pruning orders by)
  std::string entry_name, arch, nvrtc_version;
  int registers = 0;
  int shared_bytes = 0;
  double compile_seconds = 0;
  bool ok = true;
  std::string problem;  // empty when ok
};

struct CachePruneReport {
  std::uint64_t removed_entries = 0;
  std::uint64_t removed_bytes = 0;
  std::uint64_t removed_temp_files = 0;
  std::uint64_t kept_entries = 0;
  std::uint64_t kept_bytes = 0;
};

Result<CacheStats> cache_stats(const CacheLocation& location);
Result<std::vector<CacheEntryReport>> list_cache(const CacheLocation& location);
// Every entry of every store, fully verified. With remove_bad, bad entries of the writable store are deleted.
Result<std::vector<CacheEntryReport>> verify_cache(const CacheLocation& location, bool remove_bad = false);
// Evicts least-recently-used entries of the writable store until it holds at most max_bytes (0: evict nothing, only
// remove stale temporary files). Unsupported when the location is read-only.
Result<CachePruneReport> prune_cache(const CacheLocation& location, std::uint64_t max_bytes);
// Removes every entry and temporary file of the writable store.
Result<CachePruneReport> clear_cache(const CacheLocation& location);

}  // namespace qjit
