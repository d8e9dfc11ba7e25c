// Which of the file rules guards each part of the store (see store_security.h for the rules and why).
#include "cache/store_security.h"

#include <cstring>
#include <errno.h>

#include "llvm/Support/FormatVariadic.h"
#include "runtime/safe_file.h"

namespace qjit::cache {
namespace {

std::string role(bool readonly_store, std::string_view origin) {
  return llvm::formatv("{0} ({1})", readonly_store ? "read-only cache store" : "cache directory", origin).str();
}

}  // namespace

Status prepare_writable_store(const std::string& dir, std::string_view origin) {
  const std::string what = role(false, origin);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) QJIT_TRY(runtime::make_directories(dir, what, StatusCode::CacheIo));
  return runtime::check_directory(dir, runtime::DirRule::Private, what, StatusCode::CacheIo);
}

Result<bool> check_readonly_store(const std::string& dir, std::string_view origin) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Status(StatusCode::CacheIo,
                  llvm::formatv("cannot stat {0} '{1}': {2}", role(true, origin), dir, std::strerror(errno)).str());
  }
  QJIT_TRY(runtime::check_directory(dir, runtime::DirRule::PrivateOrRoot, role(true, origin), StatusCode::CacheIo));
  return true;
}

Status check_entry_file(const struct stat& st, const std::string& path, bool readonly_store) {
  runtime::ReadRules rules;
  rules.what = "cache entry";
  rules.code = StatusCode::CacheIo;
  rules.owner = readonly_store ? runtime::Owner::MeOrRoot : runtime::Owner::Me;
  rules.refuse_foreign_write = true;
  return runtime::check_file_stat(st, path, rules);
}

}  // namespace qjit::cache
