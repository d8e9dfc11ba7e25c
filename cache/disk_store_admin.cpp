// DiskStore's operator side: usage statistics, listing, full verification, LRU pruning and clearing. These walk
// whole directories and are meant for `qjit cache`, for pruning after a store, and for tests -- never for the
// select path. Listing and verifying open files with O_NOATIME so that looking at the cache does not count as using
// it (LRU orders by atime, which load() sets on every hit).
#include <algorithm>
#include <cstring>
#include <ctime>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cache/disk_store.h"
#include "llvm/Support/FormatVariadic.h"
#include "runtime/log.h"
#include "runtime/safe_file.h"

namespace qjit::cache {
namespace {

std::int64_t last_used(const struct stat& st) { return std::max<std::int64_t>(st.st_atim.tv_sec, st.st_mtim.tv_sec); }

bool is_temp_name(std::string_view name) { return runtime::parse_temp_name(name, nullptr, nullptr); }

Result<std::vector<std::string>> list_directory(const std::string& dir) {
  return runtime::list_directory(dir, StatusCode::CacheIo);
}

struct EntryFile {
  std::string path;
  std::uint64_t bytes;
  std::int64_t last_used;
  std::int64_t last_used_ns;
};

}  // namespace

Result<CacheEntryReport> DiskStore::inspect(const Dir& dir, const std::string& name, bool full) const {
  CacheEntryReport r;
  r.path = dir.path + "/" + name;
  r.key_hex = name.substr(0, CompileKey::kSize * 2);
  r.store_dir = dir.path;
  r.read_only_store = !dir.writable;
  // NOTE: the rules are the loader's, size bound aside (verify reports an oversized file itself), with O_NOATIME
  // so that looking does not count as using.
  runtime::ReadRules rules = entry_read_rules(!dir.writable);
  rules.max_bytes = 0;
  rules.no_atime = true;
  runtime::ReadProblem problem = runtime::ReadProblem::None;
  auto file = runtime::ReadFile::open(r.path, rules, &problem);
  if (!file) {
    if (problem == runtime::ReadProblem::Missing) return Status(StatusCode::NotFound, r.path + " vanished");
    r.ok = false;
    r.problem = file.error().message();
    struct stat st;
    if (::lstat(r.path.c_str(), &st) == 0) {
      r.bytes = static_cast<std::uint64_t>(st.st_size);
      r.last_used = last_used(st);
    }
    return r;
  }
  const struct stat& st = file->stat();
  r.bytes = file->size();
  r.last_used = last_used(st);
  auto fail = [&](const Status& s) {
    r.ok = false;
    r.problem = s.message();
    return r;
  };
  const CompileKey expected = *key_from_entry_name(name);
  std::vector<std::uint8_t> bytes;
  if (full) {
    if (r.bytes > kEntryHeaderSize + kMaxMetadataBytes + kMaxPayloadBytes)
      return fail(
          Status(StatusCode::CacheIo, llvm::formatv("file of {0} bytes exceeds the format's limits", r.bytes).str()));
    if (Status s = file->read_all(bytes); !s.ok()) return fail(s);
    auto e = decode_entry(bytes, &expected);
    if (!e) return fail(e.error());
    r.entry_name = e->meta.entry_name;
    r.arch = e->meta.arch;
    r.nvrtc_version = e->meta.nvrtc_version;
    r.registers = e->meta.registers;
    r.shared_bytes = e->meta.shared_bytes;
    r.compile_seconds = e->meta.compile_seconds;
    return r;
  }
  bytes.resize(kEntryHeaderSize);
  if (Status s = file->read_at(0, std::as_writable_bytes(std::span<std::uint8_t>(bytes))); !s.ok()) return fail(s);
  auto h = decode_entry_header(bytes);
  if (!h) return fail(h.error());
  if (!(h->key == expected)) return fail(Status(StatusCode::CacheIo, "stored key differs from the file name"));
  if (h->file_size() != r.bytes) return fail(Status(StatusCode::CacheIo, "header sizes disagree with the file size"));
  bytes.resize(h->metadata_size);
  if (Status s = file->read_at(kEntryHeaderSize, std::as_writable_bytes(std::span<std::uint8_t>(bytes))); !s.ok())
    return fail(s);
  auto m = decode_entry_metadata(bytes);
  if (!m) return fail(m.error());
  r.entry_name = m->entry_name;
  r.arch = m->arch;
  r.nvrtc_version = m->nvrtc_version;
  r.registers = m->registers;
  r.shared_bytes = m->shared_bytes;
  r.compile_seconds = m->compile_seconds;
  return r;
}

Result<CacheStats> DiskStore::stats() const {
  CacheStats s;
  s.max_bytes = options_.max_bytes;
  s.counters = counters();
  auto add_dir = [&](const std::string& path, bool read_only) -> Status {
    CacheStoreUsage u;
    u.dir = path;
    u.read_only = read_only;
    struct stat dst;
    u.present = ::stat(path.c_str(), &dst) == 0;
    QJIT_ASSIGN_OR_RETURN(auto names, list_directory(path));
    for (const auto& n : names) {
      struct stat st;
      if (is_temp_name(n)) {
        ++u.temp_files;
      } else if (key_from_entry_name(n) && ::stat((path + "/" + n).c_str(), &st) == 0) {
        ++u.entries;
        u.bytes += static_cast<std::uint64_t>(st.st_size);
      }
    }
    s.entries += u.entries;
    s.bytes += u.bytes;
    s.stores.push_back(std::move(u));
    return Status();
  };
  if (!options_.writable_dir.empty()) QJIT_TRY(add_dir(options_.writable_dir, options_.read_only));
  for (const auto& ro : options_.readonly_dirs)
    if (ro != options_.writable_dir) QJIT_TRY(add_dir(ro, true));
  return s;
}

Result<std::vector<CacheEntryReport>> DiskStore::list() const {
  std::vector<CacheEntryReport> out;
  for (const auto& dir : dirs_) {
    QJIT_ASSIGN_OR_RETURN(auto names, list_directory(dir.path));
    for (const auto& n : names) {
      if (!key_from_entry_name(n)) continue;
      auto r = inspect(dir, n, /*full=*/false);
      if (r)
        out.push_back(std::move(r).value());
      else if (r.error().code() != StatusCode::NotFound)
        return r.error();
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.last_used > b.last_used; });
  return out;
}

Result<std::vector<CacheEntryReport>> DiskStore::verify(bool remove_bad) {
  std::vector<CacheEntryReport> out;
  for (const auto& dir : dirs_) {
    QJIT_ASSIGN_OR_RETURN(auto names, list_directory(dir.path));
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      if (!key_from_entry_name(n)) continue;
      auto r = inspect(dir, n, /*full=*/true);
      if (!r) {
        if (r.error().code() == StatusCode::NotFound) continue;
        return r.error();
      }
      if (!r->ok) {
        ++bad_;
        QJIT_LOG_INFO("cache", "verify: {0}: {1}", r->path, r->problem);  // the caller reports it
        if (remove_bad && dir.writable && ::unlink(r->path.c_str()) != 0 && errno != ENOENT)
          QJIT_LOG_WARN("cache", "verify: cannot remove {0}: {1}", r->path, std::strerror(errno));
      }
      out.push_back(std::move(r).value());
    }
  }
  return out;
}

Result<CachePruneReport> DiskStore::prune(std::uint64_t max_bytes) {
  if (!writable())
    return Status(StatusCode::Unsupported,
                  "the cache is read-only (QJIT_CACHE_READONLY=1 or StoreOptions.read_only): pruning needs a "
                  "writable store");
  const std::string& dir = options_.writable_dir;
  CachePruneReport rep;
  rep.removed_temp_files = runtime::prune_stale_temps(dir);
  QJIT_ASSIGN_OR_RETURN(auto names, list_directory(dir));
  std::vector<EntryFile> files;
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    struct stat st;
    if (!key_from_entry_name(n) || ::lstat(path.c_str(), &st) != 0) continue;
    const std::int64_t used_ns = std::max<std::int64_t>(st.st_atim.tv_sec * 1000000000ll + st.st_atim.tv_nsec,
                                                        st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec);
    files.push_back({path, static_cast<std::uint64_t>(st.st_size), last_used(st), used_ns});
  }
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.bytes;
  if (max_bytes > 0 && total > max_bytes) {
    // Least recently used first; nanosecond timestamps so entries used within one second still order.
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.last_used_ns < b.last_used_ns; });
    for (const auto& f : files) {
      if (total <= max_bytes) break;
      if (::unlink(f.path.c_str()) != 0 && errno != ENOENT) {
        QJIT_LOG_WARN("cache", "prune: cannot remove {0}: {1}", f.path, std::strerror(errno));
        continue;
      }
      total -= f.bytes;
      ++rep.removed_entries;
      rep.removed_bytes += f.bytes;
    }
  }
  rep.kept_bytes = total;
  rep.kept_entries = files.size() - rep.removed_entries;
  if (rep.removed_entries || rep.removed_temp_files)
    QJIT_LOG_INFO("cache", "pruned {0} entries ({1} bytes) and {2} stale temp files; {3} bytes kept (bound {4})",
                  rep.removed_entries, rep.removed_bytes, rep.removed_temp_files, rep.kept_bytes, max_bytes);
  return rep;
}

Result<CachePruneReport> DiskStore::clear() {
  if (!writable())
    return Status(StatusCode::Unsupported,
                  "the cache is read-only (QJIT_CACHE_READONLY=1): clearing needs a "
                  "writable store");
  const std::string& dir = options_.writable_dir;
  CachePruneReport rep;
  QJIT_ASSIGN_OR_RETURN(auto names, list_directory(dir));
  for (const auto& n : names) {
    const bool temp = is_temp_name(n);
    if (!temp && !key_from_entry_name(n)) continue;  // the lock file and anything not ours stay
    const std::string path = dir + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      QJIT_LOG_WARN("cache", "clear: cannot remove {0}: {1}", path, std::strerror(errno));
      if (!temp) {
        ++rep.kept_entries;
        rep.kept_bytes += static_cast<std::uint64_t>(st.st_size);
      }
      continue;
    }
    if (temp) {
      ++rep.removed_temp_files;
    } else {
      ++rep.removed_entries;
      rep.removed_bytes += static_cast<std::uint64_t>(st.st_size);
    }
  }
  return rep;
}

}  // namespace qjit::cache
