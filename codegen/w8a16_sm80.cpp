// Renders templates/w8a16_sm80.cuh for one (KernelSpec, W8A16Tile): checks every constraint the template
// static_asserts (a bad config is an InvalidArgument naming the field, never an NVRTC failure), then appends a
// generated tail with one extern "C" entry whose name encodes everything that changes the code. The text depends on
// N, K, the config, the element type, bias, the scale mode and zero points (not on the M bucket or arch, which the
// cache key carries).
#include "codegen/w8a16_sm80.h"

#include <algorithm>
#include <string>

#include "base/invalid.h"
#include "codegen/embedded_templates.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::codegen {
namespace {

constexpr std::int64_t kMaxDim = std::int64_t{1} << 30;
constexpr int kMaxWarpTileMK = 4096;  // the template's kMI * 2 * kWordsA <= 64

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

int scale_mode(const KernelSpec& s) { return s.weight_group > 0 ? 2 : s.per_channel_weight_scale ? 1 : 0; }

std::string scale_tag(const KernelSpec& s) {
  if (s.weight_group > 0) return llvm::formatv("g{0}", s.weight_group).str();
  return s.per_channel_weight_scale ? "ch" : "pt";
}

Status validate_decode(const KernelSpec& spec, const W8A16Tile& c);

}  // namespace

KernelSpec w8a16_spec(ElementKind act, std::int64_t n, std::int64_t k, int m_bucket, int arch, bool has_bias,
                      bool per_channel, int group, bool zero_point) {
  KernelSpec s;
  s.op = KernelOp::W8A16Gemm;
  s.in_element = act;
  s.out_element = act;
  s.n = n;
  s.k = k;
  s.m_bucket = m_bucket;
  s.has_bias = has_bias;
  s.per_token_scale = false;
  s.arch = arch;
  s.per_channel_weight_scale = per_channel || group > 0;
  s.weight_group = group;
  s.zero_point = zero_point;
  return s;
}

int w8a16_sm80_smem_bytes(const KernelSpec& spec, const W8A16Tile& c) {
  if (c.swap_ab) {
    // The decode layout (templates/w8a16_sm80_decode.cuh): x of the CTA's K slice, block_m rows of (k blocks of the
    // split * block_k * 2 + 16) bytes; the warps_m reduction reuses it after the main loop.
    const std::int64_t k_blocks = ceil_div(spec.k, c.block_k);
    const std::int64_t per_split = ceil_div(k_blocks, std::max(c.split_k, 1));
    const std::int64_t x_bytes = c.block_m * (per_split * c.block_k * 2 + 16);
    const std::int64_t acc = std::int64_t{c.block_n} / std::max(c.warps_n, 1) / 16 * (c.block_m / 8) * 4;
    const std::int64_t red_bytes = std::int64_t{c.warps_m - 1} * c.warps_n * 32 * acc * 4;
    return static_cast<int>(std::min<std::int64_t>(std::max(x_bytes, red_bytes), std::int64_t{1} << 30));
  }
  // The template's stage: x rows (64 / 144 / 272 bytes for block_k 32 / 64 / 128), q rows (32 / 64 / 144 bytes), and
  // in group mode the tile's scales (and zero points), 4 bytes a column.
  const int pitch_a = c.block_k == 32 ? 64 : c.block_k * 2 + 16;
  const int pitch_b = c.block_k == 128 ? 144 : c.block_k;
  const int scale_slots = spec.weight_group > 0 ? c.block_n * (spec.zero_point ? 2 : 1) : 0;
  return c.stages * (c.block_m * pitch_a + c.block_n * pitch_b + scale_slots * 4);
}

Status validate_w8a16_sm80(const KernelSpec& spec, const W8A16Tile& cfg) {
  if (spec.op != KernelOp::W8A16Gemm)
    return invalid(llvm::formatv("spec.op must be w8a16_gemm, got {0}", kernel_op_name(spec.op)));
  if (spec.in_element != ElementKind::F16 && spec.in_element != ElementKind::BF16)
    return invalid(llvm::formatv("spec.in_element must be f16 or bf16, got {0}", element_name(spec.in_element)));
  if (spec.out_element != spec.in_element)
    return invalid(llvm::formatv("spec.out_element must be the activation's {0}, got {1}",
                                 element_name(spec.in_element), element_name(spec.out_element)));
  if (spec.n < 1 || spec.n > kMaxDim)
    return invalid(llvm::formatv("spec.n must be in [1, {0}], got {1}", kMaxDim, spec.n));
  if (spec.k < 1 || spec.k > kMaxDim)
    return invalid(llvm::formatv("spec.k must be in [1, {0}], got {1}", kMaxDim, spec.k));
  if (!is_supported_arch(spec.arch))
    return Status(StatusCode::Unsupported,
                  llvm::formatv("spec.arch must be one of 80, 86, 87, 89, 90 for w8a16_sm80, got {0}", spec.arch));
  if (spec.weight_group != 0 && spec.weight_group != 64 && spec.weight_group != 128)
    return invalid(llvm::formatv("spec.weight_group must be 0, 64 or 128, got {0}", spec.weight_group));
  if (spec.weight_group > 0 && !spec.per_channel_weight_scale)
    return invalid("spec.per_channel_weight_scale must be true with a group scale (spec.weight_group > 0)");
  if (spec.smooth || spec.residual || spec.device_act_scale || spec.per_token_scale)
    return invalid("spec.smooth, residual, device_act_scale and per_token_scale must be false for w8a16_gemm");
  if (cfg.swap_ab) return validate_decode(spec, cfg);
  if (cfg.block_k != 32 && cfg.block_k != 64 && cfg.block_k != 128)
    return invalid(llvm::formatv("config.block_k must be 32, 64 or 128 (elements of K), got {0}", cfg.block_k));
  if (spec.weight_group > 0 && spec.weight_group % cfg.block_k != 0)
    return invalid(llvm::formatv("config.block_k = {0} must divide spec.weight_group = {1} (a k tile lies in one group)",
                                 cfg.block_k, spec.weight_group));
  if (cfg.warps_m < 1 || cfg.warps_n < 1 || cfg.warps_m * cfg.warps_n > 16)
    return invalid(llvm::formatv("config.warps_m * warps_n must be in [1, 16], got {0}x{1}", cfg.warps_m, cfg.warps_n));
  if (cfg.block_m < 16 || cfg.block_m > 256 || cfg.block_m % (16 * cfg.warps_m) != 0)
    return invalid(llvm::formatv("config.block_m must be a multiple of 16 * warps_m = {0} in [16, 256], got {1}",
                                 16 * cfg.warps_m, cfg.block_m));
  if (cfg.block_n < 8 || cfg.block_n > 256 || cfg.block_n % (8 * cfg.warps_n) != 0)
    return invalid(llvm::formatv("config.block_n must be a multiple of 8 * warps_n = {0} in [8, 256], got {1}",
                                 8 * cfg.warps_n, cfg.block_n));
  if (cfg.block_m / cfg.warps_m * cfg.block_k > kMaxWarpTileMK)
    return invalid(llvm::formatv("config {0}: (block_m / warps_m) * block_k = {1} exceeds {2} (the x fragments of a "
                                 "k tile take 64 registers a lane at most); use more warps_m or a smaller block_k",
                                 cfg.to_string(), cfg.block_m / cfg.warps_m * cfg.block_k, kMaxWarpTileMK));
  return validate_mma_pipeline(spec, cfg, 16, w8a16_sm80_smem_bytes(spec, cfg));
}

namespace {

// The swap_ab (decode) layout's rules: every constraint templates/w8a16_sm80_decode.cuh static_asserts, and the
// register budget of its weight ring and x fragments.
Status validate_decode(const KernelSpec& spec, const W8A16Tile& c) {
  const std::string name = c.to_string();
  if (c.block_k != 64 && c.block_k != 128)
    return invalid(llvm::formatv("config {0}: block_k must be 64 or 128 with swap_ab (the k block of a lane's 16-byte "
                                 "weight loads), got {1}",
                                 name, c.block_k));
  if (c.block_m != 8 && c.block_m != 16 && c.block_m != 32)
    return invalid(llvm::formatv("config {0}: block_m must be 8, 16 or 32 tokens with swap_ab, got {1}", name,
                                 c.block_m));
  if (c.warps_m < 1 || c.warps_n < 1 || c.warps_n > 8 || c.warps_m * c.warps_n > 16)
    return invalid(llvm::formatv("config {0}: warps_n must be in [1, 8] and warps_m * warps_n in [1, 16] with swap_ab",
                                 name));
  const int ch = c.block_n / c.warps_n;
  if (c.block_n % c.warps_n != 0 || (ch != 16 && ch != 32))
    return invalid(llvm::formatv("config {0}: block_n must be warps_n * 16 or warps_n * 32 channels with swap_ab, "
                                 "got {1}",
                                 name, c.block_n));
  if (c.stages < 1 || c.stages > 8)
    return invalid(llvm::formatv("config {0}: stages (k blocks in flight) must be in [1, 8], got {1}", name, c.stages));
  const int ring = c.stages * (ch / 16) * 2 * (c.block_k / 16);
  if (ring > 64)
    return invalid(llvm::formatv("config {0}: stages * (block_n / warps_n / 16) * 2 * (block_k / 16) = {1} weight "
                                 "registers a lane exceed 64; use fewer stages",
                                 name, ring));
  if (c.block_m / 8 * (c.block_k / 16) > 16)
    return invalid(llvm::formatv("config {0}: (block_m / 8) * (block_k / 16) = {1} exceeds 16 (x fragments of a k "
                                 "block); use block_k 64",
                                 name, c.block_m / 8 * (c.block_k / 16)));
  const std::int64_t k_blocks = ceil_div(spec.k, c.block_k);
  if (c.split_k < 1 || c.split_k > 16)
    return invalid(llvm::formatv("config.split_k must be in [1, 16], got {0}", c.split_k));
  if ((c.split_k - 1) * ceil_div(k_blocks, c.split_k) >= k_blocks)
    return invalid(llvm::formatv("config.split_k = {0} leaves a split without K blocks (K = {1} has {2} blocks of {3})",
                                 c.split_k, spec.k, k_blocks, c.block_k));
  if (ceil_div(spec.n, c.block_n) > 65535)
    return invalid(llvm::formatv("spec.n = {0} needs more than 65535 tiles of block_n = {1}", spec.n, c.block_n));
  const int smem = w8a16_sm80_smem_bytes(spec, c);
  if (smem > max_dynamic_smem_bytes(spec.arch))
    return Status(StatusCode::OutOfResources,
                  llvm::formatv("config {0} needs {1} bytes of shared memory (x of its K slice); {2} allows at most "
                                "{3}: split K further",
                                name, smem, arch_option(spec.arch), max_dynamic_smem_bytes(spec.arch)));
  return Status::success();
}

}  // namespace

Result<Source> render_w8a16_sm80(const KernelSpec& spec, const W8A16Tile& cfg) {
  QJIT_TRY(validate_w8a16_sm80(spec, cfg));
  const std::string_view common = find_template("common.cuh");
  const std::string_view params = find_template("w8a16_params.h");
  const std::string_view body = find_template("w8a16_sm80.cuh");
  if (common.empty() || params.empty() || body.empty())
    return Status(StatusCode::Unsupported,
                  "templates common.cuh / w8a16_params.h / w8a16_sm80.cuh are not embedded in this build");
  const bool bf = spec.in_element == ElementKind::BF16;
  if (cfg.swap_ab) {
    const std::string_view decode = find_template("w8a16_sm80_decode.cuh");
    if (decode.empty())
      return Status(StatusCode::Unsupported, "template w8a16_sm80_decode.cuh is not embedded in this build");
    Source src;
    src.threads = 32 * cfg.warps_m * cfg.warps_n;
    src.dynamic_smem_bytes = w8a16_sm80_smem_bytes(spec, cfg);
    src.entry =
        llvm::formatv("qjit_w8a16_sm80_swab_{0}_n{1}_k{2}_bm{3}_bn{4}_bk{5}_wm{6}_wn{7}_s{8}_sk{9}_{10}{11}_{12}",
                      element_name(spec.in_element), spec.n, spec.k, cfg.block_m, cfg.block_n, cfg.block_k,
                      cfg.warps_m, cfg.warps_n, cfg.stages, cfg.split_k, scale_tag(spec), spec.zero_point ? "_zp" : "",
                      spec.has_bias ? "bias" : "nobias");
    src.text.reserve(common.size() + params.size() + body.size() + decode.size() + 512);
    src.text.append(common).append("\n").append(params).append("\n").append(body).append("\n");
    src.text.append(decode).append("\n");
    src.text += llvm::formatv(
        "// ---- generated by qjit codegen (w8a16_sm80, swap_ab) ----\n"
        "extern \"C\" __global__ void __launch_bounds__({0}, {16}) {1}(const __grid_constant__ qjitk::W8A16Params p) "
        "{{\n"
        "  qjitk::W8A16Decode<{2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}>::run(p);\n"
        "}\n",
        src.threads, src.entry, spec.n, spec.k, cfg.block_m, cfg.block_n / cfg.warps_n, cfg.warps_n, cfg.warps_m,
        cfg.block_k, cfg.stages, cfg.split_k, bf ? "qjitk::bf16" : "qjitk::f16", scale_mode(spec),
        spec.weight_group > 0 ? spec.weight_group : 1, spec.zero_point ? "true" : "false",
        spec.has_bias ? "true" : "false", 1);
    // NOTE: min blocks 1: the ring, the accumulators and the x fragments of 32 channels take ~150 registers, and a
    // cap of 128 spills them; occupancy is then 3 CTAs of 128 threads (or 1 of 256) an SM, by registers.
    return src;
  }
  Source src;
  src.threads = 32 * cfg.warps_m * cfg.warps_n;
  src.dynamic_smem_bytes = w8a16_sm80_smem_bytes(spec, cfg);
  src.entry = llvm::formatv("qjit_w8a16_sm80_{0}_n{1}_k{2}_bm{3}_bn{4}_bk{5}_wm{6}_wn{7}_s{8}_sk{9}_{10}{11}_{12}",
                            element_name(spec.in_element), spec.n, spec.k, cfg.block_m, cfg.block_n, cfg.block_k,
                            cfg.warps_m, cfg.warps_n, cfg.stages, cfg.split_k, scale_tag(spec),
                            spec.zero_point ? "_zp" : "", spec.has_bias ? "bias" : "nobias");
  src.text.reserve(common.size() + params.size() + body.size() + 512);
  src.text.append(common).append("\n").append(params).append("\n").append(body).append("\n");
  src.text += llvm::formatv(
      "// ---- generated by qjit codegen (w8a16_sm80) ----\n"
      "extern \"C\" __global__ void __launch_bounds__({0}, 1) {1}(const __grid_constant__ qjitk::W8A16Params p) {{\n"
      "  qjitk::W8A16Sm80<{2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}>::run(p);\n"
      "}\n",
      src.threads, src.entry, spec.n, spec.k, cfg.block_m, cfg.block_n, cfg.block_k, cfg.warps_m, cfg.warps_n,
      cfg.stages, cfg.split_k, bf ? "qjitk::bf16" : "qjitk::f16", scale_mode(spec),
      spec.weight_group > 0 ? spec.weight_group : 1, spec.zero_point ? "true" : "false",
      spec.has_bias ? "true" : "false");
  return src;
}

LaunchDims w8a16_sm80_launch(const KernelSpec& spec, const W8A16Tile& cfg, std::int64_t m) {
  LaunchDims d;
  d.grid[0] = static_cast<unsigned>(m < 1 ? 0 : ceil_div(m, cfg.block_m));
  d.grid[1] = static_cast<unsigned>(ceil_div(spec.n, cfg.block_n));
  d.grid[2] = static_cast<unsigned>(cfg.split_k);
  d.block[0] = static_cast<unsigned>(32 * cfg.warps_m * cfg.warps_n);
  d.dynamic_smem_bytes = static_cast<unsigned>(w8a16_sm80_smem_bytes(spec, cfg));
  return d;
}

std::size_t w8a16_sm80_counters_offset(const KernelSpec& spec, const W8A16Tile& cfg, std::int64_t m) {
  if (cfg.split_k <= 1 || m < 1) return 0;
  const auto tiles = static_cast<std::size_t>(ceil_div(m, cfg.block_m) * ceil_div(spec.n, cfg.block_n));
  const std::size_t partials = static_cast<std::size_t>(cfg.split_k) * tiles * static_cast<std::size_t>(cfg.block_m) *
                               static_cast<std::size_t>(cfg.block_n) * 4;
  return (partials + 255) / 256 * 256;
}

std::size_t w8a16_sm80_workspace_bytes(const KernelSpec& spec, const W8A16Tile& cfg, std::int64_t m) {
  if (cfg.split_k <= 1 || m < 1) return 0;
  const auto tiles = static_cast<std::size_t>(ceil_div(m, cfg.block_m) * ceil_div(spec.n, cfg.block_n));
  return w8a16_sm80_counters_offset(spec, cfg, m) + tiles * 4;
}

}  // namespace qjit::codegen
