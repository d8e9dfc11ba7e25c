// Concurrency and crash safety across processes: 8 processes racing through the same 20 kernels from a cold store
// compile each once (the per-key lock) and leave only verified entries; a writer SIGKILLed at random points hundreds
// of times never leaves a torn or wrong entry behind; the key lock dies with its holder and its wait is bounded.
// Children are forked and report through their exit status; they never touch GoogleTest state.
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <signal.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "cache/disk_store.h"
#include "cache/key_lock.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

using testing::TempDir;
using testing::test_entry;
using testing::test_key;

constexpr int kProcesses = 8;
constexpr int kKeys = 20;

// Child side of the multi-process test: wait for the start signal, then get_or_create every key.
[[noreturn]] void racer(const std::string& dir, const std::string& counts, int go_fd, int index) {
  char go;
  if (::read(go_fd, &go, 1) != 1) ::_exit(20);
  auto store = DiskStore::open(testing::writable_options(dir));
  if (!store) ::_exit(21);
  for (int j = 0; j < kKeys; ++j) {
    const int k = (j + index * 3) % kKeys;  // overlapping but different orders
    auto r = (*store)->get_or_create(test_key(k), [&]() -> Result<Entry> {
      const int fd = ::open(counts.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
      const std::string line = std::to_string(k) + "\n";
      if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(22);
      ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));  // a compile takes time: widen the race
      return test_entry(k);
    });
    if (!r || r->payload != test_entry(k).payload || r->meta.entry_name != "k" + std::to_string(k)) ::_exit(23);
  }
  ::_exit(0);
}

TEST(CacheConcurrencyTest, EightProcessesTwentyKeysColdStoreCompileEachOnce) {
  TempDir tmp;
  const std::string dir = tmp.sub("store"), counts = tmp.sub("compiles.log");
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      racer(dir, counts, go[0], i);
    }
    pids.push_back(pid);
  }
  ::close(go[0]);
  const std::string start(kProcesses, 'g');
  ASSERT_EQ(::write(go[1], start.data(), start.size()), kProcesses);  // release all at once
  ::close(go[1]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit status " << status;
  }
  std::vector<int> per_key(kKeys, 0);
  int total = 0;
  std::ifstream in(counts);
  for (int k; in >> k;) {
    ASSERT_TRUE(k >= 0 && k < kKeys);
    ++per_key[k];
    ++total;
  }
  std::printf("[ compiles ] %d processes x %d keys from a cold store: %d compiles\n", kProcesses, kKeys, total);
  RecordProperty("compiles", total);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(per_key[k], 1) << "key " << k << " compiled " << per_key[k] << " times";
  EXPECT_EQ(total, kKeys);

  auto store = *DiskStore::open(testing::writable_options(dir));
  auto v = store->verify();
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), static_cast<std::size_t>(kKeys));
  for (const auto& r : *v) EXPECT_TRUE(r.ok) << r.path << ": " << r.problem;
  EXPECT_TRUE(testing::temp_files(dir).empty());
}

// The payload of fault-injection kernel `seed`: 16 KiB to 256 KiB, so a kill often lands inside a write.
Entry big_entry(int seed) { return test_entry(seed, static_cast<std::size_t>(seed + 1) * 16384); }

TEST(CacheConcurrencyTest, WriterKilledAtRandomPointsNeverLeavesATornEntry) {
  TempDir tmp;
  const std::string dir = tmp.sub("store");
  ASSERT_TRUE(DiskStore::open(testing::writable_options(dir)).has_value());
  constexpr int kIterations = 250, kSeeds = 16;
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_us(0, 6000);
  int served = 0;
  for (int it = 0; it < kIterations; ++it) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = DiskStore::open(testing::writable_options(dir));
      if (!store) ::_exit(30);
      for (int i = it;; ++i) (void)(*store)->store(big_entry(i % kSeeds));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own with status " << status;
    // Whatever is on disk now is either absent or whole and correct.
    auto store = *DiskStore::open(testing::writable_options(dir));
    for (int s = 0; s < kSeeds; ++s) {
      auto r = store->load(test_key(s));
      if (!r) {
        ASSERT_EQ(r.error().code(), StatusCode::NotFound);
        continue;
      }
      ++served;
      ASSERT_EQ(r->payload, big_entry(s).payload) << "iteration " << it << " seed " << s;
    }
    ASSERT_EQ(store->counters().bad_entries, 0u) << "iteration " << it << " found a torn entry";
  }
  auto store = *DiskStore::open(testing::writable_options(dir));
  auto v = store->verify();
  ASSERT_TRUE(v.has_value());
  for (const auto& r : *v) EXPECT_TRUE(r.ok) << r.path << ": " << r.problem;
  const auto temps = testing::temp_files(dir);
  std::printf("[ faults   ] %d SIGKILLs: %zu entries verify, %d verified loads, %zu leftover temp files\n", kIterations,
              v->size(), served, temps.size());
  EXPECT_GT(v->size(), 0u) << "the writer never finished an entry: the test did not exercise anything";
  EXPECT_GT(temps.size(), 0u) << "no kill landed inside a write: the test did not exercise torn writes";
  // Leftover temps are never served (not entry names) and clear removes them.
  auto cleared = store->clear();
  ASSERT_TRUE(cleared.has_value());
  EXPECT_EQ(cleared->removed_temp_files, temps.size());
}

TEST(CacheConcurrencyTest, KeyLockWaitIsBoundedAndDiesWithItsHolder) {
  TempDir tmp;
  const std::string lock_path = tmp.sub(".lock");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto lock = KeyLock::acquire(lock_path, test_key(1), std::chrono::milliseconds(1000));
    if (!lock) ::_exit(40);
    (void)::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const auto t0 = std::chrono::steady_clock::now();
  auto blocked = KeyLock::acquire(lock_path, test_key(1), std::chrono::milliseconds(150));
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(blocked.has_value());
  EXPECT_NE(blocked.error().message().find("timed out after 150 ms"), std::string::npos) << blocked.error().message();
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_LT(waited, std::chrono::milliseconds(1000));
  // Another key is not blocked by it.
  EXPECT_TRUE(KeyLock::acquire(lock_path, test_key(2), std::chrono::milliseconds(0)).has_value());
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  auto after = KeyLock::acquire(lock_path, test_key(1), std::chrono::milliseconds(1000));
  EXPECT_TRUE(after.has_value()) << "a SIGKILLed holder's lock must be released";
}

TEST(CacheConcurrencyTest, LockTimeoutCompilesAnywayInsteadOfHanging) {
  TempDir tmp;
  StoreOptions o = testing::writable_options(tmp.path());
  o.lock_timeout = std::chrono::milliseconds(50);
  auto store = *DiskStore::open(o);
  // Another "process" (an independent open file description) holds the key's lock and never finishes.
  auto held = KeyLock::acquire(tmp.sub(".lock"), test_key(3), std::chrono::milliseconds(0));
  ASSERT_TRUE(held.has_value());
  testing::LogCapture log;
  auto r = store->get_or_create(test_key(3), [] { return Result<Entry>(test_entry(3)); });
  const std::string logged = log.finish();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(store->counters().lock_timeouts, 1u);
  EXPECT_NE(logged.find("compiling without the lock"), std::string::npos) << logged;
  EXPECT_TRUE(store->load(test_key(3)).has_value()) << "the result is still stored";
}

TEST(CacheConcurrencyTest, ThreadsOfOneProcessShareOneStore) {
  TempDir tmp;
  auto store = *DiskStore::open(testing::writable_options(tmp.path()));
  std::atomic<int> compiles{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 10; ++k) {
        auto r = store->get_or_create(test_key((k + t) % 10), [&, k, t]() -> Result<Entry> {
          ++compiles;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          return test_entry((k + t) % 10);
        });
        ASSERT_TRUE(r.has_value());
        ASSERT_EQ(r->payload, test_entry((k + t) % 10).payload);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(compiles.load(), 10) << "the per-key lock also separates threads (OFD locks)";
}

}  // namespace
}  // namespace qjit::cache
