// options_from_environment: the cache's environment contract (DESIGN.md "Environment"). Every malformed value is an
// InvalidArgument naming the variable and the accepted forms; nothing is silently ignored.
#include "cache/store_options.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::cache {
namespace {

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

Status bad(std::string_view field, std::string_view value, std::string_view expected) {
  return Status(StatusCode::InvalidArgument,
                llvm::formatv("{0}='{1}' is invalid: expected {2}", field, value, expected).str());
}

// The home directory: $HOME, else the password database (a container may run without HOME).
std::optional<std::string> home_dir(EnvLookup lookup) {
  if (auto home = lookup("HOME"); home && !home->empty()) return home;
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_dir && *pw->pw_dir) return std::string(pw->pw_dir);
  return std::nullopt;
}

}  // namespace

Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view field) {
  constexpr std::string_view kForms = "a byte count such as 1048576, 512k, 64M or 2G";
  llvm::StringRef s(text.data(), text.size());
  s = s.trim();
  std::uint64_t scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k': case 'K': scale = 1ull << 10; break;
      case 'm': case 'M': scale = 1ull << 20; break;
      case 'g': case 'G': scale = 1ull << 30; break;
      case 't': case 'T': scale = 1ull << 40; break;
      default: break;
    }
    if (scale != 1) s = s.drop_back();
  }
  std::uint64_t n = 0;
  if (s.empty() || s.getAsInteger(10, n)) return bad(field, text, kForms);
  if (n > UINT64_MAX / scale) return bad(field, text, "a byte count below 2^64");
  return n * scale;
}

Result<StoreOptions> options_from_environment() { return options_from_environment(process_env); }

Result<StoreOptions> options_from_environment(EnvLookup lookup) {
  StoreOptions o;
  if (auto dir = lookup("QJIT_CACHE_DIR"); dir && !dir->empty()) {
    o.writable_dir = *dir;
  } else if (auto xdg = lookup("XDG_CACHE_HOME"); xdg && !xdg->empty() && (*xdg)[0] == '/') {
    // NOTE: the XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    o.writable_dir = *xdg + "/qjit";
  } else if (auto home = home_dir(lookup)) {
    o.writable_dir = *home + "/.cache/qjit";
  } else {
    return Status(StatusCode::InvalidArgument,
                  "QJIT_CACHE_DIR is unset and neither XDG_CACHE_HOME nor HOME names a directory: set QJIT_CACHE_DIR "
                  "to a directory the process may create, or QJIT_CACHE_READONLY=1 with QJIT_CACHE_PATH");
  }
  if (auto path = lookup("QJIT_CACHE_PATH")) {
    llvm::SmallVector<llvm::StringRef, 4> parts;
    llvm::StringRef(*path).split(parts, ':', -1, /*KeepEmpty=*/false);
    for (auto p : parts) o.readonly_dirs.push_back(p.str());
  }
  if (auto ro = lookup("QJIT_CACHE_READONLY")) {
    const llvm::StringRef v = llvm::StringRef(*ro).trim();
    if (v == "1" || v.equals_insensitive("true") || v.equals_insensitive("yes") || v.equals_insensitive("on")) {
      o.read_only = true;
    } else if (!(v.empty() || v == "0" || v.equals_insensitive("false") || v.equals_insensitive("no") ||
                 v.equals_insensitive("off"))) {
      return bad("QJIT_CACHE_READONLY", *ro, "1/true/yes/on or 0/false/no/off");
    }
  }
  if (auto max = lookup("QJIT_CACHE_MAX_BYTES"); max && !llvm::StringRef(*max).trim().empty()) {
    QJIT_ASSIGN_OR_RETURN(o.max_bytes, parse_byte_size(*max, "QJIT_CACHE_MAX_BYTES"));
  }
  if (auto t = lookup("QJIT_CACHE_LOCK_TIMEOUT_MS"); t && !t->empty()) {
    std::uint64_t ms = 0;
    if (llvm::StringRef(*t).trim().getAsInteger(10, ms) || ms > 3600 * 1000)
      return bad("QJIT_CACHE_LOCK_TIMEOUT_MS", *t, "milliseconds from 0 to 3600000");
    o.lock_timeout = std::chrono::milliseconds(ms);
  }
  return o;
}

}  // namespace qjit::cache
