// ScaledMatmulPlan without a GPU: the C ABI and the C++ header refuse bad descriptors naming the field and the
// expected value (elements, output type, scale modes, struct_size, NULLs), a scaled_matmul plan's calls refuse the
// other plans' handles and vice versa, descriptors print as documented, the kernel specs each scale-mode combination
// maps to (per token: the QuantizedLinear GEMM itself), and can_implement's messages on a core built by hand (no
// kernels bound: the argument checks read only the descriptor fields).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "ops/linear_core.h"
#include "ops/linear_specs.h"
#include "ops/plan_core.h"
#include "ops/warmup.h"
#include "qjit/qjit.h"
#include "qjit/qjit_c.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"

namespace qjit {
namespace {

std::string last_error() { return qjit_last_error_message(); }

qjit_scaled_matmul_desc valid_desc() {
  return {sizeof(qjit_scaled_matmul_desc), 16, 256, 512, QJIT_S8, QJIT_S8, QJIT_BF16, 0, QJIT_ACT_SCALE_PER_TOKEN,
          QJIT_WEIGHT_SCALE_PER_CHANNEL};
}

void expect_refused(qjit_scaled_matmul_desc d, const std::string& needle) {
  qjit_plan* plan = reinterpret_cast<qjit_plan*>(0x1);
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, &d, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT) << needle;
  EXPECT_EQ(plan, nullptr);
  EXPECT_NE(last_error().find(needle), std::string::npos) << last_error();
}

TEST(OpsScaledMatmul, CSelectRefusesBadDescriptorsNamingTheField) {
  auto d = valid_desc();
  d.activation_element = QJIT_BF16;
  expect_refused(d, "descriptor.activation_element must be s8");
  d = valid_desc();
  d.weight_element = QJIT_U8;
  expect_refused(d, "descriptor.weight_element must be s8");
  d = valid_desc();
  d.output_element = QJIT_F64;
  expect_refused(d, "descriptor.output_element must be f16, bf16 or f32, got f64");
  d = valid_desc();
  d.output_element = 42;
  expect_refused(d, "descriptor.output_element must be a qjit_element");
  d = valid_desc();
  d.act_scale = 2;
  expect_refused(d, "descriptor.act_scale must be QJIT_ACT_SCALE_PER_TOKEN (0) or QJIT_ACT_SCALE_PER_TENSOR (1), got 2");
  d = valid_desc();
  d.weight_scale = -1;
  expect_refused(d, "descriptor.weight_scale must be QJIT_WEIGHT_SCALE_PER_CHANNEL (0) or "
                    "QJIT_WEIGHT_SCALE_PER_TENSOR (1), got -1");
  d = valid_desc();
  d.k = 0;
  expect_refused(d, "descriptor.k must be in [1, 2^31), got 0");
  d = valid_desc();
  d.struct_size = 8;
  expect_refused(d, "desc->struct_size must be >= ");
  d = valid_desc();
  qjit_plan* plan = nullptr;
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, &d, 9, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("preference must be"), std::string::npos) << last_error();
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, nullptr, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "desc must not be NULL");
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, &d, 0, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "out_plan must not be NULL");
}

TEST(OpsScaledMatmul, CppSelectChecksTheOutputTypeAgainstTOut) {
  auto d = ScaledMatmulDescriptor::make<float>(16, 256, 512);
  d.output_element = ElementKind::F16;
  auto p = ScaledMatmulPlan<float>::select(Stream(), d);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), StatusCode::InvalidArgument);
  EXPECT_NE(p.error().message().find("descriptor.output_element must be f32"), std::string::npos)
      << p.error().message();
  auto bad_mode = ScaledMatmulDescriptor::make<float>(16, 256, 512);
  bad_mode.act_scale = static_cast<ActScaleMode>(5);
  auto q = ScaledMatmulPlan<float>::select(Stream(), bad_mode);
  ASSERT_FALSE(q.has_value());
  EXPECT_NE(q.error().message().find("descriptor.act_scale must be"), std::string::npos) << q.error().message();
}

TEST(OpsScaledMatmul, NullAndForeignPlansAreRefused) {
  qjit_scaled_matmul_args a{};
  a.struct_size = sizeof a;
  EXPECT_EQ(qjit_scaled_matmul_plan_can_implement(nullptr, &a), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "plan must not be NULL");
  EXPECT_EQ(qjit_scaled_matmul_plan_run(nullptr, nullptr, nullptr, 0, &a), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "plan must not be NULL");
}

TEST(OpsScaledMatmul, DescriptorsPrint) {
  auto d = ScaledMatmulDescriptor::make<bf16>(16, 4096, 4096, true, ActScaleMode::PerTensor,
                                                  WeightScaleMode::PerTensor);
  EXPECT_EQ(d.to_string(),
            "scaled_matmul m=16 n=4096 k=4096 act=s8 weight=s8 out=bf16 act_scale=per_tensor weight_scale=per_tensor "
            "bias");
  auto c = valid_desc();
  c.struct_size = 4;
  char buf[256];
  qjit_scaled_matmul_desc_to_string(&c, buf, sizeof buf);
  EXPECT_NE(std::string(buf).find("invalid descriptor: desc->struct_size"), std::string::npos) << buf;
}

TEST(OpsScaledMatmul, EachScaleModeMapsToItsGemmSpec) {
  for (bool act_pt : {false, true})
    for (bool w_pt : {false, true}) {
      ops::LinearShape s;
      s.smooth_quant = true;
      s.scaled_matmul = true;
      s.m = 16;
      s.n = 4096;
      s.k = 4096;
      s.output = ElementKind::F16;
      s.act_scale_per_tensor = act_pt;
      s.weight_scale_per_tensor = w_pt;
      const ops::LinearKernelSpecs specs = ops::linear_kernel_specs(s, 90);
      EXPECT_FALSE(specs.quantize.has_value());
      EXPECT_EQ(specs.gemm.per_token_scale, !act_pt);
      EXPECT_EQ(specs.gemm.device_act_scale, act_pt);
      EXPECT_EQ(specs.gemm.per_channel_weight_scale, !w_pt);
    }
  // Per token + per channel is the QuantizedLinear GEMM itself: one kernel in the cache for both plans.
  ops::LinearShape sm{.smooth_quant = true, .m = 16, .n = 4096, .k = 4096, .output = ElementKind::BF16};
  sm.scaled_matmul = true;
  ops::LinearShape ql{.smooth_quant = false, .m = 16, .n = 4096, .k = 4096, .activation = ElementKind::BF16,
                      .output = ElementKind::BF16};
  EXPECT_EQ(ops::linear_kernel_specs(sm, 90).gemm, ops::linear_kernel_specs(ql, 90).gemm);
}

// A core with the descriptor fields can_implement reads (no kernels: nothing is launched here).
detail::LinearCore core_of(bool act_pt, bool w_pt, bool bias) {
  detail::LinearCore c;
  c.smooth_quant = true;
  c.scaled_matmul = true;
  c.n = 64;
  c.k = 33;
  c.out_element = ElementKind::F16;
  c.has_bias = bias;
  c.act_per_tensor = act_pt;
  c.weight_per_tensor = w_pt;
  return c;
}

detail::ScaledMatmulCall call_of(std::int64_t m, std::int64_t act_scale_size, std::int64_t weight_scale_size,
                                 bool bias) {
  static std::int8_t bytes[64];
  static float scales[64];
  static std::uint16_t halves[64];
  detail::ScaledMatmulCall a;
  a.act_q = {bytes, m, 33, 33, 1, ElementKind::S8};
  a.weight_q = {bytes, 64, 33, 40, 1, ElementKind::S8};
  a.act_scale = {scales, act_scale_size, 1, ElementKind::F32};
  a.weight_scale = {scales, weight_scale_size, 1, ElementKind::F32};
  if (bias) a.bias = {halves, 64, 1, ElementKind::F16};
  a.output = {halves, m, 64, 64, 1, ElementKind::F16};
  return a;
}

TEST(OpsScaledMatmul, CanImplementNamesTheFieldAndTheExpectedValue) {
  EXPECT_TRUE(detail::can_implement(core_of(false, false, false), call_of(5, 5, 64, false)).ok());
  EXPECT_TRUE(detail::can_implement(core_of(true, true, true), call_of(5, 1, 1, true)).ok());
  auto msg = [](const Status& s) { return s.message(); };
  EXPECT_EQ(msg(detail::can_implement(core_of(false, false, false), call_of(5, 1, 64, false))),
            "act_scale.shape must be [M=5], got [1]");
  EXPECT_EQ(msg(detail::can_implement(core_of(true, false, false), call_of(5, 5, 64, false))),
            "act_scale.shape must be [1 (act_scale = per_tensor)=1], got [5]");
  EXPECT_EQ(msg(detail::can_implement(core_of(false, true, false), call_of(5, 5, 64, false))),
            "weight_scale.shape must be [1 (weight_scale = per_tensor)=1], got [64]");
  EXPECT_EQ(msg(detail::can_implement(core_of(false, false, false), call_of(5, 5, 63, false))),
            "weight_scale.shape must be [N=64], got [63]");
  EXPECT_EQ(msg(detail::can_implement(core_of(false, false, true), call_of(5, 5, 64, false))), "bias.data is null");
  EXPECT_EQ(msg(detail::can_implement(core_of(false, false, false), call_of(5, 5, 64, true))),
            "bias must be empty: the descriptor has has_bias = false");
  auto wrong_k = call_of(5, 5, 64, false);
  wrong_k.act_q.cols = 32;
  EXPECT_NE(msg(detail::can_implement(core_of(false, false, false), wrong_k)).find("act_q.shape must be [M=5, K=33]"),
            std::string::npos);
  auto wrong_out = call_of(5, 5, 64, false);
  wrong_out.output.kind = ElementKind::BF16;
  EXPECT_EQ(msg(detail::can_implement(core_of(false, false, false), wrong_out)),
            "output must hold f16 elements, got bf16");
  auto no_rows = call_of(5, 5, 64, false);
  no_rows.output.rows = 0;
  EXPECT_EQ(msg(detail::can_implement(core_of(false, false, false), no_rows)),
            "output.shape[0] (M) must be in [1, 2^31), got 0");
}

// `qjit warmup --plans mm` in a fresh process (the kernel service reads QJIT_CACHE_DIR once per process): the four
// scale modes' GEMMs of a shape are four kernels, the same specs ScaledMatmulPlan binds (ops::linear_kernel_specs),
// compiled once and found in the cache by a second warm-up; f64 (no ScaledMatmul output) is refused naming the field.
int warm_scaled_matmul_in_fresh_process() {
  cache::testing::TempDir dir;
  cache::testing::use_only_cache_dir(dir.sub("cache"));
  ops::WarmupRequest req;
  req.arch = 90;
  req.items = {{256, 512, 16, "t o"}};
  req.jobs = 2;
  req.plans = {ops::WarmupPlan::ScaledMatmul};
  auto r = ops::run_warmup(req);
  if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
  std::set<std::string> want;
  for (bool act_pt : {false, true})
    for (bool w_pt : {false, true}) {
      ops::LinearShape s{.smooth_quant = true, .m = 16, .n = 256, .k = 512, .output = ElementKind::BF16};
      s.scaled_matmul = true;
      s.act_scale_per_tensor = act_pt;
      s.weight_scale_per_tensor = w_pt;
      want.insert(ops::linear_kernel_specs(s, 90).gemm.to_string());
    }
  std::set<std::string> got;
  for (const auto& k : r->kernels) got.insert(k.spec.to_string());
  if (r->failed || r->compiled != 4 || got != want || want.size() != 4)
    return std::fprintf(stderr, "%zu kernels, %zu compiled, %zu failed\n", r->kernels.size(), r->compiled, r->failed), 2;
  auto again = ops::run_warmup(req);
  if (!again || again->cached != 4 || again->compiled != 0) return 3;
  req.dtype = ElementKind::F64;
  auto bad = ops::run_warmup(req);
  if (bad || bad.error().message().find("WarmupRequest.dtype must be f16, bf16 or f32 for the mm plan") ==
                 std::string::npos)
    return 4;
  std::fprintf(stderr, "mm warmup ok\n");
  return 0;
}

TEST(OpsScaledMatmulWarmup, PlansParseAndTheFourScaleModesCompileOnce) {
  EXPECT_EQ(ops::parse_warmup_plans("mm,scaled_mm")->size(), 1u);
  EXPECT_EQ(ops::parse_warmup_plans("scaled_matmul")->front(), ops::WarmupPlan::ScaledMatmul);
  EXPECT_NE(ops::parse_warmup_plans("matmul").error().message().find("mm (ScaledMatmul), w8a16 (WeightOnlyLinear) or azp"), std::string::npos);
  EXPECT_EQ(ops::warmup_plan_name(ops::WarmupPlan::ScaledMatmul), "mm");
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_scaled_matmul_in_fresh_process()), ::testing::ExitedWithCode(0), "mm warmup ok");
}

}  // namespace
}  // namespace qjit
