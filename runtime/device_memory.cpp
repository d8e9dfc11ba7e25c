// DeviceMemory: cuMemAlloc/cuMemFree ownership and checked copies.
#include "runtime/device_memory.h"

#include <string>
#include <utility>

namespace qjit::runtime {

DeviceMemory::~DeviceMemory() {
  if (ptr_ == 0) return;
  if (auto api = driver(); api.has_value()) (*api)->cuMemFree(ptr_);
}

DeviceMemory::DeviceMemory(DeviceMemory&& o) noexcept
    : ptr_(std::exchange(o.ptr_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& o) noexcept {
  if (this != &o) {
    DeviceMemory old(std::move(*this));
    ptr_ = std::exchange(o.ptr_, 0);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

Result<DeviceMemory> DeviceMemory::allocate(std::size_t bytes, const char* what) {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  DeviceMemory m;
  const CUresult rc = api->cuMemAlloc(&m.ptr_, bytes == 0 ? 1 : bytes);
  if (rc != kCudaSuccess)
    return driver_error(*api, rc, "cuMemAlloc").with_context(std::to_string(bytes) + " bytes for " + what);
  m.bytes_ = bytes;
  return m;
}

Status DeviceMemory::upload(const void* host, std::size_t n, std::size_t offset) const {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  QJIT_CU(*api, cuMemcpyHtoD, ptr_ + offset, host, n);
  return Status();
}

Status DeviceMemory::download(void* host, std::size_t n, std::size_t offset) const {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  QJIT_CU(*api, cuMemcpyDtoH, host, ptr_ + offset, n);
  return Status();
}

Status DeviceMemory::copy_from(const DeviceMemory& src, std::size_t n, CUstream stream) const {
  if (n > bytes_ || n > src.bytes_)
    return Status(StatusCode::InvalidArgument, "device copy of " + std::to_string(n) + " bytes from a " +
                                                   std::to_string(src.bytes_) + "-byte allocation into a " +
                                                   std::to_string(bytes_) + "-byte one: the copy must fit both");
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  QJIT_CU(*api, cuMemcpyDtoDAsync, ptr_, src.ptr_, n, stream);
  return Status();
}

Status DeviceMemory::fill_bytes(std::uint8_t value, CUstream stream) const {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  QJIT_CU(*api, cuMemsetD8Async, ptr_, value, bytes_, stream);
  return Status();
}

}  // namespace qjit::runtime
