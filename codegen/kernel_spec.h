// KernelSpec, TileConfig, Source and LaunchDims: the plain, printable structs that carry a kernel request from the
// plans through autotune and codegen to the launcher. A KernelSpec says WHAT to compute (op, dtypes, the baked-in
// N and K, the M bucket, bias, scale mode, target arch); a TileConfig says HOW (family, tile sizes, warps, stages,
// split-K). Codegen turns the pair into a Source; the family's launch function turns it plus the run-time M into
// LaunchDims. Also here: the M bucketing every plan uses and the per-arch facts codegen validates against.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "qjit/element.h"
#include "runtime/launch_dims.h"

namespace qjit::codegen {

// RmsNormQuantize / LayerNormQuantize: the quantize family's fused norm + quantize passes
// (templates/norm_quantize.cuh); per_token_scale = dynamic per-token scale, else a static per-tensor scale.
enum class KernelOp : std::uint8_t {
  QuantizeRowwise,
  QuantizeAbsmax,
  QuantizeApplyScale,
  GemmS8,
  RmsNormQuantize,
  LayerNormQuantize
};
enum class KernelFamily : std::uint8_t { Quantize, GemmSm80, GemmSm90 };  // GemmSm90: the wgmma family

std::string_view kernel_op_name(KernelOp op) noexcept;         // "quantize_rowwise", "gemm_s8", ...
bool is_norm_op(KernelOp op) noexcept;                          // RmsNormQuantize, LayerNormQuantize
std::string_view kernel_family_name(KernelFamily f) noexcept;  // "quantize", "gemm_sm80", "gemm_sm90"
// The inverses, for files that store the names (the tuning database, command-line flags); nullopt for any other text.
std::optional<KernelOp> parse_kernel_op(std::string_view name) noexcept;
std::optional<KernelFamily> parse_kernel_family(std::string_view name) noexcept;
// element_name's inverse: "f16", "bf16", "f32", "f64", "s8", "u8", "s32".
std::optional<ElementKind> parse_element_name(std::string_view name) noexcept;

struct KernelSpec {
  KernelOp op = KernelOp::GemmS8;
  ElementKind in_element = ElementKind::S8;    // GEMM: S8; quantize: the FP input type
  ElementKind out_element = ElementKind::F16;  // GEMM: the output type (f16, bf16, f32, f64); quantize: S8
  std::int64_t n = 0;                          // GEMM: output features (rows of the weight); quantize: unused (0)
  std::int64_t k = 0;                          // reduction length / row length
  int m_bucket = 1;                            // m_bucket_of(M) of the calls this kernel serves
  bool has_bias = false;                       // GEMM: add bias[n] (element type = out_element)
  bool per_token_scale = true;                 // GEMM: a_scale[m] (else the scalar a_scale_value)
  bool smooth = false;                         // quantize: multiply x by a per-channel pre_quant_scale[k] first
  bool residual = false;                       // norm ops: add a residual first and write the sum back
  int arch = 80;                               // 80, 86, 89, 90 (= sm_90a)
  // "gemm_s8 s8->bf16 n=4096 k=4096 m<=16 bias per_token sm_90a"
  std::string to_string() const;
  bool operator==(const KernelSpec&) const = default;
};

struct TileConfig {
  KernelFamily family = KernelFamily::GemmSm80;
  // GEMM: CTA tile (block_m x block_n, block_k bytes of K per stage), warp grid, pipeline depth, K splits.
  // Quantize: block_m = rows per CTA, block_n = threads per row; the other fields are 1 (block_k, warps_*: 1).
  int block_m = 128, block_n = 128, block_k = 64;
  int warps_m = 2, warps_n = 4;
  int stages = 4;
  int split_k = 1;
  // GemmSm90 only: consumer warp groups (1 or 2) and whether tokens ride wgmma's N side (small-M "swap AB").
  int consumers = 0;
  bool swap_ab = false;
  // GemmSm90 only: each consumer warp group owns a whole block_m x block_n tile and the two alternate (one runs its
  // main loop while the other runs its epilogue) instead of splitting one tile between them.
  bool pingpong = false;
  int cluster_m = 1;              // GemmSm90 only: 2 = CTA pairs along M multicast the shared weight tile
  std::string to_string() const;  // "gemm_sm80 128x128x64 w2x4 s4 sk1"
  bool operator==(const TileConfig&) const = default;
};

// A rendered kernel: full source text (templates + generated tail), its single extern "C" entry point, the CTA size
// and the dynamic shared memory it must be launched with (> 48 KiB needs the opt-in attribute set on the function).
struct Source {
  std::string text;
  std::string entry;
  int threads = 0;
  int dynamic_smem_bytes = 0;
};

// The one launch-geometry type (runtime/launch_dims.h), named here for the families' launch functions.
using LaunchDims = runtime::LaunchDims;

// 1, 2, 4, ..., 256, 512, 1024, 2048, 4096: the smallest power of two >= m, capped at 4096 (">= 4096"). m < 1 -> 1.
int m_bucket_of(std::int64_t m);
// "sm_80", "sm_86", "sm_89", "sm_90a"; an unknown arch maps to "sm_<arch>".
std::string arch_option(int arch);
// The opt-in dynamic shared-memory limit per block of the arch (bytes): 163 KiB on sm_80/87, 227 KiB on sm_90,
// 99 KiB otherwise. The templates static_assert the same numbers.
int max_dynamic_smem_bytes(int arch);
bool is_supported_arch(int arch);  // 80, 86, 87, 89, 90

}  // namespace qjit::codegen
