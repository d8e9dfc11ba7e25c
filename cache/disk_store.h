// DiskStore: the on-disk cubin store. One writable directory searched first, then read-only directories; one file
// per entry named `<key hex>.qjk` (entry_format.h). The rules that make it trustworthy:
//   - nothing is returned before it is verified (magic, version, key, sizes, checksum, metadata, file permissions);
//     a bad entry is logged, deleted if it lives in the writable store, and reported as a miss;
//   - writes are atomic and follow the file rules (runtime/safe_file.h): a unique temp file in the same directory,
//     write, fsync, rename, fsync the directory, so a process killed at any point leaves either no entry or a whole
//     one; reads refuse symlinks, FIFOs and anything but a regular file the store's owner wrote;
//   - readers never lock; on a miss get_or_create takes a per-key cross-process lock (key_lock.h) with a timeout,
//     re-checks, then compiles -- so N processes racing for one kernel compile it once;
//   - a hit in the writable store marks the entry used (its atime), which LRU pruning orders by.
// The store knows nothing of compiling: get_or_create takes the compile step as a callback. All methods are safe to
// call from many threads at once.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "cache/compile_key.h"
#include "cache/entry_format.h"
#include "cache/store_options.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "qjit/cache.h"
#include "qjit/status.h"
#include "runtime/safe_file.h"

namespace qjit::cache {

inline constexpr std::string_view kEntrySuffix = ".qjk";
inline constexpr std::string_view kLockFileName = ".lock";
// Temporaries are the file rules' "<entry>.tmp-<pid>-<hex>" (runtime/safe_file.h); one older than
// runtime::kStaleTempSeconds whose writer pid is dead is removed by pruning (and before each write of that entry).
inline constexpr int kStaleTempSeconds = runtime::kStaleTempSeconds;

// The key an entry file name encodes ("<64 hex>.qjk"), or nullopt for any other name.
std::optional<CompileKey> key_from_entry_name(std::string_view name);
// How entries are opened: no symlinks, regular files only, owned by the user (or root in a read-only store), not
// writable by others, within the format's size bound.
runtime::ReadRules entry_read_rules(bool readonly_store);

class DiskStore {
 public:
  // Validates the options, creates the writable directory (0700) unless read-only, and checks ownership and modes
  // of every existing store. Refuses (CacheIo) a store other users could write.
  static Result<std::shared_ptr<DiskStore>> open(StoreOptions options);

  const StoreOptions& options() const { return options_; }
  bool writable() const { return !options_.read_only; }
  std::string entry_path(const CompileKey& key) const;  // in the writable store

  // NotFound on a miss. Entries are verified before they are returned; a bad one is logged (warn), removed when it
  // is in the writable store, and skipped (the next store is searched).
  Result<Entry> load(const CompileKey& key);
  // Atomic write into the writable store; ok and a no-op when read-only. Prunes afterwards when max_bytes is set.
  Status store(const Entry& entry);
  // load, else (under the key's cross-process lock) load again, else compile() and store. The compiled entry's key
  // must equal `key`. A failed store is logged and the compiled entry still returned; `not_stored`, when given, is
  // set to why a compiled entry is not in the store (a failed write, a read-only cache) and left ok otherwise.
  Result<Entry> get_or_create(const CompileKey& key, llvm::function_ref<Result<Entry>()> compile,
                              Status* not_stored = nullptr);

  CacheCounters counters() const;
  Result<CacheStats> stats() const;
  Result<std::vector<CacheEntryReport>> list() const;  // header + metadata only, newest use first
  Result<std::vector<CacheEntryReport>> verify(bool remove_bad = false);
  Result<CachePruneReport> prune(std::uint64_t max_bytes);
  Result<CachePruneReport> clear();

 private:
  struct Dir {
    std::string path;
    bool writable = false;  // the writable store, and the store is not read-only
  };
  DiskStore(StoreOptions options, std::vector<Dir> dirs) : options_(std::move(options)), dirs_(std::move(dirs)) {}

  Result<Entry> search(const CompileKey& key, bool count_miss);
  std::string describe_stores() const;
  // One store's attempt: NotFound when absent or rejected (after logging and cleanup).
  Result<Entry> load_from(const Dir& dir, const CompileKey& key);
  void discard_bad(const Dir& dir, const std::string& path, int fd, const Status& why);
  Status write_atomically(const std::string& final_path, const std::vector<std::uint8_t>& bytes);
  Result<CacheEntryReport> inspect(const Dir& dir, const std::string& name, bool full) const;

  StoreOptions options_;
  std::vector<Dir> dirs_;  // search order; the writable store (if any) first
  mutable std::atomic<std::uint64_t> hits_{0}, misses_{0}, compiles_{0}, stores_{0}, bad_{0}, lock_timeouts_{0};
};

}  // namespace qjit::cache
