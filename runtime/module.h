// A cubin loaded into the current context and the one kernel in it that qjit calls. Loading verifies that the
// kernel's static plus dynamic shared memory fits the device and raises the dynamic limit when it exceeds 48 KiB.
// Launching is allocation-free: it is on every plan's run() path.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "qjit/status.h"
#include "runtime/driver.h"
#include "runtime/launch_dims.h"

namespace qjit::runtime {

class LoadedKernel {
 public:
  ~LoadedKernel();
  LoadedKernel(const LoadedKernel&) = delete;
  LoadedKernel& operator=(const LoadedKernel&) = delete;

  // `dynamic_smem_bytes` is the most the kernel will ever be launched with.
  static Result<std::shared_ptr<const LoadedKernel>> load(std::span<const std::uint8_t> cubin, const std::string& entry,
                                                          unsigned dynamic_smem_bytes);

  // Launches with one by-value parameter struct (the kernel's __grid_constant__ params).
  Status launch(const LaunchDims& dims, CUstream stream, const void* params) const;

  const std::string& entry() const { return entry_; }
  int registers() const { return registers_; }
  int local_bytes() const { return local_bytes_; }
  int static_smem_bytes() const { return static_smem_; }
  CUcontext context() const { return context_; }

 private:
  LoadedKernel() = default;
  const DriverApi* api_ = nullptr;
  CUmodule module_ = nullptr;
  CUfunction function_ = nullptr;
  CUcontext context_ = nullptr;
  std::string entry_;
  int registers_ = 0;
  int local_bytes_ = 0;
  int static_smem_ = 0;
};

}  // namespace qjit::runtime
