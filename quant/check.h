// Argument checks shared by the offline toolkit: shapes that must be positive and whose product must not overflow,
// spans of the right length, and the position of the first non-finite value. Each returns a Status whose message
// names the argument and what was expected, so callers can simply QJIT_TRY them.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "base/invalid.h"
#include "llvm/Support/FormatVariadic.h"
#include "qjit/status.h"

namespace qjit::quant::detail {

using ::qjit::invalid;  // base/invalid.h: the one definition

// rows, cols > 0 and rows * cols representable; `rows_name`/`cols_name` name the arguments.
inline Status check_dims(const char* rows_name, std::int64_t rows, const char* cols_name, std::int64_t cols) {
  if (rows <= 0) return invalid(llvm::formatv("{0} must be > 0, got {1}", rows_name, rows).str());
  if (cols <= 0) return invalid(llvm::formatv("{0} must be > 0, got {1}", cols_name, cols).str());
  if (rows > std::numeric_limits<std::int64_t>::max() / cols)
    return invalid(llvm::formatv("{0} * {1} = {2} * {3} overflows int64", rows_name, cols_name, rows, cols).str());
  return Status();
}

inline Status check_size(const char* name, std::size_t actual, std::int64_t expected, const char* expected_expr) {
  if (static_cast<std::int64_t>(actual) != expected)
    return invalid(
        llvm::formatv("{0}.size() must equal {1} = {2}, got {3}", name, expected_expr, expected, actual).str());
  return Status();
}

// Locates the first non-finite value of a [rows, cols] matrix (slow path, only after a fast check failed).
inline Status non_finite_error(const char* name, const float* data, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(data[i]))
      return invalid(llvm::formatv("{0}[{1}, {2}] must be finite, got {3}", name, i / cols, i % cols, data[i]).str());
  return Status();
}

// Every element finite and > 0 (smoothing scales, which divide activations).
inline Status check_positive_finite(const char* name, std::span<const float> v) {
  for (std::size_t j = 0; j < v.size(); ++j)
    if (!(std::isfinite(v[j]) && v[j] > 0.0f))
      return invalid(llvm::formatv("{0}[{1}] must be finite and > 0, got {2}", name, j, v[j]).str());
  return Status();
}

}  // namespace qjit::quant::detail
