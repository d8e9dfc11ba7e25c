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

// The azp epilogue's extra operands (gemm_s8_sm{80,90}_scales.cuh, rendered only for act_zero_point specs): the
// activation zero points [M] and the weight column sums [N], int32 in device memory. Those kernels take their
// family's block with these appended (base first, so the kernel reaches them from the block it passes down); every
// other kernel's block is unchanged.
struct GemmAzpArgs {
  const std::int32_t* azp;
  const std::int32_t* colsum;
};
struct GemmS8AzpParams {
  GemmS8Params base;
  GemmAzpArgs azp;
};
static_assert(sizeof(GemmS8AzpParams) == 112 && offsetof(GemmS8AzpParams, azp) == 96,
              "device-side GemmS8AzpParams must match");
struct GemmS8Sm90AzpParams {
  GemmS8Sm90Params g;
  GemmAzpArgs azp;
};
static_assert(sizeof(GemmS8Sm90AzpParams) == 448 && offsetof(GemmS8Sm90AzpParams, azp) == 384 &&
                  alignof(GemmS8Sm90AzpParams) == 64,
              "device-side GemmS8Sm90AzpParams must match");

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

// The asymmetric quantize pass's block (templates/quantize_rowwise_asym.cuh, mirrored field for field): the
// symmetric block, then the per-token zero points it writes ([M] int32, in the storage's domain).
struct QuantizeAsymParams {
  QuantizeParams base;
  std::int32_t* zero_point;
};
static_assert(sizeof(QuantizeAsymParams) == 72 && offsetof(QuantizeAsymParams, zero_point) == 64,
              "device-side QuantizeAsymParams must match");

// The staging copy's block (templates/stage_rows.cuh, mirrored field for field).
struct StageRowsParams {
  const void* src;  // int8 [M, K], row stride lds bytes, any alignment
  std::int64_t lds;
  void* dst;  // 16-byte aligned rows of ldd bytes (a multiple of 16)
  std::int64_t ldd;
  std::int32_t m;
  std::int32_t pad_;
};
static_assert(sizeof(StageRowsParams) == 40, "device-side StageRowsParams must match");

}  // namespace qjit::codegen
