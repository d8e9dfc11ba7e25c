// The device qjit launches on: the caller's current CUDA context (or, when the thread has none, the device's
// primary context — the one the CUDA runtime and PyTorch use), and the few properties codegen and the heuristics
// read. qjit never creates a context of its own.
#pragma once

#include <cstddef>
#include <string>

#include "qjit/status.h"
#include "runtime/driver.h"

namespace qjit::runtime {

struct DeviceInfo {
  int ordinal = 0;
  int arch = 0;  // major * 10 + minor: 80, 86, 89, 90
  int sm_count = 0;
  int max_smem_optin = 0;  // bytes of dynamic shared memory a block may opt in to
  int l2_bytes = 0;
  std::size_t total_memory = 0;
  std::string name;
  CUcontext context = nullptr;
};

// The current context's device, binding the primary context of device 0 (or QJIT_DEVICE) to the calling thread
// when none is current. DriverUnavailable without a usable GPU.
Result<DeviceInfo> current_device();

// Makes device `ordinal`'s primary context current on the calling thread (for tools that drive several GPUs, one
// thread each) and returns its info. InvalidArgument names the ordinal and the device count when out of range.
Result<DeviceInfo> use_device(int ordinal);

}  // namespace qjit::runtime
