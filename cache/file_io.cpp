// POSIX helpers for the store (see file_io.h).
#include "cache/file_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "cache/disk_store.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::cache {
namespace {

Status io_error(std::string_view what, const std::string& path, int err) {
  return Status(StatusCode::CacheIo, llvm::formatv("{0} '{1}': {2}", what, path, std::strerror(err)).str());
}

}  // namespace

Status read_at(int fd, std::uint64_t offset, std::size_t n, const std::string& path, std::uint8_t* out) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read cache entry", path, errno);
    }
    if (r == 0)
      return Status(StatusCode::CacheIo,
                    llvm::formatv("cache entry '{0}' ended after {1} bytes, expected {2}", path, offset + done,
                                  offset + n).str());
    done += static_cast<std::size_t>(r);
  }
  return Status();
}

Status read_whole_file(int fd, std::uint64_t size, const std::string& path, std::vector<std::uint8_t>& out) {
  // NOTE: one spare byte detects a file that grew after fstat without a second syscall on the common path.
  out.resize(size + 1);
  std::size_t done = 0;
  for (;;) {
    const ssize_t r = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read cache entry", path, errno);
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
    if (done == out.size()) break;
  }
  if (done != size)
    return Status(StatusCode::CacheIo,
                  llvm::formatv("cache entry '{0}' changed size while being read ({1} then {2}{3} bytes)", path, size,
                                done, done > size ? "+" : "").str());
  out.resize(size);
  return Status();
}

Status write_all(int fd, const std::uint8_t* data, std::size_t n, const std::string& path) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(fd, data + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write cache file", path, errno);
    }
    done += static_cast<std::size_t>(w);
  }
  return Status();
}

Status fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open cache directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // NOTE: some file systems (certain FUSE and network mounts) reject fsync on a directory; the rename itself is
  // still atomic there, only its durability across a power cut is weaker, so EINVAL is not a failure.
  if (rc != 0 && err != EINVAL && err != EROFS) return io_error("cannot fsync cache directory", dir, err);
  return Status();
}

Result<std::vector<std::string>> list_directory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return names;
    return io_error("cannot list cache directory", dir, errno);
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

std::optional<CompileKey> key_from_entry_name(std::string_view name) {
  if (name.size() != CompileKey::kSize * 2 + kEntrySuffix.size() || !name.ends_with(kEntrySuffix)) return std::nullopt;
  auto key = CompileKey::from_hex(name.substr(0, CompileKey::kSize * 2));
  // NOTE: only the canonical lower-case spelling is an entry, so one key never has two files.
  if (key && key->hex() != name.substr(0, CompileKey::kSize * 2)) return std::nullopt;
  return key;
}

}  // namespace qjit::cache
