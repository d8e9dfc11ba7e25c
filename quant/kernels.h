// The toolkit's hot loops over row-major f32 matrices, kept in one place so they can be compiled for AVX2 and
// baseline x86-64 side by side (GCC/Clang target_clones picks at load time): column absmax, column scaling and
// per-row int8 quantization. Each handles a row range so callers can split work across threads. Non-finite values
// are detected inside the same sweep from the bit patterns (|x| bits >= 0x7f800000), never by a second pass.
#pragma once

#include <cstdint>

namespace qjit::quant::detail {

inline constexpr std::uint32_t kNonFiniteBits = 0x7f800000u;

// max_bits[j] = max(max_bits[j], bits(|m[r, j]|)) over rows [r0, r1). Read back with std::bit_cast<float>; a value
// >= kNonFiniteBits means the column held an inf or NaN.
void column_absmax_bits(const float* m, std::int64_t r0, std::int64_t r1, std::int64_t cols, std::uint32_t* max_bits);

// m[r, j] = m[r, j] * s[j] (divide = false) or m[r, j] / s[j] (divide = true) over rows [r0, r1); returns false if
// any result is not finite.
bool scale_columns(float* m, const float* s, std::int64_t r0, std::int64_t r1, std::int64_t cols, bool divide);

// Per-row symmetric int8 quantization (see w8a8.h) of rows [r0, r1): scale[r] = absmax/127, q = rni_sat(x/scale).
// Returns false on a non-finite value.
bool quantize_rows_s8(const float* x, std::int64_t r0, std::int64_t r1, std::int64_t cols, std::int8_t* q,
                      float* scale);

}  // namespace qjit::quant::detail
