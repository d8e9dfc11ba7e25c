// Codegen for the Hopper (sm_90a) int8 GEMM family, templates/gemm_s8_sm90.cuh: the spec and config it is rendered
// from, validation of both (with messages that name the field and the expected value), rendering to NVRTC-ready
// source with one extern "C" entry point, launch geometry, split-K workspace sizing, the config space the autotuner
// walks, the per-M-bucket heuristic, and the host-side encoding of the two TMA tensor maps into the kernel's
// parameter block. Nothing here includes a CUDA header or links libcuda: the caller hands in the driver's
// cuTensorMapEncodeTiled as a plain function pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "codegen/kernel_params.h"
#include "qjit/element.h"
#include "qjit/status.h"

namespace qjit::codegen {

// The kernel's parameter block, GemmS8Sm90Params (two CUtensorMaps, then GemmS8Params), is defined once for host
// and device in templates/gemm_params.h (through codegen/kernel_params.h).

// What the kernel computes (until the shared KernelSpec lands): N and K are baked in, M is a launch argument.
struct Sm90GemmSpec {
  ElementKind out_element = ElementKind::F16;  // F16, BF16, F32 or F64 (bias has the same type)
  std::int64_t n = 0;
  std::int64_t k = 0;
  bool has_bias = false;
  bool per_token_scale = true;  // true: a_scale[m] when non-null, else a_scale_value; false: a_scale_value only
};

// How it is tiled. block_m / block_n are in GEMM terms (tokens / output channels) in both modes:
//  - swap_ab == false: block_m = consumers x 64|128 rows on wgmma's M side, block_n = wgmma N.
//  - swap_ab == true (decode): block_n = consumers x 64|128 weight rows on wgmma's M side, block_m = wgmma N.
struct Sm90Config {
  int block_m = 128;
  int block_n = 256;
  int block_k = 128;  // bytes of K per pipeline stage; must be 128 (one 128-byte swizzle row)
  int stages = 4;
  int consumers = 2;  // consumer warp groups (1 or 2); plus one producer warp group
  int cluster_m = 1;  // 2: pairs of CTAs on adjacent M tiles share (TMA-multicast) the weight tile; not with swap_ab
  int cluster_n = 1;  // must be 1
  bool swap_ab = false;
  int split_k = 1;  // K splits reduced through an int32 workspace (deterministic: int32 sums are exact)
  // Ping-pong (needs consumers == 2, split_k == 1, !swap_ab): each consumer owns a whole block_m x block_n tile
  // (block_m = 64 or 128 rows) and the two take turns on the tensor cores, so one's epilogue hides under the
  // other's main loop. Otherwise ("cooperative") the consumers split one tile's block_m rows between them.
  bool pingpong = false;
  std::string to_string() const;  // "bm128_bn256_bk128_s4_c2_cl1x1_ab_sk1" (+ "_pp") — also the entry-name suffix
  friend bool operator==(const Sm90Config&, const Sm90Config&) = default;
};

struct Sm90Source {
  std::string text;      // complete NVRTC input (no #include), compile with --gpu-architecture=sm_90a
  std::string entry;     // the extern "C" kernel name, unique per spec + config
  int threads = 0;       // threads per CTA (128 x (consumers + 1))
  int dynamic_smem = 0;  // bytes; above 48 KiB the launcher must raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
};

struct Sm90Launch {
  unsigned grid_x = 1, grid_y = 1, grid_z = 1;
  unsigned block_x = 1, block_y = 1, block_z = 1;
  int dynamic_smem = 0;
  unsigned cluster_x = 1, cluster_y = 1, cluster_z = 1;  // > 1: launch with the cluster-dimension attribute
};

// Largest dynamic shared memory an sm_90 block may opt in to (227 KiB).
inline constexpr int kSm90MaxDynamicSmem = 232448;

// Checks that (spec, config) is something this template can compile, naming the field and the expected value.
// Shapes TMA cannot take (K % 16 != 0) return Unsupported: they belong to the portable sm80 path.
Status validate_gemm_s8_sm90(const Sm90GemmSpec& spec, const Sm90Config& config);

// Dynamic shared memory (bytes) the kernel needs; meaningful only for a valid (spec, config).
int gemm_s8_sm90_smem_bytes(const Sm90GemmSpec& spec, const Sm90Config& config);

// Deterministic source text for (spec, config): the template, the wgmma wrappers for its N, and the entry point.
Result<Sm90Source> render_gemm_s8_sm90(const Sm90GemmSpec& spec, const Sm90Config& config);

// Persistent grid: min(work units, sm_count) CTAs; work units = tiles(m) x split_k.
Sm90Launch gemm_s8_sm90_launch(const Sm90GemmSpec& spec, const Sm90Config& config, std::int64_t m, int sm_count);
std::int64_t gemm_s8_sm90_work_units(const Sm90GemmSpec& spec, const Sm90Config& config, std::int64_t m);

// Split-K needs GemmS8Params::workspace (int32 partials) and ::tile_counters; both 0 when split_k == 1.
// The counters must be zeroed once when allocated; every launch leaves them zero again.
std::size_t gemm_s8_sm90_workspace_bytes(const Sm90GemmSpec& spec, const Sm90Config& config, std::int64_t m);
std::size_t gemm_s8_sm90_counter_count(const Sm90GemmSpec& spec, const Sm90Config& config, std::int64_t m);

// Every valid config worth timing for this spec (the autotuner's space), and the heuristic's pick per M.
std::vector<Sm90Config> sm90_candidate_configs(const Sm90GemmSpec& spec);
Sm90Config sm90_heuristic_config(const Sm90GemmSpec& spec, std::int64_t m, int sm_count);

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
Status encode_gemm_s8_sm90_params(EncodeTiledFn encode, const Sm90GemmSpec& spec, const Sm90Config& config,
                                  const GemmS8Params& base, GemmS8Sm90Params* out);

}  // namespace qjit::codegen
