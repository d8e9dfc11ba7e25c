// The kernel cache as an engine or operator sees it: which directories qjit uses (resolved from the QJIT_CACHE_*
// environment exactly as the plans resolve it), what they hold, and the maintenance operations behind
// `qjit cache stats | ls | verify | prune | clear`. Compiled kernels are cached on disk automatically; nothing here
// is needed to use qjit, only to inspect, bound or check the cache. docs/CACHE.md describes the format and rules.
// Header-only over the C ABI's qjit_cache_* calls (qjit_c.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/detail/c_bridge.h"
#include "qjit/qjit_c.h"
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
  std::uint64_t bytes = 0;     // file size
  std::int64_t last_used = 0;  // seconds since the epoch (what LRU pruning orders by)
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

namespace detail {

// A CacheLocation as the C ABI takes it; the strings point into `joined` and `l`, which must outlive the result.
inline qjit_cache_location c_location(const CacheLocation& l, std::string& joined) {
  for (const auto& d : l.readonly_dirs) {
    if (!joined.empty()) joined += ':';
    joined += d;
  }
  return {sizeof(qjit_cache_location), l.writable_dir.c_str(), joined.c_str(), l.read_only ? 1 : 0, l.max_bytes};
}

inline std::vector<std::string> split_dirs(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find(':', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

inline CachePruneReport prune_report_of(const qjit_cache_prune_report& r) {
  return {r.removed_entries, r.removed_bytes, r.removed_temp_files, r.kept_entries, r.kept_bytes};
}

inline Result<std::vector<CacheEntryReport>> walk_cache(const CacheLocation& location, std::uint32_t flags) {
  std::string joined;
  const qjit_cache_location c = c_location(location, joined);
  std::vector<CacheEntryReport> out;
  auto on_entry = [](const qjit_cache_entry_info* e, void* user) -> int {
    CacheEntryReport r;
    r.path = e->path;
    r.key_hex = e->key_hex;
    r.store_dir = e->store_dir;
    r.read_only_store = e->read_only_store != 0;
    r.bytes = e->bytes;
    r.last_used = e->last_used;
    r.entry_name = e->entry_name;
    r.arch = e->arch;
    r.nvrtc_version = e->nvrtc_version;
    r.registers = e->registers;
    r.shared_bytes = e->shared_bytes;
    r.compile_seconds = e->compile_seconds;
    r.ok = e->ok != 0;
    r.problem = e->problem;
    static_cast<std::vector<CacheEntryReport>*>(user)->push_back(std::move(r));
    return 0;
  };
  QJIT_TRY(status_of(qjit_cache_list(&c, flags, on_entry, &out)));
  return out;
}

}  // namespace detail

inline Result<CacheLocation> cache_location_from_environment() {
  std::size_t wneed = 0, rneed = 0;
  std::int32_t read_only = 0;
  std::uint64_t max_bytes = 0;
  QJIT_TRY(detail::status_of(
      qjit_cache_location_from_environment(nullptr, 0, &wneed, nullptr, 0, &rneed, &read_only, &max_bytes)));
  std::string w(wneed, '\0'), r(rneed, '\0');
  QJIT_TRY(detail::status_of(qjit_cache_location_from_environment(w.data(), w.size(), &wneed, r.data(), r.size(),
                                                                  &rneed, &read_only, &max_bytes)));
  w.resize(wneed ? wneed - 1 : 0);
  r.resize(rneed ? rneed - 1 : 0);
  return CacheLocation{w, detail::split_dirs(r), read_only != 0, max_bytes};
}

inline Result<CacheStats> cache_stats(const CacheLocation& location) {
  std::string joined;
  const qjit_cache_location c = detail::c_location(location, joined);
  qjit_cache_stats s{};
  s.struct_size = sizeof s;
  CacheStats out;
  auto on_store = [](const qjit_cache_store_info* st, void* user) -> int {
    static_cast<CacheStats*>(user)->stores.push_back(
        {st->dir, st->read_only != 0, st->present != 0, st->entries, st->bytes, st->temp_files});
    return 0;
  };
  QJIT_TRY(detail::status_of(qjit_cache_stats_get(&c, &s, on_store, &out)));
  out.entries = s.entries;
  out.bytes = s.bytes;
  out.max_bytes = s.max_bytes;
  return out;
}

// Header and metadata of every entry of every store.
inline Result<std::vector<CacheEntryReport>> list_cache(const CacheLocation& location) {
  return detail::walk_cache(location, 0);
}

// Every entry of every store, fully verified. With remove_bad, bad entries of the writable store are deleted.
inline Result<std::vector<CacheEntryReport>> verify_cache(const CacheLocation& location, bool remove_bad = false) {
  return detail::walk_cache(location, QJIT_CACHE_VERIFY | (remove_bad ? QJIT_CACHE_REMOVE_BAD : 0u));
}

// Evicts least-recently-used entries of the writable store until it holds at most max_bytes (0: evict nothing, only
// remove stale temporary files). Unsupported when the location is read-only.
inline Result<CachePruneReport> prune_cache(const CacheLocation& location, std::uint64_t max_bytes) {
  std::string joined;
  const qjit_cache_location c = detail::c_location(location, joined);
  qjit_cache_prune_report r{};
  r.struct_size = sizeof r;
  QJIT_TRY(detail::status_of(qjit_cache_prune(&c, max_bytes, &r)));
  return detail::prune_report_of(r);
}

// Removes every entry and temporary file of the writable store.
inline Result<CachePruneReport> clear_cache(const CacheLocation& location) {
  std::string joined;
  const qjit_cache_location c = detail::c_location(location, joined);
  qjit_cache_prune_report r{};
  r.struct_size = sizeof r;
  QJIT_TRY(detail::status_of(qjit_cache_clear(&c, &r)));
  return detail::prune_report_of(r);
}

}  // namespace qjit
