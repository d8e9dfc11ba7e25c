// Renders templates/gemm_s8_sm80.cuh for one (KernelSpec, Sm80Tile): checks every constraint the template
// static_asserts (so a bad config is an InvalidArgument naming the field, never an NVRTC failure), then appends a
// generated tail with one extern "C" entry whose name encodes everything that changes the code. The text depends
// only on N, K, the config, the output type, bias and scale mode (not on the M bucket or arch, which the cache key
// carries), so buckets that share a config share one compiled kernel.
#include "codegen/gemm_s8_sm80.h"

#include <string>

#include "base/invalid.h"
#include "codegen/embedded_templates.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::codegen {
namespace {

constexpr std::int64_t kMaxDim = std::int64_t{1} << 30;

std::string_view device_out_type(ElementKind e) {
  switch (e) {
    case ElementKind::F16: return "qjitk::f16";
    case ElementKind::BF16: return "qjitk::bf16";
    case ElementKind::F32: return "float";
    case ElementKind::F64: return "double";
    default: return "";
  }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

int gemm_s8_sm80_smem_bytes(const Sm80Tile& cfg) { return cfg.stages * (cfg.block_m + cfg.block_n) * cfg.block_k; }

Status validate_gemm_s8_sm80(const KernelSpec& spec, const Sm80Tile& cfg) {
  if (spec.op != KernelOp::GemmS8)
    return invalid(llvm::formatv("spec.op must be gemm_s8, got {0}", kernel_op_name(spec.op)));
  if (spec.in_element != ElementKind::S8)
    return invalid(llvm::formatv("spec.in_element must be s8, got {0}", element_name(spec.in_element)));
  if (device_out_type(spec.out_element).empty())
    return invalid(
        llvm::formatv("spec.out_element must be f16, bf16, f32 or f64, got {0}", element_name(spec.out_element)));
  if (spec.n < 1 || spec.n > kMaxDim)
    return invalid(llvm::formatv("spec.n must be in [1, {0}], got {1}", kMaxDim, spec.n));
  if (spec.k < 1 || spec.k > kMaxDim)
    return invalid(llvm::formatv("spec.k must be in [1, {0}], got {1}", kMaxDim, spec.k));
  if (!is_supported_arch(spec.arch))
    return Status(StatusCode::Unsupported,
                  llvm::formatv("spec.arch must be one of 80, 86, 87, 89, 90 for gemm_sm80, got {0}", spec.arch));
  QJIT_TRY(validate_scale_modes(spec));
  if (cfg.block_k != 32 && cfg.block_k != 64 && cfg.block_k != 128)
    return invalid(llvm::formatv("config.block_k must be 32, 64 or 128, got {0}", cfg.block_k));
  if (cfg.warps_m < 1 || cfg.warps_n < 1 || cfg.warps_m * cfg.warps_n > 32)
    return invalid(llvm::formatv("config.warps_m * warps_n must be in [1, 32], got {0}x{1}", cfg.warps_m, cfg.warps_n));
  if (cfg.block_m < 16 || cfg.block_m > 256 || cfg.block_m % (16 * cfg.warps_m) != 0)
    return invalid(llvm::formatv("config.block_m must be a multiple of 16 * warps_m = {0} in [16, 256], got {1}",
                                 16 * cfg.warps_m, cfg.block_m));
  if (cfg.block_n < 16 || cfg.block_n > 256 || cfg.block_n % (16 * cfg.warps_n) != 0)
    return invalid(llvm::formatv("config.block_n must be a multiple of 16 * warps_n = {0} in [16, 256], got {1}",
                                 16 * cfg.warps_n, cfg.block_n));
  return validate_mma_pipeline(spec, cfg, 64, gemm_s8_sm80_smem_bytes(cfg));
}

Result<Source> render_gemm_s8_sm80(const KernelSpec& spec, const Sm80Tile& cfg) {
  QJIT_TRY(validate_gemm_s8_sm80(spec, cfg));
  const std::string_view common = find_template("common.cuh");
  const std::string_view params = find_template("gemm_params.h");
  const std::string_view body = find_template("gemm_s8_sm80.cuh");
  if (common.empty() || params.empty() || body.empty())
    return Status(StatusCode::Unsupported,
                  "templates common.cuh / gemm_params.h / gemm_s8_sm80.cuh are not embedded in this build");
  Source src;
  src.threads = 32 * cfg.warps_m * cfg.warps_n;
  src.dynamic_smem_bytes = gemm_s8_sm80_smem_bytes(cfg);
  src.entry = llvm::formatv("qjit_gemm_s8_sm80_n{0}_k{1}_bm{2}_bn{3}_bk{4}_wm{5}_wn{6}_s{7}_sk{8}_{9}_{10}_{11}",
                            spec.n, spec.k, cfg.block_m, cfg.block_n, cfg.block_k, cfg.warps_m, cfg.warps_n, cfg.stages,
                            cfg.split_k, element_name(spec.out_element), spec.has_bias ? "bias" : "nobias",
                            spec.per_token_scale ? "pt" : "ps");
  if (spec.device_act_scale) src.entry += "_ad";
  if (!spec.per_channel_weight_scale) src.entry += "_wt";
  if (spec.act_zero_point) src.entry += "_azp";
  src.text.reserve(common.size() + params.size() + body.size() + 512);
  src.text.append(common).append("\n").append(params).append("\n").append(body).append("\n");
  if (uses_scale_modes(spec)) {
    // NOTE: only for these specs, so every other kernel's text stays byte for byte (tests/unit/jit_family_pin_test).
    const std::string_view scales = find_template("gemm_s8_sm80_scales.cuh");
    if (scales.empty())
      return Status(StatusCode::Unsupported, "template gemm_s8_sm80_scales.cuh is not embedded in this build");
    src.text.append(scales).append("\n");
    if (spec.act_zero_point) {
      const std::string_view azp = find_template("gemm_s8_sm80_azp.cuh");
      if (azp.empty())
        return Status(StatusCode::Unsupported, "template gemm_s8_sm80_azp.cuh is not embedded in this build");
      src.text.append(azp).append("\n");
    }
    src.text += llvm::formatv(
        "// ---- scale modes, generated by qjit codegen (gemm_sm80) ----\n"
        "namespace qjitk {{\n"
        "typedef GemmS8Sm80<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}> QjK;\n"
        "template <>\n"
        "__device__ __forceinline__ void QjK::epilogue(const GemmS8Params& p, const i32 (&acc)[QjK::kMI][QjK::kNI][4],\n"
        "                                              i64 m0, int rows_a, int n0, int warp_m, int warp_n, int lane) {{\n"
        "{14}"
        "}\n"
        "}  // namespace qjitk\n",
        spec.n, spec.k, cfg.block_m, cfg.block_n, cfg.block_k, cfg.warps_m, cfg.warps_n, cfg.stages, cfg.split_k,
        device_out_type(spec.out_element), spec.has_bias ? "true" : "false", spec.per_token_scale ? "true" : "false",
        spec.per_channel_weight_scale ? "true" : "false", spec.device_act_scale ? "true" : "false",
        spec.act_zero_point
            ? llvm::formatv("  gemm_s8_sm80_epilogue_azp<QjK, {0}, {1}, {2}, {3}>(p, acc, m0, rows_a, n0, warp_m, "
                            "warp_n, lane);\n",
                            spec.n, device_out_type(spec.out_element), spec.has_bias ? "true" : "false",
                            spec.per_channel_weight_scale ? "true" : "false")
                  .str()
            : llvm::formatv("  gemm_s8_sm80_epilogue_scales<QjK, {0}, {1}, {2}, {3}, {4}, {5}>(p, acc, m0, rows_a, n0, "
                            "warp_m, warp_n,\n                                                                   "
                            "lane);\n",
                            spec.n, device_out_type(spec.out_element), spec.has_bias ? "true" : "false",
                            spec.per_token_scale ? "true" : "false", spec.per_channel_weight_scale ? "true" : "false",
                            spec.device_act_scale ? "true" : "false")
                  .str());
  }
  src.text += llvm::formatv(
      "// ---- generated by qjit codegen (gemm_sm80) ----\n"
      "extern \"C\" __global__ void __launch_bounds__({0}, 1) {1}(const __grid_constant__ qjitk::{14} p) {{\n"
      "  qjitk::GemmS8Sm80<{2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}>::run(p{15});\n"
      "}\n",
      src.threads, src.entry, spec.n, spec.k, cfg.block_m, cfg.block_n, cfg.block_k, cfg.warps_m, cfg.warps_n,
      cfg.stages, cfg.split_k, device_out_type(spec.out_element), spec.has_bias ? "true" : "false",
      spec.per_token_scale ? "true" : "false", spec.act_zero_point ? "GemmS8AzpParams" : "GemmS8Params",
      spec.act_zero_point ? ".base" : "");
  return src;
}

LaunchDims gemm_s8_sm80_launch(const KernelSpec& spec, const Sm80Tile& cfg, std::int64_t m) {
  LaunchDims d;
  d.grid[0] = static_cast<unsigned>(m < 1 ? 0 : ceil_div(m, cfg.block_m));
  d.grid[1] = static_cast<unsigned>(ceil_div(spec.n, cfg.block_n));
  d.grid[2] = static_cast<unsigned>(cfg.split_k);
  d.block[0] = static_cast<unsigned>(32 * cfg.warps_m * cfg.warps_n);
  d.dynamic_smem_bytes = static_cast<unsigned>(gemm_s8_sm80_smem_bytes(cfg));
  return d;
}

std::size_t gemm_s8_sm80_counters_offset(const KernelSpec& spec, const Sm80Tile& cfg, std::int64_t m) {
  if (cfg.split_k <= 1 || m < 1) return 0;
  const auto tiles = static_cast<std::size_t>(ceil_div(m, cfg.block_m) * ceil_div(spec.n, cfg.block_n));
  const std::size_t partials = static_cast<std::size_t>(cfg.split_k) * tiles * static_cast<std::size_t>(cfg.block_m) *
                               static_cast<std::size_t>(cfg.block_n) * 4;
  return (partials + 255) / 256 * 256;
}

std::size_t gemm_s8_sm80_workspace_bytes(const KernelSpec& spec, const Sm80Tile& cfg, std::int64_t m) {
  if (cfg.split_k <= 1 || m < 1) return 0;
  const auto tiles = static_cast<std::size_t>(ceil_div(m, cfg.block_m) * ceil_div(spec.n, cfg.block_n));
  return gemm_s8_sm80_counters_offset(spec, cfg, m) + tiles * 4;
}

GemmAlignment gemm_s8_sm80_requirements(const KernelSpec& spec, const Sm80Tile& cfg) {
  GemmAlignment a;
  a.c_align_bytes = element_size(spec.out_element);
  a.scale_align_bytes = 4;
  a.min_lda = spec.k;
  a.min_ldb = spec.k;
  a.min_ldc = spec.n;
  a.k_allows_fast_path = spec.k % 16 == 0;
  return a;
}

bool gemm_s8_sm80_takes_fast_path(const KernelSpec& spec, const void* a, const void* b, std::int64_t lda,
                                  std::int64_t ldb) {
  const auto pa = reinterpret_cast<std::uintptr_t>(a);
  const auto pb = reinterpret_cast<std::uintptr_t>(b);
  return spec.k % 16 == 0 && ((pa | pb) & 15) == 0 && ((lda | ldb) & 15) == 0;
}

}  // namespace qjit::codegen
