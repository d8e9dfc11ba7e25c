// `qjit cache stats | ls | verify | prune | clear`: inspect and maintain the kernel cache. Inspection (stats, ls,
// verify) opens the stores read-only -- it never creates, touches or deletes anything -- and covers the writable
// store plus the QJIT_CACHE_PATH stores; maintenance (prune, clear, verify --remove-bad) works on the writable store.
// `--dir DIR` operates on exactly one directory instead of the environment's; `--json` prints machine-readable
// output. Exit codes: 0 success, 1 the work failed or `verify` found a bad entry, 2 bad usage.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <sys/stat.h>

#include "cache/disk_store.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

constexpr const char* kUsage =
    "usage: qjit cache <stats|ls|verify|prune|clear> [options]\n"
    "\n"
    "  stats                 entries and bytes per store, the size bound\n"
    "  ls                    one line per entry: key, kernel, arch, size, last use, store\n"
    "  verify [--remove-bad] check every entry (magic, version, key, sizes, checksum, permissions);\n"
    "                        exits 1 when any entry is bad\n"
    "  prune [--max-bytes N] evict least-recently-used entries until the writable store holds at most N bytes\n"
    "                        (default QJIT_CACHE_MAX_BYTES; N accepts k/M/G suffixes) and remove stale temp files\n"
    "  clear                 remove every entry of the writable store\n"
    "\n"
    "options:\n"
    "  --dir DIR             use DIR as the only store instead of QJIT_CACHE_DIR and QJIT_CACHE_PATH\n"
    "  --json                machine-readable output\n"
    "\n"
    "environment: QJIT_CACHE_DIR, QJIT_CACHE_PATH, QJIT_CACHE_READONLY, QJIT_CACHE_MAX_BYTES (see docs/CACHE.md)\n";

struct Args {
  std::string command;
  std::optional<std::string> dir;
  std::optional<std::uint64_t> max_bytes;
  bool json = false;
  bool remove_bad = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "qjit cache: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

int failure(const Status& s) {
  std::fprintf(stderr, "qjit cache: %s\n", s.to_string().c_str());
  return 1;
}

std::string human_bytes(std::uint64_t b) {
  if (b < 1024) return llvm::formatv("{0} B", b).str();
  if (b < (1u << 20)) return llvm::formatv("{0:f1} KiB", b / 1024.0).str();
  if (b < (1u << 30)) return llvm::formatv("{0:f1} MiB", b / 1048576.0).str();
  return llvm::formatv("{0:f2} GiB", b / 1073741824.0).str();
}

std::string iso_time(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void print_json(const llvm::json::Value& v) {
  llvm::outs() << llvm::formatv("{0:2}", v) << "\n";
  llvm::outs().flush();
}

llvm::json::Object entry_json(const CacheEntryReport& r) {
  return llvm::json::Object{{"key", r.key_hex},
                            {"path", r.path},
                            {"store", r.store_dir},
                            {"read_only_store", r.read_only_store},
                            {"bytes", static_cast<int64_t>(r.bytes)},
                            {"last_used", iso_time(r.last_used)},
                            {"entry_name", r.entry_name},
                            {"arch", r.arch},
                            {"nvrtc_version", r.nvrtc_version},
                            {"registers", r.registers},
                            {"shared_bytes", r.shared_bytes},
                            {"compile_seconds", r.compile_seconds},
                            {"ok", r.ok},
                            {"problem", r.problem}};
}

llvm::json::Object prune_json(const CachePruneReport& r) {
  return llvm::json::Object{{"removed_entries", static_cast<int64_t>(r.removed_entries)},
                            {"removed_bytes", static_cast<int64_t>(r.removed_bytes)},
                            {"removed_temp_files", static_cast<int64_t>(r.removed_temp_files)},
                            {"kept_entries", static_cast<int64_t>(r.kept_entries)},
                            {"kept_bytes", static_cast<int64_t>(r.kept_bytes)}};
}

Result<Args> parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view flag) -> Result<std::string> {
      if (i + 1 >= argc) return Status(StatusCode::InvalidArgument, std::string(flag) + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--remove-bad") {
      a.remove_bad = true;
    } else if (arg == "--dir") {
      QJIT_ASSIGN_OR_RETURN(a.dir, value(arg));
    } else if (arg == "--max-bytes") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value(arg));
      QJIT_ASSIGN_OR_RETURN(a.max_bytes, cache::parse_byte_size(v, "--max-bytes"));
    } else if (!arg.empty() && arg[0] == '-') {
      return Status(StatusCode::InvalidArgument, "unknown option '" + std::string(arg) + "'");
    } else if (a.command.empty()) {
      a.command = arg;
    } else {
      return Status(StatusCode::InvalidArgument, "unexpected argument '" + std::string(arg) + "'");
    }
  }
  if (a.command.empty()) return Status(StatusCode::InvalidArgument, "missing subcommand");
  if (a.command != "stats" && a.command != "ls" && a.command != "verify" && a.command != "prune" &&
      a.command != "clear")
    return Status(StatusCode::InvalidArgument, "unknown subcommand '" + a.command + "'");
  if (a.max_bytes && a.command != "prune") return Status(StatusCode::InvalidArgument, "--max-bytes is for prune");
  if (a.remove_bad && a.command != "verify") return Status(StatusCode::InvalidArgument, "--remove-bad is for verify");
  return a;
}

// `configured_read_only`: what the environment says of the writable store (inspection opens everything read-only).
int run_stats(cache::DiskStore& store, bool json, bool configured_read_only) {
  auto s = store.stats();
  if (!s) return failure(s.error());
  if (!s->stores.empty() && s->stores[0].dir == store.options().writable_dir)
    s->stores[0].read_only = configured_read_only;
  if (json) {
    llvm::json::Array stores;
    for (const auto& u : s->stores)
      stores.push_back(llvm::json::Object{{"dir", u.dir},
                                          {"read_only", u.read_only},
                                          {"present", u.present},
                                          {"entries", static_cast<int64_t>(u.entries)},
                                          {"bytes", static_cast<int64_t>(u.bytes)},
                                          {"temp_files", static_cast<int64_t>(u.temp_files)}});
    print_json(llvm::json::Object{{"stores", std::move(stores)},
                                  {"entries", static_cast<int64_t>(s->entries)},
                                  {"bytes", static_cast<int64_t>(s->bytes)},
                                  {"max_bytes", static_cast<int64_t>(s->max_bytes)}});
    return 0;
  }
  std::printf("%-10s %8s %12s %6s  %s\n", "store", "entries", "size", "temps", "directory");
  for (const auto& u : s->stores)
    std::printf("%-10s %8llu %12s %6llu  %s%s\n", u.read_only ? "read-only" : "writable",
                static_cast<unsigned long long>(u.entries), human_bytes(u.bytes).c_str(),
                static_cast<unsigned long long>(u.temp_files), u.dir.c_str(), u.present ? "" : " (absent)");
  std::printf("total: %llu entries, %s; bound: %s\n", static_cast<unsigned long long>(s->entries),
              human_bytes(s->bytes).c_str(), s->max_bytes ? human_bytes(s->max_bytes).c_str() : "none");
  return 0;
}

int run_entries(cache::DiskStore& store, const Args& a, bool configured_read_only) {
  const bool verify = a.command == "verify";
  auto entries = verify ? store.verify(a.remove_bad) : store.list();
  if (!entries) return failure(entries.error());
  for (auto& e : *entries)
    if (e.store_dir == store.options().writable_dir) e.read_only_store = configured_read_only;
  std::size_t bad = 0;
  for (const auto& e : *entries) bad += e.ok ? 0 : 1;
  if (a.json) {
    llvm::json::Array arr;
    for (const auto& e : *entries) arr.push_back(entry_json(e));
    print_json(llvm::json::Object{{"entries", std::move(arr)}, {"bad", static_cast<int64_t>(bad)}});
  } else if (verify) {
    for (const auto& e : *entries)
      if (!e.ok) std::printf("BAD  %s\n     %s\n", e.path.c_str(), e.problem.c_str());
    std::printf("verified %zu entries: %zu ok, %zu bad%s\n", entries->size(), entries->size() - bad, bad,
                bad && a.remove_bad ? " (bad entries of the writable store removed)" : "");
  } else {
    for (const auto& e : *entries)
      std::printf("%.16s  %-40s %-7s %10s  %s  %s%s\n", e.key_hex.c_str(), e.entry_name.c_str(), e.arch.c_str(),
                  human_bytes(e.bytes).c_str(), iso_time(e.last_used).c_str(), e.store_dir.c_str(),
                  e.ok ? "" : "  [bad header]");
  }
  return verify && bad ? 1 : 0;
}

int run_maintenance(cache::DiskStore& store, const Args& a) {
  const bool clear = a.command == "clear";
  const std::uint64_t bound = a.max_bytes.value_or(store.options().max_bytes);
  auto rep = clear ? store.clear() : store.prune(bound);
  if (!rep) return failure(rep.error());
  // NOTE: an entry that could not be removed (logged above) leaves the store over the bound or not empty: the work
  // asked for was not done, so the exit status says so.
  const bool short_of_goal = clear ? rep->kept_entries > 0 : bound > 0 && rep->kept_bytes > bound;
  if (a.json) {
    print_json(prune_json(*rep));
  } else {
    std::printf("removed %llu entries (%s) and %llu stale temp files; kept %llu entries (%s)%s\n",
                static_cast<unsigned long long>(rep->removed_entries), human_bytes(rep->removed_bytes).c_str(),
                static_cast<unsigned long long>(rep->removed_temp_files),
                static_cast<unsigned long long>(rep->kept_entries), human_bytes(rep->kept_bytes).c_str(),
                !clear && bound == 0 ? "; no bound given (--max-bytes or QJIT_CACHE_MAX_BYTES), nothing evicted" : "");
  }
  if (short_of_goal) {
    std::fprintf(stderr, "qjit cache: %s: %llu entries (%s) could not be removed (see the warnings above)\n",
                 a.command.c_str(), static_cast<unsigned long long>(rep->kept_entries),
                 human_bytes(rep->kept_bytes).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int run_cache_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  auto args = parse(argc, argv);
  if (!args) return usage_error(args.error().message());
  const Args& a = *args;
  auto env = cache::options_from_environment();
  if (!env) return failure(env.error());
  cache::StoreOptions o = *env;
  if (a.dir) {
    // NOTE: a directory named on the command line must exist: verifying or listing "nothing" because of a typo
    // would report a clean cache that was never looked at.
    struct stat st;
    if (::stat(a.dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return failure(Status(
          StatusCode::InvalidArgument,
          "--dir '" + *a.dir + "' " + (::stat(a.dir->c_str(), &st) != 0 ? "does not exist" : "is not a directory")));
    o.writable_dir = *a.dir;
    o.writable_dir_origin = "--dir";
    o.readonly_dirs.clear();
  }
  const bool inspect_only = a.command == "stats" || a.command == "ls" || (a.command == "verify" && !a.remove_bad);
  // NOTE: inspection opens read-only so that looking at a cache never creates it, never changes LRU order, and
  // works on a store another user owns (root's prebuilt image cache).
  if (inspect_only) o.read_only = true;
  auto store = cache::DiskStore::open(o);
  if (!store) return failure(store.error());
  if (a.command == "stats") return run_stats(**store, a.json, env->read_only);
  if (a.command == "ls" || a.command == "verify") return run_entries(**store, a, env->read_only);
  return run_maintenance(**store, a);
}

}  // namespace qjit::tools
