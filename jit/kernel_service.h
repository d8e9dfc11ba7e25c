// The JIT front: turns rendered source into a loaded kernel, through the in-memory table, the on-disk store and
// NVRTC, in that order (DESIGN.md's data flow). One service per process — kernels and modules are process
// resources — reached from jit/kernel_binding, ops/, autotune/ and the tools. Concurrent requests for one key compile once (single flight);
// across processes the disk store's per-key lock decides.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/compile_key.h"
#include "cache/disk_store.h"
#include "cache/single_flight.h"
#include "codegen/kernel_spec.h"
#include "qjit/status.h"
#include "runtime/device.h"
#include "runtime/module.h"
#include "runtime/nvrtc.h"

namespace qjit::jit {

struct CompiledKernel {
  cache::CompileKey key;
  std::shared_ptr<const cache::Entry> entry;  // payload = cubin
  bool compiled_now = false;                  // false: served by the disk store
  double seconds = 0;                         // NVRTC time when compiled_now, else lookup time
  Status not_stored;                          // compiled_now but not in the disk store: why (else ok)
};

struct KernelServiceStats {
  std::uint64_t memory_hits = 0, disk_hits = 0, compiles = 0, loads = 0;
};

class KernelService {
 public:
  static KernelService& process();

  // The cubin for `source` on `arch`: disk store, else NVRTC (then stored). Needs no GPU: `qjit warmup` uses it.
  Result<CompiledKernel> obtain(const codegen::Source& source, int arch);

  // obtain() + cuModuleLoadData into the current context, memoised per (key, context).
  Result<std::shared_ptr<const runtime::LoadedKernel>> load(const codegen::Source& source,
                                                            const runtime::DeviceInfo& device);

  KernelServiceStats stats() const;
  // The store in use (nullptr if it could not be opened: then every kernel is compiled in memory only).
  std::shared_ptr<cache::DiskStore> store();

 private:
  KernelService() = default;
  Result<cache::CompileKey> key_for(const codegen::Source& source, int arch, std::string* nvrtc_version);
  Result<CompiledKernel> compile_and_store(const codegen::Source& source, int arch, const cache::CompileKey& key,
                                           const std::string& nvrtc_version);

  std::once_flag store_once_;
  std::shared_ptr<cache::DiskStore> store_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const runtime::LoadedKernel>> loaded_;
  cache::SingleFlight<std::shared_ptr<const runtime::LoadedKernel>, std::string, std::hash<std::string>> load_flights_;
  std::atomic<std::uint64_t> memory_hits_{0}, disk_hits_{0}, compiles_{0}, loads_{0};
};

// The cache entry for a fresh NVRTC compile of `source`: names and versions, the compile time, and the resources read
// from the cubin itself (runtime/cubin_info.h): registers, and shared_bytes = the dynamic shared memory qjit
// launches it with + the cubin's static shared memory. A cubin whose resources cannot be read keeps registers = 0
// ("unknown") and logs a warning; the compile still succeeds.
cache::Entry make_cache_entry(const codegen::Source& source, int arch, const cache::CompileKey& key,
                              const std::string& nvrtc_version, runtime::CompileOutput out);

// Writes `source` (.cu), its PTX (.ptx, when kept) and cubin (.cubin) into `dir` under the source's entry name, by
// the file rules (runtime/safe_file.h): the directory must be trusted (DirRule::Shared) and an existing file of that
// name must be a regular file; each file is written atomically. Called for every compile when QJIT_DUMP_DIR is set
// (a failure is logged as a warning there; the compile itself stands).
Status dump_compile(const std::string& dir, const codegen::Source& source, const runtime::CompileOutput& out);

// The qjit version string baked into every compile key.
const char* qjit_version();

// The compile key KernelService gives `source` on `arch` when compiled by NVRTC `nvrtc_version` (same ingredients
// as obtain()/load()), for tools that look a kernel up without compiling it (`qjit inspect`).
cache::CompileKey compile_key_for(const codegen::Source& source, int arch, const std::string& nvrtc_version);
// The NVRTC versions the service probes, newest first, when NVRTC itself is absent.
const std::vector<std::string>& known_nvrtc_versions();

}  // namespace qjit::jit
