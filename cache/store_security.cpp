// Ownership and mode checks for stores and entries (see store_security.h for the rules and why).
#include "cache/store_security.h"

#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "llvm/Support/FormatVariadic.h"

namespace qjit::cache {
namespace {

constexpr mode_t kForeignWrite = S_IWGRP | S_IWOTH;

Status io_error(std::string message) { return Status(StatusCode::CacheIo, std::move(message)); }

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status check_dir_stat(const struct stat& st, const std::string& dir, bool readonly_store) {
  const std::string role = readonly_store ? "read-only cache store (QJIT_CACHE_PATH)" : "cache directory (QJIT_CACHE_DIR)";
  if (!S_ISDIR(st.st_mode)) return io_error(llvm::formatv("{0} '{1}' is not a directory", role, dir).str());
  const uid_t me = geteuid();
  const bool owner_ok = st.st_uid == me || (readonly_store && st.st_uid == 0);
  if (!owner_ok)
    return io_error(llvm::formatv("{0} '{1}' is owned by uid {2}, expected uid {3}{4}: cached kernels are executable "
                                  "code, so qjit only trusts a store its own user{4} controls; chown it or use "
                                  "another directory",
                                  role, dir, st.st_uid, me, readonly_store ? " or root" : "").str());
  if (st.st_mode & kForeignWrite)
    return io_error(llvm::formatv("{0} '{1}' is writable by group or others (mode {2}): cached kernels are "
                                  "executable code, so qjit refuses it; run 'chmod go-w {1}' or use a private "
                                  "directory",
                                  role, dir, octal(st.st_mode)).str());
  return Status();
}

// mkdir -p with mode 0700 for everything it creates (the XDG spec asks the same of $XDG_CACHE_HOME).
Status make_dirs(const std::string& dir) {
  if (dir.empty()) return io_error("cache directory path is empty");
  std::string prefix;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return io_error(llvm::formatv("cannot create cache directory '{0}': {1}", prefix, std::strerror(errno)).str());
  }
  return Status();
}

}  // namespace

Status prepare_writable_store(const std::string& dir) {
  QJIT_TRY(make_dirs(dir));
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return io_error(llvm::formatv("cannot stat cache directory '{0}': {1}", dir, std::strerror(errno)).str());
  return check_dir_stat(st, dir, /*readonly_store=*/false);
}

Result<bool> check_readonly_store(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return io_error(llvm::formatv("cannot stat cache store '{0}': {1}", dir, std::strerror(errno)).str());
  }
  QJIT_TRY(check_dir_stat(st, dir, /*readonly_store=*/true));
  return true;
}

Status check_entry_file(const struct stat& st, const std::string& path, bool readonly_store) {
  if (!S_ISREG(st.st_mode)) return io_error(llvm::formatv("cache entry '{0}' is not a regular file", path).str());
  const uid_t me = geteuid();
  if (!(st.st_uid == me || (readonly_store && st.st_uid == 0)))
    return io_error(llvm::formatv("cache entry '{0}' is owned by uid {1}, expected uid {2}{3}; refusing to load it",
                                  path, st.st_uid, me, readonly_store ? " or root" : "").str());
  if (st.st_mode & kForeignWrite)
    return io_error(llvm::formatv("cache entry '{0}' is writable by group or others (mode {1}); refusing to load "
                                  "it", path, octal(st.st_mode)).str());
  return Status();
}

}  // namespace qjit::cache
