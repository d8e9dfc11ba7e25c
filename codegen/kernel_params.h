// Host mirrors of the kernels' parameter structs. Each kernel takes exactly one of these by value as a
// `const __grid_constant__` parameter; the templates declare the same structs field for field (same order, same
// types, same sizes), and codegen's tests compile a probe that static_asserts the device-side sizes and offsets
// against the numbers below. Change both sides together.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qjit::codegen {

// y[m, n] = a_scale[m] * b_scale[n] * sum_k a[m, k] * b[n, k]  (+ bias[n]),  m < M, n < N (N, K baked in).
struct GemmS8Params {
  const void* a;          // int8 [M, K], row stride lda (bytes == elements)
  const void* b;          // int8 [N, K], row stride ldb
  const float* a_scale;   // [M] per-token scales, or nullptr: then a_scale_value applies to every row
  const float* b_scale;   // [N] per-output-channel scales
  const void* bias;       // OutT [N]; read only when the kernel was rendered with a bias
  void* c;                // OutT [M, N], row stride ldc
  std::int64_t lda;
  std::int64_t ldb;
  std::int64_t ldc;
  std::int32_t m;         // rows of a and c (run time)
  float a_scale_value;    // the static per-tensor activation scale (SmoothQuant), used when a_scale == nullptr
  void* workspace;        // split-K / stream-K partials (int32), nullptr when the config needs none
  std::int32_t* tile_counters;  // split-K arrival counters, zeroed by the kernel after use; nullptr if unused
};
static_assert(sizeof(GemmS8Params) == 96, "device-side GemmS8Params must match");

// Rowwise (per-token) or per-tensor dynamic int8 quantization of an FP [M, K] activation (K baked in).
struct QuantizeParams {
  const void* x;                // InT [M, K], row stride ldx
  std::int64_t ldx;
  std::int8_t* q;               // int8 [M, K], row stride ldq
  std::int64_t ldq;
  float* scale;                 // per-token: [M]; per-tensor: [1]
  std::uint32_t* absmax_bits;   // per-tensor only: the tensor's absmax as float bits (workspace, zeroed first)
  std::int32_t m;
  std::int32_t pad_;
  const float* smooth;          // pre_quant_scale [K] f32 when the kernel smooths (v = x * it first), else null
};
static_assert(sizeof(QuantizeParams) == 64, "device-side QuantizeParams must match");

}  // namespace qjit::codegen
