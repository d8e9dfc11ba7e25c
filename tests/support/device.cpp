// DeviceBuffer and the GPU probe used by GPU tests.
#include "tests/support/device.h"

namespace qjit::testing {

const Result<runtime::DeviceInfo>& gpu() {
  static const Result<runtime::DeviceInfo> info = runtime::current_device();
  return info;
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  auto api = runtime::driver();
  if (!api.has_value()) {
    status_ = api.error();
    return;
  }
  // NOTE: at least 256 bytes so that zero-sized test tensors still get a distinct, aligned address.
  const runtime::CUresult rc = (*api)->cuMemAlloc(&ptr_, bytes < 256 ? 256 : bytes);
  if (rc != runtime::kCudaSuccess) {
    status_ = runtime::driver_error(**api, rc, "cuMemAlloc");
    ptr_ = 0;
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) {
    auto api = runtime::driver();
    if (api.has_value()) (*api)->cuMemFree(ptr_);
  }
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  std::swap(ptr_, o.ptr_);
  std::swap(bytes_, o.bytes_);
  std::swap(status_, o.status_);
  return *this;
}

Status DeviceBuffer::upload(const void* host, std::size_t bytes, std::size_t offset) const {
  QJIT_TRY(status_);
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  QJIT_CU(*api, cuMemcpyHtoD, ptr_ + offset, host, bytes);
  return Status();
}

Status DeviceBuffer::download(void* host, std::size_t bytes, std::size_t offset) const {
  QJIT_TRY(status_);
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  QJIT_CU(*api, cuCtxSynchronize);
  QJIT_CU(*api, cuMemcpyDtoH, host, ptr_ + offset, bytes);
  return Status();
}

Status DeviceBuffer::fill_bytes(std::uint8_t value) const {
  QJIT_TRY(status_);
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  QJIT_CU(*api, cuMemsetD8Async, ptr_, value, bytes_ < 256 ? 256 : bytes_, nullptr);
  QJIT_CU(*api, cuCtxSynchronize);
  return Status();
}

Status synchronize() {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  QJIT_CU(*api, cuCtxSynchronize);
  return Status();
}

}  // namespace qjit::testing
