// run_warmup and its small parsers (see warmup.h). Work happens in three passes: choose + render on the calling
// thread (cheap, deterministic order), deduplicate by rendered source (distinct specs often render the same kernel:
// the quantize kernel does not depend on N or the M bucket), then compile on an llvm::ThreadPool, each task writing
// only its own slot of the report.
#include "ops/warmup.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <unordered_map>

#include "codegen/norm_quantize.h"
#include "codegen/stage_rows.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_family.h"
#include "jit/kernel_service.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "ops/staging.h"
#include "ops/tuning_store.h"
#include "runtime/log.h"

namespace qjit::ops {
namespace {

constexpr std::string_view kArchForms = "sm_80, sm_86, sm_87, sm_89 or sm_90a (also 80, 86, 87, 89, 90, sm_90)";

struct Pending {
  WarmupKernel kernel;
  codegen::Source source;
  std::optional<cache::CompileKey> key;  // once obtained
};

// The config the plan would choose for `spec` under PlanPreference::Tuned, rendered; failures land in the
// returned kernel's error. NOTE: mirrors choose_config's Tuned branch (ops/config_choice.cpp): the record found by
// find_tuned_record is used only when tuned_record_applies (same family as today's heuristic, measured against it)
// and it renders; otherwise the heuristic's config, which the plan loads too.
Pending choose_and_render(const codegen::KernelSpec& spec, const WarmupRequest& req, const runtime::DeviceInfo& device,
                          WarmupReport& report) {
  Pending p;
  p.kernel.spec = spec;
  auto heuristic = choose_config(spec, PlanPreference::Heuristic, device);
  if (!heuristic) {
    p.kernel.error = heuristic.error();
    return p;
  }
  if (req.tuning_db && !req.device_name.empty()) {
    if (const autotune::TuningRecord* r = find_tuned_record(*req.tuning_db, spec, req.device_name, req.sm_count)) {
      std::string why;
      Result<codegen::Source> src = Status(StatusCode::Unsupported, "");
      if (tuned_record_applies(*r, *heuristic, &why))
        src = render(spec, r->config);
      else
        src = Status(StatusCode::Unsupported, why);
      if (src) {
        p.kernel.config = r->config;
        p.kernel.tuned = true;
        p.source = std::move(src).value();
        return p;
      }
      ++report.tuned_rejected;
      QJIT_LOG_WARN("warmup", "tuned config {0} does not fit {1} ({2}); using the heuristic", r->config.to_string(),
                    spec.to_string(), src.error().message());
    }
  }
  p.kernel.config = *heuristic;
  auto src = render(spec, *heuristic);
  if (!src) {
    p.kernel.error = src.error();
    return p;
  }
  p.source = std::move(src).value();
  return p;
}

}  // namespace

std::string_view warmup_plan_name(WarmupPlan p) noexcept {
  switch (p) {
    case WarmupPlan::QuantizedLinear: return "ql";
    case WarmupPlan::SmoothQuant: return "sq";
    case WarmupPlan::RmsNormQuantize: return "rmsnorm";
    case WarmupPlan::LayerNormQuantize: return "layernorm";
    case WarmupPlan::ScaledMatmul: return "mm";
    case WarmupPlan::WeightOnlyLinear: return "w8a16";
    case WarmupPlan::Asymmetric: return "azp";
  }
  return "?";
}

Result<std::vector<WarmupPlan>> parse_warmup_plans(std::string_view text) {
  llvm::SmallVector<llvm::StringRef, 4> items;
  llvm::StringRef(text.data(), text.size()).split(items, ',');
  std::vector<WarmupPlan> plans;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const llvm::StringRef item = items[i].trim();
    WarmupPlan p;
    if (item == "ql" || item == "quantized")
      p = WarmupPlan::QuantizedLinear;
    else if (item == "sq" || item == "smoothquant")
      p = WarmupPlan::SmoothQuant;
    else if (item == "rmsnorm" || item == "rms_norm_quantize")
      p = WarmupPlan::RmsNormQuantize;
    else if (item == "layernorm" || item == "layer_norm_quantize")
      p = WarmupPlan::LayerNormQuantize;
    else if (item == "mm" || item == "scaled_matmul" || item == "scaled_mm")
      p = WarmupPlan::ScaledMatmul;
    else if (item == "w8a16" || item == "weight_only_linear")
      p = WarmupPlan::WeightOnlyLinear;
    else if (item == "azp" || item == "asymmetric")
      p = WarmupPlan::Asymmetric;
    else
      return Status(StatusCode::InvalidArgument,
                    llvm::formatv("plan list item {0} must be ql (QuantizedLinear), sq (SmoothQuant), rmsnorm "
                                  "(RmsNormQuantize), layernorm (LayerNormQuantize), mm (ScaledMatmul), w8a16 "
                                  "(WeightOnlyLinear) or azp (asymmetric activations), got '{1}'",
                                  i + 1, item.take_front(40))
                        .str());
    if (std::find(plans.begin(), plans.end(), p) == plans.end()) plans.push_back(p);
  }
  return plans;
}

Result<int> parse_target_arch(std::string_view text) {
  const llvm::StringRef t = llvm::StringRef(text.data(), text.size()).trim();
  if (t == "sm_80" || t == "80") return 80;
  if (t == "sm_86" || t == "86") return 86;
  if (t == "sm_87" || t == "87") return 87;
  if (t == "sm_89" || t == "89") return 89;
  if (t == "sm_90a" || t == "sm_90" || t == "90") return 90;
  return Status(StatusCode::InvalidArgument,
                llvm::formatv("--arch must be {0}, got '{1}'", kArchForms, t.take_front(40)).str());
}

Result<ElementKind> parse_warmup_dtype(std::string_view text) {
  const auto e = codegen::parse_element_name(text);
  if (!e || !is_floating(*e))
    return Status(StatusCode::InvalidArgument,
                  "--dtype must be f16, bf16, f32 or f64, got '" + std::string(text.substr(0, 40)) + "'");
  return *e;
}

Result<std::pair<std::string, int>> pick_tuning_device(const autotune::TuningDb& db,
                                                       const std::optional<std::string>& device,
                                                       std::optional<int> sm_count) {
  std::vector<std::pair<std::string, int>> devices;  // distinct (name, SMs) in the database
  for (const auto& r : db.records()) {
    const auto d = std::make_pair(r.key.device, r.key.sm_count);
    if (std::find(devices.begin(), devices.end(), d) == devices.end()) devices.push_back(d);
  }
  auto list = [&] {
    std::string s;
    for (const auto& [name, sms] : devices) s += llvm::formatv("{0}'{1}' ({2} SMs)", s.empty() ? "" : ", ", name, sms);
    return s;
  };
  if (!device) {
    if (devices.empty()) return std::make_pair(std::string(), sm_count.value_or(0));
    if (devices.size() > 1)
      return Status(StatusCode::InvalidArgument, "the tuning database holds configs for several devices (" + list() +
                                                     "); name the target with --device NAME (and --sm-count N)");
    if (sm_count && *sm_count != devices[0].second)
      return Status(StatusCode::InvalidArgument,
                    llvm::formatv("--sm-count {0} matches no device of the tuning database ({1}); name one with "
                                  "--device NAME --sm-count N",
                                  *sm_count, list())
                        .str());
    return devices[0];
  }
  std::vector<int> counts;
  for (const auto& [name, sms] : devices)
    if (name == *device && (!sm_count || sms == *sm_count)) counts.push_back(sms);
  if (counts.size() > 1)
    return Status(StatusCode::InvalidArgument, "the tuning database holds '" + *device + "' with several SM counts (" +
                                                   list() + "); pass --sm-count N");
  if (counts.empty()) {
    // The plans look records up by the device's own name, so on this device they would find none either: the
    // warmup then compiles the heuristic's kernels, which is what the engine will load. Say so loudly.
    QJIT_LOG_WARN("warmup", "the tuning database has no configs for '{0}'{1} (it holds {2}); using the heuristic",
                  *device, sm_count ? llvm::formatv(" with {0} SMs", *sm_count).str() : "",
                  devices.empty() ? "nothing" : list());
    return std::make_pair(*device, sm_count.value_or(0));
  }
  return std::make_pair(*device, counts[0]);
}

Result<WarmupReport> run_warmup(const WarmupRequest& req) {
  if (!codegen::is_supported_arch(req.arch))
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("WarmupRequest.arch must be one of 80, 86, 87, 89, 90, got {0}", req.arch).str());
  if (req.items.empty()) return Status(StatusCode::InvalidArgument, "WarmupRequest.items must not be empty");
  if (req.plans.empty()) return Status(StatusCode::InvalidArgument, "WarmupRequest.plans must not be empty");
  if (req.bias_modes.empty()) return Status(StatusCode::InvalidArgument, "WarmupRequest.bias_modes must not be empty");
  if (req.smooth_modes.empty())
    return Status(StatusCode::InvalidArgument, "WarmupRequest.smooth_modes must not be empty");
  if (req.sm_count < 1)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("WarmupRequest.sm_count must be >= 1, got {0}", req.sm_count).str());
  for (WarmupPlan plan : req.plans)
    if ((plan == WarmupPlan::RmsNormQuantize || plan == WarmupPlan::LayerNormQuantize ||
         plan == WarmupPlan::ScaledMatmul || plan == WarmupPlan::Asymmetric) &&
        req.dtype == ElementKind::F64)
      return Status(StatusCode::InvalidArgument,
                    llvm::formatv("WarmupRequest.dtype must be f16, bf16 or f32 for the {0} plan, got f64",
                                  warmup_plan_name(plan))
                        .str());
  for (WarmupPlan plan : req.plans)
    if (plan == WarmupPlan::WeightOnlyLinear && req.dtype != ElementKind::F16 && req.dtype != ElementKind::BF16)
      return Status(
          StatusCode::InvalidArgument,
          llvm::formatv("WarmupRequest.dtype must be f16 or bf16 for the w8a16 plan, got {0}", element_name(req.dtype))
              .str());
  const auto t0 = std::chrono::steady_clock::now();
  runtime::DeviceInfo device;  // synthetic: what the heuristic reads of the target
  device.arch = req.arch;
  device.sm_count = req.sm_count;
  device.name = req.device_name;
  device.max_smem_optin = codegen::max_dynamic_smem_bytes(req.arch);

  WarmupReport report;
  std::vector<Pending> pending;
  std::vector<codegen::KernelSpec> seen_specs;                  // with the config they chose, to skip re-rendering
  std::unordered_multimap<std::size_t, std::size_t> by_source;  // hash of source text -> slot in `pending`
  auto need = [&](const codegen::KernelSpec& spec, const std::string& used_by) {
    ++report.kernel_requests;
    for (std::size_t i = 0; i < seen_specs.size(); ++i)
      if (seen_specs[i] == spec) return;
    Pending p = choose_and_render(spec, req, device, report);
    p.kernel.used_by = used_by;
    seen_specs.push_back(spec);
    if (!p.kernel.error.ok()) {
      pending.push_back(std::move(p));
      return;
    }
    const std::size_t h = std::hash<std::string>{}(p.source.text);
    auto [lo, hi] = by_source.equal_range(h);
    for (auto it = lo; it != hi; ++it)
      if (pending[it->second].source.text == p.source.text && pending[it->second].source.entry == p.source.entry)
        return;
    by_source.emplace(h, pending.size());
    pending.push_back(std::move(p));
  };
  // A linear plan's kernels for one layer: its quantize pass (QuantizedLinear), its GEMM, and where K % 16 != 0 on
  // the Hopper family, the staging copy its select binds (the plan stages such rows into its workspace for the
  // Hopper kernel; workspace_size counts them). NOTE: not the portable GEMM: the plan binds it only for a call whose
  // workspace has no room for the staged rows (then on first use, compiling if the cache lacks it); nor the copy for
  // a sliced view of an aligned K, which a plan binds on the first call that has one.
  auto need_linear = [&](LinearShape shape, const autotune::WorkItem& item, bool bias, const std::string& used_by) {
    shape.m = item.m;
    shape.n = item.n;
    shape.k = item.k;
    shape.output = req.dtype;
    shape.has_bias = bias;
    const LinearKernelSpecs specs = linear_kernel_specs(shape, req.arch);
    if (specs.quantize) need(*specs.quantize, used_by);
    need(specs.gemm, used_by);
    const jit::KernelFamilyRuntime& family = jit::FamilyRegistry::process().for_spec(specs.gemm);
    if (stages_by_default(family.operand_align(), item.k))
      need(codegen::stage_rows_spec(item.k, codegen::m_bucket_of(item.m), req.arch), used_by + " staging");
  };
  for (const auto& item : req.items)
    for (WarmupPlan plan : req.plans) {
      if (plan == WarmupPlan::RmsNormQuantize || plan == WarmupPlan::LayerNormQuantize) {
        // The norm kernels depend on K, the dtype and the M bucket only (duplicates collapse in need()).
        const auto op = plan == WarmupPlan::RmsNormQuantize ? codegen::KernelOp::RmsNormQuantize
                                                            : codegen::KernelOp::LayerNormQuantize;
        for (bool dynamic : {true, false})
          for (bool residual : {false, true})
            need(codegen::norm_quantize_spec(op, req.dtype, item.k, codegen::m_bucket_of(item.m), req.arch, dynamic,
                                             residual),
                 llvm::formatv("{0} k={1} m={2} {3}{4}{5}", item.label, item.k, item.m, warmup_plan_name(plan),
                               dynamic ? "" : " static", residual ? " residual" : "")
                     .str());
        continue;
      }
      if (plan == WarmupPlan::WeightOnlyLinear) {
        // WeightOnlyLinearPlan: one kernel per scale mode x zero point x bias (the activation type is req.dtype).
        constexpr struct {
          bool per_channel;
          int group;
          const char* name;
        } kScales[] = {{true, 0, "per_channel"},
                       {false, 0, "per_tensor"},
                       {true, 64, "per_group(64)"},
                       {true, 128, "per_group(128)"}};
        for (bool bias : req.bias_modes)
          for (const auto& sc : kScales)
            for (bool zp : {false, true})
              need(codegen::w8a16_spec(req.dtype, item.n, item.k, codegen::m_bucket_of(item.m), req.arch, bias,
                                       sc.per_channel, sc.group, zp),
                   llvm::formatv("{0} n={1} k={2} m={3} w8a16 weight_scale={4}{5}{6}", item.label, item.n, item.k,
                                 item.m, sc.name, zp ? " zero_point" : "", bias ? " bias" : "")
                       .str());
        continue;
      }
      if (plan == WarmupPlan::Asymmetric) {
        // QuantizedLinearPlan asymmetric (its asymmetric quantize pass and the azp GEMM), then ScaledMatmulPlan with
        // act_zero_point: per-token scales (a zero point per token needs its scale), the weight's either way.
        for (bool bias : req.bias_modes)
          for (int variant = 0; variant < 3; ++variant) {
            const bool scaled = variant > 0, w_pt = variant == 2;
            LinearShape shape{.smooth_quant = scaled, .activation = scaled ? ElementKind::S8 : req.dtype};
            shape.scaled_matmul = scaled;
            shape.weight_scale_per_tensor = w_pt;
            shape.act_zero_point = true;
            need_linear(shape, item, bias,
                        llvm::formatv("{0} n={1} k={2} m={3} azp {4}{5}", item.label, item.n, item.k, item.m,
                                      !scaled ? "ql"
                                      : w_pt  ? "mm weight_scale=per_tensor"
                                              : "mm weight_scale=per_channel",
                                      bias ? " bias" : "")
                            .str());
          }
        continue;
      }
      if (plan == WarmupPlan::ScaledMatmul) {
        // ScaledMatmulPlan: int8 activations (no quantize pass), the output type req.dtype, every scale mode.
        for (bool bias : req.bias_modes)
          for (bool act_pt : {false, true})
            for (bool w_pt : {false, true}) {
              LinearShape shape{.smooth_quant = true, .activation = ElementKind::S8};
              shape.scaled_matmul = true;
              shape.act_scale_per_tensor = act_pt;
              shape.weight_scale_per_tensor = w_pt;
              need_linear(shape, item, bias,
                          llvm::formatv("{0} n={1} k={2} m={3} mm act_scale={4} weight_scale={5}{6}", item.label,
                                        item.n, item.k, item.m, act_pt ? "per_tensor" : "per_token",
                                        w_pt ? "per_tensor" : "per_channel", bias ? " bias" : "")
                              .str());
            }
        continue;
      }
      for (bool bias : req.bias_modes)
        for (bool smooth : req.smooth_modes) {
          if (smooth && plan != WarmupPlan::QuantizedLinear) continue;  // SmoothQuant takes int8 input: no pass
          LinearShape shape{.smooth_quant = plan == WarmupPlan::SmoothQuant, .activation = req.dtype};
          shape.smooth = smooth;
          need_linear(shape, item, bias,
                      llvm::formatv("{0} n={1} k={2} m={3} {4}{5}{6}", item.label, item.n, item.k, item.m,
                                    warmup_plan_name(plan), bias ? " bias" : "", smooth ? " smooth" : "")
                          .str());
        }
    }

  jit::KernelService& service = jit::KernelService::process();
  if (auto store = service.store()) report.cache_dir = store->options().writable_dir;
  {
    llvm::ThreadPool pool(llvm::hardware_concurrency(req.jobs));
    for (auto& p : pending) {
      if (!p.kernel.error.ok()) continue;
      p.kernel.entry = p.source.entry;
      pool.async([&p, &service, arch = req.arch] {
        const auto start = std::chrono::steady_clock::now();
        auto compiled = service.obtain(p.source, arch);
        if (!compiled) {
          p.kernel.error = compiled.error();
          p.kernel.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          return;
        }
        p.kernel.seconds = compiled->seconds;
        // NOTE: warmup's contract is "every kernel is in the cache", not "every kernel compiled": a full disk, a
        // read-only cache or a directory in an entry's place leaves a compiled kernel that the engine will compile
        // again, so it is a failure here.
        if (compiled->compiled_now && !compiled->not_stored.ok()) {
          p.kernel.error = compiled->not_stored.with_context("compiled but not stored in the kernel cache");
          return;
        }
        p.kernel.outcome = compiled->compiled_now ? WarmupOutcome::Compiled : WarmupOutcome::Cached;
        p.key = compiled->key;
      });
    }
    pool.wait();
  }
  // A store bounded by QJIT_CACHE_MAX_BYTES prunes after every write, possibly evicting kernels this warmup stored a
  // moment earlier: look every kernel up once more, as the engine will.
  if (auto store = service.store()) {
    for (auto& p : pending) {
      if (!p.kernel.error.ok() || !p.key) continue;
      if (auto hit = store->load(*p.key); !hit)
        p.kernel.error = Status(
            StatusCode::CacheIo,
            llvm::formatv("{0} was stored but is no longer in the kernel cache{1}", p.kernel.entry,
                          store->options().max_bytes ? llvm::formatv(" (QJIT_CACHE_MAX_BYTES={0} evicted it: raise the "
                                                                     "bound)",
                                                                     store->options().max_bytes)
                                                           .str()
                                                     : std::string())
                .str());
    }
  }
  for (auto& p : pending) {
    WarmupKernel& k = p.kernel;
    if (!k.error.ok()) k.outcome = WarmupOutcome::Failed;
    report.cached += k.outcome == WarmupOutcome::Cached;
    report.compiled += k.outcome == WarmupOutcome::Compiled;
    report.failed += k.outcome == WarmupOutcome::Failed;
    report.tuned += k.tuned;
    report.kernels.push_back(std::move(k));
  }
  report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace qjit::ops
