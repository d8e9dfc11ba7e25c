// Codegen for the portable int8 GEMM family (templates/gemm_s8_sm80.cuh, KernelFamily::GemmSm80, its config type
// Sm80Tile in codegen/kernel_spec.h): validation of a (spec, config) pair, rendering of the source with its unique
// entry point, launch geometry for a run-time M, split-K workspace sizing, and the alignment facts a plan's
// can_implement needs.
//
// Run-time contract of the rendered kernel (GemmS8Params, codegen/kernel_params.h):
//   a: int8 [M, K] with row stride lda >= K; b: int8 [N, K] with ldb >= K; c: out [M, N] with ldc >= N;
//   b_scale: f32 [N]; a_scale: f32 [M] or nullptr (then a_scale_value; a per-tensor spec always uses a_scale_value);
//   bias: out [N] when the spec has a bias. Pointers need only their element's natural alignment.
//   Fast path (16-byte cp.async): K % 16 == 0 (compile time) AND, checked by the kernel at run time, a and b
//   16-byte aligned and lda, ldb multiples of 16. Otherwise the kernel loads bytes with zero fill: correct, slow.
//   Output pairs are stored as one vector when ldc is even and c is aligned to 2 * sizeof(out) (run-time check).
//   split_k > 1: p.workspace / p.tile_counters point into one buffer of gemm_s8_sm80_workspace_bytes(); the counter
//   region must be zero before the first launch and the kernel leaves it zero; launches sharing one buffer must not
//   run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>

#include "codegen/kernel_spec.h"
#include "qjit/status.h"

namespace qjit::codegen {

struct GemmAlignment {
  // Required for correctness: natural alignment of each pointer, and minimum strides.
  std::size_t c_align_bytes = 2;  // sizeof(out element); bias has the same type
  std::size_t scale_align_bytes = 4;
  std::int64_t min_lda = 0, min_ldb = 0, min_ldc = 0;  // K, K, N
  // Required for the fast path only (the kernel checks these at run time and falls back to byte loads).
  bool k_allows_fast_path = false;  // K % 16 == 0
  std::size_t fast_ab_align_bytes = 16;
  std::int64_t fast_ld_multiple = 16;  // lda and ldb
};

Status validate_gemm_s8_sm80(const KernelSpec& spec, const Sm80Tile& cfg);
Result<Source> render_gemm_s8_sm80(const KernelSpec& spec, const Sm80Tile& cfg);
// m >= 1. grid = (ceil(m / block_m), ceil(N / block_n), split_k), block = (32 * warps_m * warps_n).
LaunchDims gemm_s8_sm80_launch(const KernelSpec& spec, const Sm80Tile& cfg, std::int64_t m);
// Bytes of workspace for split_k > 1 (0 otherwise): int32 partials, then the tile counters at
// gemm_s8_sm80_counters_offset(), one int32 per tile, which end the workspace. A buffer sized for m serves every
// m' <= m.
std::size_t gemm_s8_sm80_workspace_bytes(const KernelSpec& spec, const Sm80Tile& cfg, std::int64_t m);
std::size_t gemm_s8_sm80_counters_offset(const KernelSpec& spec, const Sm80Tile& cfg, std::int64_t m);
GemmAlignment gemm_s8_sm80_requirements(const KernelSpec& spec, const Sm80Tile& cfg);
// Mirrors the kernel's run-time test: true when this call takes the 16-byte cp.async path.
bool gemm_s8_sm80_takes_fast_path(const KernelSpec& spec, const void* a, const void* b, std::int64_t lda,
                                  std::int64_t ldb);
// Dynamic shared memory of the config (stages * (block_m + block_n) * block_k).
int gemm_s8_sm80_smem_bytes(const Sm80Tile& cfg);

}  // namespace qjit::codegen
