// Status and Result<T>: how every qjit API reports failure. No exception crosses the public API; a failing call
// returns a Status whose code says what kind of failure it is and whose message names the field and what was
// expected, so an engine can log it verbatim or branch on the code. Header-only: the codes are the C ABI's
// (qjit_c.h), checked below, and nothing here needs the library.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace qjit {

enum class StatusCode : int {
  Ok = 0,
  InvalidArgument,      // a caller-supplied value is wrong (shape, pointer, alignment, dtype combination, NaN)
  Unsupported,          // a valid request this build or device cannot serve
  CompileFailed,        // NVRTC rejected the rendered source; the message carries the log
  DriverError,          // a CUDA driver call failed; the message names the call and the CUresult
  DriverUnavailable,    // libcuda could not be loaded or has no usable device
  CompilerUnavailable,  // libnvrtc could not be loaded (a warm cache still works without it)
  CacheIo,              // the kernel cache could not be read or written
  OutOfResources,       // the kernel needs more registers / shared memory than the device has
  NotFound,             // a looked-up entry does not exist (cache miss, tuning-DB miss)
  Internal,             // a bug in qjit (an unexpected exception inside the library); the message says where
};

constexpr std::string_view status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::Ok: return "Ok";
    case StatusCode::InvalidArgument: return "InvalidArgument";
    case StatusCode::Unsupported: return "Unsupported";
    case StatusCode::CompileFailed: return "CompileFailed";
    case StatusCode::DriverError: return "DriverError";
    case StatusCode::DriverUnavailable: return "DriverUnavailable";
    case StatusCode::CompilerUnavailable: return "CompilerUnavailable";
    case StatusCode::CacheIo: return "CacheIo";
    case StatusCode::OutOfResources: return "OutOfResources";
    case StatusCode::NotFound: return "NotFound";
    case StatusCode::Internal: return "Internal";
  }
  return "Unknown";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status success() { return Status(); }

  bool ok() const noexcept { return code_ == StatusCode::Ok; }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "InvalidArgument: activation.shape[1] must equal K = 4096, got 4100"
  std::string to_string() const {
    if (ok()) return "Ok";
    std::string s(status_code_name(code_));
    s += ": ";
    s += message_;
    return s;
  }

  // Prefixes context ("while selecting quantized_linear N=4096 K=4096: ") to the message; keeps the code.
  Status with_context(std::string_view context) const {
    if (ok()) return *this;
    std::string m(context);
    m += ": ";
    m += message_;
    return Status(code_, std::move(m));
  }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

// A value or an error Status, shaped like std::expected<T, Status>.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Status error) : v_(std::in_place_index<1>, std::move(error)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<1>(v_).ok() && "Result constructed from an ok Status");
  }

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; an ok Status when the Result holds a value.
  Status status() const { return has_value() ? Status() : std::get<1>(v_); }
  const Status& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace qjit

#define QJIT_CONCAT_INNER_(a, b) a##b
#define QJIT_CONCAT_(a, b) QJIT_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not ok.
#define QJIT_TRY(expr)                                   \
  do {                                                   \
    ::qjit::Status qjit_try_status_ = (expr);            \
    if (!qjit_try_status_.ok()) return qjit_try_status_; \
  } while (0)

// `QJIT_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or returns its error.
#define QJIT_ASSIGN_OR_RETURN(lhs, rexpr) QJIT_ASSIGN_OR_RETURN_IMPL_(QJIT_CONCAT_(qjit_result_, __LINE__), lhs, rexpr)
#define QJIT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.has_value()) return tmp.error();          \
  lhs = std::move(tmp).value()
