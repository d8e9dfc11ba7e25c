// The CUDA Driver API as a table of function pointers filled by dlopen("libcuda.so.1") on first use. qjit never
// links libcuda, so the library loads (and compiles, and serves a warm cache) on machines without a GPU; every call
// goes through this table and every CUresult is turned into a Status naming the call. The few driver types and
// constants qjit needs are declared here with cuda.h's values (tests/unit/runtime_abi_test.cpp checks them against
// cuda.h where the toolkit is installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "qjit/status.h"
#include "qjit/stream.h"

namespace qjit::runtime {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;  // NOLINT(google-runtime-int): cuda.h's type
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st*;
using CUmodule = CUmod_st*;
using CUfunction = CUfunc_st*;
using CUevent = CUevent_st*;
using CUgraph = CUgraph_st*;
using CUgraphExec = CUgraphExec_st*;

inline constexpr CUresult kCudaSuccess = 0;
inline constexpr CUresult kCudaErrorOutOfMemory = 2;
inline constexpr CUresult kCudaErrorNoDevice = 100;
inline constexpr CUresult kCudaErrorLaunchOutOfResources = 701;

inline constexpr int kAttrClockRate = 13;
inline constexpr int kAttrMultiprocessorCount = 16;
inline constexpr int kAttrMemoryClockRate = 36;
inline constexpr int kAttrGlobalMemoryBusWidth = 37;
inline constexpr int kAttrL2CacheSize = 38;
inline constexpr int kAttrPciBusId = 33;
inline constexpr int kAttrPciDeviceId = 34;
inline constexpr int kAttrPciDomainId = 50;
inline constexpr int kAttrComputeCapabilityMajor = 75;
inline constexpr int kAttrComputeCapabilityMinor = 76;
inline constexpr int kAttrMaxSharedMemoryPerBlockOptin = 97;

inline constexpr int kFuncAttrSharedSizeBytes = 1;
inline constexpr int kFuncAttrLocalSizeBytes = 3;
inline constexpr int kFuncAttrNumRegs = 4;
inline constexpr int kFuncAttrMaxDynamicSharedSizeBytes = 8;

inline constexpr int kStreamCaptureModeThreadLocal = 1;  // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL

inline constexpr int kLaunchAttrClusterDimension = 4;
inline constexpr int kLaunchAttrProgrammaticStreamSerialization = 6;

// cuda.h's CUlaunchAttribute / CUlaunchConfig, for cuLaunchKernelEx (cluster launches).
struct LaunchAttribute {
  int id;
  char pad[4];
  union {
    char raw[64];
    struct {
      unsigned x, y, z;
    } cluster_dim;
  } value;
};
static_assert(sizeof(LaunchAttribute) == 72);
struct LaunchConfig {
  unsigned grid_x, grid_y, grid_z;
  unsigned block_x, block_y, block_z;
  unsigned shared_mem_bytes;
  CUstream stream;
  LaunchAttribute* attrs;
  unsigned num_attrs;
};

struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int*);
  CUresult (*cuGetErrorName)(CUresult, const char**);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(std::size_t*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuCtxGetCurrent)(CUcontext*);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxGetDevice)(CUdevice*);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuFuncGetAttribute)(int*, int, CUfunction);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**);
  CUresult (*cuLaunchKernelEx)(const LaunchConfig*, CUfunction, void**, void**);  // nullptr before CUDA 12
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, std::size_t, CUstream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, std::size_t, CUstream);
  CUresult (*cuMemAlloc)(CUdeviceptr*, std::size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, std::size_t);
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, std::size_t);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, std::size_t, CUstream);
  CUresult (*cuMemGetInfo)(std::size_t*, std::size_t*);
  CUresult (*cuStreamCreate)(CUstream*, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);
  // cuTensorMapEncodeTiled (CUDA 12+, Hopper TMA); nullptr when the driver lacks it.
  CUresult (*cuTensorMapEncodeTiled)(void*, int, std::uint32_t, void*, const std::uint64_t*, const std::uint64_t*,
                                     const std::uint32_t*, const std::uint32_t*, int, int, int, int);
  // Stream capture and CUDA graphs (`qjit bench --graph`); nullptr when the driver lacks them.
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph*);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec*, CUgraph, unsigned long long);  // NOLINT(google-runtime-int)
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  int driver_version = 0;
};

// The loaded table, or DriverUnavailable saying why (no libcuda, missing symbol, cuInit failure, no device).
// Loads once per process; thread-safe. QJIT_CUDA_LIBRARY overrides the library path.
Result<const DriverApi*> driver();

// Loads the driver from `override_path` (or the default names when empty), uncached: for tests and diagnostics.
Result<DriverApi> load_driver(const std::string& override_path);

// Status for a failed driver call: "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE (device kernel image is
// invalid)". Out-of-memory and out-of-resources map to OutOfResources; everything else to DriverError.
Status driver_error(const DriverApi& api, CUresult rc, std::string_view call);

}  // namespace qjit::runtime

// Calls api.fn(args...) and returns the driver_error Status from the enclosing function on failure.
#define QJIT_CU(api, fn, ...)                                                          \
  do {                                                                                 \
    ::qjit::runtime::CUresult qjit_cu_rc_ = (api).fn(__VA_ARGS__);                     \
    if (qjit_cu_rc_ != ::qjit::runtime::kCudaSuccess)                                  \
      return ::qjit::runtime::driver_error((api), qjit_cu_rc_, #fn);                   \
  } while (0)
