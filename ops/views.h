// Type-erased views the plans' implementation works on: the C ABI (ops/c_api.cpp) turns each caller's qjit_tensor
// into one of these, so the library is compiled once and every language's typed wrapper stays a thin header.
#pragma once

#include <cstdint>

#include "qjit/element.h"

namespace qjit::detail {

struct MatrixView {
  const void* data = nullptr;
  std::int64_t rows = 0, cols = 0;
  std::int64_t row_stride = 0, col_stride = 1;
  ElementKind kind = ElementKind::F32;
};

struct VectorView {
  const void* data = nullptr;
  std::int64_t size = 0;
  std::int64_t stride = 1;
  ElementKind kind = ElementKind::F32;
};

}  // namespace qjit::detail
