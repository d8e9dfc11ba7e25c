// Argument checks shared by every plan's can_implement: each failure names the field, what was expected and what
// was given ("activation.shape must be [M, K=4096], got [128, 4100]"). Pure host arithmetic on the views: no
// device access, no allocation on success, so run() can afford to call it every time.
#pragma once

#include <cstdint>

#include "ops/views.h"
#include "qjit/status.h"

namespace qjit::ops {

inline constexpr std::int64_t kMaxDim = std::int64_t{1} << 31;  // kernels index M, N, K with 32-bit ints

// Descriptor dimensions: each in [1, 2^31).
Status check_dims(std::int64_t m, std::int64_t n, std::int64_t k);

// A 2-D view of `kind` with `rows` x `cols` (rows < 0: any row count >= 1, reported as `row_name`); innermost
// stride 1; row stride >= cols; data non-null and aligned to `align_bytes` (>= the element size); the row stride in
// bytes a multiple of `align_bytes` when rows > 1.
Status check_matrix(const detail::MatrixView& v, const char* name, std::int64_t rows, const char* row_name,
                    std::int64_t cols, const char* col_name, ElementKind kind, unsigned align_bytes);

// A 1-D view of `kind` with exactly `size` elements, unit stride, non-null, element-aligned.
Status check_vector(const detail::VectorView& v, const char* name, std::int64_t size, const char* size_name,
                    ElementKind kind);

// An empty view (data == nullptr, size 0) — for optional arguments the descriptor says are absent.
Status check_absent(const detail::VectorView& v, const char* name, const char* why);

}  // namespace qjit::ops
