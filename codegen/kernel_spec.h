// KernelSpec, TileConfig, Source and LaunchDims: the plain, printable structs that carry a kernel request from the
// plans through autotune and codegen to the launcher. A KernelSpec says WHAT to compute (op, dtypes, the baked-in
// N and K, the M bucket, bias, scale mode, target arch); a TileConfig says HOW: it holds exactly one family's own
// config type (Sm80Tile, Sm90Tile, QuantizeTile), so a config carries only the fields its family has, and the family
// follows from which type it holds. Codegen turns the pair into a Source; the family's launch function turns it plus
// the run-time M into LaunchDims. Also here: the M bucketing every plan uses and the per-arch facts codegen validates
// against.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "qjit/element.h"
#include "qjit/status.h"
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
  LayerNormQuantize,
  W8A16Gemm,  // weight-only int8: f16/bf16 activation x int8 weight dequantized in the main loop (w8a16_sm80)
  StageRows   // the staged Hopper path's int8 row copy into aligned rows (templates/stage_rows.cuh, quantize family)
};
// GemmSm90: the wgmma family; W8A16Sm80: the weight-only (W8A16) mma.sync family
enum class KernelFamily : std::uint8_t { Quantize, GemmSm80, GemmSm90, W8A16Sm80 };

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
  // ScaledMatmul's scale modes (kernels with the defaults render exactly as before these existed):
  bool per_channel_weight_scale = true;  // GEMM: b_scale[n]; false: b_scale[0] for every column (a device [1] tensor)
  bool device_act_scale = false;         // GEMM, per_token_scale false: a_scale[0] (device [1]), not a_scale_value
  // Asymmetric activations (issue 17): quantize rowwise: a per-token zero point too, codes u8 or s8 (out_element);
  // GEMM: the epilogue subtracts azp[m] * colsum[n] from the accumulator (needs per-token scales).
  bool act_zero_point = false;
  // W8A16Gemm (in_element = out_element = f16 or bf16): the weight's scales are per tensor
  // (per_channel_weight_scale false), per channel, or, with weight_group 64 / 128, per group of that many K elements
  // ([N, ceil(K / group)]); zero_point: int32 zero points of the scales' shape.
  int weight_group = 0;
  bool zero_point = false;
  // "gemm_s8 s8->bf16 n=4096 k=4096 m<=16 bias per_token sm_90a" (" act_scale=device", " weight_scale=per_tensor"
  // after the scale mode only when those differ from the defaults, so existing kernels print as they did; " azp"
  // last for act_zero_point)
  std::string to_string() const;
  bool operator==(const KernelSpec&) const = default;
};

// Whether a GEMM spec uses a scale mode the families render through their *_scales.cuh epilogue (a per-tensor weight
// scale, or a per-tensor activation scale read from the device), and the check both families run on those fields.
// act_zero_point is one of them: its epilogue is rendered from the same files.
inline bool uses_scale_modes(const KernelSpec& s) {
  return !s.per_channel_weight_scale || s.device_act_scale || s.act_zero_point;
}
Status validate_scale_modes(const KernelSpec& spec);

// ---- How: one config type per kernel family ----
//
// Each family's config is a plain struct of only the fields that family has, built with designated initialisers
// (Sm90Tile{.block_m = 128, .block_n = 256, .consumers = 2}). Each names its family (kFamily), prints itself, and maps
// to and from TileFields, the flat record the tuning database stores. A TileConfig holds exactly one of them. Adding
// a family is adding its type here and one alternative to TileConfig::Alternatives; a family whose config has the
// same fields as another's reuses that type's template (RowTile<F>), so the two still differ by type.

// The flat record of a config as the tuning database stores it: one key per field of the single struct that
// TileConfig replaced, so files written before the split read and write unchanged. A family fills in its own fields
// and leaves the rest at the values below, or at its own fixed value (Sm90Tile: block_k = 128).
struct TileFields {
  int block_m = 1, block_n = 1, block_k = 1;
  int warps_m = 1, warps_n = 1;
  int stages = 1;
  int split_k = 1;
  int consumers = 0;
  bool swap_ab = false;
  bool pingpong = false;
  int cluster_m = 1;
  bool operator==(const TileFields&) const = default;
};

// An mma.sync + cp.async family's config: a block_m x block_n CTA tile over block_k of K per stage (bytes for
// gemm_sm80, 16-bit elements for w8a16_sm80), a warps_m x warps_n warp grid, a pipeline of `stages`, and K split
// split_k ways (partials reduced through a workspace). F makes each family that uses this shape its own type.
template <KernelFamily F>
struct MmaTile {
  static constexpr KernelFamily kFamily = F;
  int block_m = 128, block_n = 128, block_k = 64;
  int warps_m = 2, warps_n = 4;
  int stages = 4;
  int split_k = 1;
  std::string to_string() const;  // "gemm_sm80 128x128x64 w2x4 s4 sk1"
  TileFields fields() const {
    return {.block_m = block_m,
            .block_n = block_n,
            .block_k = block_k,
            .warps_m = warps_m,
            .warps_n = warps_n,
            .stages = stages,
            .split_k = split_k};
  }
  static MmaTile from_fields(const TileFields& f) {  // takes its own fields, ignores the others
    return {.block_m = f.block_m,
            .block_n = f.block_n,
            .block_k = f.block_k,
            .warps_m = f.warps_m,
            .warps_n = f.warps_n,
            .stages = f.stages,
            .split_k = f.split_k};
  }
  bool operator==(const MmaTile&) const = default;
};
// gemm_sm80: block_k in bytes of int8 K.
using Sm80Tile = MmaTile<KernelFamily::GemmSm80>;
// w8a16_sm80: MmaTile's fields with block_k in elements of K (32, 64 or 128 per stage), plus swap_ab, the decode
// layout (templates/w8a16_sm80_decode.cuh): the weight rows ride the mma's M side. Then block_m is the tokens of a CTA
// (8, 16 or 32), block_n its output channels (warps_n warps of 16 or 32), block_k the k block a lane's 16-byte weight
// loads cover (64 or 128), warps_m the warps that split the CTA's K slice, stages the k blocks in flight (a register
// ring) and split_k the CTAs along K. A config without swap_ab prints, stores and renders as before.
struct W8A16Tile {
  static constexpr KernelFamily kFamily = KernelFamily::W8A16Sm80;
  int block_m = 128, block_n = 128, block_k = 64;
  int warps_m = 2, warps_n = 4;
  int stages = 4;
  int split_k = 1;
  bool swap_ab = false;
  std::string to_string() const;  // "w8a16_sm80 128x128x32 w2x4 s4 sk1", "w8a16_sm80 16x128x64 w2x4 swap_ab s4 sk8"
  TileFields fields() const {
    return {.block_m = block_m,
            .block_n = block_n,
            .block_k = block_k,
            .warps_m = warps_m,
            .warps_n = warps_n,
            .stages = stages,
            .split_k = split_k,
            .swap_ab = swap_ab};
  }
  static W8A16Tile from_fields(const TileFields& f) {
    return {.block_m = f.block_m,
            .block_n = f.block_n,
            .block_k = f.block_k,
            .warps_m = f.warps_m,
            .warps_n = f.warps_n,
            .stages = f.stages,
            .split_k = f.split_k,
            .swap_ab = f.swap_ab};
  }
  bool operator==(const W8A16Tile&) const = default;
};

// gemm_sm90 (wgmma + TMA, warp-specialised): block_m x block_n in GEMM terms (tokens x output channels; with swap_ab
// the weight rows ride wgmma's M side), `consumers` consumer warp groups (1 or 2) next to one producer, a pipeline of
// `stages` K slices of kBlockK bytes, K split split_k ways. pingpong: each consumer owns a whole tile and the two take
// turns (one's epilogue under the other's main loop). cluster_m = 2: CTA pairs along M multicast the weight tile.
// What each field must be: codegen/gemm_s8_sm90.h.
struct Sm90Tile {
  static constexpr KernelFamily kFamily = KernelFamily::GemmSm90;
  static constexpr int kBlockK = 128;  // bytes of K per stage: one 128-byte swizzle row, the template's only choice
  int block_m = 128, block_n = 128;
  int stages = 4;
  int split_k = 1;
  int consumers = 1;
  bool swap_ab = false;
  bool pingpong = false;
  int cluster_m = 1;
  std::string to_string() const;  // "gemm_sm90 128x256x128 c2 s4 sk1", "gemm_sm90 8x64x128 c1 swap_ab s8 sk1"
  TileFields fields() const;
  static Sm90Tile from_fields(const TileFields& f);
  bool operator==(const Sm90Tile&) const = default;
};

namespace detail {
std::string row_tile_string(KernelFamily family, int rows_per_cta, int threads_per_row);
template <class T, class Variant>
inline constexpr bool kIsAlternative = false;
template <class T, class... A>
inline constexpr bool kIsAlternative<T, std::variant<A...>> = (std::is_same_v<T, A> || ...);
template <class T, class Variant>
concept AlternativeOf = kIsAlternative<T, Variant>;
}  // namespace detail

// A row-per-thread-group family (quantize): CTAs of rows_per_cta rows, threads_per_row threads on each row. F makes
// each family that uses this shape its own type.
template <KernelFamily F>
struct RowTile {
  static constexpr KernelFamily kFamily = F;
  int rows_per_cta = 1;
  int threads_per_row = 256;
  // "quantize 1x256x1 w1x1 s1 sk1": the flat struct's printed form, kept byte for byte (tuning records and the
  // `qjit inspect` output compare and show it).
  std::string to_string() const { return detail::row_tile_string(F, rows_per_cta, threads_per_row); }
  TileFields fields() const { return {.block_m = rows_per_cta, .block_n = threads_per_row}; }
  static RowTile from_fields(const TileFields& f) { return {.rows_per_cta = f.block_m, .threads_per_row = f.block_n}; }
  bool operator==(const RowTile&) const = default;
};
using QuantizeTile = RowTile<KernelFamily::Quantize>;

class TileConfig {
 public:
  // One alternative per KernelFamily value.
  using Alternatives = std::variant<Sm80Tile, Sm90Tile, QuantizeTile, W8A16Tile>;

  TileConfig() = default;  // Sm80Tile{}
  // NOTE: implicit: every family's config is a TileConfig (return Sm80Tile{...} from a function returning one).
  template <detail::AlternativeOf<Alternatives> T>
  TileConfig(const T& tile) : tile_(tile) {}

  KernelFamily family() const noexcept {
    return std::visit([](const auto& t) { return std::decay_t<decltype(t)>::kFamily; }, tile_);
  }
  std::string to_string() const;  // the held config's
  TileFields fields() const;
  // The config of `family` whose fields() are `f`. A field the family does not have must hold the value the family
  // stores there, else InvalidArgument "field 'consumers' must be 0 for family gemm_sm80 (it has no such field), got
  // 2" (the caller says where).
  static Result<TileConfig> from_fields(KernelFamily family, const TileFields& f);
  bool operator==(const TileConfig&) const = default;

  // Typed access, for the family that owns the type (generic code needs none of it).
  template <class T>
  bool holds() const noexcept {
    return std::holds_alternative<T>(tile_);
  }
  template <class T>
  const T* get_if() const noexcept {
    return std::get_if<T>(&tile_);
  }
  // NOTE: precondition holds<T>() (the registry hands a config only to its own family); else std::bad_variant_access.
  template <class T>
  const T& as() const {
    return std::get<T>(tile_);
  }

 private:
  Alternatives tile_;
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

// The checks every MmaTile family shares after its own warp-grid and block rules: at most 128 accumulators a thread,
// stages in [2, 8], split_k in [1, max_split_k] with every split holding a K tile, at most 65535 tiles along N, and
// `smem` bytes of shared memory within the arch's limit (OutOfResources). Messages name the config field.
// Tile: Sm80Tile or W8A16Tile.
template <class Tile>
Status validate_mma_pipeline(const KernelSpec& spec, const Tile& cfg, int max_split_k, int smem);

}  // namespace qjit::codegen
