// The writing half of the file rules (see safe_file.h): AtomicFile (trusted directory, destination checks, an
// O_EXCL | O_NOFOLLOW temporary, fsync, rename, directory fsync, cleanup on every failure path) and the naming and
// pruning of temporaries a killed writer leaves behind.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <errno.h>
#include <fcntl.h>
#include <random>
#include <signal.h>
#include <unistd.h>

#include "llvm/Support/FormatVariadic.h"
#include "runtime/safe_file.h"

namespace qjit::runtime {
namespace {

Status fail(StatusCode code, std::string message) { return Status(code, std::move(message)); }

const char* non_regular_kind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device node";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// A destination that exists must be a regular file; a missing one is fine.
Status check_destination(const std::string& path, std::string_view what, StatusCode code, struct stat* out,
                         bool* exists) {
  *exists = ::lstat(path.c_str(), out) == 0;
  if (!*exists) {
    if (errno == ENOENT) return Status();
    return fail(code, llvm::formatv("cannot stat {0} '{1}': {2}", what, path, std::strerror(errno)).str());
  }
  if (!S_ISREG(out->st_mode))
    return fail(code, llvm::formatv("{0} '{1}' is {2}; refusing to replace it with a regular file", what, path,
                                    non_regular_kind(out->st_mode))
                          .str());
  return Status();
}

bool pid_is_dead(long pid) {
  if (pid <= 0 || pid == static_cast<long>(::getpid())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

bool parse_temp_name(std::string_view name, std::string_view* target, long* pid) {
  const std::size_t pos = name.rfind(kTempMarker);
  if (pos == std::string_view::npos) return false;
  std::string_view rest = name.substr(pos + kTempMarker.size());
  long v = 0;
  std::size_t i = 0;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && i < 10) v = v * 10 + (rest[i++] - '0');
  if (i == 0 || i >= rest.size() || rest[i] != '-' || i + 1 == rest.size()) return false;
  if (target) *target = name.substr(0, pos);
  if (pid) *pid = v;
  return true;
}

std::size_t prune_stale_temps(const std::string& dir, std::string_view target, int min_age_seconds) {
  auto names = list_directory(dir, StatusCode::CacheIo);
  if (!names) return 0;
  const std::time_t now = std::time(nullptr);
  std::size_t removed = 0;
  for (const auto& n : *names) {
    std::string_view t;
    long pid = 0;
    if (!parse_temp_name(n, &t, &pid) || (!target.empty() && t != target)) continue;
    const std::string path = dir + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || now - st.st_mtim.tv_sec <= min_age_seconds || !pid_is_dead(pid)) continue;
    if (::unlink(path.c_str()) == 0) ++removed;
  }
  return removed;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : fd_(o.fd_),
      path_(std::move(o.path_)),
      dir_(std::move(o.dir_)),
      temp_(std::move(o.temp_)),
      code_(o.code_),
      io_code_(o.io_code_),
      what_(std::move(o.what_)) {
  o.fd_ = -1;
  o.temp_.clear();
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

Result<AtomicFile> AtomicFile::create(const std::string& path, const WriteRules& rules) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..")
    return fail(rules.code, llvm::formatv("{0} path must name a file, got '{1}'", rules.what, path).str());
  const std::string dir_what = "directory of the " + rules.what;
  if (rules.create_directories) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) QJIT_TRY(make_directories(dir, dir_what, rules.code));
  }
  QJIT_TRY(check_directory(dir, rules.dir_rule, dir_what, rules.code));
  struct stat dest;
  bool exists = false;
  QJIT_TRY(check_destination(path, rules.what, rules.code, &dest, &exists));
  if (exists)
    for (const auto& input : rules.inputs) {
      struct stat in;
      if (::stat(input.c_str(), &in) == 0 && in.st_dev == dest.st_dev && in.st_ino == dest.st_ino)
        return fail(rules.code, llvm::formatv("{0} '{1}' is the same file as the input '{2}'; write it elsewhere "
                                              "(the input is read while the output is written)",
                                              rules.what, path, input)
                                    .str());
    }
  prune_stale_temps(dir, name);

  AtomicFile f;
  f.path_ = path;
  f.dir_ = dir;
  f.code_ = rules.code;
  f.io_code_ = rules.io_code;
  f.what_ = rules.what;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int err = 0;
  for (int attempt = 0; attempt < 8 && f.fd_ < 0; ++attempt) {
    char rand_hex[17];
    std::snprintf(rand_hex, sizeof(rand_hex), "%016llx", static_cast<unsigned long long>(rng()));
    f.temp_ = llvm::formatv("{0}/{1}{2}{3}-{4}", dir, name, kTempMarker, ::getpid(), rand_hex).str();
    f.fd_ = ::open(f.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, rules.mode);
    err = errno;
    if (f.fd_ < 0 && err != EEXIST) break;
  }
  if (f.fd_ < 0) {
    f.temp_.clear();
    return fail(rules.io_code, llvm::formatv("cannot create a temporary file in '{0}' for the {1}: {2}", dir,
                                             rules.what, std::strerror(err))
                                   .str());
  }
  return f;
}

Status AtomicFile::write(std::span<const std::byte> bytes) {
  if (fd_ < 0) return fail(code_, "AtomicFile::write after commit or failure");
  Status s = write_all(fd_, bytes, temp_, io_code_);
  if (!s.ok()) discard();
  return s;
}

Status AtomicFile::commit() {
  if (fd_ < 0) return fail(code_, "AtomicFile::commit after commit or failure");
  Status s;
  if (::fsync(fd_) != 0)
    s = fail(io_code_, llvm::formatv("cannot fsync '{0}': {1}", temp_, std::strerror(errno)).str());
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0 && s.ok())
    s = fail(io_code_, llvm::formatv("cannot close '{0}': {1}", temp_, std::strerror(errno)).str());
  // NOTE: the destination is checked again: it may have been replaced by a symlink or device while we wrote.
  struct stat dest;
  bool exists = false;
  if (s.ok()) s = check_destination(path_, what_, code_, &dest, &exists);
  if (s.ok() && ::rename(temp_.c_str(), path_.c_str()) != 0)
    s = fail(io_code_, llvm::formatv("cannot rename '{0}' to '{1}': {2}", temp_, path_, std::strerror(errno)).str());
  if (!s.ok()) {
    discard();
    return s;
  }
  temp_.clear();
  return fsync_directory(dir_, io_code_);
}

Status write_file_atomically(const std::string& path, std::span<const std::byte> bytes, const WriteRules& rules) {
  QJIT_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path, rules));
  QJIT_TRY(f.write(bytes));
  return f.commit();
}

Status write_file_atomically(const std::string& path, std::string_view text, const WriteRules& rules) {
  return write_file_atomically(path, std::as_bytes(std::span<const char>(text.data(), text.size())), rules);
}

}  // namespace qjit::runtime
