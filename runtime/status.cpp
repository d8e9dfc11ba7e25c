// Status formatting. Kept out of the header so the header stays free of anything but the standard library.
#include "qjit/status.h"

namespace qjit {

std::string_view status_code_name(StatusCode code) noexcept {
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
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (ok()) return "Ok";
  std::string s(status_code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

}  // namespace qjit
