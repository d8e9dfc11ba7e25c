// The warmup (the deployment step behind `qjit warmup`): its flag parsers, the choice of the tuning database's
// device, and -- with the real NVRTC -- a two-layer model warmed for sm_80 and sm_90a whose kernels land in the
// store, a second run that compiles nothing, and a tuned config that is the one compiled.
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include "jit/kernel_family.h"
#include "jit/kernel_service.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "ops/warmup.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"

namespace qjit::ops {
namespace {

using autotune::TuningDb;
using autotune::TuningRecord;

TuningRecord device_record(const std::string& device, int sm_count, int bucket) {
  TuningRecord r;
  r.key.op = "gemm_s8";
  r.key.in_dtype = "s8";
  r.key.out_dtype = "bf16";
  r.key.n = 4096;
  r.key.k = 4096;
  r.key.m_bucket = bucket;
  r.key.device = device;
  r.key.sm_count = sm_count;
  r.key.arch = 80;
  r.time_us = 5;
  return r;
}

TEST(OpsWarmup, TargetArchAcceptsTheSupportedTargetsOnly) {
  EXPECT_EQ(*parse_target_arch("sm_80"), 80);
  EXPECT_EQ(*parse_target_arch("86"), 86);
  EXPECT_EQ(*parse_target_arch("sm_89"), 89);
  EXPECT_EQ(*parse_target_arch("sm_90a"), 90);
  EXPECT_EQ(*parse_target_arch("sm_90"), 90);
  EXPECT_EQ(*parse_target_arch("90"), 90);
  for (const char* bad : {"", "sm_75", "sm_100", "compute_90", "SM_80", "sm80", "90a"}) {
    auto r = parse_target_arch(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("sm_80, sm_86, sm_87, sm_89 or sm_90a"), std::string::npos)
        << r.error().message();
  }
}

TEST(OpsWarmup, PlansAndDtypeParse) {
  EXPECT_EQ(parse_warmup_plans("ql,sq")->size(), 2u);
  EXPECT_EQ(parse_warmup_plans("sq")->front(), WarmupPlan::SmoothQuant);
  EXPECT_EQ(parse_warmup_plans("ql, quantized")->size(), 1u);
  for (const char* bad : {"", "ql,", "qq", "ql;sq"}) EXPECT_FALSE(parse_warmup_plans(bad)) << bad;
  EXPECT_NE(parse_warmup_plans("ql,x").error().message().find("item 2"), std::string::npos);
  EXPECT_EQ(*parse_warmup_dtype("f16"), ElementKind::F16);
  EXPECT_EQ(*parse_warmup_dtype("bf16"), ElementKind::BF16);
  for (const char* bad : {"", "s8", "int8", "BF16"}) EXPECT_FALSE(parse_warmup_dtype(bad)) << bad;
}

TEST(OpsWarmup, TuningDeviceIsTheOnlyOneOrMustBeNamed) {
  TuningDb empty;
  EXPECT_EQ(pick_tuning_device(empty, std::nullopt, std::nullopt)->first, "");
  TuningDb one;
  one.put(device_record("NVIDIA A100-SXM4-80GB", 108, 1));
  one.put(device_record("NVIDIA A100-SXM4-80GB", 108, 16));
  auto picked = pick_tuning_device(one, std::nullopt, std::nullopt);
  ASSERT_TRUE(picked) << picked.error().to_string();
  EXPECT_EQ(picked->first, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(picked->second, 108);
  EXPECT_FALSE(pick_tuning_device(one, std::nullopt, 132));  // an SM count the database does not hold
  TuningDb two = one;
  two.put(device_record("NVIDIA A10", 72, 1));
  auto ambiguous = pick_tuning_device(two, std::nullopt, std::nullopt);
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().message().find("NVIDIA A10"), std::string::npos) << ambiguous.error().message();
  EXPECT_NE(ambiguous.error().message().find("--device"), std::string::npos);
  EXPECT_EQ(pick_tuning_device(two, std::string("NVIDIA A10"), std::nullopt)->second, 72);
  two.put(device_record("NVIDIA A10", 80, 1));
  EXPECT_FALSE(pick_tuning_device(two, std::string("NVIDIA A10"), std::nullopt));  // which SM count?
  EXPECT_EQ(pick_tuning_device(two, std::string("NVIDIA A10"), 80)->second, 80);
  // A device the database does not know: no records will match, exactly as at run time (a warning, not an error).
  EXPECT_EQ(pick_tuning_device(two, std::string("NVIDIA L4"), std::nullopt)->first, "NVIDIA L4");
}

TEST(OpsWarmup, MalformedRequestsAreRefused) {
  WarmupRequest req;
  EXPECT_FALSE(run_warmup(req));  // no items
  req.items = {autotune::WorkItem{256, 512, 1, "t a"}};
  req.arch = 75;
  EXPECT_FALSE(run_warmup(req));
  req.arch = 80;
  req.plans.clear();
  EXPECT_FALSE(run_warmup(req));
}

Result<WarmupReport> warm(int arch, const std::vector<autotune::WorkItem>& items, const TuningDb* db = nullptr) {
  WarmupRequest req;
  req.arch = arch;
  req.items = items;
  req.jobs = 2;
  req.tuning_db = db;
  req.device_name = db ? "NVIDIA A100-SXM4-80GB" : "";
  req.sm_count = db ? 108 : 132;
  return run_warmup(req);
}

std::string describe(int arch, const WarmupReport& r) {
  std::string s = "sm_" + std::to_string(arch) + ": " + std::to_string(r.kernel_requests) + " requests, " +
                  std::to_string(r.kernels.size()) + " kernels, " + std::to_string(r.cached) + " cached, " +
                  std::to_string(r.compiled) + " compiled, " + std::to_string(r.failed) + " failed, " +
                  std::to_string(r.tuned) + " tuned, store '" + r.cache_dir + "'";
  for (const auto& k : r.kernels)
    if (k.outcome == WarmupOutcome::Failed) s += "\n  " + k.used_by + ": " + k.error.to_string();
  return s;
}

// Runs in a fresh child process (the jit::KernelService is per process and reads QJIT_CACHE_DIR once).
int warm_twice_in_fresh_process() {
  cache::testing::TempDir dir;
  const std::string store = dir.sub("cache");
  cache::testing::use_only_cache_dir(store);
  ::unsetenv("QJIT_DISABLE_SM90");
  const std::vector<autotune::WorkItem> items = {
      {256, 512, 1, "t a"}, {256, 512, 128, "t a"}, {512, 256, 1, "t b"}, {512, 256, 128, "t b"}};
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  };
  std::size_t total = 0;
  for (int arch : {80, 90}) {
    auto first = warm(arch, items);
    if (!first) return fail(first.error().to_string());
    // 2 (N, K) x 2 M buckets x (QuantizedLinear: quantize + per-token GEMM; SmoothQuant: per-tensor GEMM) = 12
    // requests; the quantize source does not depend on N or M, so at most 2 + 8 distinct kernels.
    if (first->cache_dir != store || first->failed || first->kernel_requests != 12 || first->kernels.size() < 10 ||
        first->compiled != first->kernels.size())
      return fail("first run " + describe(arch, *first));
    for (const auto& k : first->kernels)
      if (k.spec.op == codegen::KernelOp::GemmS8 &&
          k.config.family() != (arch == 90 ? codegen::KernelFamily::GemmSm90 : codegen::KernelFamily::GemmSm80))
        return fail("wrong family " + k.config.to_string() + " for " + k.spec.to_string());
    total += first->compiled;
    auto second = warm(arch, items);
    if (!second) return fail(second.error().to_string());
    if (second->failed || second->compiled != 0 || second->cached != first->kernels.size())
      return fail("second run " + describe(arch, *second));
  }
  auto entries = cache::DiskStore::open(cache::testing::writable_options(store)).value()->list();
  if (!entries || entries->size() != total)
    return fail("store holds " + std::to_string(entries ? entries->size() : 0) + " entries, compiled " +
                std::to_string(total));
  // A tuned config for one GEMM (a valid candidate that is not the heuristic's) is the kernel compiled for it, and,
  // by Tuned's epilogue-variant fallback, for the same GEMM with the per-tensor scale (SmoothQuant) as well.
  LinearShape shape{false, 1, 256, 512, ElementKind::BF16, ElementKind::BF16, false};
  const codegen::KernelSpec gemm = linear_kernel_specs(shape, 80).gemm;
  const auto candidates = jit::gemm_sm80_family().candidates(gemm, {});
  if (candidates.size() < 2) return fail("no candidate besides the heuristic");
  TuningDb db;
  TuningRecord r;
  r.key = autotune::tuning_key(gemm, "NVIDIA A100-SXM4-80GB", 108);
  r.config = candidates[1];
  r.time_us = 3;
  db.put(r);
  auto tuned = warm(80, items, &db);
  if (!tuned) return fail(tuned.error().to_string());
  if (tuned->failed || tuned->tuned != 2 || tuned->compiled != 2 || tuned->cached != tuned->kernels.size() - 2)
    return fail("tuned run " + describe(80, *tuned));
  for (const auto& k : tuned->kernels) {
    const bool want_tuned = k.spec.op == codegen::KernelOp::GemmS8 && k.spec.n == 256 && k.spec.m_bucket == 1;
    if (k.tuned != want_tuned || (want_tuned && (k.config != candidates[1] || k.outcome != WarmupOutcome::Compiled)))
      return fail("tuned run chose " + k.config.to_string() + " for " + k.spec.to_string() + ": " +
                  describe(80, *tuned));
  }
  std::fprintf(stderr, "warmup ok\n");
  return 0;
}

// A model smoothed through <module>.pre_quant_scale needs the smoothed quantize pass: --smooth both compiles it
// beside the plain one (the GEMM is shared), and SmoothQuant plans (int8 input) get no smoothed variant.
int warm_smoothed_in_fresh_process() {
  cache::testing::TempDir dir;
  cache::testing::use_only_cache_dir(dir.sub("cache"));
  WarmupRequest req;
  req.arch = 90;
  req.items = {{256, 512, 16, "t"}};
  req.jobs = 2;
  req.smooth_modes = {false, true};
  auto r = run_warmup(req);
  if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
  std::size_t smoothed = 0;
  for (const auto& k : r->kernels) smoothed += k.spec.smooth ? 1 : 0;
  // QuantizedLinear x {plain, smoothed}: 2 quantize + 2 GEMM requests; SmoothQuant: 1 GEMM -> 5 requests, and
  // 2 quantize + 2 distinct GEMMs (per token, per tensor) = 4 kernels, one of them smoothed.
  if (r->failed || r->kernel_requests != 5 || r->kernels.size() != 4 || smoothed != 1)
    return std::fprintf(stderr, "%s\n", describe(90, *r).c_str()), 2;
  std::fprintf(stderr, "smoothed warmup ok\n");
  return 0;
}

// Issue 15: on sm_90a a K % 16 != 0 plan stages its int8 rows into the workspace for the Hopper kernel
// (workspace_size counts them), so it binds no portable GEMM at select and warmup compiles none: the cache a
// deployment ships holds the Hopper kernels only (a call with a too-small workspace binds the portable one then),
// and, for the odd K only, the staging copy the plan binds at select (stage_rows.cuh, session 18).
int warm_odd_k_in_fresh_process() {
  cache::testing::TempDir dir;
  cache::testing::use_only_cache_dir(dir.sub("cache"));
  ::unsetenv("QJIT_DISABLE_SM90");
  WarmupRequest req;
  req.arch = 90;
  req.items = {{256, 500, 16, "t odd"}, {256, 512, 16, "t even"}};
  req.jobs = 2;
  req.plans = {WarmupPlan::SmoothQuant};
  auto r = run_warmup(req);
  if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
  std::size_t sm90 = 0, sm80 = 0, copies = 0;
  for (const auto& k : r->kernels) {
    if (k.config.family() == codegen::KernelFamily::GemmSm90) ++sm90;
    if (k.spec.op == codegen::KernelOp::StageRows && k.spec.k == 500) ++copies;
    if (k.config.family() == codegen::KernelFamily::GemmSm80) {
      ++sm80;
      std::fprintf(stderr, "unexpected portable kernel for %s\n", k.used_by.c_str());
    }
  }
  // Two Hopper GEMMs (K = 500 and 512), the K = 500 staging copy, no portable GEMM.
  if (r->failed || sm90 != 2 || sm80 != 0 || copies != 1 || r->kernels.size() != 3 || r->kernel_requests != 3)
    return std::fprintf(stderr, "%s\n", describe(90, *r).c_str()), 2;
  std::fprintf(stderr, "odd-k warmup ok\n");
  return 0;
}

TEST(OpsWarmup, OddKOnSm90aCompilesOnlyTheHopperGemmItStagesFor) {
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_odd_k_in_fresh_process()), ::testing::ExitedWithCode(0), "odd-k warmup ok");
}

// WeightOnlyLinear: one kernel per scale mode (per channel, per tensor, per group 64 / 128) x zero point, all of the
// w8a16_sm80 family, each the kernel the plan binds (the same heuristic config, so the same source); a second run
// compiles nothing; f32 is refused naming the field.
int warm_w8a16_in_fresh_process() {
  cache::testing::TempDir dir;
  cache::testing::use_only_cache_dir(dir.sub("cache"));
  WarmupRequest req;
  req.arch = 90;
  req.items = {{256, 512, 16, "t"}};
  req.jobs = 2;
  req.plans = {WarmupPlan::WeightOnlyLinear};
  req.dtype = ElementKind::BF16;
  for (int run = 0; run < 2; ++run) {
    auto r = run_warmup(req);
    if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
    if (r->failed || r->kernels.size() != 8 || r->compiled != (run == 0 ? 8u : 0u))
      return std::fprintf(stderr, "run %d: %s\n", run, describe(90, *r).c_str()), 2;
    for (const auto& k : r->kernels) {
      if (k.config.family() != codegen::KernelFamily::W8A16Sm80 || k.spec.op != codegen::KernelOp::W8A16Gemm)
        return std::fprintf(stderr, "unexpected kernel for %s\n", k.used_by.c_str()), 3;
      runtime::DeviceInfo d;
      d.arch = 90;
      d.sm_count = 132;
      auto plan_config = choose_config(k.spec, PlanPreference::Heuristic, d);
      if (!plan_config || !(*plan_config == k.config))
        return std::fprintf(stderr, "%s: not the plan's config\n", k.used_by.c_str()), 4;
    }
  }
  req.dtype = ElementKind::F32;
  auto bad = run_warmup(req);
  if (bad || bad.error().message().find("WarmupRequest.dtype must be f16 or bf16 for the w8a16 plan, got f32") ==
                 std::string::npos)
    return std::fprintf(stderr, "f32 not refused as expected\n"), 5;
  std::fprintf(stderr, "w8a16 warmup ok\n");
  return 0;
}

TEST(OpsWarmup, WeightOnlyLinearCompilesEveryScaleModeAndZeroPoint) {
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_w8a16_in_fresh_process()), ::testing::ExitedWithCode(0), "w8a16 warmup ok");
  auto plans = parse_warmup_plans("mm, w8a16,weight_only_linear");
  ASSERT_TRUE(plans.has_value()) << plans.error().to_string();
  EXPECT_EQ(plans->size(), 2u);
  EXPECT_EQ(warmup_plan_name(plans->back()), "w8a16");
}

TEST(OpsWarmup, SmoothModesCompileTheSmoothedQuantizePass) {
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_smoothed_in_fresh_process()), ::testing::ExitedWithCode(0), "smoothed warmup ok");
}

TEST(OpsWarmup, CompilesIntoTheStoreForSm80AndSm90aAndSecondRunCompilesNothing) {
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_twice_in_fresh_process()), ::testing::ExitedWithCode(0), "warmup ok");
}

}  // namespace
}  // namespace qjit::ops
