// KeyLock: byte-range OFD locks with a polling timeout (F_OFD_SETLKW has no timeout of its own).
#include "cache/key_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "llvm/Support/FormatVariadic.h"

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
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return Status(StatusCode::CacheIo,
                  llvm::formatv("cannot open cache lock file '{0}': {1}", lock_path, std::strerror(errno)).str());
  KeyLock lock(fd);
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = lock_offset(key);
  fl.l_len = 1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return lock;
    if (errno != EAGAIN && errno != EACCES && errno != EINTR)
      return Status(StatusCode::CacheIo, llvm::formatv("cannot lock '{0}' for key {1}: {2}", lock_path, key.hex(),
                                                       std::strerror(errno)).str());
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return Status(StatusCode::CacheIo,
                    llvm::formatv("timed out after {0} ms waiting for another process compiling key {1} "
                                  "(lock '{2}'); QJIT_CACHE_LOCK_TIMEOUT_MS sets the wait",
                                  timeout.count(), key.hex(), lock_path).str());
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

}  // namespace qjit::cache
