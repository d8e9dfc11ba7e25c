// Test support for GPU tests: skipping with a visible reason when there is no GPU, RAII device buffers through the
// dlopen'ed driver, and copies in and out. Every driver return code is checked (ASSERT-style via Status).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qjit/status.h"
#include "runtime/device.h"
#include "runtime/driver.h"

namespace qjit::testing {

// The device, or the reason there is none (then GPU tests GTEST_SKIP with that reason).
const Result<runtime::DeviceInfo>& gpu();

#define QJIT_REQUIRE_GPU()                                                             \
  do {                                                                                 \
    if (!::qjit::testing::gpu().has_value())                                           \
      GTEST_SKIP() << "no usable GPU: " << ::qjit::testing::gpu().error().to_string(); \
  } while (0)

#define QJIT_ASSERT_OK(expr)                                           \
  do {                                                                 \
    const ::qjit::Status qjit_s_ = (expr);                             \
    ASSERT_TRUE(qjit_s_.ok()) << #expr << ": " << qjit_s_.to_string(); \
  } while (0)

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;

  template <class T = void>
  T* get() const {
    return reinterpret_cast<T*>(ptr_);
  }
  std::size_t bytes() const { return bytes_; }
  Status status() const { return status_; }

  Status upload(const void* host, std::size_t bytes, std::size_t offset = 0) const;
  Status download(void* host, std::size_t bytes, std::size_t offset = 0) const;
  // Fills every byte with `value` (poison before a kernel writes, so unwritten elements show up).
  Status fill_bytes(std::uint8_t value) const;

  template <class T>
  Status upload(const std::vector<T>& v) const {
    return upload(v.data(), v.size() * sizeof(T));
  }
  template <class T>
  Result<std::vector<T>> download_as(std::size_t count) const {
    std::vector<T> v(count);
    QJIT_TRY(download(v.data(), count * sizeof(T)));
    return v;
  }

 private:
  runtime::CUdeviceptr ptr_ = 0;
  std::size_t bytes_ = 0;
  Status status_;
};

Status synchronize();

}  // namespace qjit::testing
