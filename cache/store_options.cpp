// options_from_environment: the cache's environment contract (DESIGN.md "Environment"; the variables are registered
// in runtime/env.h, whose parsers this uses). Every malformed value is an InvalidArgument naming the variable and the
// accepted forms; nothing is silently ignored.
#include "cache/store_options.h"

#include <pwd.h>
#include <unistd.h>

#include "llvm/ADT/StringRef.h"
#include "runtime/env.h"

namespace qjit::cache {
namespace {

// The home directory: $HOME, else the password database (a container may run without HOME).
std::optional<std::string> home_dir(EnvLookup lookup) {
  if (auto home = lookup("HOME"); home && !home->empty()) return home;
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_dir && *pw->pw_dir) return std::string(pw->pw_dir);
  return std::nullopt;
}

}  // namespace

Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view field) {
  return env::parse_byte_size(text, field);
}

Result<StoreOptions> options_from_environment() { return options_from_environment(env::process_value); }

Result<StoreOptions> options_from_environment(EnvLookup lookup) {
  StoreOptions o;
  using env::Var;
  if (auto dir = lookup(env::name(Var::CacheDir)); dir && !dir->empty()) {
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
  if (auto path = lookup(env::name(Var::CachePath))) o.readonly_dirs = env::split_path_list(*path);
  if (auto ro = lookup(env::name(Var::CacheReadonly))) {
    QJIT_ASSIGN_OR_RETURN(o.read_only, env::parse_flag(Var::CacheReadonly, *ro));
  }
  if (auto max = lookup(env::name(Var::CacheMaxBytes)); max && !llvm::StringRef(*max).trim().empty()) {
    QJIT_ASSIGN_OR_RETURN(o.max_bytes, env::parse_byte_size(*max, env::name(Var::CacheMaxBytes)));
  }
  if (auto t = lookup(env::name(Var::CacheLockTimeoutMs)); t && !t->empty()) {
    std::uint64_t ms = 0;
    if (llvm::StringRef(*t).trim().getAsInteger(10, ms) || ms > 3600 * 1000)
      return env::invalid_value(env::name(Var::CacheLockTimeoutMs), *t, "milliseconds from 0 to 3600000");
    o.lock_timeout = std::chrono::milliseconds(ms);
  }
  return o;
}

}  // namespace qjit::cache
