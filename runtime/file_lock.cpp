// Lock files by the file rules (see safe_file.h): the checked open, the polling OFD byte lock (F_OFD_SETLKW has no
// timeout of its own) and FileLock, the whole-file lock read-modify-write updates take.
#include <cstring>
#include <errno.h>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

#include "llvm/Support/FormatVariadic.h"
#include "runtime/safe_file.h"

namespace qjit::runtime {

Result<int> open_lock_file(const std::string& path, std::string_view what, StatusCode code) {
  int fd;
  do fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return Status(code, llvm::formatv("cannot open {0} '{1}': {2}{3}", what, path, std::strerror(errno),
                                      errno == ELOOP ? " (it is a symbolic link)" : "")
                            .str());
  struct stat st;
  ReadRules rules;
  rules.what = std::string(what);
  rules.code = code;
  rules.owner = Owner::Me;
  rules.refuse_foreign_write = true;
  Status s = ::fstat(fd, &st) == 0
                 ? check_file_stat(st, path, rules)
                 : Status(code, llvm::formatv("cannot stat {0} '{1}': {2}", what, path, std::strerror(errno)).str());
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  return fd;
}

Status lock_byte(int fd, off_t offset, std::chrono::milliseconds timeout, const std::string& path, StatusCode code,
                 bool* timed_out) {
  *timed_out = false;
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = offset;
  fl.l_len = 1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return Status();
    if (errno != EAGAIN && errno != EACCES && errno != EINTR)
      return Status(code, llvm::formatv("cannot lock '{0}': {1}", path, std::strerror(errno)).str());
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      *timed_out = true;
      return Status(code,
                    llvm::formatv("timed out after {0} ms waiting for the lock '{1}'", timeout.count(), path).str());
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

Result<FileLock> FileLock::acquire(const std::string& path, std::chrono::milliseconds timeout, std::string_view what,
                                   StatusCode code) {
  QJIT_ASSIGN_OR_RETURN(int fd, open_lock_file(path, what, code));
  FileLock lock(fd);
  bool timed_out = false;
  QJIT_TRY(lock_byte(fd, 0, timeout, path, code, &timed_out));
  return lock;
}

FileLock::~FileLock() {
  // NOTE: closing the descriptor drops the OFD lock; no explicit F_UNLCK needed.
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace qjit::runtime
