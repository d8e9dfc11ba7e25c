// The cross-process lock that keeps processes from compiling the same kernel twice. One lock file per store
// (`<dir>/.lock`, never deleted) and one byte of it per key, locked with an open-file-description lock
// (F_OFD_SETLK): such locks belong to the open file, not the process, so they also separate threads, vanish when the
// holder dies (even by SIGKILL), and need no per-key lock files that would pile up or race with deletion. Waiting is
// bounded: after the timeout the caller proceeds without the lock (a duplicate compile, never a hang).
#pragma once

#include <chrono>
#include <string>

#include "cache/compile_key.h"
#include "qjit/status.h"

namespace qjit::cache {

class KeyLock {
 public:
  KeyLock() = default;
  KeyLock(KeyLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  KeyLock& operator=(KeyLock&& other) noexcept;
  KeyLock(const KeyLock&) = delete;
  KeyLock& operator=(const KeyLock&) = delete;
  ~KeyLock() { release(); }

  // Waits up to `timeout` for the lock of `key` in `lock_path` (created 0600 if absent). CacheIo when the file cannot
  // be opened; a timeout is StatusCode::CacheIo too, with a message saying so.
  static Result<KeyLock> acquire(const std::string& lock_path, const CompileKey& key,
                                 std::chrono::milliseconds timeout);

  bool held() const { return fd_ >= 0; }
  void release();

 private:
  explicit KeyLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace qjit::cache
