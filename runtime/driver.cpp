// Loading libcuda into the DriverApi table, and translating CUresult codes into Status values.
#include "runtime/driver.h"

#include <cstdlib>
#include <mutex>

#include "runtime/dynamic_library.h"
#include "runtime/log.h"

namespace qjit::runtime {
Result<DriverApi> load_driver(const std::string& override_path) {
  QJIT_ASSIGN_OR_RETURN(DynamicLibrary lib,
                        DynamicLibrary::open(override_path, {"libcuda.so.1", "libcuda.so"},
                                             StatusCode::DriverUnavailable, "the CUDA driver library (libcuda)"));
  DriverApi api{};
  std::string missing;
  // NOTE: versioned names (_v2) are the ABI the unversioned macros in cuda.h resolve to.
  lib.bind(api.cuInit, "cuInit", &missing);
  lib.bind(api.cuDriverGetVersion, "cuDriverGetVersion", &missing);
  lib.bind(api.cuGetErrorName, "cuGetErrorName", &missing);
  lib.bind(api.cuGetErrorString, "cuGetErrorString", &missing);
  lib.bind(api.cuDeviceGetCount, "cuDeviceGetCount", &missing);
  lib.bind(api.cuDeviceGet, "cuDeviceGet", &missing);
  lib.bind(api.cuDeviceGetAttribute, "cuDeviceGetAttribute", &missing);
  lib.bind(api.cuDeviceGetName, "cuDeviceGetName", &missing);
  lib.bind(api.cuDeviceTotalMem, "cuDeviceTotalMem_v2", &missing);
  lib.bind(api.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", &missing);
  lib.bind(api.cuCtxGetCurrent, "cuCtxGetCurrent", &missing);
  lib.bind(api.cuCtxSetCurrent, "cuCtxSetCurrent", &missing);
  lib.bind(api.cuCtxGetDevice, "cuCtxGetDevice", &missing);
  lib.bind(api.cuCtxSynchronize, "cuCtxSynchronize", &missing);
  lib.bind(api.cuModuleLoadData, "cuModuleLoadData", &missing);
  lib.bind(api.cuModuleUnload, "cuModuleUnload", &missing);
  lib.bind(api.cuModuleGetFunction, "cuModuleGetFunction", &missing);
  lib.bind(api.cuFuncGetAttribute, "cuFuncGetAttribute", &missing);
  lib.bind(api.cuFuncSetAttribute, "cuFuncSetAttribute", &missing);
  lib.bind(api.cuLaunchKernel, "cuLaunchKernel", &missing);
  lib.bind(api.cuMemsetD32Async, "cuMemsetD32Async", &missing);
  lib.bind(api.cuMemsetD8Async, "cuMemsetD8Async", &missing);
  lib.bind(api.cuMemAlloc, "cuMemAlloc_v2", &missing);
  lib.bind(api.cuMemFree, "cuMemFree_v2", &missing);
  lib.bind(api.cuMemcpyHtoD, "cuMemcpyHtoD_v2", &missing);
  lib.bind(api.cuMemcpyDtoH, "cuMemcpyDtoH_v2", &missing);
  lib.bind(api.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", &missing);
  lib.bind(api.cuMemGetInfo, "cuMemGetInfo_v2", &missing);
  lib.bind(api.cuStreamCreate, "cuStreamCreate", &missing);
  lib.bind(api.cuStreamDestroy, "cuStreamDestroy_v2", &missing);
  lib.bind(api.cuStreamSynchronize, "cuStreamSynchronize", &missing);
  lib.bind(api.cuEventCreate, "cuEventCreate", &missing);
  lib.bind(api.cuEventDestroy, "cuEventDestroy_v2", &missing);
  lib.bind(api.cuEventRecord, "cuEventRecord", &missing);
  lib.bind(api.cuEventSynchronize, "cuEventSynchronize", &missing);
  lib.bind(api.cuEventElapsedTime, "cuEventElapsedTime", &missing);
  if (!missing.empty())
    return Status(StatusCode::DriverUnavailable, lib.path() + " lacks required entry points: " + missing);
  // Optional (newer drivers): absent means no cluster launches / no TMA kernels.
  lib.bind(api.cuLaunchKernelEx, "cuLaunchKernelEx", nullptr);
  lib.bind(api.cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled", nullptr);
  lib.bind(api.cuStreamBeginCapture, "cuStreamBeginCapture_v2", nullptr);
  lib.bind(api.cuStreamEndCapture, "cuStreamEndCapture", nullptr);
  lib.bind(api.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", nullptr);
  lib.bind(api.cuGraphLaunch, "cuGraphLaunch", nullptr);
  lib.bind(api.cuGraphExecDestroy, "cuGraphExecDestroy", nullptr);
  lib.bind(api.cuGraphDestroy, "cuGraphDestroy", nullptr);

  if (CUresult rc = api.cuInit(0); rc != kCudaSuccess) {
    Status s = driver_error(api, rc, "cuInit");
    return Status(StatusCode::DriverUnavailable, s.message());
  }
  int count = 0;
  if (CUresult rc = api.cuDeviceGetCount(&count); rc != kCudaSuccess || count == 0)
    return Status(StatusCode::DriverUnavailable, "the CUDA driver loaded but reports no GPU (cuDeviceGetCount = 0)");
  api.cuDriverGetVersion(&api.driver_version);
  QJIT_LOG_INFO("runtime", "loaded {0} (driver {1}, {2} device(s))", lib.path(), api.driver_version, count);
  return api;
}

Result<const DriverApi*> driver() {
  // NOTE: a function-local static gives thread-safe one-time loading; the failure is remembered too, so a machine
  // without a GPU pays for the dlopen attempt once.
  static const Result<DriverApi> loaded = [] {
    const char* override_path = std::getenv("QJIT_CUDA_LIBRARY");
    return load_driver(override_path ? override_path : "");
  }();
  if (!loaded.has_value()) return loaded.error();
  return &loaded.value();
}

Status driver_error(const DriverApi& api, CUresult rc, std::string_view call) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName) api.cuGetErrorName(rc, &name);
  if (api.cuGetErrorString) api.cuGetErrorString(rc, &text);
  std::string msg(call);
  msg += " failed: ";
  msg += name ? name : ("CUresult " + std::to_string(rc));
  if (text) {
    msg += " (";
    msg += text;
    msg += ")";
  }
  const StatusCode code = (rc == kCudaErrorOutOfMemory || rc == kCudaErrorLaunchOutOfResources)
                              ? StatusCode::OutOfResources
                              : StatusCode::DriverError;
  return Status(code, std::move(msg));
}

}  // namespace qjit::runtime
