// `qjit inspect`: what qjit would do for one linear layer, without a GPU. For the descriptor given on the command
// line it prints each kernel the plan launches (ops::linear_kernel_specs): its KernelSpec, the config
// ops::choose_config picks and why, the kernel family and why, the rendered entry point and launch geometry at M, the
// staged Hopper path's workspace regions (ops/staging.h) where the GEMM's family needs aligned int8 rows, the
// compile key, whether the kernel cache already holds it (looked up, never compiled, unless --compile), the source
// with --source, the kernel's resource usage (registers, shared and local memory) read from the cached cubin itself
// (runtime/cubin_info.h, no toolkit needed), and a SASS summary (instruction counts) when the entry is available and
// cuobjdump or nvdisasm is in PATH, then the QJIT_* variables in effect (runtime/env.h's registry). The target is
// --arch, else the current GPU, else sm_90a. Exit codes: 0 success, 1 the work failed (a render or compile error),
// 2 bad usage.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cache/disk_store.h"
#include "codegen/norm_quantize.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_service.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "ops/staging.h"
#include "ops/validate.h"
#include "qjit/linear.h"
#include "qjit/norm_quantize.h"
#include "qjit/scaled_matmul.h"
#include "qjit/weight_only_linear.h"
#include "runtime/cubin_info.h"
#include "runtime/device.h"
#include "runtime/env.h"
#include "runtime/nvrtc.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/sass_summary.h"

namespace qjit::tools {
namespace {

namespace cl = llvm::cl;
constexpr const char* kCommand = "inspect";

struct Target {
  int arch = 90;
  int sm_count = 132;
  std::string origin;  // where arch and SM count came from
};

// What is known about one kernel of the plan.
struct KernelReport {
  std::string role;  // "quantize" | "gemm"
  codegen::KernelSpec spec;
  codegen::TileConfig config;
  codegen::Source source;
  runtime::LaunchDims dims;
  std::size_t workspace_bytes = 0;
  // The staged Hopper path (ops/staging.h): the GEMM's family needs aligned int8 rows, so misaligned views are
  // copied into the workspace at staged_stride; the two regions at M, and whether workspace_size counts them.
  bool staging = false, staging_by_default = false;
  std::int64_t staged_stride = 0;
  std::size_t staged_act_bytes = 0, staged_weight_bytes = 0;
  std::optional<cache::CompileKey> key;
  std::string key_note;  // why there is no key
  std::optional<cache::Entry> entry;
  std::string cache_note;                            // "cached", "not cached", "compiled now", or why the lookup failed
  std::optional<runtime::CubinResources> resources;  // read from the entry's cubin
  std::string resources_note;                        // why there are none
  std::optional<SassSummary> sass;
  std::string sass_note;
};

std::string dims_text(const unsigned (&d)[3]) { return llvm::formatv("{0}x{1}x{2}", d[0], d[1], d[2]).str(); }

// The key and the cache status of `r.source`, looked up without compiling (see jit::compile_key_for).
void look_up(KernelReport& r, cache::DiskStore* store, const std::string& nvrtc_version) {
  if (!nvrtc_version.empty()) {
    r.key = jit::compile_key_for(r.source, r.spec.arch, nvrtc_version);
  } else if (store) {
    // No NVRTC: the key depends on the compiler version, so probe the versions the service would.
    for (const auto& v : jit::known_nvrtc_versions()) {
      const auto key = jit::compile_key_for(r.source, r.spec.arch, v);
      if (auto e = store->load(key); e.has_value()) {
        r.key = key;
        r.entry = std::move(e).value();
        r.cache_note = "cached (NVRTC " + v + ")";
        return;
      }
    }
  }
  if (!r.key) {
    r.key_note = "unknown: NVRTC is unavailable (the key includes its version) and no cached entry matches";
    r.cache_note = "not cached";
    return;
  }
  if (!store) return;
  auto e = store->load(*r.key);
  if (e.has_value()) {
    r.entry = std::move(e).value();
    r.cache_note = "cached";
  } else {
    r.cache_note = e.error().code() == StatusCode::NotFound ? "not cached" : "lookup failed: " + e.error().message();
  }
}

void summarize(KernelReport& r, bool compile_requested) {
  if (!r.entry) {
    r.sass_note = compile_requested ? "no cubin (compile failed)" : "not cached (--compile builds it)";
    r.resources_note = r.sass_note;
    return;
  }
  auto resources = runtime::read_cubin_resources(r.entry->payload, r.source.entry);
  if (resources.has_value()) {
    r.resources = *resources;
    // NOTE: entries written before the store recorded registers hold 0 ("unknown"); the cubin's own count is used.
    if (r.entry->meta.registers > 0 && r.entry->meta.registers != resources->registers)
      r.resources_note = llvm::formatv("the entry's metadata says {0} registers, its cubin {1}",
                                       r.entry->meta.registers, resources->registers)
                             .str();
  } else {
    r.resources_note = resources.error().message();
  }
  auto s = summarize_cubin(r.entry->payload, r.source.entry);
  if (s.has_value())
    r.sass = std::move(s).value();
  else
    r.sass_note = s.error().message();
}

llvm::json::Value sass_json(const KernelReport& r) {
  if (!r.sass) return llvm::json::Object{{"available", false}, {"note", r.sass_note}};
  llvm::json::Object counts;
  for (const auto& [name, n] : r.sass->mnemonics) counts[name] = n;
  auto opt = [](const std::optional<int>& v) -> llvm::json::Value { return v ? llvm::json::Value(*v) : nullptr; };
  return llvm::json::Object{{"available", true},
                            {"tool", r.sass->tool},
                            {"instructions", r.sass->instructions},
                            {"mnemonics", std::move(counts)},
                            {"registers", opt(r.sass->registers)},
                            {"local_bytes", opt(r.sass->local_bytes)},
                            {"stack_bytes", opt(r.sass->stack_bytes)}};
}

llvm::json::Value resources_json(const KernelReport& r) {
  if (!r.resources) return llvm::json::Object{{"available", false}, {"note", r.resources_note}};
  const runtime::CubinResources& c = *r.resources;
  llvm::json::Object o{{"available", true},
                       {"registers", c.registers},
                       {"entry_registers", r.entry ? r.entry->meta.registers : 0},
                       {"static_smem_bytes", c.static_smem_bytes},
                       {"local_bytes", c.frame_bytes},
                       {"stack_bytes", c.stack_bytes},
                       {"spill_free", c.spill_free()},
                       {"max_threads", c.max_threads}};
  if (!r.resources_note.empty()) o["note"] = r.resources_note;
  return o;
}

std::string resources_text(const KernelReport& r) {
  if (!r.resources) return r.resources_note;
  const runtime::CubinResources& c = *r.resources;
  std::string s = llvm::formatv("registers {0}, static shared memory {1} B, ", c.registers, c.static_smem_bytes).str();
  s += c.spill_free() ? std::string("no local memory (spill-free)")
                      : llvm::formatv("local memory {0} B/thread, stack {1} B (spills or a stack array)", c.frame_bytes,
                                      c.stack_bytes)
                            .str();
  if (c.max_threads > 0) s += llvm::formatv("; compiled for <= {0} threads", c.max_threads).str();
  if (!r.resources_note.empty()) s += " [" + r.resources_note + "]";
  return s;
}

llvm::json::Object kernel_json(const KernelReport& r, bool with_source) {
  llvm::json::Object o{{"role", r.role},
                       {"spec", r.spec.to_string()},
                       {"config", r.config.to_string()},
                       {"config_reason", "heuristic"},
                       {"family", std::string(codegen::kernel_family_name(r.config.family()))},
                       {"family_reason", ops::family_reason(r.spec)},
                       {"entry", r.source.entry},
                       {"threads", r.source.threads},
                       {"dynamic_smem_bytes", r.source.dynamic_smem_bytes},
                       {"grid", llvm::json::Array{r.dims.grid[0], r.dims.grid[1], r.dims.grid[2]}},
                       {"cluster", llvm::json::Array{r.dims.cluster[0], r.dims.cluster[1], r.dims.cluster[2]}},
                       {"block", llvm::json::Array{r.dims.block[0], r.dims.block[1], r.dims.block[2]}},
                       {"workspace_bytes", static_cast<std::int64_t>(r.workspace_bytes)},
                       {"key", r.key ? llvm::json::Value(r.key->hex()) : llvm::json::Value(nullptr)},
                       {"cached", r.entry.has_value()},
                       {"cache_status", r.cache_note},
                       {"resources", resources_json(r)},
                       {"sass", sass_json(r)}};
  o["staging"] =
      r.staging
          ? llvm::json::Value(llvm::json::Object{{"row_stride", r.staged_stride},
                                                 {"act_bytes", static_cast<std::int64_t>(r.staged_act_bytes)},
                                                 {"weight_bytes", static_cast<std::int64_t>(r.staged_weight_bytes)},
                                                 {"counted_by_workspace_size", r.staging_by_default}})
          : llvm::json::Value(nullptr);
  if (!r.key) o["key_note"] = r.key_note;
  if (r.entry) o["cubin_bytes"] = static_cast<std::int64_t>(r.entry->payload.size());
  if (with_source) o["source"] = r.source.text;
  return o;
}

void print_text(const std::string& descriptor, const Target& t, const std::string& nvrtc_note,
                const std::string& cache_dir, const std::vector<KernelReport>& kernels, bool with_source) {
  std::printf("descriptor  %s\ntarget      %s, %d SMs (%s)\nnvrtc       %s\ncache       %s\n", descriptor.c_str(),
              codegen::arch_option(t.arch).c_str(), t.sm_count, t.origin.c_str(), nvrtc_note.c_str(),
              cache_dir.c_str());
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    const KernelReport& r = kernels[i];
    std::printf("\nkernel %zu/%zu: %s\n", i + 1, kernels.size(), r.role.c_str());
    std::printf("  spec      %s\n", r.spec.to_string().c_str());
    std::printf("  config    %s  (reason: heuristic)\n", r.config.to_string().c_str());
    std::printf("  family    %s: %s\n", std::string(codegen::kernel_family_name(r.config.family())).c_str(),
                ops::family_reason(r.spec).c_str());
    std::printf("  entry     %s\n", r.source.entry.c_str());
    const bool cluster = r.dims.cluster[0] * r.dims.cluster[1] * r.dims.cluster[2] > 1;
    std::printf("  launch    grid %s%s%s, block %s, %d B dynamic shared memory; workspace %zu B\n",
                dims_text(r.dims.grid).c_str(), cluster ? " in clusters of " : "",
                cluster ? dims_text(r.dims.cluster).c_str() : "", dims_text(r.dims.block).c_str(),
                r.source.dynamic_smem_bytes, r.workspace_bytes);
    if (r.staging)
      std::printf(
          "  staging   int8 rows whose base or stride is not 16-byte aligned are staged at %lld-byte rows: "
          "act %zu B + weight %zu B of workspace at this M (%s)\n",
          static_cast<long long>(r.staged_stride), r.staged_act_bytes, r.staged_weight_bytes,
          r.staging_by_default ? "every contiguous view: K % 16 != 0; workspace_size counts them"
                               : "misaligned views only; qjit::staged_workspace_size adds them");
    std::printf("  key       %s\n", r.key ? r.key->hex().c_str() : r.key_note.c_str());
    std::printf("  cache     %s", r.cache_note.c_str());
    if (r.entry)
      std::printf(" (%zu-byte cubin, %s, compiled in %.2f s)", r.entry->payload.size(),
                  r.entry->meta.nvrtc_version.empty() ? "?" : ("NVRTC " + r.entry->meta.nvrtc_version).c_str(),
                  r.entry->meta.compile_seconds);
    std::printf("\n");
    std::printf("  resources %s\n", resources_text(r).c_str());
    if (!r.sass) {
      std::printf("  sass      %s\n", r.sass_note.c_str());
    } else {
      const SassSummary& s = *r.sass;
      std::string keys;
      for (auto name : kKeyMnemonics)
        if (s.count(name)) keys += llvm::formatv("{0} {1}, ", name, s.count(name)).str();
      std::string top;
      for (std::size_t j = 0; j < s.mnemonics.size() && j < 8; ++j)
        top += llvm::formatv("{0} {1}, ", s.mnemonics[j].first, s.mnemonics[j].second).str();
      std::printf("  sass      %lld instructions (%s); key: %s\n", static_cast<long long>(s.instructions),
                  s.tool.c_str(), keys.empty() ? "none" : keys.substr(0, keys.size() - 2).c_str());
      std::printf("            most frequent: %s\n", top.substr(0, top.size() - 2).c_str());
      if (s.registers)
        std::printf("            registers %d, local memory %d B/thread%s, stack %d B\n", *s.registers,
                    s.local_bytes.value_or(0), s.local_bytes.value_or(0) > 0 ? " (spills or a stack array)" : "",
                    s.stack_bytes.value_or(0));
    }
    if (with_source)
      std::printf("\n----- %s.cu -----\n%s\n----- end -----\n", r.source.entry.c_str(), r.source.text.c_str());
  }
}

}  // namespace

int run_inspect_command(int argc, char** argv) {
  // NOTE: static: cl keeps a pointer to every category ever constructed (the help printer walks them).
  static cl::OptionCategory cat("qjit inspect options");
  cl::opt<std::string> op_opt("op",
                              cl::desc("quantized_linear | smooth_quant_linear | scaled_matmul | weight_only_linear | "
                                       "rms_norm_quantize | layer_norm_quantize"),
                              cl::value_desc("op"), cl::cat(cat));
  // NOTE: M, N, K are parsed here rather than by cl, whose errors call one-letter flags "-m".
  cl::opt<std::string> m_opt("m", cl::desc("tokens: picks the M bucket (default 1)"), cl::init("1"),
                             cl::value_desc("int"), cl::cat(cat));
  cl::opt<std::string> n_opt("n", cl::desc("output features (required)"), cl::value_desc("int"), cl::cat(cat));
  cl::opt<std::string> k_opt("k", cl::desc("input features (required)"), cl::value_desc("int"), cl::cat(cat));
  cl::opt<std::string> dtype_opt("dtype", cl::desc("activation/output type: bf16 | f16 | f32 (default bf16)"),
                                 cl::init("bf16"), cl::cat(cat));
  cl::opt<bool> bias_opt("bias", cl::desc("the layer has a bias"), cl::cat(cat));
  cl::opt<bool> residual_opt("residual", cl::desc("norm ops: add a residual first (and write it back)"),
                             cl::cat(cat));
  cl::opt<bool> static_opt("static-scale", cl::desc("norm ops: a static per-tensor scale (default: per-token)"),
                           cl::cat(cat));
  cl::opt<std::string> act_scale_opt("act-scale",
                                     cl::desc("scaled_matmul: per_token | per_tensor (default per_token)"),
                                     cl::init("per_token"), cl::cat(cat));
  cl::opt<std::string> weight_scale_opt("weight-scale",
                                        cl::desc("scaled_matmul: per_channel | per_tensor; weight_only_linear: also "
                                                 "per_group (default per_channel)"),
                                        cl::init("per_channel"), cl::cat(cat));
  cl::opt<bool> asym_opt("asymmetric",
                         cl::desc("quantized_linear / scaled_matmul: asymmetric activations (per-token zero points, "
                                  "the azp GEMM epilogue)"),
                         cl::cat(cat));
  cl::opt<int> group_opt("group-size", cl::desc("weight_only_linear with --weight-scale per_group: 64 | 128"),
                         cl::init(0), cl::cat(cat));
  cl::opt<bool> zp_opt("zero-point", cl::desc("weight_only_linear: int32 zero points of the scales' shape"),
                       cl::cat(cat));
  cl::opt<std::string> arch_opt("arch",
                                cl::desc("target: sm_80 | sm_86 | sm_89 | sm_90a (default: this GPU, else "
                                         "sm_90a)"),
                                cl::cat(cat));
  cl::opt<int> sm_opt("sm-count", cl::desc("SM count the heuristics assume (default: this GPU's, else 132)"),
                      cl::init(0), cl::cat(cat));
  cl::opt<bool> source_opt("source", cl::desc("print each kernel's rendered source"), cl::cat(cat));
  cl::opt<bool> compile_opt("compile", cl::desc("compile kernels missing from the cache (NVRTC) for the SASS summary"),
                            cl::cat(cat));
  cl::opt<bool> json_opt("json", cl::desc("machine-readable output"), cl::cat(cat));
  OptionScope option_scope(cat);
  cl::HideUnrelatedOptions(cat);
  if (!parse_command_line(argc, argv, kCommand,
                          "qjit inspect: the kernels, configs, compile keys, cache status and SASS of one linear "
                          "layer (or fused norm + quantize pass)\n\n  qjit inspect --op quantized_linear --m 128 "
                          "--n 4096 --k 4096 --dtype bf16\n  qjit inspect --op rms_norm_quantize --m 2048 --k 4096 "
                          "--residual\n  qjit inspect --op weight_only_linear --m 16 --n 4096 --k 4096 "
                          "--weight-scale per_group --group-size 128 --zero-point\n"))
    return kExitUsage;

  constexpr const char* kOps =
      "quantized_linear, smooth_quant_linear, scaled_matmul, weight_only_linear, rms_norm_quantize or "
      "layer_norm_quantize";
  if (op_opt.empty()) return usage_error(kCommand, std::string("--op is required: ") + kOps);
  const bool norm_op = op_opt == "rms_norm_quantize" || op_opt == "layer_norm_quantize";
  const bool scaled_op = op_opt == "scaled_matmul";
  const bool w8a16_op = op_opt == "weight_only_linear";
  if (op_opt != "quantized_linear" && op_opt != "smooth_quant_linear" && !scaled_op && !norm_op && !w8a16_op)
    return usage_error(kCommand, std::string("--op must be ") + kOps + ", got '" + op_opt + "'");
  if (norm_op && n_opt.getNumOccurrences()) return usage_error(kCommand, "--n is not used by " + op_opt);
  if (!norm_op && (residual_opt || static_opt))
    return usage_error(kCommand, "--residual and --static-scale are for rms_norm_quantize and layer_norm_quantize");
  if (!scaled_op && act_scale_opt.getNumOccurrences())
    return usage_error(kCommand, "--act-scale is for scaled_matmul");
  if (!scaled_op && !w8a16_op && weight_scale_opt.getNumOccurrences())
    return usage_error(kCommand, "--weight-scale is for scaled_matmul and weight_only_linear");
  if (!w8a16_op && (group_opt.getNumOccurrences() || zp_opt))
    return usage_error(kCommand, "--group-size and --zero-point are for weight_only_linear");
  if (asym_opt && op_opt != "quantized_linear" && !scaled_op)
    return usage_error(kCommand, "--asymmetric is for quantized_linear and scaled_matmul");
  if (asym_opt && act_scale_opt == "per_tensor")
    return usage_error(kCommand, "--asymmetric needs --act-scale per_token (a zero point per token needs its scale)");
  if (act_scale_opt != "per_token" && act_scale_opt != "per_tensor")
    return usage_error(kCommand, "--act-scale must be per_token or per_tensor, got '" + act_scale_opt + "'");
  if (w8a16_op && weight_scale_opt != "per_channel" && weight_scale_opt != "per_tensor" &&
      weight_scale_opt != "per_group")
    return usage_error(kCommand,
                       "--weight-scale must be per_channel, per_tensor or per_group, got '" + weight_scale_opt + "'");
  if (!w8a16_op && weight_scale_opt != "per_channel" && weight_scale_opt != "per_tensor")
    return usage_error(kCommand, "--weight-scale must be per_channel or per_tensor, got '" + weight_scale_opt + "'");
  if (w8a16_op && (weight_scale_opt == "per_group") != (group_opt != 0))
    return usage_error(kCommand, "--group-size (64 or 128) goes with --weight-scale per_group and only with it");
  if (w8a16_op && group_opt != 0 && group_opt != 64 && group_opt != 128)
    return usage_error(kCommand, "--group-size must be 64 or 128, got " + std::to_string(group_opt));
  if (norm_op) n_opt = "1";
  if (!n_opt.getNumOccurrences() && !norm_op)
    return usage_error(kCommand, "--n is required (output features, e.g. --n 4096)");
  if (!k_opt.getNumOccurrences()) return usage_error(kCommand, "--k is required (input features, e.g. --k 4096)");
  std::int64_t dims[3] = {0, 0, 0};
  const std::pair<const char*, const std::string*> texts[] = {
      {"--m", &m_opt.getValue()}, {"--n", &n_opt.getValue()}, {"--k", &k_opt.getValue()}};
  for (int i = 0; i < 3; ++i)
    if (llvm::StringRef(*texts[i].second).getAsInteger(10, dims[i]) || dims[i] < 1 || dims[i] >= ops::kMaxDim)
      return usage_error(
          kCommand,
          llvm::formatv("{0} must be an integer in [1, 2^31), got '{1}'", texts[i].first, *texts[i].second).str());
  auto dtype = parse_dtype(dtype_opt, "--dtype");
  if (!dtype) return usage_error(kCommand, dtype.error().message());
  if (sm_opt < 0 || sm_opt > 1024)
    return usage_error(kCommand, "--sm-count must be in [1, 1024], got " + std::to_string(sm_opt));

  Target target;
  auto device = runtime::current_device();
  if (!arch_opt.empty()) {
    auto arch = parse_arch(arch_opt, "--arch");
    if (!arch) return usage_error(kCommand, arch.error().message());
    target.arch = *arch;
    target.origin = "--arch";
  } else if (device.has_value()) {
    target.arch = ops::target_arch(*device);
    target.origin = device->name;
  } else {
    target.origin = "no GPU: default sm_90a";
  }
  if (sm_opt > 0) {
    target.sm_count = sm_opt;
    target.origin += ", --sm-count";
  } else if (device.has_value() && ops::target_arch(*device) == target.arch) {
    target.sm_count = device->sm_count;
  }

  const bool smooth = op_opt == "smooth_quant_linear";
  const std::int64_t m = dims[0], n = dims[1], k = dims[2];
  if (norm_op && *dtype == ElementKind::F64)
    return usage_error(kCommand, "--dtype must be bf16, f16 or f32 for " + op_opt + ", got f64");
  if (w8a16_op && *dtype != ElementKind::BF16 && *dtype != ElementKind::F16)
    return usage_error(kCommand, "--dtype must be bf16 or f16 for weight_only_linear, got " +
                                     std::string(element_name(*dtype)));
  const WeightScaleMode w8_mode = weight_scale_opt == "per_group"    ? WeightScaleMode::PerGroup
                                  : weight_scale_opt == "per_tensor" ? WeightScaleMode::PerTensor
                                                                     : WeightScaleMode::PerChannel;
  std::string descriptor;
  if (norm_op) {
    NormQuantizeDescriptor d;
    d.norm = op_opt == "rms_norm_quantize" ? NormKind::RmsNorm : NormKind::LayerNorm;
    d.m = m;
    d.k = k;
    d.input_element = *dtype;
    d.has_residual = residual_opt;
    if (static_opt) d = d.with_static_scale(1.0f);
    descriptor = d.to_string();
  } else if (w8a16_op) {
    descriptor = WeightOnlyLinearDescriptor{m, n, k, *dtype, ElementKind::S8, *dtype, bias_opt, w8_mode, group_opt,
                                            zp_opt}
                     .to_string();
  } else if (scaled_op) {
    ScaledMatmulDescriptor d{m,
                                        n,
                                        k,
                                        ElementKind::S8,
                                        ElementKind::S8,
                                        *dtype,
                                        bias_opt,
                                        act_scale_opt == "per_tensor" ? ActScaleMode::PerTensor
                                                                      : ActScaleMode::PerToken,
                                        weight_scale_opt == "per_tensor" ? WeightScaleMode::PerTensor
                                                                         : WeightScaleMode::PerChannel};
    d.has_act_zero_point = asym_opt;
    descriptor = d.to_string();
  } else if (smooth) {
    descriptor = SmoothQuantLinearDescriptor{m, n, k, 1.0f, ElementKind::S8, ElementKind::S8, *dtype, bias_opt}.to_string();
  } else {
    QuantizedLinearDescriptor d{m, n, k, *dtype, ElementKind::S8, *dtype, bias_opt};
    d.asymmetric = asym_opt;
    descriptor = d.to_string();
  }
  ops::LinearShape shape;
  shape.smooth_quant = smooth;
  shape.m = m;
  shape.n = n;
  shape.k = k;
  shape.activation = *dtype;
  shape.output = *dtype;
  shape.has_bias = bias_opt;
  shape.act_zero_point = asym_opt;
  if (scaled_op) {
    shape.smooth_quant = true;
    shape.scaled_matmul = true;
    shape.act_scale_per_tensor = act_scale_opt == "per_tensor";
    shape.weight_scale_per_tensor = weight_scale_opt == "per_tensor";
  }
  const ops::LinearKernelSpecs specs = ops::linear_kernel_specs(shape, target.arch);

  // The cache is opened read-only for the lookup (inspecting never creates or touches a store); --compile goes
  // through the JIT service, which writes to the writable store as a plan's select would.
  std::shared_ptr<cache::DiskStore> store;
  std::string cache_dir = "unavailable";
  if (auto options = cache::options_from_environment(); options.has_value()) {
    cache_dir = options->writable_dir;
    for (const auto& d : options->readonly_dirs) cache_dir += " + " + d + " (read-only)";
    options->read_only = true;
    if (auto s = cache::DiskStore::open(*options); s.has_value())
      store = *s;
    else
      cache_dir += " (cannot open: " + s.error().message() + ")";
  } else {
    cache_dir += ": " + options.error().message();
  }
  std::string nvrtc_version, nvrtc_note;
  if (auto compiler = runtime::nvrtc(); compiler.has_value()) {
    nvrtc_version = (*compiler)->version();
    nvrtc_note = nvrtc_version;
  } else {
    nvrtc_note = "unavailable (" + compiler.error().message() + ")";
  }

  runtime::DeviceInfo info;
  info.arch = target.arch;
  info.sm_count = target.sm_count;
  std::vector<KernelReport> kernels;
  std::vector<std::pair<std::string, codegen::KernelSpec>> wanted;
  if (norm_op) {
    wanted.emplace_back("norm_quantize",
                        codegen::norm_quantize_spec(op_opt == "rms_norm_quantize" ? codegen::KernelOp::RmsNormQuantize
                                                                                  : codegen::KernelOp::LayerNormQuantize,
                                                    *dtype, k, codegen::m_bucket_of(m), target.arch, !static_opt,
                                                    residual_opt));
  } else if (w8a16_op) {
    wanted.emplace_back("gemm", codegen::w8a16_spec(*dtype, n, k, codegen::m_bucket_of(m), target.arch, bias_opt,
                                                    w8_mode != WeightScaleMode::PerTensor, group_opt, zp_opt));
  } else {
    if (specs.quantize) wanted.emplace_back("quantize", *specs.quantize);
    wanted.emplace_back("gemm", specs.gemm);
  }
  for (const auto& [role, spec] : wanted) {
    KernelReport r;
    r.role = role;
    r.spec = spec;
    auto config = ops::choose_config(spec, PlanPreference::Heuristic, info);
    if (!config) return failure(kCommand, config.error());
    r.config = *config;
    auto source = ops::render(spec, r.config);
    if (!source) return failure(kCommand, source.error());
    r.source = std::move(source).value();
    r.dims = ops::launch_dims(spec, r.config, m, target.sm_count);
    r.workspace_bytes = ops::kernel_workspace_bytes(spec, r.config, m);
    if (const unsigned align = ops::operand_align(r.config); role == "gemm" && align > 1) {
      r.staging = true;
      r.staging_by_default = ops::stages_by_default(align, spec.k);
      r.staged_stride = preferred_row_stride(spec.k);
      r.staged_act_bytes = staged_rows_bytes(m, spec.k);
      r.staged_weight_bytes = staged_rows_bytes(spec.n, spec.k);
    }
    look_up(r, store.get(), nvrtc_version);
    if (compile_opt && !r.entry) {
      auto compiled = jit::KernelService::process().obtain(r.source, spec.arch);
      if (!compiled) return failure(kCommand, compiled.error());
      r.key = compiled->key;
      r.entry = *compiled->entry;
      r.cache_note = compiled->compiled_now ? "compiled now (--compile) and stored" : "cached";
    }
    summarize(r, compile_opt);
    kernels.push_back(std::move(r));
  }

  if (json_opt) {
    llvm::json::Array arr;
    for (const auto& r : kernels) arr.push_back(kernel_json(r, source_opt));
    llvm::json::Object environment;
    for (const auto& [var, value] : env::in_effect())
      environment[std::string(var->name)] = value ? llvm::json::Value(*value) : llvm::json::Value(nullptr);
    llvm::outs() << llvm::formatv("{0:2}",
                                  llvm::json::Value(llvm::json::Object{
                                      {"descriptor", descriptor},
                                      {"arch", codegen::arch_option(target.arch)},
                                      {"sm_count", target.sm_count},
                                      {"target_origin", target.origin},
                                      {"nvrtc_version", nvrtc_version.empty() ? llvm::json::Value(nullptr)
                                                                              : llvm::json::Value(nvrtc_version)},
                                      {"cache", cache_dir},
                                      {"kernels", std::move(arr)},
                                      {"environment", std::move(environment)}}))
                 << "\n";
    llvm::outs().flush();
    return kExitOk;
  }
  print_text(descriptor, target, nvrtc_note, cache_dir, kernels, source_opt);
  std::printf("\nenvironment\n");
  print_environment(stdout, "  ");
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace qjit::tools
