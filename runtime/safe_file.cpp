// The reading half of the file rules (see safe_file.h): ReadFile, the owner/mode checks every reader and writer
// shares, the directory rule, and the small POSIX helpers (full writes, directory fsync, listing).
#include "runtime/safe_file.h"

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "llvm/Support/FormatVariadic.h"

namespace qjit::runtime {
namespace {

constexpr mode_t kForeignWrite = S_IWGRP | S_IWOTH;

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

bool owner_ok(uid_t uid, Owner rule) {
  switch (rule) {
    case Owner::Any: return true;
    case Owner::Me: return uid == ::geteuid();
    case Owner::MeOrRoot: return uid == ::geteuid() || uid == 0;
  }
  return false;
}

std::string expected_owner(Owner rule) {
  const std::string me = llvm::formatv("uid {0}", ::geteuid()).str();
  return rule == Owner::MeOrRoot ? me + " or root" : me;
}

Status fail(StatusCode code, std::string message) { return Status(code, std::move(message)); }

}  // namespace

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status check_file_stat(const struct stat& st, const std::string& path, const ReadRules& rules) {
  if (!S_ISREG(st.st_mode))
    return fail(
        rules.code,
        llvm::formatv("{0} '{1}' is {2}; expected a regular file", rules.what, path, kind_of(st.st_mode)).str());
  if (!owner_ok(st.st_uid, rules.owner))
    return fail(rules.code, llvm::formatv("{0} '{1}' is owned by uid {2}, expected {3}; refusing to read it",
                                          rules.what, path, st.st_uid, expected_owner(rules.owner))
                                .str());
  if (rules.refuse_foreign_write && (st.st_mode & kForeignWrite))
    return fail(rules.code, llvm::formatv("{0} '{1}' is writable by group or others (mode {2}); refusing to read "
                                          "it (run 'chmod go-w {1}')",
                                          rules.what, path, octal_mode(st.st_mode))
                                .str());
  return Status();
}

ReadFile::ReadFile(int fd, std::string path, const struct stat& st, StatusCode code)
    : fd_(fd), path_(std::move(path)), st_(st), code_(code) {}

ReadFile::ReadFile(ReadFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)), st_(o.st_), code_(o.code_) {
  o.fd_ = -1;
}

ReadFile& ReadFile::operator=(ReadFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    st_ = o.st_;
    code_ = o.code_;
    o.fd_ = -1;
  }
  return *this;
}

ReadFile::~ReadFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<ReadFile> ReadFile::open(const std::string& path, const ReadRules& rules, ReadProblem* problem) {
  auto report = [&](ReadProblem p, Status s) -> Result<ReadFile> {
    if (problem) *problem = p;
    return s;
  };
  if (path.empty()) return report(ReadProblem::Missing, fail(rules.code, rules.what + " path must not be empty"));
  // NOTE: O_NONBLOCK so that opening a FIFO does not wait for a writer; fstat then refuses it.
  const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | (rules.follow_symlinks ? 0 : O_NOFOLLOW);
  int fd;
  do fd = ::open(path.c_str(), flags | (rules.no_atime ? O_NOATIME : 0));
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && errno == EPERM && rules.no_atime) {  // O_NOATIME needs ownership; someone else's file is read plainly
    do fd = ::open(path.c_str(), flags);
    while (fd < 0 && errno == EINTR);
  }
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      return report(ReadProblem::Missing,
                    Status(StatusCode::NotFound, llvm::formatv("{0} '{1}' does not exist", rules.what, path).str()));
    if (err == ELOOP && !rules.follow_symlinks)
      return report(
          ReadProblem::Refused,
          fail(rules.code,
               llvm::formatv("{0} '{1}' is a symbolic link; expected a regular file", rules.what, path).str()));
    return report(
        ReadProblem::Io,
        fail(rules.code, llvm::formatv("cannot open {0} '{1}': {2}", rules.what, path, std::strerror(err)).str()));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return report(
        ReadProblem::Io,
        fail(rules.code, llvm::formatv("cannot stat {0} '{1}': {2}", rules.what, path, std::strerror(err)).str()));
  }
  ReadFile file(fd, path, st, rules.code);
  if (Status s = check_file_stat(st, path, rules); !s.ok()) return report(ReadProblem::Refused, s);
  if (rules.max_bytes > 0 && file.size() > rules.max_bytes)
    return report(ReadProblem::Refused, fail(rules.code, llvm::formatv("{0} '{1}' is {2} bytes; expected at most {3}",
                                                                       rules.what, path, file.size(), rules.max_bytes)
                                                             .str()));
  // Reads block from here on (a regular file never makes them wait, and EAGAIN would only confuse the loops).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (problem) *problem = ReadProblem::None;
  return file;
}

Status ReadFile::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t r = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail(code_, llvm::formatv("cannot read '{0}': {1}", path_, std::strerror(errno)).str());
    }
    if (r == 0)
      return fail(code_, llvm::formatv("'{0}' ended after {1} bytes, expected at least {2} (was it truncated while "
                                       "being read?)",
                                       path_, offset + done, offset + out.size())
                             .str());
    done += static_cast<std::size_t>(r);
  }
  return Status();
}

namespace {

template <class Byte>
Status read_whole(int fd, std::uint64_t size, const std::string& path, StatusCode code, std::vector<Byte>& out) {
  // NOTE: one spare byte detects a file that grew after fstat without a second syscall on the common path.
  out.resize(size + 1);
  std::size_t done = 0;
  for (;;) {
    const ssize_t r = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail(code, llvm::formatv("cannot read '{0}': {1}", path, std::strerror(errno)).str());
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
    if (done == out.size()) break;
  }
  if (done != size)
    return fail(code, llvm::formatv("'{0}' changed size while being read ({1} then {2}{3} bytes)", path, size, done,
                                    done > size ? "+" : "")
                          .str());
  out.resize(done);
  return Status();
}

}  // namespace

Result<std::vector<std::byte>> ReadFile::read_all() const {
  std::vector<std::byte> out;
  QJIT_TRY(read_whole(fd_, size(), path_, code_, out));
  return out;
}

Status ReadFile::read_all(std::vector<std::uint8_t>& out) const { return read_whole(fd_, size(), path_, code_, out); }

Result<std::string> read_text_file(const std::string& path, const ReadRules& rules) {
  if (rules.max_bytes == 0) return fail(StatusCode::InvalidArgument, "read_text_file needs ReadRules.max_bytes > 0");
  QJIT_ASSIGN_OR_RETURN(ReadFile file, ReadFile::open(path, rules));
  QJIT_ASSIGN_OR_RETURN(auto bytes, file.read_all());
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Status check_directory(const std::string& dir, DirRule rule, std::string_view what, StatusCode code) {
  struct stat lst, st;
  if (::lstat(dir.c_str(), &lst) != 0)
    return fail(code, llvm::formatv("cannot stat {0} '{1}': {2}", what, dir, std::strerror(errno)).str());
  if (S_ISLNK(lst.st_mode) && !owner_ok(lst.st_uid, Owner::MeOrRoot))
    return fail(code, llvm::formatv("{0} '{1}' is a symbolic link owned by uid {2}, expected {3}: whoever owns the "
                                    "link decides where qjit writes; refusing it",
                                    what, dir, lst.st_uid, expected_owner(Owner::MeOrRoot))
                          .str());
  if (::stat(dir.c_str(), &st) != 0)
    return fail(code, llvm::formatv("cannot stat {0} '{1}': {2}", what, dir, std::strerror(errno)).str());
  if (!S_ISDIR(st.st_mode)) return fail(code, llvm::formatv("{0} '{1}' is not a directory", what, dir).str());
  const Owner owner = rule == DirRule::Private ? Owner::Me : Owner::MeOrRoot;
  const bool sticky_ok = rule == DirRule::Shared;
  if (!owner_ok(st.st_uid, owner))
    return fail(code, llvm::formatv("{0} '{1}' is owned by uid {2}, expected {3}: its owner could replace what qjit "
                                    "writes there; chown it or use another directory",
                                    what, dir, st.st_uid, expected_owner(owner))
                          .str());
  if (st.st_mode & kForeignWrite) {
    if (!sticky_ok)
      return fail(code, llvm::formatv("{0} '{1}' is writable by group or others (mode {2}); qjit refuses it: run "
                                      "'chmod go-w {1}' or use a private directory",
                                      what, dir, octal_mode(st.st_mode))
                            .str());
    if (!(st.st_mode & S_ISVTX))
      return fail(code, llvm::formatv("{0} '{1}' is writable by group or others without the sticky bit (mode {2}): "
                                      "another user could plant or swap files there; run 'chmod go-w {1}' (or "
                                      "'chmod +t {1}') or use another directory",
                                      what, dir, octal_mode(st.st_mode))
                            .str());
  }
  return Status();
}

Status make_directories(const std::string& dir, std::string_view what, StatusCode code) {
  if (dir.empty()) return fail(code, std::string(what) + " path is empty");
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    const std::string prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return fail(code, llvm::formatv("cannot create {0} '{1}': {2}", what, prefix, std::strerror(errno)).str());
  }
  return Status();
}

Status write_all(int fd, std::span<const std::byte> bytes, const std::string& path, StatusCode code) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t chunk = std::min<std::size_t>(bytes.size() - done, std::size_t{1} << 30);
    const ssize_t w = ::write(fd, bytes.data() + done, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(code, llvm::formatv("cannot write '{0}': {1}", path, std::strerror(errno)).str());
    }
    done += static_cast<std::size_t>(w);
  }
  return Status();
}

Status fsync_directory(const std::string& dir, StatusCode code) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(code, llvm::formatv("cannot open directory '{0}': {1}", dir, std::strerror(errno)).str());
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // NOTE: some file systems (certain FUSE and network mounts) reject fsync on a directory; the rename itself is
  // still atomic there, only its durability across a power cut is weaker, so EINVAL is not a failure.
  if (rc != 0 && err != EINVAL && err != EROFS)
    return fail(code, llvm::formatv("cannot fsync directory '{0}': {1}", dir, std::strerror(err)).str());
  return Status();
}

Result<std::vector<std::string>> list_directory(const std::string& dir, StatusCode code) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return names;
    return fail(code, llvm::formatv("cannot list directory '{0}': {1}", dir, std::strerror(errno)).str());
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

}  // namespace qjit::runtime
