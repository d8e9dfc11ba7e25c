// The deployment step behind `qjit warmup`: compile, with no GPU, every kernel a model's linear plans will ask for
// on a target arch, so the engine's first `select` of each layer is a disk hit instead of a second of NVRTC. For
// each (N, K, M) work item and plan kind it takes the plans' own kernel specs (ops::linear_kernel_specs), chooses
// the config a Tuned plan would (the tuning database's record for the device, found and vetted as choose_config
// does, else the heuristic), renders, deduplicates identical sources and compiles them in parallel through the
// process's KernelService (memory -> disk store -> NVRTC, storing what it compiles).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "autotune/shapes.h"
#include "autotune/tuning_db.h"
#include "codegen/kernel_spec.h"
#include "qjit/element.h"
#include "qjit/status.h"

namespace qjit::ops {

// RmsNormQuantize / LayerNormQuantize: the fused norm + quantize kernel of each item's K (its N is not used), in
// all four variants (dynamic or static scale, with or without a residual).
// ScaledMatmul: ScaledMatmulPlan's GEMMs in all four scale modes (act per token / per tensor x weight per channel /
// per tensor): their epilogues are kernels of their own.
// WeightOnlyLinear: WeightOnlyLinearPlan's kernels (dtype f16 or bf16) per channel, per tensor and per group of 64 and
// 128, each with and without zero points.
// Asymmetric: asymmetric activations (issue 17 item 3): QuantizedLinearPlan `asymmetric` (the asymmetric quantize
// pass, s8 codes, and the zero-point GEMM) and ScaledMatmulPlan with act_zero_point (per-token scales, the weight's
// per channel and per tensor).
enum class WarmupPlan : std::uint8_t {
  QuantizedLinear,
  SmoothQuant,
  RmsNormQuantize,
  LayerNormQuantize,
  ScaledMatmul,
  WeightOnlyLinear,
  Asymmetric
};
std::string_view warmup_plan_name(WarmupPlan p) noexcept;  // "ql", "sq", "rmsnorm", "layernorm", "mm", "w8a16", "azp"
// "ql,sq,rmsnorm,layernorm,mm,w8a16,azp" (also "quantized", "smoothquant", "rms_norm_quantize",
// "layer_norm_quantize", "scaled_matmul", "scaled_mm", "weight_only_linear", "asymmetric");
// duplicates collapse; errors name the item and the accepted names.
Result<std::vector<WarmupPlan>> parse_warmup_plans(std::string_view text);
// "sm_80", "sm_86", "sm_87", "sm_89", "sm_90a" (every arch `qjit inspect` and the tuning database accept); "80",
// "86", "87", "89", "90" and "sm_90" mean the same (Hopper is always sm_90a).
// InvalidArgument listing the accepted values otherwise.
Result<int> parse_target_arch(std::string_view text);
// "f16", "bf16", "f32", "f64": the activation and output type of the plans (QuantizedLinear needs them equal).
Result<ElementKind> parse_warmup_dtype(std::string_view text);

// Which of the database's devices the configs are taken from: `device` (and `sm_count`) when given, else the one
// device the database holds. InvalidArgument when it holds several and none was named (listing them), or when
// the named device has several SM counts and none was given. An empty database needs no device: {"", 0}.
Result<std::pair<std::string, int>> pick_tuning_device(const autotune::TuningDb& db,
                                                       const std::optional<std::string>& device,
                                                       std::optional<int> sm_count);

struct WarmupRequest {
  int arch = 90;  // 80, 86, 89, 90 (= sm_90a)
  std::vector<autotune::WorkItem> items;
  std::vector<WarmupPlan> plans = {WarmupPlan::QuantizedLinear, WarmupPlan::SmoothQuant};
  ElementKind dtype = ElementKind::BF16;
  std::vector<bool> bias_modes = {false};         // which has_bias variants to compile
  std::vector<bool> smooth_modes = {false};       // QuantizedLinear: which has_smooth (pre_quant_scale) variants
  const autotune::TuningDb* tuning_db = nullptr;  // nullptr: heuristic configs only
  std::string device_name;  // the DeviceInfo::name the tuned records were timed on (see pick_tuning_device)
  int sm_count = 132;       // the target's SM count (the heuristic and the tuning key read it)
  unsigned jobs = 0;        // parallel compiles; 0 = hardware concurrency
};

enum class WarmupOutcome : std::uint8_t { Cached, Compiled, Failed };

struct WarmupKernel {
  codegen::KernelSpec spec;  // the first spec that needed this source
  codegen::TileConfig config;
  bool tuned = false;   // config from the tuning database
  std::string entry;    // the kernel's entry point ("" when rendering failed)
  std::string used_by;  // "llama-2-7b o_proj m=16 ql" of the first work item that needed it
  WarmupOutcome outcome = WarmupOutcome::Failed;
  Status error;        // why it failed
  double seconds = 0;  // compile or lookup time
};

struct WarmupReport {
  std::size_t kernel_requests = 0;    // specs over all items and plans, before deduplication
  std::vector<WarmupKernel> kernels;  // one per distinct rendered source, in first-need order
  std::size_t cached = 0, compiled = 0, failed = 0, tuned = 0;
  std::size_t tuned_rejected = 0;  // tuning-DB configs that did not render (the heuristic served instead)
  std::string cache_dir;           // where the kernels went ("" when the store could not be opened)
  double wall_seconds = 0;
};

// Errors only for a malformed request (unsupported arch, no items, no plans); a kernel that fails to render or
// compile, or compiles but is not in the kernel cache afterwards (a failed store, a read-only or full cache, an
// eviction by QJIT_CACHE_MAX_BYTES), is a WarmupOutcome::Failed entry of the report, and the others still compile.
Result<WarmupReport> run_warmup(const WarmupRequest& request);

}  // namespace qjit::ops
