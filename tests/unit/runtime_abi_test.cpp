// qjit never includes cuda.h in the library (libcuda is opened with dlopen), so runtime/driver.h and the sm90
// family copy the driver's types and constants by hand. This test compiles against the toolkit's cuda.h where the
// build found it (QJIT_CUDA_INCLUDE_DIR) and checks every copied value and layout at compile time; without the
// toolkit it skips with the reason. A constant that drifts in a new CUDA release fails the build, not a launch.
// The entry-point lists (QJIT_DRIVER_ENTRY_POINTS, QJIT_NVRTC_ENTRY_POINTS) are checked signature by signature
// against cuda.h's and nvrtc.h's declarations of the very symbols the loaders dlsym.
#include <cstddef>
#include <type_traits>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm90.h"
#include "runtime/driver.h"
#include "runtime/nvrtc.h"

#if defined(QJIT_HAVE_CUDA_H)
#include <cuda.h>
#include <nvrtc.h>

namespace qjit::runtime {
namespace {

static_assert(kCudaSuccess == CUDA_SUCCESS);
static_assert(kCudaErrorOutOfMemory == CUDA_ERROR_OUT_OF_MEMORY);
static_assert(kCudaErrorNoDevice == CUDA_ERROR_NO_DEVICE);
static_assert(kCudaErrorLaunchOutOfResources == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
static_assert(kAttrClockRate == CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
static_assert(kAttrMultiprocessorCount == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(kAttrMemoryClockRate == CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
static_assert(kAttrGlobalMemoryBusWidth == CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
static_assert(kAttrL2CacheSize == CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
static_assert(kAttrPciBusId == CU_DEVICE_ATTRIBUTE_PCI_BUS_ID);
static_assert(kAttrPciDeviceId == CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
static_assert(kAttrPciDomainId == CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID);
static_assert(kAttrComputeCapabilityMajor == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(kAttrComputeCapabilityMinor == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(kAttrMaxSharedMemoryPerBlockOptin == CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
static_assert(kFuncAttrSharedSizeBytes == CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES);
static_assert(kFuncAttrLocalSizeBytes == CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
static_assert(kFuncAttrNumRegs == CU_FUNC_ATTRIBUTE_NUM_REGS);
static_assert(kFuncAttrMaxDynamicSharedSizeBytes == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(kLaunchAttrClusterDimension == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION);
static_assert(kLaunchAttrProgrammaticStreamSerialization == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
static_assert(sizeof(CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(sizeof(CUdevice) == sizeof(::CUdevice));

// cuLaunchKernelEx's structs, field for field.
static_assert(sizeof(LaunchAttribute) == sizeof(CUlaunchAttribute));
static_assert(offsetof(LaunchAttribute, value) == offsetof(CUlaunchAttribute, value));
static_assert(sizeof(LaunchConfig) == sizeof(CUlaunchConfig));
static_assert(offsetof(LaunchConfig, grid_x) == offsetof(CUlaunchConfig, gridDimX));
static_assert(offsetof(LaunchConfig, block_x) == offsetof(CUlaunchConfig, blockDimX));
static_assert(offsetof(LaunchConfig, shared_mem_bytes) == offsetof(CUlaunchConfig, sharedMemBytes));
static_assert(offsetof(LaunchConfig, stream) == offsetof(CUlaunchConfig, hStream));
static_assert(offsetof(LaunchConfig, attrs) == offsetof(CUlaunchConfig, attrs));
static_assert(offsetof(LaunchConfig, num_attrs) == offsetof(CUlaunchConfig, numAttrs));

// cuMemcpy2DAsync's struct (the plans' staging copies, ops/staging.cpp), field for field, and its constants.
static_assert(sizeof(Memcpy2D) == sizeof(CUDA_MEMCPY2D));
static_assert(offsetof(Memcpy2D, src_x_in_bytes) == offsetof(CUDA_MEMCPY2D, srcXInBytes));
static_assert(offsetof(Memcpy2D, src_y) == offsetof(CUDA_MEMCPY2D, srcY));
static_assert(offsetof(Memcpy2D, src_memory_type) == offsetof(CUDA_MEMCPY2D, srcMemoryType));
static_assert(offsetof(Memcpy2D, src_host) == offsetof(CUDA_MEMCPY2D, srcHost));
static_assert(offsetof(Memcpy2D, src_device) == offsetof(CUDA_MEMCPY2D, srcDevice));
static_assert(offsetof(Memcpy2D, src_array) == offsetof(CUDA_MEMCPY2D, srcArray));
static_assert(offsetof(Memcpy2D, src_pitch) == offsetof(CUDA_MEMCPY2D, srcPitch));
static_assert(offsetof(Memcpy2D, dst_x_in_bytes) == offsetof(CUDA_MEMCPY2D, dstXInBytes));
static_assert(offsetof(Memcpy2D, dst_y) == offsetof(CUDA_MEMCPY2D, dstY));
static_assert(offsetof(Memcpy2D, dst_memory_type) == offsetof(CUDA_MEMCPY2D, dstMemoryType));
static_assert(offsetof(Memcpy2D, dst_host) == offsetof(CUDA_MEMCPY2D, dstHost));
static_assert(offsetof(Memcpy2D, dst_device) == offsetof(CUDA_MEMCPY2D, dstDevice));
static_assert(offsetof(Memcpy2D, dst_array) == offsetof(CUDA_MEMCPY2D, dstArray));
static_assert(offsetof(Memcpy2D, dst_pitch) == offsetof(CUDA_MEMCPY2D, dstPitch));
static_assert(offsetof(Memcpy2D, width_in_bytes) == offsetof(CUDA_MEMCPY2D, WidthInBytes));
static_assert(offsetof(Memcpy2D, height) == offsetof(CUDA_MEMCPY2D, Height));
static_assert(sizeof(Memcpy2D::src_memory_type) == sizeof(CUmemorytype));
static_assert(kMemoryTypeDevice == CU_MEMORYTYPE_DEVICE);
static_assert(kCudaErrorInvalidValue == CUDA_ERROR_INVALID_VALUE);

// The tensor-map enums the Hopper family passes as ints.
static_assert(codegen::kTensorMapDataTypeUint8 == CU_TENSOR_MAP_DATA_TYPE_UINT8);
static_assert(codegen::kTensorMapInterleaveNone == CU_TENSOR_MAP_INTERLEAVE_NONE);
static_assert(codegen::kTensorMapSwizzle128B == CU_TENSOR_MAP_SWIZZLE_128B);
static_assert(codegen::kTensorMapL2Promotion256B == CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
static_assert(codegen::kTensorMapOobFillZeros == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);

// The graph-capture enums passed as ints.
static_assert(kStreamCaptureModeGlobal == CU_STREAM_CAPTURE_MODE_GLOBAL);
static_assert(kStreamCaptureModeThreadLocal == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(kStreamCaptureModeRelaxed == CU_STREAM_CAPTURE_MODE_RELAXED);
static_assert(kStreamCaptureStatusNone == CU_STREAM_CAPTURE_STATUS_NONE);
static_assert(kStreamCaptureStatusActive == CU_STREAM_CAPTURE_STATUS_ACTIVE);
static_assert(kStreamCaptureStatusInvalidated == CU_STREAM_CAPTURE_STATUS_INVALIDATED);

// Two types pass the same way through the C calling convention: scalars (integers, enums) of one size, or pointers
// to such scalars of one size, or pointers to opaque or class types (qjit's handles are distinct incomplete structs
// of the same shape as cuda.h's; void* stands for a struct qjit does not declare, such as CUtensorMap).
template <class A, class B>
constexpr bool abi_same() {
  using PA = std::remove_cv_t<A>;
  using PB = std::remove_cv_t<B>;
  constexpr bool scalar_a = std::is_arithmetic_v<PA> || std::is_enum_v<PA>;
  constexpr bool scalar_b = std::is_arithmetic_v<PB> || std::is_enum_v<PB>;
  if constexpr (scalar_a && scalar_b) {
    return sizeof(PA) == sizeof(PB) && std::is_floating_point_v<PA> == std::is_floating_point_v<PB>;
  } else if constexpr (std::is_void_v<PA> && std::is_void_v<PB>) {
    return true;
  } else if constexpr (std::is_pointer_v<PA> && std::is_pointer_v<PB>) {
    using TA = std::remove_pointer_t<PA>;
    using TB = std::remove_pointer_t<PB>;
    if constexpr (std::is_void_v<std::remove_cv_t<TA>> || std::is_void_v<std::remove_cv_t<TB>>)
      return true;
    else if constexpr (std::is_pointer_v<TA> || std::is_pointer_v<TB> || std::is_arithmetic_v<TA> ||
                       std::is_arithmetic_v<TB> || std::is_enum_v<TA> || std::is_enum_v<TB>)
      return abi_same<TA, TB>();
    else
      return true;  // opaque or class types; layouts of the classes are asserted above
  } else {
    return false;
  }
}

template <class R1, class... A1, class R2, class... A2>
constexpr bool abi_compatible(R1 (*)(A1...), R2 (*)(A2...)) {
  if constexpr (sizeof...(A1) != sizeof...(A2))
    return false;
  else
    return abi_same<R1, R2>() && (abi_same<A1, A2>() && ...);
}

// NOTE: only `symbol` and `params` are used: cuda.h defines macros for many documented names (cuMemAlloc ->
// cuMemAlloc_v2), which would rewrite `member` here.
#define QJIT_CHECK_DRIVER_ENTRY_(requirement, member, symbol, params)                \
  static_assert(abi_compatible(static_cast<CUresult(*) params>(nullptr), &::symbol), \
                "runtime/driver.h's signature of " #symbol " disagrees with cuda.h");
QJIT_DRIVER_ENTRY_POINTS(QJIT_CHECK_DRIVER_ENTRY_)
#undef QJIT_CHECK_DRIVER_ENTRY_

#define QJIT_CHECK_NVRTC_ENTRY_(symbol, result, params)                            \
  static_assert(abi_compatible(static_cast<result(*) params>(nullptr), &::symbol), \
                "runtime/nvrtc.h's signature of " #symbol " disagrees with nvrtc.h");
QJIT_NVRTC_ENTRY_POINTS(QJIT_CHECK_NVRTC_ENTRY_)
#undef QJIT_CHECK_NVRTC_ENTRY_

// The checker itself rejects what it must (a check that cannot fail checks nothing).
static_assert(!abi_compatible(static_cast<int (*)(std::size_t*)>(nullptr), static_cast<int (*)(unsigned*)>(nullptr)));
static_assert(!abi_compatible(static_cast<int (*)(int)>(nullptr), static_cast<int (*)(int, int)>(nullptr)));
static_assert(!abi_compatible(static_cast<int (*)(float)>(nullptr), static_cast<int (*)(int)>(nullptr)));
static_assert(!abi_compatible(static_cast<int (*)(int*)>(nullptr), static_cast<int (*)(int)>(nullptr)));

TEST(RuntimeAbi, DriverConstantsAndLayoutsMatchCudaH) {
  SUCCEED() << "checked at compile time against cuda.h " << CUDA_VERSION;
}

}  // namespace
}  // namespace qjit::runtime

#else

TEST(RuntimeAbi, DriverConstantsAndLayoutsMatchCudaH) {
  GTEST_SKIP() << "cuda.h was not found when this was built (CUDA toolkit absent): the hand-copied driver constants "
                  "in runtime/driver.h are unchecked here";
}

#endif
