// The CUDA Driver API as a table of function pointers filled by dlopen("libcuda.so.1") on first use. qjit never
// links libcuda, so the library loads (and compiles, and serves a warm cache) on machines without a GPU; every call
// goes through this table and every CUresult is turned into a Status naming the call. The few driver types and
// constants qjit needs are declared here with cuda.h's values (tests/unit/runtime_abi_test.cpp checks them against
// cuda.h where the toolkit is installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
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
using CUcontext = CUctx_st*;
using CUmodule = CUmod_st*;
using CUfunction = CUfunc_st*;
using CUevent = CUevent_st*;

inline constexpr CUresult kCudaSuccess = 0;
inline constexpr CUresult kCudaErrorInvalidValue = 1;
inline constexpr CUresult kCudaErrorOutOfMemory = 2;
inline constexpr CUresult kCudaErrorNoDevice = 100;
inline constexpr CUresult kCudaErrorLaunchOutOfResources = 701;

inline constexpr int kAttrClockRate = 13;
inline constexpr int kAttrMultiprocessorCount = 16;
inline constexpr int kAttrMemoryClockRate = 36;
inline constexpr int kAttrGlobalMemoryBusWidth = 37;
inline constexpr int kAttrL2CacheSize = 38;
inline constexpr int kAttrPciBusId = 33;  // NVML matches its device to a CUDA one by PCI address (perf/nvml.cpp)
inline constexpr int kAttrPciDeviceId = 34;
inline constexpr int kAttrPciDomainId = 50;
inline constexpr int kAttrComputeCapabilityMajor = 75;
inline constexpr int kAttrComputeCapabilityMinor = 76;
inline constexpr int kAttrMaxSharedMemoryPerBlockOptin = 97;

inline constexpr int kFuncAttrSharedSizeBytes = 1;
inline constexpr int kFuncAttrLocalSizeBytes = 3;
inline constexpr int kFuncAttrNumRegs = 4;
inline constexpr int kFuncAttrMaxDynamicSharedSizeBytes = 8;

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

// cuda.h's CUDA_MEMCPY2D (the _v2 layout: size_t fields), for cuMemcpy2DAsync: the plans stage int8 rows the Hopper
// kernel's TMA cannot take (a row stride or base that is not a multiple of 16 bytes) into their workspace
// (ops/staging.h). `CUarray` is opaque to qjit (never used: both ends are device memory).
inline constexpr int kMemoryTypeDevice = 2;  // CU_MEMORYTYPE_DEVICE
struct Memcpy2D {
  std::size_t src_x_in_bytes, src_y;
  int src_memory_type;
  const void* src_host;
  CUdeviceptr src_device;
  void* src_array;
  std::size_t src_pitch;
  std::size_t dst_x_in_bytes, dst_y;
  int dst_memory_type;
  void* dst_host;
  CUdeviceptr dst_device;
  void* dst_array;
  std::size_t dst_pitch;
  std::size_t width_in_bytes, height;
};
static_assert(sizeof(Memcpy2D) == 128);

// Graph handles (cuda.h's CUgraph / CUgraphExec) and the capture enums, for CUDA-graph capture of launches.
struct CUgraph_st;
struct CUgraphExec_st;
using CUgraph = CUgraph_st*;
using CUgraphExec = CUgraphExec_st*;
inline constexpr int kStreamCaptureModeGlobal = 0;
inline constexpr int kStreamCaptureModeThreadLocal = 1;
inline constexpr int kStreamCaptureModeRelaxed = 2;
inline constexpr int kStreamCaptureStatusNone = 0;
inline constexpr int kStreamCaptureStatusActive = 1;
inline constexpr int kStreamCaptureStatusInvalidated = 2;

// Every driver entry point qjit calls, written once: X(requirement, member, symbol, parameters). Each returns
// CUresult. `symbol` is the exported name dlsym looks up (the versioned _v2 ABI that cuda.h's unversioned macros
// resolve to); `member` is the DriverApi field (cuda.h's documented name). Required entries missing from libcuda fail
// the load naming them all; an optional entry missing leaves its member nullptr, and callers check it first.
// The DriverApi table, the dlsym loop and driver_entry_points() are generated from this list, and
// tests/unit/runtime_abi_test.cpp checks each signature against cuda.h's declaration of `symbol`.
#define QJIT_DRIVER_ENTRY_POINTS(X)                                                                                  \
  X(Required, cuInit, cuInit, (unsigned))                                                                            \
  X(Required, cuDriverGetVersion, cuDriverGetVersion, (int*))                                                        \
  X(Required, cuGetErrorName, cuGetErrorName, (CUresult, const char**))                                              \
  X(Required, cuGetErrorString, cuGetErrorString, (CUresult, const char**))                                          \
  X(Required, cuDeviceGetCount, cuDeviceGetCount, (int*))                                                            \
  X(Required, cuDeviceGet, cuDeviceGet, (CUdevice*, int))                                                            \
  X(Required, cuDeviceGetAttribute, cuDeviceGetAttribute, (int*, int, CUdevice))                                     \
  X(Required, cuDeviceGetName, cuDeviceGetName, (char*, int, CUdevice))                                              \
  X(Required, cuDeviceTotalMem, cuDeviceTotalMem_v2, (std::size_t*, CUdevice))                                       \
  X(Required, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, (CUcontext*, CUdevice))                            \
  X(Required, cuCtxGetCurrent, cuCtxGetCurrent, (CUcontext*))                                                        \
  X(Required, cuCtxSetCurrent, cuCtxSetCurrent, (CUcontext))                                                         \
  X(Required, cuCtxGetDevice, cuCtxGetDevice, (CUdevice*))                                                           \
  X(Required, cuCtxSynchronize, cuCtxSynchronize, ())                                                                \
  X(Required, cuModuleLoadData, cuModuleLoadData, (CUmodule*, const void*))                                          \
  X(Required, cuModuleUnload, cuModuleUnload, (CUmodule))                                                            \
  X(Required, cuModuleGetFunction, cuModuleGetFunction, (CUfunction*, CUmodule, const char*))                        \
  X(Required, cuFuncGetAttribute, cuFuncGetAttribute, (int*, int, CUfunction))                                       \
  X(Required, cuFuncSetAttribute, cuFuncSetAttribute, (CUfunction, int, int))                                        \
  X(Required, cuLaunchKernel, cuLaunchKernel,                                                                        \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**))    \
  X(Required, cuMemsetD32Async, cuMemsetD32Async, (CUdeviceptr, unsigned, std::size_t, CUstream))                    \
  X(Required, cuMemsetD8Async, cuMemsetD8Async, (CUdeviceptr, unsigned char, std::size_t, CUstream))                 \
  X(Required, cuMemAlloc, cuMemAlloc_v2, (CUdeviceptr*, std::size_t))                                                \
  X(Required, cuMemFree, cuMemFree_v2, (CUdeviceptr))                                                                \
  X(Required, cuMemcpyHtoD, cuMemcpyHtoD_v2, (CUdeviceptr, const void*, std::size_t))                                \
  X(Required, cuMemcpyDtoH, cuMemcpyDtoH_v2, (void*, CUdeviceptr, std::size_t))                                      \
  X(Required, cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2, (CUdeviceptr, CUdeviceptr, std::size_t, CUstream))            \
  X(Required, cuMemcpy2DAsync, cuMemcpy2DAsync_v2, (const Memcpy2D*, CUstream))                                      \
  X(Required, cuMemGetInfo, cuMemGetInfo_v2, (std::size_t*, std::size_t*))                                           \
  X(Required, cuStreamCreate, cuStreamCreate, (CUstream*, unsigned))                                                 \
  X(Required, cuStreamDestroy, cuStreamDestroy_v2, (CUstream))                                                       \
  X(Required, cuStreamSynchronize, cuStreamSynchronize, (CUstream))                                                  \
  X(Required, cuEventCreate, cuEventCreate, (CUevent*, unsigned))                                                    \
  X(Required, cuEventDestroy, cuEventDestroy_v2, (CUevent))                                                          \
  X(Required, cuEventRecord, cuEventRecord, (CUevent, CUstream))                                                     \
  X(Required, cuEventSynchronize, cuEventSynchronize, (CUevent))                                                     \
  X(Required, cuEventElapsedTime, cuEventElapsedTime, (float*, CUevent, CUevent))                                    \
  /* CUDA 12+: cluster launches and Hopper TMA descriptors. */                                                       \
  X(Optional, cuLaunchKernelEx, cuLaunchKernelEx, (const LaunchConfig*, CUfunction, void**, void**))                 \
  X(Optional, cuTensorMapEncodeTiled, cuTensorMapEncodeTiled,                                                        \
    (void*, int, std::uint32_t, void*, const std::uint64_t*, const std::uint64_t*, const std::uint32_t*,             \
     const std::uint32_t*, int, int, int, int))                                                                      \
  /* CUDA graphs (capture a stream's launches, replay them); mode/status are the kStreamCapture* values. */          \
  X(Optional, cuStreamBeginCapture, cuStreamBeginCapture_v2, (CUstream, int))                                        \
  X(Optional, cuStreamEndCapture, cuStreamEndCapture, (CUstream, CUgraph*))                                          \
  X(Optional, cuStreamIsCapturing, cuStreamIsCapturing, (CUstream, int*))                                            \
  X(Optional, cuGraphInstantiateWithFlags, cuGraphInstantiateWithFlags, (CUgraphExec*, CUgraph, unsigned long long)) \
  X(Optional, cuGraphLaunch, cuGraphLaunch, (CUgraphExec, CUstream))                                                 \
  X(Optional, cuGraphExecDestroy, cuGraphExecDestroy, (CUgraphExec))                                                 \
  X(Optional, cuGraphDestroy, cuGraphDestroy, (CUgraph))

enum class EntryRequirement { Required, Optional };

struct DriverApi {
#define QJIT_DRIVER_MEMBER_(requirement, member, symbol, params) CUresult(*member) params = nullptr;
  QJIT_DRIVER_ENTRY_POINTS(QJIT_DRIVER_MEMBER_)
#undef QJIT_DRIVER_MEMBER_
  int driver_version = 0;
};

// The list as data (symbol, requirement), in list order: for diagnostics and the loader test.
struct EntryPoint {
  const char* symbol;
  EntryRequirement requirement;
};
std::span<const EntryPoint> driver_entry_points();

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
#define QJIT_CU(api, fn, ...)                                                                                        \
  do {                                                                                                               \
    ::qjit::runtime::CUresult qjit_cu_rc_ = (api).fn(__VA_ARGS__);                                                   \
    if (qjit_cu_rc_ != ::qjit::runtime::kCudaSuccess) return ::qjit::runtime::driver_error((api), qjit_cu_rc_, #fn); \
  } while (0)
