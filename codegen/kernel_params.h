// The kernels' parameter structs on the host. Each kernel takes exactly one of these by value as a
// `const __grid_constant__` parameter. The GEMM blocks are defined once, in templates/gemm_params.h, which codegen
// also pastes into every rendered GEMM source; QuantizeParams is still mirrored field for field by common.cuh.
// codegen's tests compile probes that static_assert the device-side sizes and offsets against the host's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "templates/gemm_params.h"
#include "templates/norm_quantize_params.h"
#include "templates/w8a16_params.h"

namespace qjit::codegen {

// GemmS8Params and GemmS8Sm90Params: templates/gemm_params.h, the one definition host and device share;
// NormQuantizeParams likewise: templates/norm_quantize_params.h.

// Rowwise (per-token) or per-tensor dynamic int8 quantization of an FP [M, K] activation (K baked in).
struct QuantizeParams {
  const void* x;  // InT [M, K], row stride ldx
  std::int64_t ldx;
  std::int8_t* q;  // int8 [M, K], row stride ldq
  std::int64_t ldq;
  float* scale;                // per-token: [M]; per-tensor: [1]
  std::uint32_t* absmax_bits;  // per-tensor only: the tensor's absmax as float bits (workspace, zeroed first)
  std::int32_t m;
  std::int32_t pad_;
  const float* smooth;  // pre_quant_scale [K] f32 when the kernel smooths (v = x * it first), else null
};
static_assert(sizeof(QuantizeParams) == 64, "device-side QuantizeParams must match");

}  // namespace qjit::codegen
