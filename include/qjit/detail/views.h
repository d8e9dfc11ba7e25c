// Type-erased views used between the typed public plan templates and the library's untyped implementation: the
// templates in the op headers convert their TensorRef/TensorMut arguments into these and call non-template
// functions, so the library is compiled once and engines instantiate only thin wrappers.
#pragma once

#include <cstdint>

#include "qjit/element.h"
#include "qjit/tensor.h"

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

template <Element T>
MatrixView view(const TensorRef<T, 2>& t) {
  return MatrixView{t.data, t.shape[0], t.shape[1], t.stride[0], t.stride[1], kind_of<T>};
}
template <Element T>
MatrixView view(const TensorMut<T, 2>& t) {
  return view(static_cast<TensorRef<T, 2>>(t));
}
template <Element T>
VectorView view(const TensorRef<T, 1>& t) {
  return VectorView{t.data, t.shape[0], t.stride[0], kind_of<T>};
}
template <Element T>
VectorView view(const TensorMut<T, 1>& t) {
  return view(static_cast<TensorRef<T, 1>>(t));
}

}  // namespace qjit::detail
