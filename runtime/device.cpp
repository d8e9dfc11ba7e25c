// Context discovery and device properties, read through the driver table.
#include "runtime/device.h"

#include <climits>
#include <map>
#include <mutex>

#include "runtime/env.h"

namespace qjit::runtime {

Result<DeviceInfo> current_device() {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  DeviceInfo info;
  QJIT_CU(*api, cuCtxGetCurrent, &info.context);
  CUdevice dev = 0;
  if (info.context == nullptr) {
    QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> ordinal, env::integer(env::Var::Device, 0, INT_MAX));
    QJIT_CU(*api, cuDeviceGet, &dev, static_cast<int>(ordinal.value_or(0)));
    // NOTE: retaining the primary context shares it with the CUDA runtime; we never release it, exactly as the
    // runtime keeps it alive for the process.
    QJIT_CU(*api, cuDevicePrimaryCtxRetain, &info.context, dev);
    QJIT_CU(*api, cuCtxSetCurrent, info.context);
  }
  QJIT_CU(*api, cuCtxGetDevice, &dev);
  // NOTE: a device's attributes never change while the process runs, and select() asks for them on every call
  // (its warm path must stay within a few microseconds), so they are read once per ordinal.
  static std::mutex mu;
  static std::map<int, DeviceInfo> known;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = known.find(dev); it != known.end()) {
      DeviceInfo cached = it->second;
      cached.context = info.context;
      return cached;
    }
  }
  info.ordinal = dev;
  int major = 0, minor = 0;
  QJIT_CU(*api, cuDeviceGetAttribute, &major, kAttrComputeCapabilityMajor, dev);
  QJIT_CU(*api, cuDeviceGetAttribute, &minor, kAttrComputeCapabilityMinor, dev);
  info.arch = major * 10 + minor;
  QJIT_CU(*api, cuDeviceGetAttribute, &info.sm_count, kAttrMultiprocessorCount, dev);
  QJIT_CU(*api, cuDeviceGetAttribute, &info.max_smem_optin, kAttrMaxSharedMemoryPerBlockOptin, dev);
  QJIT_CU(*api, cuDeviceGetAttribute, &info.l2_bytes, kAttrL2CacheSize, dev);
  QJIT_CU(*api, cuDeviceTotalMem, &info.total_memory, dev);
  char name[256] = {};
  QJIT_CU(*api, cuDeviceGetName, name, sizeof(name) - 1, dev);
  info.name = name;
  if (info.arch < 80)
    return Status(StatusCode::Unsupported, "qjit's int8 kernels need compute capability >= 8.0; device " +
                                               std::to_string(dev) + " (" + info.name + ") is sm_" +
                                               std::to_string(info.arch));
  std::lock_guard<std::mutex> lock(mu);
  known.emplace(dev, info);
  return info;
}

Result<DeviceInfo> use_device(int ordinal) {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  int count = 0;
  QJIT_CU(*api, cuDeviceGetCount, &count);
  if (ordinal < 0 || ordinal >= count)
    return Status(StatusCode::InvalidArgument,
                  "device ordinal must be in [0, " + std::to_string(count) + "), got " + std::to_string(ordinal));
  CUdevice dev = 0;
  QJIT_CU(*api, cuDeviceGet, &dev, ordinal);
  CUcontext ctx = nullptr;
  QJIT_CU(*api, cuDevicePrimaryCtxRetain, &ctx, dev);
  QJIT_CU(*api, cuCtxSetCurrent, ctx);
  return current_device();
}

}  // namespace qjit::runtime
