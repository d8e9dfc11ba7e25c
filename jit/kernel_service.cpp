// KernelService: compile keys, the disk store, NVRTC, QJIT_DUMP_DIR, and module loading.
#include "jit/kernel_service.h"

#include <chrono>
#include <cstdlib>

#include "runtime/cubin_info.h"
#include "runtime/env.h"
#include "runtime/log.h"
#include "runtime/nvrtc.h"
#include "runtime/safe_file.h"

namespace qjit::jit {
namespace {

// NVRTC versions probed (newest first) when NVRTC itself is absent, so a warm cache built by any of them is found.
// NOTE: the version is part of the key (a newer compiler may emit different code), so without NVRTC we cannot
// know it; a handful of stat() calls at select time is the price of serving a prebuilt cache.
const std::vector<std::string>& probe_versions() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> out;
    for (int major = 13; major >= 12; --major)
      for (int minor = 9; minor >= 0; --minor) out.push_back(std::to_string(major) + "." + std::to_string(minor));
    return out;
  }();
  return v;
}

}  // namespace

Status dump_compile(const std::string& dir, const codegen::Source& source, const runtime::CompileOutput& out) {
  // NOTE: the dump directory is often shared scratch space (/tmp/dumps), and a compile may run as root: the file
  // rules (runtime/safe_file.h) refuse a directory another user controls and never write through a symlink planted
  // under an entry's name, so a dump can only ever create or replace qjit's own regular files.
  const runtime::WriteRules rules{.what = "QJIT_DUMP_DIR file",
                                  .code = StatusCode::InvalidArgument,
                                  .mode = 0600,
                                  .dir_rule = runtime::DirRule::Shared,
                                  .create_directories = true};
  auto write = [&](const char* ext, std::string_view bytes) {
    return runtime::write_file_atomically(dir + "/" + source.entry + ext, bytes, rules);
  };
  QJIT_TRY(write(".cu", source.text));
  if (!out.ptx.empty()) QJIT_TRY(write(".ptx", out.ptx));
  QJIT_TRY(write(".cubin", std::string_view(reinterpret_cast<const char*>(out.cubin.data()), out.cubin.size())));
  QJIT_LOG_INFO("jit", "dumped {0}.cu/.ptx/.cubin to {1} (SASS: cuobjdump -sass {0}.cubin)", source.entry, dir);
  return Status();
}

const char* qjit_version() { return QJIT_VERSION_STRING; }

KernelService& KernelService::process() {
  // NOTE: deliberately leaked: modules must outlive every plan, including plans in static storage of the engine.
  static KernelService* service = new KernelService();
  return *service;
}

std::shared_ptr<cache::DiskStore> KernelService::store() {
  std::call_once(store_once_, [this] {
    auto options = cache::options_from_environment();
    if (!options.has_value()) {
      QJIT_LOG_WARN("jit", "kernel cache disabled: {0}", options.error().to_string());
      return;
    }
    auto opened = cache::DiskStore::open(std::move(options).value());
    if (!opened.has_value()) {
      QJIT_LOG_WARN("jit", "kernel cache disabled: {0}", opened.error().to_string());
      return;
    }
    store_ = std::move(opened).value();
  });
  return store_;
}

Result<cache::CompileKey> KernelService::key_for(const codegen::Source& source, int arch, std::string* nvrtc_version) {
  const std::string arch_opt = codegen::arch_option(arch);
  auto make = [&](const std::string& version) {
    return cache::make_compile_key(cache::KeyIngredients{source.text, source.entry, version,
                                                         runtime::default_compile_options(), arch_opt, qjit_version()});
  };
  auto compiler = runtime::nvrtc();
  if (compiler.has_value()) {
    *nvrtc_version = (*compiler)->version();
    return make(*nvrtc_version);
  }
  // No NVRTC: find an entry built by any known compiler version.
  if (auto s = store()) {
    for (const auto& v : probe_versions()) {
      const auto key = make(v);
      if (s->load(key).has_value()) {
        *nvrtc_version = v;
        return key;
      }
    }
  }
  return Status(StatusCode::CompilerUnavailable,
                "kernel " + source.entry + " for " + arch_opt +
                    " is not in the kernel cache and NVRTC is unavailable (" + compiler.error().message() +
                    "); warm the cache on a machine with NVRTC with `qjit warmup --arch " + arch_opt +
                    " --shapes <model>.csv` and ship it (QJIT_CACHE_DIR or QJIT_CACHE_PATH)");
}

Result<CompiledKernel> KernelService::compile_and_store(const codegen::Source& source, int arch,
                                                        const cache::CompileKey& key,
                                                        const std::string& nvrtc_version) {
  auto compile = [&]() -> Result<cache::Entry> {
    QJIT_ASSIGN_OR_RETURN(const runtime::Nvrtc* compiler, runtime::nvrtc());
    QJIT_ASSIGN_OR_RETURN(runtime::CompileOutput out,
                          compiler->compile(source.text, source.entry + ".cu", codegen::arch_option(arch),
                                            runtime::default_compile_options()));
    compiles_.fetch_add(1, std::memory_order_relaxed);
    if (const std::string dir = env::text(env::Var::DumpDir); !dir.empty())
      if (Status s = dump_compile(dir, source, out); !s.ok())
        QJIT_LOG_WARN("jit", "QJIT_DUMP_DIR: {0} was not dumped: {1}", source.entry, s.message());
    return make_cache_entry(source, arch, key, nvrtc_version, std::move(out));
  };
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t compiles_before = compiles_.load();
  Result<cache::Entry> entry = Status(StatusCode::NotFound, "");
  Status not_stored;
  if (auto s = store()) {
    entry = s->get_or_create(key, compile, &not_stored);
  } else {
    entry = compile();
    not_stored = Status(StatusCode::CacheIo, "the kernel cache could not be opened (see the warning above)");
  }
  if (!entry.has_value()) return entry.error();
  CompiledKernel ck;
  ck.not_stored = std::move(not_stored);
  ck.key = key;
  ck.compiled_now = compiles_.load() != compiles_before;
  ck.seconds = ck.compiled_now ? entry->meta.compile_seconds
                               : std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!ck.compiled_now) {
    disk_hits_.fetch_add(1, std::memory_order_relaxed);
    QJIT_LOG_INFO("jit", "disk hit {0} ({1:F2} ms)", source.entry, ck.seconds * 1e3);
  }
  ck.entry = std::make_shared<const cache::Entry>(std::move(entry).value());
  return ck;
}

Result<CompiledKernel> KernelService::obtain(const codegen::Source& source, int arch) {
  std::string version;
  QJIT_ASSIGN_OR_RETURN(cache::CompileKey key, key_for(source, arch, &version));
  return compile_and_store(source, arch, key, version);
}

Result<std::shared_ptr<const runtime::LoadedKernel>> KernelService::load(const codegen::Source& source,
                                                                         const runtime::DeviceInfo& device) {
  std::string version;
  QJIT_ASSIGN_OR_RETURN(cache::CompileKey key, key_for(source, device.arch, &version));
  std::string mem_key = key.hex();
  mem_key += '@';
  mem_key += std::to_string(reinterpret_cast<std::uintptr_t>(device.context));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = loaded_.find(mem_key); it != loaded_.end()) {
      memory_hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second;
    }
  }
  return load_flights_.get_or_run(mem_key, [&]() -> Result<std::shared_ptr<const runtime::LoadedKernel>> {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = loaded_.find(mem_key); it != loaded_.end()) return it->second;
    }
    QJIT_ASSIGN_OR_RETURN(CompiledKernel ck, compile_and_store(source, device.arch, key, version));
    QJIT_ASSIGN_OR_RETURN(auto kernel, runtime::LoadedKernel::load(ck.entry->payload, source.entry,
                                                                   static_cast<unsigned>(source.dynamic_smem_bytes)));
    loads_.fetch_add(1, std::memory_order_relaxed);
    if (kernel->local_bytes() > 0)
      QJIT_LOG_WARN("jit", "{0} uses {1} bytes of local memory per thread (register spills)", source.entry,
                    kernel->local_bytes());
    std::lock_guard<std::mutex> lock(mu_);
    loaded_.emplace(mem_key, kernel);
    return kernel;
  });
}

cache::Entry make_cache_entry(const codegen::Source& source, int arch, const cache::CompileKey& key,
                              const std::string& nvrtc_version, runtime::CompileOutput out) {
  cache::Entry e;
  e.key = key;
  e.meta.entry_name = source.entry;
  e.meta.arch = codegen::arch_option(arch);
  e.meta.nvrtc_version = nvrtc_version;
  e.meta.shared_bytes = source.dynamic_smem_bytes;
  e.meta.compile_seconds = out.seconds;
  // NOTE: a cubin this reader cannot parse (a future toolchain's layout) must not cost the kernel: the entry is
  // stored with registers = 0, which the format defines as "unknown", and the reason is logged.
  auto resources = runtime::read_cubin_resources(out.cubin, source.entry);
  if (resources.has_value()) {
    e.meta.registers = resources->registers;
    e.meta.shared_bytes += resources->static_smem_bytes;
    QJIT_LOG_INFO("jit",
                  "compiled {0} for {1} in {2:F3} s ({3} bytes): {4} registers, {5} B static shared memory, "
                  "{6} B local memory per thread",
                  source.entry, e.meta.arch, out.seconds, out.cubin.size(), resources->registers,
                  resources->static_smem_bytes, resources->frame_bytes);
  } else {
    QJIT_LOG_WARN("jit", "compiled {0} for {1} in {2:F3} s ({3} bytes) but cannot read its resource usage: {4}",
                  source.entry, e.meta.arch, out.seconds, out.cubin.size(), resources.error().to_string());
  }
  e.payload = std::move(out.cubin);
  return e;
}

KernelServiceStats KernelService::stats() const {
  return {memory_hits_.load(), disk_hits_.load(), compiles_.load(), loads_.load()};
}

cache::CompileKey compile_key_for(const codegen::Source& source, int arch, const std::string& nvrtc_version) {
  return cache::make_compile_key(cache::KeyIngredients{source.text, source.entry, nvrtc_version,
                                                       runtime::default_compile_options(), codegen::arch_option(arch),
                                                       qjit_version()});
}

const std::vector<std::string>& known_nvrtc_versions() { return probe_versions(); }

}  // namespace qjit::jit
