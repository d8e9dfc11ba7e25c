// The store's trust rules. A cached cubin is executable code, so qjit loads one only from a directory and a file
// that no other user can have written: the writable store is created 0700 and must be owned by the effective user;
// a read-only store (QJIT_CACHE_PATH) must be owned by the effective user or by root -- the usual shape of a prebuilt
// cache baked into a container image -- and neither a store directory nor an entry may be writable by group or
// others. A store named through a symbolic link is accepted only when the link itself belongs to the effective user
// or root (whoever owns the link decides where the cache lives). The checks are the file rules'
// (runtime/safe_file.h); this file only says which rule applies where and names the store's origin in messages.
#pragma once

#include <string>
#include <string_view>

#include <sys/stat.h>

#include "qjit/status.h"

namespace qjit::cache {

// Creates `dir` (and missing parents) with mode 0700 if absent, then checks it is a directory the effective user
// owns and that group and others cannot write. CacheIo with a fix-it message otherwise. `origin` says where the
// path came from ("QJIT_CACHE_DIR", "--dir").
Status prepare_writable_store(const std::string& dir, std::string_view origin = "QJIT_CACHE_DIR");

// Checks an existing read-only store; false (not an error) when `dir` does not exist, so a QJIT_CACHE_PATH naming an
// optional location is harmless.
Result<bool> check_readonly_store(const std::string& dir, std::string_view origin = "QJIT_CACHE_PATH");

// Checks the status of an opened entry file: a regular file, not writable by group/others, owned by the effective
// user (or by root in a read-only store).
Status check_entry_file(const struct stat& st, const std::string& path, bool readonly_store);

}  // namespace qjit::cache
