// Codegen for the dynamic quantization kernels (templates/quantize_rowwise.cuh, KernelFamily::Quantize): per-token
// (KernelOp::QuantizeRowwise) and the two passes of per-tensor (QuantizeAbsmax, then QuantizeApplyScale).
// Its config, QuantizeTile (codegen/kernel_spec.h): rows_per_cta, and threads_per_row (a power of two up to 32, or a
// multiple of 32); rows_per_cta * threads_per_row must be 32..1024 whole warps.
//
// Run-time contract (QuantizeParams, codegen/kernel_params.h): x: in [M, K] with ldx >= K (elements), naturally
// aligned; q: int8 [M, K] with ldq >= K; scale: f32 [M] (rowwise) or [1] (per-tensor, written by pass 2);
// absmax_bits: one u32, zeroed by the host before pass 1 (per-tensor only). The 16-byte vector path is taken at run
// time when x and q are 16-byte aligned, ldx * sizeof(in) and ldq are multiples of 16 (and K >= 16); otherwise a
// scalar path does the work (slower, same results).
#pragma once

#include <cstdint>

#include "codegen/kernel_spec.h"
#include "qjit/status.h"

namespace qjit::codegen {

// The config rules every kernel of the family shares (threads per row, CTA size); the fused norm kernels
// (codegen/norm_quantize.h) take the same QuantizeTile and the same launch geometry.
Status validate_quantize_config(const QuantizeTile& cfg);

Status validate_quantize(const KernelSpec& spec, const QuantizeTile& cfg);
Result<Source> render_quantize(const KernelSpec& spec, const QuantizeTile& cfg);
// m >= 1. grid = (ceil(m / rows_per_cta)), block = (rows_per_cta * threads_per_row). The norm kernels launch the same
// way.
LaunchDims quantize_launch(const KernelSpec& spec, const QuantizeTile& cfg, std::int64_t m);
// Mirrors the kernel's run-time test: true when rows take the 16-byte vector path.
bool quantize_takes_vector_path(const KernelSpec& spec, const void* x, std::int64_t ldx, const void* q,
                                std::int64_t ldq, const void* smooth = nullptr);
// The per-tensor pair for one input type: {absmax spec, apply-scale spec} derived from a rowwise-shaped spec.
KernelSpec quantize_spec(KernelOp op, ElementKind in, std::int64_t k, int m_bucket, int arch);

}  // namespace qjit::codegen
