// Codegen for the staging copy (templates/stage_rows.cuh, rendered after common.cuh): KernelOp::StageRows, in the
// quantize family (its config, QuantizeTile {rows_per_cta, threads_per_row}, and its launch geometry,
// codegen::quantize_launch). Spec fields: in_element = out_element = s8, k (the row length in bytes), the M bucket
// and the arch; nothing else. The linear plans launch it for each int8 operand the Hopper GEMM's TMA cannot read in
// place (ops/staging.h), instead of a cuMemcpy2DAsync.
//
// Run-time contract (StageRowsParams, codegen/kernel_params.h): src int8 [M, K] at any address with row stride
// lds >= K; dst 16-byte aligned with row stride ldd a multiple of 16 and >= K rounded up to 16. Writes dst's bytes
// [0, round_up(K, 16)) of every row (those past K as zeros), nothing else.
#pragma once

#include <cstdint>

#include "codegen/kernel_spec.h"
#include "qjit/status.h"

namespace qjit::codegen {

// The copy's spec for rows of k bytes.
KernelSpec stage_rows_spec(std::int64_t k, int m_bucket, int arch);
Status validate_stage_rows(const KernelSpec& spec, const QuantizeTile& cfg);
Result<Source> render_stage_rows(const KernelSpec& spec, const QuantizeTile& cfg);

}  // namespace qjit::codegen
