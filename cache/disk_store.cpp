// DiskStore's hot paths: opening (with the trust checks), verified loads, atomic stores and get_or_create with the
// cross-process lock. The operator side (stats, list, verify, prune, clear) is in disk_store_admin.cpp.
#include "cache/disk_store.h"

#include <chrono>
#include <cstring>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cache/key_lock.h"
#include "cache/store_security.h"
#include "llvm/Support/FormatVariadic.h"
#include "runtime/log.h"
#include "runtime/safe_file.h"

namespace qjit::cache {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Status validate_entry(const Entry& e) {
  const auto& m = e.meta;
  auto bad = [](std::string field, std::string expected) {
    return Status(StatusCode::InvalidArgument, "cache entry " + field + " must be " + expected);
  };
  if (e.payload.empty()) return bad("payload", "non-empty (a cubin)");
  if (e.payload.size() > kMaxPayloadBytes) return bad("payload size", "at most 256 MiB");
  if (m.entry_name.size() > kMaxMetadataString || m.arch.size() > kMaxMetadataString ||
      m.nvrtc_version.size() > kMaxMetadataString)
    return bad("meta.entry_name/arch/nvrtc_version", "at most 4096 bytes each");
  if (m.registers < 0 || m.shared_bytes < 0) return bad("meta.registers/shared_bytes", ">= 0");
  if (!(m.compile_seconds >= 0) || m.compile_seconds > 1e9) return bad("meta.compile_seconds", "finite and >= 0");
  return Status();
}

}  // namespace

std::optional<CompileKey> key_from_entry_name(std::string_view name) {
  if (name.size() != CompileKey::kSize * 2 + kEntrySuffix.size() || !name.ends_with(kEntrySuffix)) return std::nullopt;
  auto key = CompileKey::from_hex(name.substr(0, CompileKey::kSize * 2));
  // NOTE: only the canonical lower-case spelling is an entry, so one key never has two files.
  if (key && key->hex() != name.substr(0, CompileKey::kSize * 2)) return std::nullopt;
  return key;
}

Result<std::shared_ptr<DiskStore>> DiskStore::open(StoreOptions options) {
  std::vector<Dir> dirs;
  if (options.writable_dir.empty() && !options.read_only)
    return Status(StatusCode::InvalidArgument,
                  "StoreOptions.writable_dir must name a directory unless read_only is set");
  if (!options.writable_dir.empty()) {
    if (options.read_only) {
      // Under QJIT_CACHE_READONLY the writable store is just another store to read, judged by read-only rules.
      QJIT_ASSIGN_OR_RETURN(bool present, check_readonly_store(options.writable_dir, options.writable_dir_origin));
      if (present) dirs.push_back({options.writable_dir, false});
    } else {
      QJIT_TRY(prepare_writable_store(options.writable_dir, options.writable_dir_origin));
      dirs.push_back({options.writable_dir, true});
    }
  }
  for (const auto& ro : options.readonly_dirs) {
    if (ro == options.writable_dir) continue;
    QJIT_ASSIGN_OR_RETURN(bool present, check_readonly_store(ro));
    if (present)
      dirs.push_back({ro, false});
    else
      QJIT_LOG_INFO("cache", "read-only store '{0}' (QJIT_CACHE_PATH) does not exist; skipping it", ro);
  }
  return std::shared_ptr<DiskStore>(new DiskStore(std::move(options), std::move(dirs)));
}

std::string DiskStore::entry_path(const CompileKey& key) const {
  return options_.writable_dir + "/" + key.hex() + std::string(kEntrySuffix);
}

CacheCounters DiskStore::counters() const {
  CacheCounters c;
  c.disk_hits = hits_.load();
  c.disk_misses = misses_.load();
  c.compiles = compiles_.load();
  c.stores = stores_.load();
  c.bad_entries = bad_.load();
  c.lock_timeouts = lock_timeouts_.load();
  return c;
}

void DiskStore::discard_bad(const Dir& dir, const std::string& path, int fd, const Status& why) {
  ++bad_;
  if (!dir.writable) {
    QJIT_LOG_WARN("cache", "skipping {0}: {1}", path, why.message());
    return;
  }
  // NOTE: unlink only if the name still points at the file we judged: another process may have renamed a fresh,
  // good entry over it meanwhile, and deleting that would only cost a recompile, but there is no need to.
  struct stat opened, now;
  if (fd >= 0 && ::fstat(fd, &opened) == 0 && ::lstat(path.c_str(), &now) == 0 &&
      (opened.st_ino != now.st_ino || opened.st_dev != now.st_dev)) {
    QJIT_LOG_WARN("cache", "rejected {0} ({1}); it was already replaced", path, why.message());
    return;
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    QJIT_LOG_WARN("cache", "rejected {0} ({1}) and could not remove it: {2}", path, why.message(),
                  std::strerror(errno));
  else
    QJIT_LOG_WARN("cache", "rejected and removed {0} ({1}); it will be recompiled", path, why.message());
}

runtime::ReadRules entry_read_rules(bool readonly_store) {
  runtime::ReadRules rules;
  rules.what = "cache entry";
  rules.code = StatusCode::CacheIo;
  // NOTE: never through a symlink (nothing qjit writes looks like that), and O_NONBLOCK inside ReadFile so a FIFO
  // planted at an entry's name is refused instead of hanging every reader.
  rules.follow_symlinks = false;
  rules.owner = readonly_store ? runtime::Owner::MeOrRoot : runtime::Owner::Me;
  rules.refuse_foreign_write = true;
  rules.max_bytes = kEntryHeaderSize + kMaxMetadataBytes + kMaxPayloadBytes;
  return rules;
}

Result<Entry> DiskStore::load_from(const Dir& dir, const CompileKey& key) {
  const std::string path = dir.path + "/" + key.hex() + std::string(kEntrySuffix);
  runtime::ReadProblem problem = runtime::ReadProblem::None;
  auto file = runtime::ReadFile::open(path, entry_read_rules(!dir.writable), &problem);
  if (!file) {
    if (problem == runtime::ReadProblem::Missing) return Status(StatusCode::NotFound, "no entry " + path);
    if (problem == runtime::ReadProblem::Refused)
      discard_bad(dir, path, -1, file.error());
    else
      QJIT_LOG_WARN("cache", "{0}", file.error().message());
    return Status(StatusCode::NotFound, file.error().message());
  }
  const int fd = file->fd();
  const std::uint64_t size = file->size();
  if (size < kEntryHeaderSize) {
    const Status s(StatusCode::CacheIo, llvm::formatv("cache entry rejected (size): {0} bytes", size).str());
    discard_bad(dir, path, fd, s);
    return Status(StatusCode::NotFound, s.message());
  }
  std::vector<std::uint8_t> bytes;
  if (Status s = file->read_all(bytes); !s.ok()) {
    QJIT_LOG_WARN("cache", "{0}", s.message());
    return Status(StatusCode::NotFound, s.message());
  }
  auto entry = decode_entry(std::move(bytes), &key);
  if (!entry) {
    discard_bad(dir, path, fd, entry.error());
    return Status(StatusCode::NotFound, entry.error().message());
  }
  if (dir.writable) {
    // Mark the entry used for LRU pruning: set atime only, so mtime keeps saying when it was written.
    const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    ::futimens(fd, times);
  }
  return entry;
}

Result<Entry> DiskStore::search(const CompileKey& key, bool count_miss) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& dir : dirs_) {
    auto e = load_from(dir, key);
    if (e) {
      ++hits_;
      QJIT_LOG_INFO("cache", "disk hit {0} ({1}, {2} bytes) from {3} in {4:f3} ms", key.hex(), e->meta.entry_name,
                    e->payload.size(), dir.path, seconds_since(t0) * 1e3);
      return e;
    }
  }
  if (count_miss) {
    ++misses_;
    QJIT_LOG_INFO("cache", "disk miss {0}", key.hex());
  }
  return Status(StatusCode::NotFound, llvm::formatv("kernel {0} is in no cache store", key.hex()).str());
}

Result<Entry> DiskStore::load(const CompileKey& key) { return search(key, /*count_miss=*/true); }

std::string DiskStore::describe_stores() const {
  std::string s;
  for (const auto& d : dirs_) s += (s.empty() ? "" : ", ") + d.path;
  return s.empty() ? "(none exists)" : s;
}

Status DiskStore::write_atomically(const std::string& final_path, const std::vector<std::uint8_t>& bytes) {
  const runtime::WriteRules rules{
      .what = "cache entry", .code = StatusCode::CacheIo, .mode = 0600, .dir_rule = runtime::DirRule::Private};
  return runtime::write_file_atomically(final_path, std::as_bytes(std::span<const std::uint8_t>(bytes)), rules);
}

Status DiskStore::store(const Entry& entry) {
  if (!writable()) return Status();
  QJIT_TRY(validate_entry(entry));
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = entry_path(entry.key);
  QJIT_TRY(write_atomically(path, encode_entry(entry)));
  ++stores_;
  QJIT_LOG_INFO("cache", "stored {0} ({1}, {2} bytes) in {3:f3} ms", entry.key.hex(), entry.meta.entry_name,
                entry.payload.size(), seconds_since(t0) * 1e3);
  if (options_.max_bytes > 0) {
    auto pruned = prune(options_.max_bytes);
    if (!pruned) QJIT_LOG_WARN("cache", "pruning after a store failed: {0}", pruned.error().message());
  }
  return Status();
}

Result<Entry> DiskStore::get_or_create(const CompileKey& key, llvm::function_ref<Result<Entry>()> compile,
                                       Status* not_stored) {
  if (auto hit = load(key)) return hit;
  KeyLock lock;
  if (writable()) {
    auto acquired =
        KeyLock::acquire(options_.writable_dir + "/" + std::string(kLockFileName), key, options_.lock_timeout);
    if (acquired) {
      lock = std::move(acquired).value();
      // Another process may have finished this kernel while we waited: a second look costs microseconds, a
      // duplicate compile costs a second.
      if (auto hit = search(key, /*count_miss=*/false)) return hit;
    } else {
      ++lock_timeouts_;
      QJIT_LOG_WARN("cache", "{0}; compiling without the lock", acquired.error().message());
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  ++compiles_;
  auto entry = compile();
  if (!entry) {
    if (entry.error().code() != StatusCode::CompilerUnavailable) return entry;
    // The deployment case: a warm cache was expected. Say which stores were searched and how to fill them.
    return entry.error().with_context(
        llvm::formatv("kernel {0} is in none of the cache stores searched ({1}) and cannot be compiled here; warm a "
                      "store with `qjit warmup` on a machine with NVRTC and ship it in QJIT_CACHE_PATH",
                      key.hex(), describe_stores())
            .str());
  }
  if (!(entry->key == key))
    return Status(
        StatusCode::InvalidArgument,
        llvm::formatv("compile callback returned an entry for key {0}, expected {1}", entry->key.hex(), key.hex())
            .str());
  QJIT_LOG_INFO("cache", "compiled {0} ({1}, {2} bytes) in {3:f3} s", key.hex(), entry->meta.entry_name,
                entry->payload.size(), seconds_since(t0));
  if (!writable()) {
    if (not_stored)
      *not_stored = Status(StatusCode::CacheIo, "the cache is read-only (QJIT_CACHE_READONLY=1): compiled, not stored");
  } else if (Status s = store(*entry); !s.ok()) {
    QJIT_LOG_WARN("cache", "could not store {0}: {1}; the kernel is used but not cached", key.hex(), s.message());
    if (not_stored) *not_stored = s;
  }
  return entry;
}

}  // namespace qjit::cache
