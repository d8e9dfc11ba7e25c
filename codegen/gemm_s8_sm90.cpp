// The Hopper int8 GEMM family's codegen: turns (KernelSpec, Sm90Tile) into source text for NVRTC, the launch
// geometry, the split-K workspace size, the autotuner's config space and the heuristic, and encodes the TMA tensor
// maps into the parameter block. The template carries the kernel; this file adds only its instantiation, the wgmma
// wrappers whose 4..128-operand lists are easier to print than to write by hand, and a static_assert that the
// template's shared-memory arithmetic matches ours, so host and device can never disagree silently.
#include "codegen/gemm_s8_sm90.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/invalid.h"
#include "codegen/embedded_templates.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::codegen {
namespace {

constexpr int kBlockK = Sm90Tile::kBlockK;
constexpr int kGroupTiles = 8;  // P tiles per rasterisation group (L2 reuse of the Q tiles)
constexpr int kMaxStages = 10;
// Stages of the weight-streaming (swap_ab) configs at M <= 128. NOTE: more bytes in flight per SM do not help: caps
// of 12 / 16 / 24 (as many as fit, up to 22) measured 0.99-1.00 / 1.00-1.01 / 1.02-1.04 of 8's SmoothQuant time over
// the 17 model shapes at M = 1 / 16 / 64 (H100, session 19, docs/PERF.md v10).
constexpr int kStreamStages = 8;

// The shape the template sees: P rows on wgmma's M side (split over the consumers), Q columns = wgmma N.
struct Derived {
  int p_rows;
  int q_cols;
  int consumer_rows;
  int out_bytes;
};

Derived derive(const KernelSpec& spec, const Sm90Tile& config) {
  Derived d{};
  d.p_rows = config.swap_ab ? config.block_n : config.block_m;
  d.q_cols = config.swap_ab ? config.block_m : config.block_n;
  // NOTE: ping-pong consumers each own the whole P tile; cooperative ones split its rows.
  d.consumer_rows = config.pingpong ? d.p_rows : config.consumers > 0 ? d.p_rows / config.consumers : 0;
  d.out_bytes = static_cast<int>(element_size(spec.out_element));
  return d;
}

// wgmma .s8 shapes: m64nNk32 with N in {8, 16, 24, 32, 48, 64, 80, ..., 256}.
bool valid_wgmma_s8_n(int n) { return n == 8 || n == 16 || n == 24 || n == 32 || (n >= 48 && n <= 256 && n % 16 == 0); }

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::int64_t tile_count(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m) {
  const Derived d = derive(spec, config);
  const std::int64_t p_dim = config.swap_ab ? spec.n : m;
  const std::int64_t q_dim = config.swap_ab ? m : spec.n;
  return ceil_div(p_dim, d.p_rows) * ceil_div(q_dim, d.q_cols);
}

// Prints qjitk::Wgmma<N>::mma: d (N/2 s32 registers) += A(desc) * B(desc); scale_d == 0 overwrites instead.
std::string render_wgmma_wrapper(int n) {
  const int regs = n / 2;
  std::string out = llvm::formatv(
                        "namespace qjitk {{\ntemplate <> struct Wgmma<{0}> {{\n"
                        "  static __device__ __forceinline__ void mma(i32 (&d)[{1}], u64 desc_a, "
                        "u64 desc_b, int scale_d) {{\n"
                        "    asm volatile(\n"
                        "        \"{{\\n.reg .pred p;\\nsetp.ne.b32 p, %{2}, 0;\\n\"\n"
                        "        \"wgmma.mma_async.sync.aligned.m64n{0}k32.s32.s8.s8 {{",
                        n, regs, regs + 2)
                        .str();
  for (int i = 0; i < regs; ++i) out += llvm::formatv("{0}%{1}", i == 0 ? "" : ", ", i).str();
  out += llvm::formatv("}, %{0}, %{1}, p;\\n}\\n\"\n        : ", regs, regs + 1).str();
  for (int i = 0; i < regs; ++i) {
    out += llvm::formatv("\"+r\"(d[{0}])", i).str();
    if (i + 1 < regs) out += (i % 8 == 7) ? ",\n          " : ", ";
  }
  out += "\n        : \"l\"(desc_a), \"l\"(desc_b), \"r\"(scale_d));\n  }\n};\n}  // namespace qjitk\n";
  return out;
}

// The explicit specialisations that give QjCfg the ScaledMatmul scale modes (templates/gemm_s8_sm90_scales.cuh);
// empty for every other spec, whose text therefore stays byte for byte.
std::string sm90_scale_modes_text(const KernelSpec& spec) {
  if (!uses_scale_modes(spec)) return std::string();
  std::string out(find_template("gemm_s8_sm90_scales.cuh"));
  if (spec.act_zero_point) out.append("\n").append(find_template("gemm_s8_sm90_azp.cuh"));
  out += "\n// ---- scale modes, rendered by codegen/gemm_s8_sm90.cpp ----\nnamespace qjitk {\n";
  if (spec.device_act_scale)
    out += "template <>\n__device__ __forceinline__ float sm90_a_scale<QjCfg>(const GemmS8Params& p, int) {\n"
           "  return p.a_scale[0];\n}\n";
  if (spec.act_zero_point) {
    // The azp fix, then the family's body (for a twin type: the primary template, unchanged) or the per-tensor
    // weight one (templates/gemm_s8_sm90_azp.cuh).
    const char* body = spec.per_channel_weight_scale ? "QjAzpTwin" : nullptr;
    out += "struct QjAzpTwin : QjCfg {};\n";
    out += llvm::formatv(
               "template <>\n"
               "__device__ __forceinline__ void epilogue_staged<QjCfg>(const GemmS8Params& p,\n"
               "                                                       i32 (&acc)[QjCfg::kSubTiles][QjCfg::kAccRegs], "
               "u8* stage,\n"
               "                                                       int m_base, int n_base, int tid, int bar_id) {{\n"
               "  azp_fix_staged<QjCfg>(p, acc, m_base, n_base, tid);\n"
               "  {0}(p, acc, stage, m_base, n_base, tid, bar_id);\n"
               "}\n"
               "template <>\n"
               "__device__ __forceinline__ void epilogue_direct<QjCfg>(const GemmS8Params& p,\n"
               "                                                       i32 (&acc)[QjCfg::kSubTiles][QjCfg::kAccRegs],\n"
               "                                                       int n_base, int m_base, int tid) {{\n"
               "  azp_fix_direct<QjCfg>(p, acc, n_base, m_base, tid);\n"
               "  {1}(p, acc, n_base, m_base, tid);\n"
               "}\n",
               body ? "epilogue_staged<QjAzpTwin>" : "epilogue_staged_scalar_w<QjCfg>",
               body ? "epilogue_direct<QjAzpTwin>" : "epilogue_direct_scalar_w<QjCfg>")
               .str();
  } else if (!spec.per_channel_weight_scale)
    out +=
        "template <>\n"
        "__device__ __forceinline__ void epilogue_staged<QjCfg>(const GemmS8Params& p,\n"
        "                                                       i32 (&acc)[QjCfg::kSubTiles][QjCfg::kAccRegs], u8* stage,\n"
        "                                                       int m_base, int n_base, int tid, int bar_id) {\n"
        "  epilogue_staged_scalar_w<QjCfg>(p, acc, stage, m_base, n_base, tid, bar_id);\n"
        "}\n"
        "template <>\n"
        "__device__ __forceinline__ void epilogue_direct<QjCfg>(const GemmS8Params& p,\n"
        "                                                       i32 (&acc)[QjCfg::kSubTiles][QjCfg::kAccRegs],\n"
        "                                                       int n_base, int m_base, int tid) {\n"
        "  epilogue_direct_scalar_w<QjCfg>(p, acc, n_base, m_base, tid);\n"
        "}\n";
  out += "}  // namespace qjitk\n";
  return out;
}

std::string entry_name(const KernelSpec& spec, const Sm90Tile& config) {
  return llvm::formatv("qjit_gemm_s8_sm90_{0}_n{1}_k{2}{3}_{4}_{5}", element_name(spec.out_element), spec.n, spec.k,
                       spec.has_bias ? "_bias" : "", spec.per_token_scale ? "tok" : "tensor", sm90_entry_suffix(config))
             .str() +
         (spec.device_act_scale ? "_ad" : "") + (spec.per_channel_weight_scale ? "" : "_wt") +
         (spec.act_zero_point ? "_azp" : "");
}

int max_fitting_stages(const KernelSpec& spec, Sm90Tile config, int cap) {
  for (int s = cap; s >= 2; --s) {
    config.stages = s;
    if (gemm_s8_sm90_smem_bytes(spec, config) <= kSm90MaxDynamicSmem) return s;
  }
  return 0;
}

// Balance across SMs: a CTA's time ~ waves x k-blocks per split x tile width; splits cost a little extra traffic.
double schedule_cost(std::int64_t tiles, int split, std::int64_t k_blocks, int tile_width, int sm_count) {
  const double waves = static_cast<double>(ceil_div(tiles * split, std::max(sm_count, 1)));
  return waves * static_cast<double>(ceil_div(k_blocks, split)) * tile_width * (1.0 + 0.03 * (split - 1));
}

}  // namespace

std::string sm90_entry_suffix(const Sm90Tile& config) {
  return llvm::formatv("bm{0}_bn{1}_bk{2}_s{3}_c{4}_cl{5}x1_{6}_sk{7}{8}", config.block_m, config.block_n, kBlockK,
                       config.stages, config.consumers, config.cluster_m, config.swap_ab ? "ba" : "ab", config.split_k,
                       config.pingpong ? "_pp" : "")
      .str();
}

int gemm_s8_sm90_smem_bytes(const KernelSpec& spec, const Sm90Tile& config) {
  const Derived d = derive(spec, config);
  const int stage_bytes = (d.p_rows + d.q_cols) * kBlockK;
  const int epilogue = config.swap_ab ? 0 : config.consumers * 64 * (128 + 8 * d.out_bytes);
  return config.stages * stage_bytes + epilogue + 16 * config.stages + 4 * config.consumers + 1024;
}

Status validate_gemm_s8_sm90_spec(const KernelSpec& spec) {
  if (spec.op != KernelOp::GemmS8)
    return invalid(llvm::formatv("spec.op must be gemm_s8, got {0}", kernel_op_name(spec.op)));
  if (spec.in_element != ElementKind::S8)
    return invalid(llvm::formatv("spec.in_element must be s8, got {0}", element_name(spec.in_element)));
  if (!is_floating(spec.out_element))
    return invalid(
        llvm::formatv("spec.out_element must be f16, bf16, f32 or f64, got {0}", element_name(spec.out_element)));
  constexpr std::int64_t kMaxDim = std::numeric_limits<std::int32_t>::max();
  if (spec.n < 1 || spec.n > kMaxDim) return invalid(llvm::formatv("spec.n must be in [1, 2^31), got {0}", spec.n));
  if (spec.k < 1 || spec.k > kMaxDim) return invalid(llvm::formatv("spec.k must be in [1, 2^31), got {0}", spec.k));
  QJIT_TRY(validate_scale_modes(spec));
  // NOTE: any K: the tensor maps give TMA the true K, so a K tail (even K % 16 != 0) is zero-filled by the copy
  // engine. Only the operands' row strides must be multiples of 16 bytes, a run-time property (operand_align()).
  return Status::success();
}

Status validate_gemm_s8_sm90(const KernelSpec& spec, const Sm90Tile& config) {
  QJIT_TRY(validate_gemm_s8_sm90_spec(spec));
  if (config.consumers != 1 && config.consumers != 2)
    return invalid(llvm::formatv("config.consumers must be 1 or 2, got {0}", config.consumers));
  if (config.cluster_m != 1 && config.cluster_m != 2)
    return Status(
        StatusCode::Unsupported,
        llvm::formatv("config.cluster_m must be 1 or 2 (pairs of CTAs along M share the weight tile), got {0}",
                      config.cluster_m));
  if (config.cluster_m == 2 && (config.swap_ab || config.split_k != 1))
    return invalid(
        llvm::formatv("config.cluster_m = 2 needs swap_ab = false and split_k = 1, got swap_ab = {0}, "
                      "split_k = {1}",
                      config.swap_ab, config.split_k));
  if (config.pingpong && (config.consumers != 2 || config.split_k != 1 || config.swap_ab))
    return invalid(
        llvm::formatv("config.pingpong needs consumers = 2, split_k = 1 and swap_ab = false, got "
                      "consumers = {0}, split_k = {1}, swap_ab = {2}",
                      config.consumers, config.split_k, config.swap_ab));
  const Derived d = derive(spec, config);
  const char* p_field = config.swap_ab ? "config.block_n" : "config.block_m";
  const char* q_field = config.swap_ab ? "config.block_m" : "config.block_n";
  if (config.pingpong && d.consumer_rows != 64 && d.consumer_rows != 128)
    return invalid(llvm::formatv(
        "config.block_m must be 64 or 128 with pingpong (each consumer owns the tile), got {0}", d.p_rows));
  if (!config.pingpong && (d.p_rows % config.consumers != 0 || (d.consumer_rows != 64 && d.consumer_rows != 128)))
    return invalid(llvm::formatv("{0} must be consumers x 64 or consumers x 128 (= {1} or {2}), got {3}", p_field,
                                 64 * config.consumers, 128 * config.consumers, d.p_rows));
  if (!valid_wgmma_s8_n(d.q_cols))
    return invalid(llvm::formatv("{0} is wgmma's N and must be 8, 16, 24, 32 or a multiple of 16 in [48, 256], got {1}",
                                 q_field, d.q_cols));
  if ((d.consumer_rows / 64) * (d.q_cols / 2) > 128)
    return invalid(
        llvm::formatv("{0} = {1} with {2} rows per consumer needs {3} accumulator registers per thread; "
                      "at most 128 fit",
                      q_field, d.q_cols, d.consumer_rows, (d.consumer_rows / 64) * (d.q_cols / 2)));
  const int chunk_cols = 128 / d.out_bytes;
  if (!config.swap_ab && d.q_cols % chunk_cols != 0)
    return invalid(
        llvm::formatv("config.block_n must be a multiple of {0} for {1} output (128-byte epilogue chunks), "
                      "got {2}",
                      chunk_cols, element_name(spec.out_element), d.q_cols));
  if (config.stages < 2 || config.stages > kMaxStages)
    return invalid(llvm::formatv("config.stages must be in [2, {0}], got {1}", kMaxStages, config.stages));
  const std::int64_t k_blocks = ceil_div(spec.k, kBlockK);
  if (config.split_k < 1 || config.split_k > k_blocks)
    return invalid(
        llvm::formatv("config.split_k must be in [1, ceil(K / 128) = {0}], got {1}", k_blocks, config.split_k));
  const int smem = gemm_s8_sm90_smem_bytes(spec, config);
  if (smem > kSm90MaxDynamicSmem)
    return invalid(
        llvm::formatv("config.stages = {0} needs {1} bytes of shared memory; an sm_90 block may use at most "
                      "{2}",
                      config.stages, smem, kSm90MaxDynamicSmem));
  return Status::success();
}

Result<Source> render_gemm_s8_sm90(const KernelSpec& spec, const Sm90Tile& config) {
  QJIT_TRY(validate_gemm_s8_sm90(spec, config));
  // The template is written on common.cuh and gemm_params.h (the parameter block the host shares), pasted first.
  const std::string_view common = find_template("common.cuh");
  const std::string_view params = find_template("gemm_params.h");
  const std::string_view body = find_template("gemm_s8_sm90.cuh");
  if (common.empty() || params.empty() || body.empty())
    return Status(StatusCode::NotFound,
                  "templates common.cuh / gemm_params.h / gemm_s8_sm90.cuh are not embedded in this build");
  const Derived d = derive(spec, config);
  Source src;
  src.entry = entry_name(spec, config);
  src.threads = 128 * (config.consumers + 1);
  src.dynamic_smem_bytes = gemm_s8_sm90_smem_bytes(spec, config);
  // The device type the output traits (qjitk::Sm90Out<OutT>) are chosen by; validate() admits only these four.
  const char* out_type = spec.out_element == ElementKind::F16    ? "qjitk::f16"
                         : spec.out_element == ElementKind::BF16 ? "qjitk::bf16"
                         : spec.out_element == ElementKind::F32  ? "float"
                                                                 : "double";
  src.text.reserve(common.size() + params.size() + body.size() + 8192);
  src.text += llvm::formatv("// qjit gemm_s8_sm90: out={0} N={1} K={2} bias={3} scale={4} config={5}\n",
                            element_name(spec.out_element), spec.n, spec.k, spec.has_bias ? 1 : 0,
                            spec.per_token_scale ? "per_token" : "per_tensor", sm90_entry_suffix(config))
                  .str();
  if (uses_scale_modes(spec)) {
    // NOTE: a second line only for these specs, so every other kernel's text stays byte for byte.
    src.text.insert(src.text.size() - 1, llvm::formatv(" act_scale={0} weight_scale={1}",
                                                       spec.device_act_scale ? "device" : "default",
                                                       spec.per_channel_weight_scale ? "per_channel" : "per_tensor")
                                             .str());
    if (spec.act_zero_point) src.text.insert(src.text.size() - 1, " azp");
  }
  src.text.append(common).append("\n").append(params).append("\n").append(body);
  src.text += "\n// ---- rendered by codegen/gemm_s8_sm90.cpp ----\n";
  src.text += render_wgmma_wrapper(d.q_cols);
  src.text +=
      llvm::formatv(
          "typedef qjitk::Sm90Cfg<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {15}, {16}> QjCfg;\n"
          "static_assert(qjitk::Sm90SmemBytes<QjCfg>::kValue == {12}, "
          "\"host and template shared-memory sizes differ\");\n"
          "{17}"
          "extern \"C\" __global__ void __launch_bounds__({13}, 1)\n"
          "{14}(const __grid_constant__ qjitk::{18} p) {{\n"
          "  extern __shared__ __align__(1024) qjitk::u8 qj_smem[];\n"
          "  qjitk::gemm_s8_sm90<QjCfg>(p{19}, qj_smem);\n"
          "}\n",
          out_type, spec.has_bias ? "true" : "false", spec.per_token_scale ? "true" : "false", spec.n, spec.k,
          config.consumers, d.consumer_rows, d.q_cols, config.stages, config.swap_ab ? "true" : "false", config.split_k,
          kGroupTiles, src.dynamic_smem_bytes, src.threads, src.entry, config.pingpong ? "true" : "false",
          config.cluster_m, sm90_scale_modes_text(spec),
          spec.act_zero_point ? "GemmS8Sm90AzpParams" : "GemmS8Sm90Params", spec.act_zero_point ? ".g" : "")
          .str();
  return src;
}

std::int64_t gemm_s8_sm90_work_units(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m) {
  if (m < 1) return 0;
  // A unit is one Q tile for a cluster_m-tall group of P tiles (one per CTA of the cluster), times the K splits.
  const Derived d = derive(spec, config);
  const std::int64_t p_dim = config.swap_ab ? spec.n : m;
  const std::int64_t q_dim = config.swap_ab ? m : spec.n;
  return ceil_div(ceil_div(p_dim, d.p_rows), std::max(config.cluster_m, 1)) * ceil_div(q_dim, d.q_cols) *
         config.split_k;
}

LaunchDims gemm_s8_sm90_launch(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m, int sm_count) {
  LaunchDims launch;
  const std::int64_t units = gemm_s8_sm90_work_units(spec, config, m);
  const int cluster = std::max(config.cluster_m, 1);
  const std::int64_t clusters =
      std::max<std::int64_t>(1, std::min<std::int64_t>(units, std::max(sm_count / cluster, 1)));
  launch.grid[0] = static_cast<unsigned>(clusters * cluster);
  launch.cluster[0] = static_cast<unsigned>(cluster);
  launch.block[0] = static_cast<unsigned>(128 * (config.consumers + 1));
  launch.dynamic_smem_bytes = static_cast<unsigned>(gemm_s8_sm90_smem_bytes(spec, config));
  return launch;
}

std::size_t gemm_s8_sm90_workspace_bytes(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m) {
  if (config.split_k <= 1 || m < 1) return 0;
  const Derived d = derive(spec, config);
  return static_cast<std::size_t>(tile_count(spec, config, m)) * config.split_k * d.p_rows * d.q_cols * 4;
}

std::size_t gemm_s8_sm90_counter_count(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m) {
  if (config.split_k <= 1 || m < 1) return 0;
  return static_cast<std::size_t>(tile_count(spec, config, m)) * config.consumers;
}

std::vector<Sm90Tile> sm90_candidate_configs(const KernelSpec& spec) {
  std::vector<Sm90Tile> out;
  const std::int64_t k_blocks = ceil_div(std::max<std::int64_t>(spec.k, 1), kBlockK);
  // Each config gets the most stages that fit, up to stage_cap (its initial stages count does not matter).
  auto add = [&](Sm90Tile c, int stage_cap) {
    c.stages = max_fitting_stages(spec, c, stage_cap);
    if (c.stages == 0 || c.split_k > k_blocks) return;
    if (validate_gemm_s8_sm90(spec, c).ok() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  // Prefill / large M: 128 x {128, 192, 256} (two consumers of 64 rows) and 256 x 128 (two of 128 rows).
  for (int split : {1, 2, 4}) {
    for (int bn : {256, 192, 128}) add(Sm90Tile{.block_m = 128, .block_n = bn, .split_k = split, .consumers = 2}, 6);
    add(Sm90Tile{.block_m = 256, .block_n = 128, .split_k = split, .consumers = 2}, 6);
    add(Sm90Tile{.block_m = 128, .block_n = 128, .split_k = split, .consumers = 1}, 6);
  }
  // Ping-pong: each consumer owns a 128 x 128 or 64 x 256 tile; one's epilogue runs under the other's main loop.
  for (int cluster : {1, 2}) {
    for (auto [bm, bn] : {std::pair{128, 128}, std::pair{64, 256}, std::pair{128, 64}}) {
      add(Sm90Tile{.block_m = bm, .block_n = bn, .consumers = 2, .pingpong = true, .cluster_m = cluster}, 8);
    }
  }
  // Clusters of two along M multicast the weight tile (half the weight traffic out of L2 per CTA).
  for (int bn : {256, 128}) add(Sm90Tile{.block_m = 128, .block_n = bn, .consumers = 2, .cluster_m = 2}, 6);
  // Decode: weights on wgmma's M side (64 or 128 rows per consumer), tokens as wgmma N, split K to fill the SMs.
  for (int split : {1, 2, 3, 4, 6, 8}) {
    for (int bm : {8, 16, 32, 64}) {
      add(Sm90Tile{.block_m = bm, .block_n = 128, .split_k = split, .consumers = 2, .swap_ab = true}, 8);
      add(Sm90Tile{.block_m = bm, .block_n = 256, .split_k = split, .consumers = 2, .swap_ab = true}, 8);
      add(Sm90Tile{.block_m = bm, .block_n = 64, .split_k = split, .consumers = 1, .swap_ab = true}, 8);
    }
  }
  return out;
}

Sm90Tile sm90_heuristic_config(const KernelSpec& spec, std::int64_t m, int sm_count) {
  m = std::max<std::int64_t>(m, 1);
  sm_count = std::max(sm_count, 1);
  const std::int64_t k_blocks = ceil_div(std::max<std::int64_t>(spec.k, 1), kBlockK);
  // What it returns when nothing below validates (as before the fold: the cooperative 128 x 256 prefill tile).
  Sm90Tile best = Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2};
  double best_cost = std::numeric_limits<double>::infinity();
  auto consider = [&](Sm90Tile c, int stage_cap, int max_split) {
    c.stages = max_fitting_stages(spec, c, stage_cap);
    if (c.stages == 0) return;
    const std::int64_t tiles = tile_count(spec, c, m);
    const int width = c.block_n;  // per k-block work (prefill) or weight bytes (decode) of one unit
    for (int s = 1; s <= std::min<std::int64_t>(max_split, k_blocks); ++s) {
      c.split_k = s;
      const double cost = schedule_cost(tiles, s, k_blocks, width, sm_count);
      if (cost < best_cost && validate_gemm_s8_sm90(spec, c).ok()) {
        best_cost = cost;
        best = c;
      }
    }
  };
  // NOTE: from `qjit tune` over the Llama shapes on an H200 (docs/PERF.md, "v3"): decode wants one consumer on a
  // 64-row weight tile and no split unless the weight gives fewer tiles than half the SMs and K is long (the split's
  // partials and counter reset cost more than they win otherwise); prefill never gained from splitting.
  if (m <= 64) {
    // Up to N = 8192 one consumer on 64 weight rows; wider weights take two consumers on 128 rows (10240 x 8192:
    // 24.6 vs 30.2 us at M = 1), which halves the CTAs' barrier and epilogue work per byte streamed.
    const int bm = m <= 8 ? 8 : m <= 16 ? 16 : m <= 32 ? 32 : 64;
    const bool narrow = spec.n <= 8192;
    Sm90Tile c = Sm90Tile{.block_m = bm, .block_n = narrow ? 64 : 128, .consumers = narrow ? 1 : 2, .swap_ab = true};
    c.stages = max_fitting_stages(spec, c, kStreamStages);
    const std::int64_t weight_tiles = ceil_div(spec.n, c.block_n);
    if (weight_tiles < sm_count / 2 && k_blocks >= 96) c.split_k = 2;
    if (c.stages > 0 && validate_gemm_s8_sm90(spec, c).ok()) return c;
    consider(Sm90Tile{.block_m = bm, .block_n = 128, .consumers = 2, .swap_ab = true}, 8, 1);
  } else if (m <= 128 && spec.n <= 8192) {
    // Weight-streaming still: 64 tokens per wgmma N, both token tiles share the CTA's weight tile.
    Sm90Tile c = spec.n <= 4096 ? Sm90Tile{.block_m = 64, .block_n = 64, .consumers = 1, .swap_ab = true}
                                : Sm90Tile{.block_m = 64, .block_n = 128, .consumers = 2, .swap_ab = true};
    c.stages = max_fitting_stages(spec, c, kStreamStages);
    if (c.stages > 0 && validate_gemm_s8_sm90(spec, c).ok()) return c;
    consider(Sm90Tile{.block_m = 128, .block_n = 128, .consumers = 2}, 6, 1);
  } else {
    // Up to K = 8192, ping-pong 128 x 128 in clusters of two: the tensor cores never wait for an epilogue (ncu showed
    // the cooperative 128 x 256 kernel at 65% tensor-pipe use on K = 4096 against 89% on K = 28672, the gap being
    // the epilogue and the last partial wave), 128-row tiles halve the wave-quantisation loss, and the multicast
    // weight tile keeps the L2 traffic per op at the 128 x 256 tile's. Longer K amortises the epilogue, and there
    // the cooperative 128 x 256 tile measured 5-20% faster (docs/PERF.md, v5). NOTE: ping-pong pays only with two
    // or more units per CTA (else one consumer idles) and a pair only with two token tiles (else one CTA of each
    // pair computes an empty tile): at M = 128 it ran 1.6-1.9x slower, at M = 512 on N <= 8192 up to 1.35x slower.
    Sm90Tile pp = Sm90Tile{.block_m = 128, .block_n = 128, .consumers = 2, .pingpong = true, .cluster_m = 2};
    pp.stages = max_fitting_stages(spec, pp, 8);
    if (m > 128 && spec.k <= 8192 && pp.stages > 0 && gemm_s8_sm90_work_units(spec, pp, m) >= sm_count &&
        validate_gemm_s8_sm90(spec, pp).ok())
      return pp;
    // The 128 x 256 tile first: it wins ties (less shared-memory traffic per op).
    consider(Sm90Tile{.block_m = 128, .block_n = 256, .consumers = 2}, 6, 1);
    if (m <= 512) consider(Sm90Tile{.block_m = 128, .block_n = 192, .consumers = 2}, 6, 1);
    consider(Sm90Tile{.block_m = 128, .block_n = 128, .consumers = 2}, 6, 1);
  }
  return best;
}

Status encode_gemm_s8_sm90_params(EncodeTiledFn encode, const KernelSpec& spec, const Sm90Tile& config,
                                  const GemmS8Params& base, GemmS8Sm90Params* out) {
  QJIT_TRY(validate_gemm_s8_sm90(spec, config));
  if (encode == nullptr) return invalid("encode must be cuTensorMapEncodeTiled, got nullptr");
  if (out == nullptr) return invalid("out must point to a GemmS8Sm90Params, got nullptr");
  auto misaligned = [](const void* ptr) { return (reinterpret_cast<std::uintptr_t>(ptr) & 15u) != 0; };
  if (base.m < 1) return invalid(llvm::formatv("base.m must be >= 1, got {0}", base.m));
  if (base.a == nullptr || misaligned(base.a))
    return invalid(llvm::formatv("base.a must be a non-null 16-byte aligned device pointer, got {0}", base.a));
  if (base.b == nullptr || misaligned(base.b))
    return invalid(llvm::formatv("base.b must be a non-null 16-byte aligned device pointer, got {0}", base.b));
  if (base.lda < spec.k || base.lda % 16 != 0)
    return invalid(llvm::formatv("base.lda must be >= K = {0} and a multiple of 16, got {1}", spec.k, base.lda));
  if (base.ldb < spec.k || base.ldb % 16 != 0)
    return invalid(llvm::formatv("base.ldb must be >= K = {0} and a multiple of 16, got {1}", spec.k, base.ldb));
  if (base.c == nullptr) return invalid("base.c must be a non-null device pointer");
  if (base.ldc < spec.n) return invalid(llvm::formatv("base.ldc must be >= N = {0}, got {1}", spec.n, base.ldc));
  if (base.b_scale == nullptr) return invalid("base.b_scale must be a non-null device pointer to N floats");
  if (spec.has_bias && base.bias == nullptr) return invalid("base.bias must be non-null: the kernel has a bias");
  if (config.split_k > 1) {
    if (base.workspace == nullptr || misaligned(base.workspace))
      return invalid(llvm::formatv("base.workspace must be a 16-byte aligned buffer of {0} bytes for split_k = {1}",
                                   gemm_s8_sm90_workspace_bytes(spec, config, base.m), config.split_k));
    if (base.tile_counters == nullptr)
      return invalid(llvm::formatv("base.tile_counters must point to {0} zeroed int32 counters for split_k = {1}",
                                   gemm_s8_sm90_counter_count(spec, config, base.m), config.split_k));
  }
  *out = GemmS8Sm90Params{};
  out->base = base;
  const std::uint32_t element_strides[2] = {1, 1};
  auto encode_one = [&](std::uint8_t* map, const char* name, const void* ptr, std::int64_t rows, std::int64_t ld,
                        int box_rows) -> Status {
    const std::uint64_t dims[2] = {static_cast<std::uint64_t>(spec.k), static_cast<std::uint64_t>(rows)};
    const std::uint64_t strides[1] = {static_cast<std::uint64_t>(ld)};
    const std::uint32_t box[2] = {static_cast<std::uint32_t>(kBlockK), static_cast<std::uint32_t>(box_rows)};
    const int rc =
        encode(map, kTensorMapDataTypeUint8, 2, const_cast<void*>(ptr), dims, strides, box, element_strides,
               kTensorMapInterleaveNone, kTensorMapSwizzle128B, kTensorMapL2Promotion256B, kTensorMapOobFillZeros);
    if (rc != 0)
      return Status(StatusCode::DriverError,
                    llvm::formatv("cuTensorMapEncodeTiled({0}: dims {1}x{2}, stride {3}, box 128x{4}) failed with "
                                  "CUresult {5}",
                                  name, spec.k, rows, ld, box_rows, rc));
    return Status::success();
  };
  QJIT_TRY(encode_one(out->tma_a, "A", base.a, base.m, base.lda, config.block_m));
  // NOTE: with a cluster each CTA loads (and multicasts) 1/cluster_m of the weight tile.
  QJIT_TRY(encode_one(out->tma_b, "B", base.b, spec.n, base.ldb, config.block_n / std::max(config.cluster_m, 1)));
  return Status::success();
}

}  // namespace qjit::codegen
