// KeyLock: one OFD-locked byte per key of the store's lock file, opened and locked by the file rules
// (runtime/safe_file.h: a regular file the user owns, never through a symlink or FIFO).
#include "cache/key_lock.h"

#include <unistd.h>

#include "llvm/Support/FormatVariadic.h"
#include "runtime/safe_file.h"

namespace qjit::cache {
namespace {

// The key's lock byte: 62 bits of the digest, so distinct keys practically never share a byte and the offset stays
// a valid positive off_t.
off_t lock_offset(const CompileKey& key) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | key.digest[i];
  return static_cast<off_t>(v >> 2);
}

}  // namespace

KeyLock& KeyLock::operator=(KeyLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void KeyLock::release() {
  // NOTE: closing the descriptor drops the OFD lock; no explicit F_UNLCK needed.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<KeyLock> KeyLock::acquire(const std::string& lock_path, const CompileKey& key,
                                 std::chrono::milliseconds timeout) {
  QJIT_ASSIGN_OR_RETURN(int fd, runtime::open_lock_file(lock_path, "cache lock file", StatusCode::CacheIo));
  KeyLock lock(fd);
  bool timed_out = false;
  if (Status s = runtime::lock_byte(fd, lock_offset(key), timeout, lock_path, StatusCode::CacheIo, &timed_out);
      !s.ok()) {
    if (!timed_out) return s.with_context("key " + key.hex());
    return Status(StatusCode::CacheIo,
                  llvm::formatv("timed out after {0} ms waiting for another process compiling key {1} "
                                "(lock '{2}'); QJIT_CACHE_LOCK_TIMEOUT_MS sets the wait",
                                timeout.count(), key.hex(), lock_path)
                      .str());
  }
  return lock;
}

}  // namespace qjit::cache
