// NVRTC, opened with dlopen on first use: renders nothing and caches nothing, it only turns CUDA C++ source into a
// cubin for one architecture. A machine without NVRTC still runs qjit from a warm cache; compile() then returns
// CompilerUnavailable and the caller says which kernel is missing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/status.h"

namespace qjit::runtime {

struct NvrtcProgramOpaque;
using NvrtcProgram = NvrtcProgramOpaque*;  // nvrtc.h's nvrtcProgram

// Every NVRTC entry point qjit calls, written once: X(symbol, return type, parameters). All are required; results
// are nvrtcResult (an int, 0 = NVRTC_SUCCESS). Nvrtc::Api and its dlsym loop are generated from this list, and
// tests/unit/runtime_abi_test.cpp checks each signature against the toolkit's nvrtc.h.
#define QJIT_NVRTC_ENTRY_POINTS(X)                                                                                   \
  X(nvrtcGetErrorString, const char*, (int))                                                                         \
  X(nvrtcVersion, int, (int*, int*))                                                                                 \
  X(nvrtcCreateProgram, int, (NvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*)) \
  X(nvrtcDestroyProgram, int, (NvrtcProgram*))                                                                       \
  X(nvrtcCompileProgram, int, (NvrtcProgram, int, const char* const*))                                               \
  X(nvrtcGetProgramLogSize, int, (NvrtcProgram, std::size_t*))                                                       \
  X(nvrtcGetProgramLog, int, (NvrtcProgram, char*))                                                                  \
  X(nvrtcGetCUBINSize, int, (NvrtcProgram, std::size_t*))                                                            \
  X(nvrtcGetCUBIN, int, (NvrtcProgram, char*))                                                                       \
  X(nvrtcGetPTXSize, int, (NvrtcProgram, std::size_t*))                                                              \
  X(nvrtcGetPTX, int, (NvrtcProgram, char*))

struct CompileOutput {
  std::vector<std::uint8_t> cubin;
  std::string ptx;  // empty when NVRTC does not keep it for a real-architecture compile
  std::string log;  // warnings, if any
  double seconds = 0;
};

class Nvrtc {
 public:
  // "13.0" — part of every compile key.
  const std::string& version() const { return version_; }
  const std::string& library_path() const { return path_; }

  // Compiles `source` (no include path, no headers) for `arch_option` ("sm_80", "sm_89", "sm_90a"). The options
  // are passed as given after the architecture flag. A rejected source gives CompileFailed with NVRTC's log.
  Result<CompileOutput> compile(std::string_view source, std::string_view program_name, std::string_view arch_option,
                                const std::vector<std::string>& options) const;

  // Opens NVRTC from `override_path` (or the default candidates when empty), uncached; nvrtc() is the cached one.
  static Result<Nvrtc> open(const std::string& override_path);

  struct Api;  // the dlsym'ed entry points, QJIT_NVRTC_ENTRY_POINTS (defined in nvrtc.cpp)

 private:
  const Api* api_ = nullptr;
  std::string version_;
  std::string path_;
};

// The process's NVRTC, loaded once. QJIT_NVRTC_LIBRARY names the library to open (pointing it at a missing file is
// how a deployment asserts that it never compiles); otherwise libnvrtc.so.13, .so.12, then the CUDA toolkit's.
Result<const Nvrtc*> nvrtc();

// The options qjit passes to every compile (they are part of the cache key).
const std::vector<std::string>& default_compile_options();

}  // namespace qjit::runtime
