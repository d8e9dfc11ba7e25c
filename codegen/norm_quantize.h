// Codegen for the fused norm + quantize kernels (templates/norm_quantize.cuh, rendered after common.cuh and
// quantize_rowwise.cuh, whose quantization functions they call): KernelOp::RmsNormQuantize and LayerNormQuantize, in
// the quantize family (KernelFamily::Quantize: the same config, QuantizeTile {rows_per_cta, threads_per_row}, and
// the same launch geometry, codegen::quantize_launch). Spec fields: in_element f16, bf16 or f32 (x, residual,
// gamma, beta); per_token_scale (dynamic scale[m] = absmax / 127) or not (the static per-tensor scale of the
// parameters); residual (add one and write the sum back). Beyond the family's config rules, threads per row must be a
// power of two (the reduction tree follows the element index) and at least ceil(K / 16 / 64) (64 chunks a thread).
//
// Run-time contract (NormQuantizeParams, templates/norm_quantize_params.h): every FP operand [M, K] (gamma, beta:
// [K]) with row strides >= K, naturally aligned; residual_out may alias x or residual (each element is read before
// it is written, by the same thread). The 16-byte path is taken when every pointer is 16-byte aligned and every row
// stride is a multiple of 16 bytes; otherwise scalar loads do the same arithmetic in the same order (same bits).
#pragma once

#include <cstdint>

#include "codegen/kernel_spec.h"
#include "qjit/status.h"

namespace qjit::codegen {

inline constexpr std::int64_t kMaxNormK = std::int64_t{1} << 20;

// A norm spec: op RmsNormQuantize or LayerNormQuantize; dynamic = per-token scales.
KernelSpec norm_quantize_spec(KernelOp op, ElementKind in, std::int64_t k, int m_bucket, int arch, bool dynamic,
                              bool residual);
Status validate_norm_quantize(const KernelSpec& spec, const QuantizeTile& cfg);
Result<Source> render_norm_quantize(const KernelSpec& spec, const QuantizeTile& cfg);
// The fewest threads per row the kernel allows for K (a power of two: at most 64 chunks a thread).
int norm_min_threads_per_row(std::int64_t k);

}  // namespace qjit::codegen
