// The store's trust rules. A cached cubin is executable code, so qjit loads one only from a directory and a file
// that no other user can have written: the writable store is created 0700 and must be owned by the effective user;
// a read-only store (QJIT_CACHE_PATH) must be owned by the effective user or by root -- the usual shape of a prebuilt
// cache baked into a container image -- and neither a store directory nor an entry may be writable by group or
// others. Violations are refused with a message that names the path, what was found and how to fix it.
#pragma once

#include <sys/stat.h>

#include <string>

#include "qjit/status.h"

namespace qjit::cache {

// Creates `dir` (and missing parents) with mode 0700 if absent, then checks it is a directory the effective user
// owns and that group and others cannot write. CacheIo with a fix-it message otherwise.
Status prepare_writable_store(const std::string& dir);

// Checks an existing read-only store; false (not an error) when `dir` does not exist, so a QJIT_CACHE_PATH naming an
// optional location is harmless.
Result<bool> check_readonly_store(const std::string& dir);

// Checks the status of an opened entry file: a regular file, not writable by group/others, owned by the effective
// user (or by root in a read-only store).
Status check_entry_file(const struct stat& st, const std::string& path, bool readonly_store);

}  // namespace qjit::cache
