// Helpers for the cache tests: a private temporary directory removed afterwards, deterministic entries whose payload
// is a pure function of a seed (so any process can recompute and check what a file should hold), raw file access
// for corrupting entries on purpose, and capture of the QJIT_LOG stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cache/disk_store.h"
#include "cache/entry_format.h"

namespace qjit::cache::testing {

// mkdtemp under $TMPDIR (default /tmp), mode 0700; removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The compile key of test kernel number `seed`, built through make_compile_key like the plan layer does.
CompileKey test_key(int seed);
// A distinct, deterministic payload for `seed` of `size` bytes (0: a size between 1 KiB and 64 KiB picked by seed).
std::vector<std::uint8_t> test_payload(int seed, std::size_t size = 0);
// Entry for test kernel `seed` with metadata that names it.
Entry test_entry(int seed, std::size_t payload_size = 0);

StoreOptions writable_options(const std::string& dir);
// Points this process's kernel cache at `dir` alone (QJIT_CACHE_DIR; no QJIT_CACHE_PATH, not read-only): for a child
// process, since the kernel service reads the environment once per process.
void use_only_cache_dir(const std::string& dir);

std::vector<std::uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes, unsigned mode = 0600);
// The names in `dir` that start with `prefix`.
std::vector<std::string> names_with_prefix(const std::string& dir, const std::string& prefix);
// The temporaries in `dir` (names runtime::parse_temp_name accepts: "<name>.tmp-<pid>-<hex>").
std::vector<std::string> temp_files(const std::string& dir);
// The pid of a process that has exited and been reaped (for temporaries whose writer is dead).
long dead_pid();

// Captures what QJIT_LOG writes (stderr) at warn level or more verbose while alive.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  std::string finish();  // stops capturing and returns the text

 private:
  bool active_ = true;
};

}  // namespace qjit::cache::testing
