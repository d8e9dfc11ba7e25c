// Speed of the kernel cache's hot and warm paths, no GPU needed:
//   - warm on-disk lookup + full verification in a fresh DiskStore object (floor: <= 1 ms per kernel), for cubin
//     sizes from 16 KiB to 1 MiB (the int8 GEMM cubins are tens to a few hundred KiB);
//   - the atomic entry write (temp file, write, fsync, rename, directory fsync) -- dominated by the file system;
//   - compile-key hashing of a realistic rendered source, and in-memory entry decoding (checksum throughput).
// The store lives in a temp directory under $TMPDIR; the page cache is warm, as for a process started after another
// one used the same kernels.
#include <filesystem>
#include <stdlib.h>
#include <string>

#include <benchmark/benchmark.h>

#include "cache/disk_store.h"

namespace qjit::cache {
namespace {

std::string make_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string t = std::string(base && *base ? base : "/tmp") + "/qjit-cache-bench-XXXXXX";
  if (!::mkdtemp(t.data())) std::abort();
  return t;
}

Entry make_entry(int seed, std::size_t bytes) {
  Entry e;
  const std::string src = "extern \"C\" __global__ void k" + std::to_string(seed) + "() {}";
  e.key = make_compile_key({src, "k", "13.0", {"-arch=sm_90a"}, "sm_90a", "0.1.0"});
  e.meta = {"gemm_s8_sm90_k" + std::to_string(seed), "sm_90a", "13.0", 168, 197632, 0.45};
  e.payload.resize(bytes);
  std::uint64_t x = 88172645463325252ull + static_cast<std::uint64_t>(seed);
  for (auto& b : e.payload) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
  return e;
}

StoreOptions options(const std::string& dir) {
  StoreOptions o;
  o.writable_dir = dir;
  return o;
}

// One fresh store object per iteration, loading and verifying one kernel: what a new process pays per kernel.
void BM_WarmDiskLookupFreshStore(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const std::string dir = make_dir();
  constexpr int kKernels = 32;
  {
    auto store = *DiskStore::open(options(dir));
    for (int i = 0; i < kKernels; ++i)
      if (!store->store(make_entry(i, bytes)).ok()) std::abort();
  }
  std::vector<CompileKey> keys;
  for (int i = 0; i < kKernels; ++i) keys.push_back(make_entry(i, 1).key);
  int i = 0;
  for (auto _ : state) {
    auto store = DiskStore::open(options(dir));
    auto e = (*store)->load(keys[i++ % kKernels]);
    if (!e) state.SkipWithError("miss");
    benchmark::DoNotOptimize(e->payload.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WarmDiskLookupFreshStore)
    ->Arg(16 << 10)
    ->Arg(128 << 10)
    ->Arg(512 << 10)
    ->Arg(1 << 20)
    ->Unit(benchmark::kMicrosecond);

// A warm select path that missed the in-memory cache: get_or_create on a hit (load + verify + atime touch).
void BM_GetOrCreateHit(benchmark::State& state) {
  const std::string dir = make_dir();
  auto store = *DiskStore::open(options(dir));
  const Entry e = make_entry(1, 128 << 10);
  if (!store->store(e).ok()) std::abort();
  for (auto _ : state) {
    auto r = store->get_or_create(e.key, [] { return Result<Entry>(Status(StatusCode::NotFound, "unexpected")); });
    benchmark::DoNotOptimize(r->payload.data());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_GetOrCreateHit)->Unit(benchmark::kMicrosecond);

void BM_EntryWrite(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const std::string dir = make_dir();
  auto store = *DiskStore::open(options(dir));
  std::vector<Entry> entries;
  for (int i = 0; i < 8; ++i) entries.push_back(make_entry(i, bytes));
  int i = 0;
  for (auto _ : state)
    if (!store->store(entries[i++ % entries.size()]).ok()) state.SkipWithError("store failed");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_EntryWrite)->Arg(16 << 10)->Arg(128 << 10)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

// Rendered GEMM sources are ~10-40 KB of text.
void BM_CompileKey(benchmark::State& state) {
  std::string source;
  while (source.size() < static_cast<std::size_t>(state.range(0)))
    source += "  asm volatile(\"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, ...\");\n";
  const std::vector<std::string> opts = {"--std=c++17",       "-arch=sm_90a",      "-default-device", "--use_fast_math",
                                         "-DQJIT_TILE_M=128", "-DQJIT_TILE_N=128", "-DQJIT_STAGES=4", "-lineinfo"};
  for (auto _ : state) {
    auto k = make_compile_key({source, "qjit_gemm_s8_sm90_n4096_k4096", "13.0", opts, "sm_90a", "0.1.0"});
    benchmark::DoNotOptimize(k.digest.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * source.size()));
}
BENCHMARK(BM_CompileKey)->Arg(4 << 10)->Arg(32 << 10)->Unit(benchmark::kMicrosecond);

void BM_DecodeEntryInMemory(benchmark::State& state) {
  const Entry e = make_entry(3, static_cast<std::size_t>(state.range(0)));
  const auto bytes = encode_entry(e);
  for (auto _ : state) {
    auto d = decode_entry(bytes, &e.key);
    benchmark::DoNotOptimize(d->payload.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_DecodeEntryInMemory)->Arg(128 << 10)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace qjit::cache

BENCHMARK_MAIN();
