// The file I/O rules of qjit, written once and used by every reader and writer (cache entries, the cache lock,
// QJIT_DUMP_DIR dumps, the tuning database, quantize output, shapes CSV, mapping JSON, act stats, safetensors
// weights). docs/SECURITY.md says which threat each rule answers.
//
// Readers (ReadFile): open with O_RDONLY | O_NONBLOCK | O_CLOEXEC (and O_NOFOLLOW when the rules say so), fstat the
// descriptor, accept regular files only (a FIFO, device node, socket or directory is refused before one byte is
// read, so /dev/zero or a FIFO cannot exhaust memory or hang), check owner and mode when the rules ask, and check
// the size cap BEFORE reading. Data is read with pread, never mapped, so a file truncated underneath is an error,
// not SIGBUS.
//
// Writers (AtomicFile): the target's directory must be trusted (DirRule); a destination that exists must be a
// regular file and must not be the same file (st_dev, st_ino) as one of the inputs; the bytes go to a temporary
// `<name>.tmp-<pid>-<16 hex>` beside the target created with O_CREAT | O_EXCL | O_NOFOLLOW, which is fsynced and
// renamed over the target, and the directory is fsynced. The temporary is removed on any failure (and by the
// destructor if commit() never ran); temporaries older than kStaleTempSeconds whose pid is dead are pruned.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>
#include <sys/types.h>

#include "qjit/status.h"

namespace qjit::runtime {

// Whose files and directories are trusted.
enum class Owner : std::uint8_t {
  Any,       // anyone's (a file the user named on the command line)
  Me,        // the effective user's only
  MeOrRoot,  // the effective user's or root's (a prebuilt store baked into an image)
};

struct ReadRules {
  std::string what = "file";                      // names the file in messages: "tuning database", "--shapes file"
  StatusCode code = StatusCode::InvalidArgument;  // code of refusals and I/O errors (NotFound when absent)
  std::uint64_t max_bytes = 0;  // refuse larger files before reading; 0 = no cap (streamed readers only)
  bool follow_symlinks = true;  // false: O_NOFOLLOW, a symlink as the last component is refused
  Owner owner = Owner::Any;
  bool refuse_foreign_write = false;  // refuse a file group or others may write
  bool no_atime = false;              // O_NOATIME where permitted (looking is not using: the cache orders LRU by atime)
};

// Why ReadFile::open failed, for callers that treat kinds differently (the cache deletes refused entries).
enum class ReadProblem : std::uint8_t { None, Missing, Refused, Io };

class ReadFile {
 public:
  // NotFound when the path does not exist; rules.code otherwise, naming the path, what was found and expected.
  static Result<ReadFile> open(const std::string& path, const ReadRules& rules, ReadProblem* problem = nullptr);

  ReadFile(ReadFile&& other) noexcept;
  ReadFile& operator=(ReadFile&& other) noexcept;
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;
  ~ReadFile();

  int fd() const { return fd_; }
  std::uint64_t size() const { return static_cast<std::uint64_t>(st_.st_size); }
  const struct stat& stat() const { return st_; }
  const std::string& path() const { return path_; }

  // Exactly out.size() bytes at `offset`; an error when the file ends first (it shrank after open).
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const;
  // The whole file as fstat saw it; an error when it changed size while being read.
  Result<std::vector<std::byte>> read_all() const;
  Status read_all(std::vector<std::uint8_t>& out) const;

 private:
  ReadFile(int fd, std::string path, const struct stat& st, StatusCode code);
  int fd_ = -1;
  std::string path_;
  struct stat st_ {};
  StatusCode code_ = StatusCode::InvalidArgument;
};

// open() + read_all() as text, for the small files parsers take (rules.max_bytes must be set).
Result<std::string> read_text_file(const std::string& path, const ReadRules& rules);

// Owner and mode check of an opened file (what ReadFile::open applies), for callers holding a stat already.
Status check_file_stat(const struct stat& st, const std::string& path, const ReadRules& rules);

// Which directories a writer may create files in.
enum class DirRule : std::uint8_t {
  // Owned by the effective user, writable by no one else (the kernel cache: its files are executable code).
  Private,
  // Owned by the effective user or root, writable by no one else (a read-only store baked into an image).
  PrivateOrRoot,
  // Owned by the effective user or root; writable by group or others only with the sticky bit (like /tmp), so no
  // other user can rename or delete what qjit writes there.
  Shared,
};

// The directory rule applied to `dir` (stat follows a symlink; a symlinked directory must itself be owned by the
// effective user or root, or anyone who could plant the link could point qjit's writes anywhere).
Status check_directory(const std::string& dir, DirRule rule, std::string_view what, StatusCode code);
// mkdir -p with mode 0700 for every directory it creates.
Status make_directories(const std::string& dir, std::string_view what, StatusCode code);

struct WriteRules {
  std::string what = "file";
  StatusCode code = StatusCode::InvalidArgument;  // the path breaks a rule (a symlink, another's directory, an input)
  StatusCode io_code = StatusCode::CacheIo;       // the file system failed: creating, writing, fsyncing or renaming
  mode_t mode = 0644;                             // of the new file (before the umask)
  DirRule dir_rule = DirRule::Shared;
  bool create_directories = false;  // create the parent (0700) when missing
  std::vector<std::string> inputs;  // files being read to make this one: the target must be none of them
};

inline constexpr int kStaleTempSeconds = 600;
inline constexpr std::string_view kTempMarker = ".tmp-";

class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path, const WriteRules& rules);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary unless commit() succeeded

  Status write(std::span<const std::byte> bytes);
  // fsync, close, re-check the destination, rename over it, fsync the directory. The temporary is gone afterwards
  // whether or not it succeeded.
  Status commit();
  const std::string& temp_path() const { return temp_; }

 private:
  AtomicFile() = default;
  void discard();
  int fd_ = -1;
  std::string path_, dir_, temp_;
  StatusCode code_ = StatusCode::InvalidArgument;
  StatusCode io_code_ = StatusCode::CacheIo;
  std::string what_;
};

Status write_file_atomically(const std::string& path, std::span<const std::byte> bytes, const WriteRules& rules);
Status write_file_atomically(const std::string& path, std::string_view text, const WriteRules& rules);

// "<target>.tmp-<pid>-<rest>": true with the pid when `name` is a temporary of this module (or the cache's older
// ".tmp-<pid>-..." names, whose target part is empty).
bool parse_temp_name(std::string_view name, std::string_view* target, long* pid);
// Removes the temporaries in `dir` (of `target` only, when not empty) older than `min_age_seconds` whose writer pid
// no longer exists; returns how many were removed.
std::size_t prune_stale_temps(const std::string& dir, std::string_view target = {},
                              int min_age_seconds = kStaleTempSeconds);

// Lock files (the cache's per-key lock, the tuning database's update lock): opened with O_RDWR | O_CREAT |
// O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC (mode 0600 when created) and accepted only as a regular file the effective
// user owns, so a planted symlink or FIFO can neither redirect the O_CREAT nor hang the open. Locks are OFD byte
// locks (F_OFD_SETLK): they belong to the open file, separate threads too, and vanish when the holder dies.
Result<int> open_lock_file(const std::string& path, std::string_view what, StatusCode code);
// Write-locks byte `offset` of `fd`, polling until `timeout`; `*timed_out` says whether the wait ran out.
Status lock_byte(int fd, off_t offset, std::chrono::milliseconds timeout, const std::string& path, StatusCode code,
                 bool* timed_out);

// An exclusive whole-resource lock on `<path>` (byte 0 of the lock file), released when destroyed.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::string& path, std::chrono::milliseconds timeout, std::string_view what,
                                  StatusCode code);
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Low-level pieces the store and the writers share, each retrying EINTR and short transfers.
Status write_all(int fd, std::span<const std::byte> bytes, const std::string& path, StatusCode code);
// Makes a rename in `dir` durable (EINVAL/EROFS from file systems that cannot fsync a directory are not errors).
Status fsync_directory(const std::string& dir, StatusCode code);
// The names in `dir` (no "." or ".."); an empty list when it does not exist.
Result<std::vector<std::string>> list_directory(const std::string& dir, StatusCode code);
// "0755"
std::string octal_mode(mode_t mode);

}  // namespace qjit::runtime
