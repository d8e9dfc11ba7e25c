// Printing and small facts for KernelSpec / TileConfig: M bucketing, NVRTC arch options, shared-memory limits; each
// family config's printed form and flat TileFields record, and TileConfig's dispatch over its alternatives (no
// switch over families: a new alternative needs nothing here). The printed forms are for logs, error messages and
// comparisons of tuning records; cache keys hash the rendered source, never these strings.
#include "codegen/kernel_spec.h"

#include "base/invalid.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::codegen {

std::string_view kernel_op_name(KernelOp op) noexcept {
  switch (op) {
    case KernelOp::QuantizeRowwise: return "quantize_rowwise";
    case KernelOp::QuantizeAbsmax: return "quantize_absmax";
    case KernelOp::QuantizeApplyScale: return "quantize_apply_scale";
    case KernelOp::GemmS8: return "gemm_s8";
    case KernelOp::RmsNormQuantize: return "rms_norm_quantize";
    case KernelOp::LayerNormQuantize: return "layer_norm_quantize";
    case KernelOp::W8A16Gemm: return "w8a16_gemm";
    case KernelOp::StageRows: return "stage_rows";
  }
  return "?";
}

bool is_norm_op(KernelOp op) noexcept { return op == KernelOp::RmsNormQuantize || op == KernelOp::LayerNormQuantize; }

std::string_view kernel_family_name(KernelFamily f) noexcept {
  switch (f) {
    case KernelFamily::Quantize: return "quantize";
    case KernelFamily::GemmSm80: return "gemm_sm80";
    case KernelFamily::GemmSm90: return "gemm_sm90";
    case KernelFamily::W8A16Sm80: return "w8a16_sm80";
  }
  return "?";
}

std::optional<KernelOp> parse_kernel_op(std::string_view name) noexcept {
  for (KernelOp op : {KernelOp::QuantizeRowwise, KernelOp::QuantizeAbsmax, KernelOp::QuantizeApplyScale,
                      KernelOp::GemmS8, KernelOp::RmsNormQuantize, KernelOp::LayerNormQuantize, KernelOp::W8A16Gemm,
                      KernelOp::StageRows})
    if (kernel_op_name(op) == name) return op;
  return std::nullopt;
}

std::optional<KernelFamily> parse_kernel_family(std::string_view name) noexcept {
  for (KernelFamily f : {KernelFamily::Quantize, KernelFamily::GemmSm80, KernelFamily::GemmSm90, KernelFamily::W8A16Sm80})
    if (kernel_family_name(f) == name) return f;
  return std::nullopt;
}

std::optional<ElementKind> parse_element_name(std::string_view name) noexcept {
  for (ElementKind e : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64, ElementKind::S8,
                        ElementKind::U8, ElementKind::S32})
    if (element_name(e) == name) return e;
  return std::nullopt;
}

std::string KernelSpec::to_string() const {
  std::string s =
      llvm::formatv("{0} {1}->{2}", kernel_op_name(op), element_name(in_element), element_name(out_element));
  if (op == KernelOp::GemmS8 || op == KernelOp::W8A16Gemm) s += llvm::formatv(" n={0}", n).str();
  s += llvm::formatv(" k={0} m<={1}", k, m_bucket).str();
  if (op == KernelOp::GemmS8) {
    s += has_bias ? " bias" : " nobias";
    s += per_token_scale ? " per_token" : " per_tensor";
    if (device_act_scale) s += " act_scale=device";
    if (!per_channel_weight_scale) s += " weight_scale=per_tensor";
  }
  if (act_zero_point && (op == KernelOp::GemmS8 || op == KernelOp::QuantizeRowwise)) s += " azp";
  if (op == KernelOp::W8A16Gemm) {
    s += has_bias ? " bias" : " nobias";
    s += weight_group > 0                ? llvm::formatv(" scale=group{0}", weight_group).str()
         : per_channel_weight_scale ? std::string(" scale=channel")
                                    : std::string(" scale=tensor");
    if (zero_point) s += " zp";
  }
  if (smooth) s += " smooth";
  if (is_norm_op(op)) s += std::string(residual ? " residual" : "") + (per_token_scale ? " per_token" : " static");
  return s + " " + arch_option(arch);
}

Status validate_scale_modes(const KernelSpec& spec) {
  if (spec.device_act_scale && spec.per_token_scale)
    return invalid(
        "spec.device_act_scale (a per-tensor activation scale read from a_scale[0]) needs per_token_scale = false, got "
        "per_token_scale = true");
  if (spec.act_zero_point && !spec.per_token_scale)
    return invalid(
        "spec.act_zero_point (the azp epilogue, s_a[m] * s_w[n] * (acc - azp[m] * colsum[n])) needs per_token_scale = "
        "true, got false");
  return Status::success();
}

template <KernelFamily F>
std::string MmaTile<F>::to_string() const {
  return llvm::formatv("{0} {1}x{2}x{3} w{4}x{5} s{6} sk{7}", kernel_family_name(kFamily), block_m, block_n, block_k,
                       warps_m, warps_n, stages, split_k);
}
template struct MmaTile<KernelFamily::GemmSm80>;

std::string W8A16Tile::to_string() const {
  return llvm::formatv("{0} {1}x{2}x{3} w{4}x{5}{6} s{7} sk{8}", kernel_family_name(kFamily), block_m, block_n, block_k,
                       warps_m, warps_n, swap_ab ? " swap_ab" : "", stages, split_k);
}

template <class Tile>
Status validate_mma_pipeline(const KernelSpec& spec, const Tile& cfg, int max_split_k, int smem) {
  constexpr int kMaxAccPerThread = 128;  // more accumulators than this per thread spills
  const auto ceil_div = [](std::int64_t a, std::int64_t b) { return (a + b - 1) / b; };
  const int threads = 32 * cfg.warps_m * cfg.warps_n;
  const int acc = cfg.block_m * cfg.block_n / threads;
  if (acc > kMaxAccPerThread)
    return invalid(llvm::formatv("config {0}: {1} accumulators per thread exceed {2}; use more warps", cfg.to_string(),
                                 acc, kMaxAccPerThread));
  if (cfg.stages < 2 || cfg.stages > 8)
    return invalid(llvm::formatv("config.stages must be in [2, 8], got {0}", cfg.stages));
  const std::int64_t k_tiles = ceil_div(spec.k, cfg.block_k);
  if (cfg.split_k < 1 || cfg.split_k > max_split_k)
    return invalid(llvm::formatv("config.split_k must be in [1, {0}], got {1}", max_split_k, cfg.split_k));
  const std::int64_t per_split = ceil_div(k_tiles, cfg.split_k);
  if ((cfg.split_k - 1) * per_split >= k_tiles)
    return invalid(llvm::formatv("config.split_k = {0} leaves a split without K tiles (K = {1} has {2} tiles of {3})",
                                 cfg.split_k, spec.k, k_tiles, cfg.block_k));
  if (ceil_div(spec.n, cfg.block_n) > 65535)
    return invalid(llvm::formatv("spec.n = {0} needs more than 65535 tiles of block_n = {1}", spec.n, cfg.block_n));
  if (smem > max_dynamic_smem_bytes(spec.arch))
    return Status(StatusCode::OutOfResources,
                  llvm::formatv("config {0} needs {1} bytes of shared memory; {2} allows at most {3}", cfg.to_string(),
                                smem, arch_option(spec.arch), max_dynamic_smem_bytes(spec.arch)));
  return Status::success();
}
template Status validate_mma_pipeline(const KernelSpec&, const Sm80Tile&, int, int);
template Status validate_mma_pipeline(const KernelSpec&, const W8A16Tile&, int, int);

std::string Sm90Tile::to_string() const {
  return llvm::formatv("{0} {1}x{2}x{3} c{4}{5}{6}{7} s{8} sk{9}", kernel_family_name(kFamily), block_m, block_n,
                       kBlockK, consumers, swap_ab ? " swap_ab" : "", pingpong ? " pingpong" : "",
                       cluster_m > 1 ? llvm::formatv(" cluster{0}x1", cluster_m).str() : std::string(), stages,
                       split_k);
}

TileFields Sm90Tile::fields() const {
  return {.block_m = block_m,
          .block_n = block_n,
          .block_k = kBlockK,
          .stages = stages,
          .split_k = split_k,
          .consumers = consumers,
          .swap_ab = swap_ab,
          .pingpong = pingpong,
          .cluster_m = cluster_m};
}

Sm90Tile Sm90Tile::from_fields(const TileFields& f) {
  return {.block_m = f.block_m,
          .block_n = f.block_n,
          .stages = f.stages,
          .split_k = f.split_k,
          .consumers = f.consumers,
          .swap_ab = f.swap_ab,
          .pingpong = f.pingpong,
          .cluster_m = f.cluster_m};
}

std::string detail::row_tile_string(KernelFamily family, int rows_per_cta, int threads_per_row) {
  return llvm::formatv("{0} {1}x{2}x1 w1x1 s1 sk1", kernel_family_name(family), rows_per_cta, threads_per_row);
}

std::string TileConfig::to_string() const {
  return std::visit([](const auto& t) { return t.to_string(); }, tile_);
}

TileFields TileConfig::fields() const {
  return std::visit([](const auto& t) { return t.fields(); }, tile_);
}

namespace {

// The first field in which `got` differs from what `family` stores (its own fields never do: they round-trip).
Status check_fixed_fields(KernelFamily family, const TileFields& want, const TileFields& got) {
  auto bad = [&](std::string_view field, auto expected, auto value) {
    return invalid(llvm::formatv("field '{0}' must be {1} for family {2} (it has no such field), got {3}", field,
                                 expected, kernel_family_name(family), value));
  };
  if (got.block_m != want.block_m) return bad("block_m", want.block_m, got.block_m);
  if (got.block_n != want.block_n) return bad("block_n", want.block_n, got.block_n);
  if (got.block_k != want.block_k) return bad("block_k", want.block_k, got.block_k);
  if (got.warps_m != want.warps_m) return bad("warps_m", want.warps_m, got.warps_m);
  if (got.warps_n != want.warps_n) return bad("warps_n", want.warps_n, got.warps_n);
  if (got.stages != want.stages) return bad("stages", want.stages, got.stages);
  if (got.split_k != want.split_k) return bad("split_k", want.split_k, got.split_k);
  if (got.consumers != want.consumers) return bad("consumers", want.consumers, got.consumers);
  if (got.swap_ab != want.swap_ab) return bad("swap_ab", want.swap_ab, got.swap_ab);
  if (got.pingpong != want.pingpong) return bad("pingpong", want.pingpong, got.pingpong);
  if (got.cluster_m != want.cluster_m) return bad("cluster_m", want.cluster_m, got.cluster_m);
  return Status::success();
}

template <std::size_t I = 0>
Result<TileConfig> tile_from_fields(KernelFamily family, const TileFields& f) {
  if constexpr (I == std::variant_size_v<TileConfig::Alternatives>) {
    return invalid(llvm::formatv("family {0} has no config type", kernel_family_name(family)));
  } else {
    using Tile = std::variant_alternative_t<I, TileConfig::Alternatives>;
    if (Tile::kFamily != family) return tile_from_fields<I + 1>(family, f);
    const Tile tile = Tile::from_fields(f);
    QJIT_TRY(check_fixed_fields(family, tile.fields(), f));
    return TileConfig(tile);
  }
}

}  // namespace

Result<TileConfig> TileConfig::from_fields(KernelFamily family, const TileFields& f) {
  return tile_from_fields(family, f);
}

int m_bucket_of(std::int64_t m) {
  int b = 1;
  while (b < 4096 && b < m) b *= 2;
  return b;
}

std::string arch_option(int arch) {
  if (arch == 90) return "sm_90a";
  return "sm_" + std::to_string(arch);
}

int max_dynamic_smem_bytes(int arch) {
  if (arch == 80 || arch == 87) return 166912;
  if (arch == 90) return 232448;
  return 101376;
}

bool is_supported_arch(int arch) { return arch == 80 || arch == 86 || arch == 87 || arch == 89 || arch == 90; }

}  // namespace qjit::codegen
