// qjit never includes cuda.h in the library (libcuda is opened with dlopen), so runtime/driver.h and the sm90
// family copy the driver's types and constants by hand. This test compiles against the toolkit's cuda.h where the
// build found it (QJIT_CUDA_INCLUDE_DIR) and checks every copied value and layout at compile time; without the
// toolkit it skips with the reason. A constant that drifts in a new CUDA release fails the build, not a launch.
#include <gtest/gtest.h>

#include <cstddef>

#include "codegen/gemm_s8_sm90.h"
#include "runtime/driver.h"

#if defined(QJIT_HAVE_CUDA_H)
#include <cuda.h>

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
static_assert(kStreamCaptureModeThreadLocal == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
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

// The tensor-map enums the Hopper family passes as ints.
static_assert(codegen::kTensorMapDataTypeUint8 == CU_TENSOR_MAP_DATA_TYPE_UINT8);
static_assert(codegen::kTensorMapInterleaveNone == CU_TENSOR_MAP_INTERLEAVE_NONE);
static_assert(codegen::kTensorMapSwizzle128B == CU_TENSOR_MAP_SWIZZLE_128B);
static_assert(codegen::kTensorMapL2Promotion256B == CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
static_assert(codegen::kTensorMapOobFillZeros == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);

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
