// Non-owning views of device memory: a pointer, a shape and strides in elements. qjit never allocates or frees
// caller memory; a view only says where the data is and how it is laid out. The innermost dimension is always
// contiguous (stride 1); a row stride larger than the row length is allowed where an op says so, so engines can
// pass slices of larger buffers.
#pragma once

#include <array>
#include <cstdint>

#include "qjit/element.h"

namespace qjit {

template <class T, int Rank>
struct TensorRef {
  static_assert(Rank >= 1 && Rank <= 4);
  const T* data = nullptr;
  std::array<std::int64_t, Rank> shape{};
  std::array<std::int64_t, Rank> stride{};  // in elements; stride[Rank-1] must be 1

  // A packed row-major view.
  static TensorRef contiguous(const T* data, std::array<std::int64_t, Rank> shape) {
    TensorRef t;
    t.data = data;
    t.shape = shape;
    std::int64_t s = 1;
    for (int i = Rank - 1; i >= 0; --i) {
      t.stride[i] = s;
      s *= shape[i];
    }
    return t;
  }
  // A rank-2 view with an explicit row stride (elements between the starts of consecutive rows).
  static TensorRef strided(const T* data, std::int64_t rows, std::int64_t cols,
                           std::int64_t row_stride) requires(Rank == 2) {
    return TensorRef{data, {rows, cols}, {row_stride, 1}};
  }

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  bool empty() const { return data == nullptr; }
};

template <class T, int Rank>
struct TensorMut {
  static_assert(Rank >= 1 && Rank <= 4);
  T* data = nullptr;
  std::array<std::int64_t, Rank> shape{};
  std::array<std::int64_t, Rank> stride{};

  static TensorMut contiguous(T* data, std::array<std::int64_t, Rank> shape) {
    const auto r = TensorRef<T, Rank>::contiguous(data, shape);
    return TensorMut{data, r.shape, r.stride};
  }
  static TensorMut strided(T* data, std::int64_t rows, std::int64_t cols, std::int64_t row_stride) requires(Rank == 2) {
    return TensorMut{data, {rows, cols}, {row_stride, 1}};
  }

  operator TensorRef<T, Rank>() const { return TensorRef<T, Rank>{data, shape, stride}; }  // NOLINT
  std::int64_t numel() const { return TensorRef<T, Rank>{data, shape, stride}.numel(); }
  bool empty() const { return data == nullptr; }
};

}  // namespace qjit
