// Owned device memory for the library's own use (the autotuner's operands; plans never allocate): cuMemAlloc in
// the current context, freed on destruction, with the few synchronous copies the tuner needs. Every driver return
// code is checked and reported with the size asked for.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qjit/status.h"
#include "runtime/driver.h"

namespace qjit::runtime {

class DeviceMemory {
 public:
  DeviceMemory() = default;
  ~DeviceMemory();
  DeviceMemory(DeviceMemory&& o) noexcept;
  DeviceMemory& operator=(DeviceMemory&& o) noexcept;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // `what` names the buffer in the error ("tuner weight copy 3").
  static Result<DeviceMemory> allocate(std::size_t bytes, const char* what);

  void* get() const { return reinterpret_cast<void*>(ptr_); }
  CUdeviceptr address() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

  Status upload(const void* host, std::size_t n, std::size_t offset = 0) const;
  Status download(void* host, std::size_t n, std::size_t offset = 0) const;
  // Copies `n` bytes of `src` here on `stream` (asynchronous).
  Status copy_from(const DeviceMemory& src, std::size_t n, CUstream stream) const;
  Status fill_bytes(std::uint8_t value, CUstream stream) const;

 private:
  CUdeviceptr ptr_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace qjit::runtime
