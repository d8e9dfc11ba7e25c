// Codegen for the weight-only int8 GEMM family (templates/w8a16_sm80.cuh, KernelFamily::W8A16Sm80, config type
// W8A16Tile in codegen/kernel_spec.h): validation of a (spec, config) pair, rendering with a unique entry point,
// launch geometry for a run-time M, and the split-K workspace layout.
//
// Run-time contract of the rendered kernel (W8A16Params, templates/w8a16_params.h):
//   x: T [M, K] with row stride ldx >= K; w: int8 [N, K] with ldw >= K; y: T [M, N] with ldy >= N;
//   scale: f32 [1] (per tensor), [N] (per channel) or [N, ceil(K / group)] with row stride ld_scale (per group);
//   zero_point: int32 of the scales' shape and stride when the spec has zero points, each in [-2^22, 2^22];
//   bias: T [N] when the spec has a bias. Pointers need only natural alignment: 16-byte aligned views with
//   K % 8 == 0 (x) / K % 16 == 0 (q) take cp.async, the rest element loads. swap_ab configs (the decode layout,
//   templates/w8a16_sm80_decode.cuh) take their 16-byte loads when K % block_k == 0, w and x are 16-byte aligned,
//   ldw % 16 == 0 and ldx % 8 == 0, byte / element loads otherwise: the same contract.
//   split_k > 1: workspace / tile_counters point into one buffer of w8a16_sm80_workspace_bytes(); the counters must
//   be zero before each launch (run() zeroes them on the stream) and launches sharing the buffer must not overlap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "codegen/kernel_spec.h"
#include "qjit/status.h"

namespace qjit::codegen {

// The spec a weight-only linear plan binds: in = out = act (f16 or bf16); group 0 (per tensor / channel) or 64 / 128.
KernelSpec w8a16_spec(ElementKind act, std::int64_t n, std::int64_t k, int m_bucket, int arch, bool has_bias,
                      bool per_channel, int group, bool zero_point);

Status validate_w8a16_sm80(const KernelSpec& spec, const W8A16Tile& cfg);
Result<Source> render_w8a16_sm80(const KernelSpec& spec, const W8A16Tile& cfg);
// grid = (ceil(m / block_m), ceil(N / block_n), split_k), block = 32 * warps_m * warps_n.
LaunchDims w8a16_sm80_launch(const KernelSpec& spec, const W8A16Tile& cfg, std::int64_t m);
// split_k > 1: f32 partials, then one int32 counter per tile at w8a16_sm80_counters_offset(), which end the
// workspace (the bytes past the offset are exactly the counters of this m); else 0.
std::size_t w8a16_sm80_workspace_bytes(const KernelSpec& spec, const W8A16Tile& cfg, std::int64_t m);
std::size_t w8a16_sm80_counters_offset(const KernelSpec& spec, const W8A16Tile& cfg, std::int64_t m);
int w8a16_sm80_smem_bytes(const KernelSpec& spec, const W8A16Tile& cfg);

}  // namespace qjit::codegen
