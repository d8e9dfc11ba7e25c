// Implementation of the cache test helpers (see cache_test_util.h).
#include "tests/support/cache_test_util.h"

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "runtime/log.h"
#include "runtime/safe_file.h"

namespace qjit::cache::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/qjit-cache-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests chmod things to provoke refusals; make everything removable again first.
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
  std::filesystem::remove_all(path_, ec);
}

CompileKey test_key(int seed) {
  const std::string source = "extern \"C\" __global__ void k" + std::to_string(seed) + "() {}";
  const std::string name = "k" + std::to_string(seed);
  return make_compile_key({source, name, "13.0", {"--std=c++17", "-arch=sm_90a"}, "sm_90a", "0.1.0"});
}

std::vector<std::uint8_t> test_payload(int seed, std::size_t size) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(seed + 1);
  if (size == 0) size = 1024 + (x >> 40) % (63 * 1024);
  std::vector<std::uint8_t> p(size);
  for (auto& b : p) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
  return p;
}

Entry test_entry(int seed, std::size_t payload_size) {
  Entry e;
  e.key = test_key(seed);
  e.meta.entry_name = "k" + std::to_string(seed);
  e.meta.arch = "sm_90a";
  e.meta.nvrtc_version = "13.0";
  e.meta.registers = 32 + seed % 200;
  e.meta.shared_bytes = 1024 * (seed % 100);
  e.meta.compile_seconds = 0.25 + seed * 0.001;
  e.payload = test_payload(seed, payload_size);
  return e;
}

void use_only_cache_dir(const std::string& dir) {
  ::setenv("QJIT_CACHE_DIR", dir.c_str(), 1);
  ::unsetenv("QJIT_CACHE_PATH");
  ::unsetenv("QJIT_CACHE_READONLY");
}

StoreOptions writable_options(const std::string& dir) {
  StoreOptions o;
  o.writable_dir = dir;
  return o;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes, unsigned mode) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ::fchmod(fd, mode);  // past the umask
  ::close(fd);
}

std::vector<std::string> temp_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& n : names_with_prefix(dir, ""))
    if (runtime::parse_temp_name(n, nullptr, nullptr)) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

long dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return static_cast<long>(pid);
}

std::vector<std::string> names_with_prefix(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::string_view(e->d_name).starts_with(prefix)) out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

LogCapture::LogCapture() {
  log::set_level_for_testing(log::Level::Warn);
  ::testing::internal::CaptureStderr();
}

LogCapture::~LogCapture() {
  if (active_) finish();
}

std::string LogCapture::finish() {
  active_ = false;
  return ::testing::internal::GetCapturedStderr();
}

}  // namespace qjit::cache::testing
