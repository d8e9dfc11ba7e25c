// Codegen for the Hopper (sm_90a) int8 GEMM family, templates/gemm_s8_sm90.cuh: what the shared KernelSpec and the
// family's own config type Sm90Tile (codegen/kernel_spec.h) mean to it, validation of both (with messages that name
// the field and the expected value), rendering to NVRTC-ready source with one extern "C" entry point, launch
// geometry, split-K workspace sizing, the config space the autotuner walks, the per-M-bucket heuristic, and the
// host-side encoding of the two TMA tensor maps into the kernel's parameter block. Nothing here includes a CUDA
// header or links libcuda: the caller hands in the driver's cuTensorMapEncodeTiled as a plain function pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "codegen/kernel_params.h"
#include "codegen/kernel_spec.h"
#include "qjit/element.h"
#include "qjit/status.h"

namespace qjit::codegen {

// The kernel's parameter block, GemmS8Sm90Params (two CUtensorMaps, then GemmS8Params), is defined once for host
// and device in templates/gemm_params.h (through codegen/kernel_params.h).
//
// What the kernel computes is a KernelSpec (op gemm_s8, in_element s8): out_element (f16, bf16, f32 or f64; bias has
// the same type), N and K are baked in, has_bias and per_token_scale (true: a_scale[m] when non-null, else
// a_scale_value; false: a_scale_value only); M is a launch argument. The M bucket and arch do not enter the source.
//
// How it is tiled is an Sm90Tile. block_m / block_n are in GEMM terms (tokens / output channels) in both modes:
//  - swap_ab == false: block_m = consumers x 64|128 rows on wgmma's M side, block_n = wgmma N.
//  - swap_ab == true (decode): block_n = consumers x 64|128 weight rows on wgmma's M side, block_m = wgmma N.
// K runs through the pipeline Sm90Tile::kBlockK = 128 bytes a stage (one 128-byte swizzle row), a constant of the
// template, not a field. consumers: consumer warp groups (1 or 2), plus one producer warp group. cluster_m: 2 = pairs
// of CTAs on adjacent M tiles share (TMA-multicast) the weight tile; not with swap_ab or split-K. split_k: K splits
// reduced through an int32 workspace (deterministic: int32 sums are exact). pingpong (needs consumers == 2,
// split_k == 1, !swap_ab): each consumer owns a whole block_m x block_n tile (block_m = 64 or 128 rows) and the two
// take turns on the tensor cores, so one's epilogue hides under the other's main loop; otherwise ("cooperative") the
// consumers split one tile's block_m rows between them.

// "bm128_bn256_bk128_s4_c2_cl1x1_ab_sk1" (+ "_pp" with pingpong): the config part of the kernel's entry name and
// of the source's first line ("cl<cluster_m>x1": the cluster is cluster_m CTAs along M, one along N).
std::string sm90_entry_suffix(const Sm90Tile& config);

// Largest dynamic shared memory an sm_90 block may opt in to (227 KiB).
inline constexpr int kSm90MaxDynamicSmem = 232448;

// Checks that (spec, config) is something this template can compile, naming the field and the expected value.
// Any K: the tensor maps carry the true K and TMA zero-fills the tail; operands whose base or row stride is not a
// multiple of 16 bytes are refused at encode time (InvalidArgument): the plans give those views the portable kernel.
Status validate_gemm_s8_sm90(const KernelSpec& spec, const Sm90Tile& config);
// The spec half of validate_gemm_s8_sm90: whether some config of this family can serve `spec`.
Status validate_gemm_s8_sm90_spec(const KernelSpec& spec);

// Dynamic shared memory (bytes) the kernel needs; meaningful only for a valid (spec, config).
int gemm_s8_sm90_smem_bytes(const KernelSpec& spec, const Sm90Tile& config);

// Deterministic source text for (spec, config): the template, the wgmma wrappers for its N, and the entry point.
Result<Source> render_gemm_s8_sm90(const KernelSpec& spec, const Sm90Tile& config);

// Persistent grid: min(work units, sm_count) CTAs (whole clusters); work units = tiles(m) x split_k. `programmatic`
// is left false: the family object decides it (jit/gemm_sm90_family.cpp).
LaunchDims gemm_s8_sm90_launch(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m, int sm_count);
std::int64_t gemm_s8_sm90_work_units(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m);

// Split-K needs GemmS8Params::workspace (int32 partials) and ::tile_counters; both 0 when split_k == 1.
// The counters must be zeroed once when allocated; every launch leaves them zero again.
std::size_t gemm_s8_sm90_workspace_bytes(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m);
std::size_t gemm_s8_sm90_counter_count(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m);

// Every valid config worth timing for this spec (the autotuner's space), and the heuristic's pick per M.
std::vector<Sm90Tile> sm90_candidate_configs(const KernelSpec& spec);
Sm90Tile sm90_heuristic_config(const KernelSpec& spec, std::int64_t m, int sm_count);

// The ABI of cuTensorMapEncodeTiled (CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
// const cuuint64_t*, const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
// CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill)); enums are passed as int.
using EncodeTiledFn = int (*)(void* tensor_map, int data_type, std::uint32_t rank, void* global_address,
                              const std::uint64_t* global_dim, const std::uint64_t* global_strides,
                              const std::uint32_t* box_dim, const std::uint32_t* element_strides, int interleave,
                              int swizzle, int l2_promotion, int oob_fill);

// The values of cuda.h's tensor-map enums this family uses (CUDA 12/13 ABI).
inline constexpr int kTensorMapDataTypeUint8 = 0;    // CU_TENSOR_MAP_DATA_TYPE_UINT8 (int8 bits travel unchanged)
inline constexpr int kTensorMapInterleaveNone = 0;   // CU_TENSOR_MAP_INTERLEAVE_NONE
inline constexpr int kTensorMapSwizzle128B = 3;      // CU_TENSOR_MAP_SWIZZLE_128B
inline constexpr int kTensorMapL2Promotion256B = 3;  // CU_TENSOR_MAP_L2_PROMOTION_L2_256B
inline constexpr int kTensorMapOobFillZeros = 0;     // CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE: out-of-range reads give 0

// Validates the run-time arguments TMA depends on (pointers, 16-byte alignment, strides, split-K buffers) and fills
// *out: tensor maps for A {K, M} and B {K, N} with 128 x block_m / 128 x block_n boxes, then a copy of base.
// A failing encode returns DriverError with the CUresult.
Status encode_gemm_s8_sm90_params(EncodeTiledFn encode, const KernelSpec& spec, const Sm90Tile& config,
                                  const GemmS8Params& base, GemmS8Sm90Params* out);

}  // namespace qjit::codegen
