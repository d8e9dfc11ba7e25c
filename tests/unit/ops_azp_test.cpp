// Asymmetric activations in the plans, without a GPU: qjit_weight_colsum (C) and qjit::weight_colsum (C++) against
// the toolkit's CPU sums and their refusals naming the argument; the descriptors' refusals (asymmetric needs per-token
// granularity / per-token scales, u8 or s8 codes, the typed plan's code type), their printed forms, a caller of the
// first struct form reading as symmetric; the kernel specs the asymmetric linear maps to; and can_implement's
// messages for the zero-point tensors on cores built by hand (no kernels bound).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/linear_core.h"
#include "ops/linear_specs.h"
#include "ops/plan_core.h"
#include "ops/warmup.h"
#include "qjit/qjit.h"
#include "qjit/qjit_c.h"
#include "qjit/quant/asymmetric.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"

namespace qjit {
namespace {

std::string last_error() { return qjit_last_error_message(); }

TEST(OpsAzp, WeightColsumMatchesTheToolkitAndRefusesBadArguments) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> d(-128, 127);
  const std::int64_t n = 37, k = 300, ld = 320;
  std::vector<std::int8_t> w(n * ld);
  for (auto& v : w) v = static_cast<std::int8_t>(d(rng));
  auto want = quant::weight_colsum(w.data(), n, k, ld);
  ASSERT_TRUE(want.has_value());
  std::vector<std::int32_t> got(n, -1);
  ASSERT_EQ(qjit_weight_colsum(w.data(), n, k, ld, got.data()), QJIT_OK) << last_error();
  EXPECT_EQ(got, *want);
  auto cpp = weight_colsum(w.data(), n, k, ld);
  ASSERT_TRUE(cpp.has_value()) << cpp.error().message();
  EXPECT_EQ(*cpp, *want);

  EXPECT_EQ(qjit_weight_colsum(w.data(), 0, k, ld, got.data()), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("n must be in [1, 2^31), got 0"), std::string::npos) << last_error();
  EXPECT_EQ(qjit_weight_colsum(w.data(), n, k, k - 1, got.data()), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("row_stride must be >= k = 300, got 299"), std::string::npos) << last_error();
  EXPECT_EQ(qjit_weight_colsum(w.data(), n, (std::int64_t{1} << 24) + 1, std::int64_t{1} << 25, got.data()),
            QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("k must be in [1, 2^24]"), std::string::npos) << last_error();
  EXPECT_EQ(qjit_weight_colsum(nullptr, n, k, ld, got.data()), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("weight must be a non-NULL host pointer"), std::string::npos);
  EXPECT_EQ(qjit_weight_colsum(w.data(), n, k, ld, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("colsum must be a non-NULL host pointer to n int32"), std::string::npos);
  // n out of range is refused before anything is allocated for it (not a 4 TiB vector, then bad_alloc).
  auto huge = weight_colsum(w.data(), std::int64_t{1} << 40, k, ld);
  ASSERT_FALSE(huge.has_value());
  EXPECT_NE(huge.error().message().find("n must be in [1, 2^31)"), std::string::npos) << huge.error().message();
  auto bad = weight_colsum(w.data(), n, k, 1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("row_stride must be >= k"), std::string::npos);
}

TEST(OpsAzp, DescriptorsRefuseContradictionsNamingTheField) {
  qjit_dynamic_range_quantize_desc q{sizeof(q), 16, 4096, QJIT_BF16, QJIT_PER_TENSOR, 0, 1, QJIT_U8};
  qjit_plan* plan = nullptr;
  EXPECT_EQ(qjit_dynamic_range_quantize_plan_select(nullptr, &q, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("descriptor.granularity must be per_token (QJIT_PER_TOKEN) for an asymmetric "
                              "quantize, got per_tensor"),
            std::string::npos)
      << last_error();
  q.granularity = QJIT_PER_TOKEN;
  q.output_element = QJIT_F16;
  EXPECT_EQ(qjit_dynamic_range_quantize_plan_select(nullptr, &q, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("descriptor.output_element must be u8 or s8 for an asymmetric quantize, got f16"),
            std::string::npos)
      << last_error();
  q.output_element = 99;
  EXPECT_EQ(qjit_dynamic_range_quantize_plan_select(nullptr, &q, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("descriptor.output_element must be a qjit_element"), std::string::npos);

  // The typed plan checks its code type before the C call.
  auto d = DynamicRangeQuantizeDescriptor::make_asymmetric<bf16, std::uint8_t>(16, 4096);
  auto typed = DynamicRangeQuantizePlan<bf16, std::int8_t>::select(Stream{}, d);
  ASSERT_FALSE(typed.has_value());
  EXPECT_NE(typed.error().message().find("descriptor.output_element (the plan's code type) must be s8 for this plan "
                                         "type, got u8"),
            std::string::npos)
      << typed.error().message();

  qjit_scaled_matmul_desc s{
      sizeof(s), 16, 256, 512, QJIT_S8, QJIT_S8, QJIT_BF16, 0, QJIT_ACT_SCALE_PER_TENSOR, QJIT_WEIGHT_SCALE_PER_CHANNEL,
      1};
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, &s, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("descriptor.act_scale must be per_token (0) with has_act_zero_point"), std::string::npos)
      << last_error();
  EXPECT_EQ(plan, nullptr);
}

TEST(OpsAzp, DescriptorsPrintTheModeAndTheFirstStructFormReadsAsSymmetric) {
  auto q = DynamicRangeQuantizeDescriptor::make_asymmetric<f16>(8, 64);
  EXPECT_EQ(q.to_string(), "dynamic_range_quantize m=8 k=64 in=f16 per-token asymmetric out=u8");
  auto l = QuantizedLinearDescriptor::make<bf16>(8, 32, 64);
  l.asymmetric = true;
  EXPECT_EQ(l.to_string(), "quantized_linear m=8 n=32 k=64 act=bf16 weight=s8 out=bf16 asymmetric");
  auto s = ScaledMatmulDescriptor::make<f16>(8, 32, 64, true);
  s.has_act_zero_point = true;
  EXPECT_EQ(s.to_string(),
            "scaled_matmul m=8 n=32 k=64 act=s8 weight=s8 out=f16 act_scale=per_token weight_scale=per_channel bias "
            "act_zero_point");
  // A caller compiled before the fields existed: its struct_size stops before them, so they read as 0.
  qjit_dynamic_range_quantize_desc old = q.to_c();
  old.struct_size = offsetof(qjit_dynamic_range_quantize_desc, asymmetric);
  char buf[256];
  qjit_dynamic_range_quantize_desc_to_string(&old, buf, sizeof(buf));
  EXPECT_EQ(std::string(buf), "dynamic_range_quantize m=8 k=64 in=f16 per-token");
  qjit_scaled_matmul_desc old_s = s.to_c();
  old_s.struct_size = offsetof(qjit_scaled_matmul_desc, has_act_zero_point);
  qjit_scaled_matmul_desc_to_string(&old_s, buf, sizeof(buf));
  EXPECT_EQ(std::string(buf).find("act_zero_point"), std::string::npos) << buf;
}

// A caller compiled before has_act_zero_point / act_zero_point were appended passes the shorter struct_size: it must
// be taken (the fields read as absent), not refused as too small, and it prints as the symmetric descriptor.
TEST(OpsAzp, ScaledMatmulStructsOfTheFormerSizeAreAccepted) {
  auto s = ScaledMatmulDescriptor::make<f16>(8, 32, 64, true);
  qjit_scaled_matmul_desc old = s.to_c();
  old.struct_size = offsetof(qjit_scaled_matmul_desc, has_act_zero_point);
  old.has_act_zero_point = 1;  // past the struct_size: must be ignored
  char buf[256];
  qjit_scaled_matmul_desc_to_string(&old, buf, sizeof(buf));
  EXPECT_EQ(std::string(buf),
            "scaled_matmul m=8 n=32 k=64 act=s8 weight=s8 out=f16 act_scale=per_token weight_scale=per_channel bias");
  old.k = 0;  // so select fails in validation, before the driver
  qjit_plan* plan = nullptr;
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, &old, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "descriptor.k must be in [1, 2^31), got 0");
  old.struct_size = offsetof(qjit_scaled_matmul_desc, has_act_zero_point) - 4;
  EXPECT_EQ(qjit_scaled_matmul_plan_select(nullptr, &old, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("desc->struct_size must be >= "), std::string::npos) << last_error();
}

TEST(OpsAzp, AsymmetricLinearMapsToTheAsymmetricQuantizeAndTheAzpGemm) {
  ops::LinearShape ql;
  ql.m = 16;
  ql.n = 4096;
  ql.k = 11008;
  ql.activation = ElementKind::BF16;
  ql.output = ElementKind::BF16;
  ql.act_zero_point = true;
  const auto specs = ops::linear_kernel_specs(ql, 90);
  ASSERT_TRUE(specs.quantize.has_value());
  EXPECT_TRUE(specs.quantize->act_zero_point);
  EXPECT_EQ(specs.quantize->out_element, ElementKind::S8);
  EXPECT_TRUE(specs.gemm.act_zero_point);
  EXPECT_TRUE(specs.gemm.per_token_scale);
  EXPECT_EQ(specs.gemm.to_string(), "gemm_s8 s8->bf16 n=4096 k=11008 m<=16 nobias per_token azp sm_90a");
  ops::LinearShape mm = ql;
  mm.scaled_matmul = true;
  mm.smooth_quant = false;
  EXPECT_FALSE(ops::linear_kernel_specs(mm, 90).quantize.has_value());
  EXPECT_EQ(ops::linear_kernel_specs(mm, 90).gemm, specs.gemm);
}

std::string msg(const Status& s) { return s.ok() ? "ok" : s.message(); }

TEST(OpsAzp, CanImplementChecksTheZeroPointTensors) {
  static std::int8_t bytes[64 * 40];
  static float scales[64];
  static std::uint16_t halves[64 * 64];
  static std::int32_t ints[64];
  detail::LinearCore c;
  c.smooth_quant = true;
  c.scaled_matmul = true;
  c.n = 64;
  c.k = 33;
  c.out_element = ElementKind::F16;
  c.act_zero_point = true;
  detail::ScaledMatmulCall a;
  a.act_q = {bytes, 5, 33, 33, 1, ElementKind::S8};
  a.weight_q = {bytes, 64, 33, 40, 1, ElementKind::S8};
  a.act_scale = {scales, 5, 1, ElementKind::F32};
  a.weight_scale = {scales, 64, 1, ElementKind::F32};
  a.output = {halves, 5, 64, 64, 1, ElementKind::F16};
  a.act_zero_point = {ints, 5, 1, ElementKind::S32};
  a.weight_colsum = {ints, 64, 1, ElementKind::S32};
  EXPECT_EQ(msg(detail::can_implement(c, a)), "ok");
  auto b = a;
  b.act_zero_point = {};
  EXPECT_NE(msg(detail::can_implement(c, b)).find("act_zero_point"), std::string::npos)
      << msg(detail::can_implement(c, b));
  b = a;
  b.weight_colsum = {ints, 63, 1, ElementKind::S32};
  EXPECT_NE(msg(detail::can_implement(c, b)).find("weight_colsum"), std::string::npos);
  EXPECT_NE(msg(detail::can_implement(c, b)).find("64"), std::string::npos) << msg(detail::can_implement(c, b));
  b = a;
  b.act_zero_point = {scales, 5, 1, ElementKind::F32};
  EXPECT_NE(msg(detail::can_implement(c, b)).find("s32"), std::string::npos) << msg(detail::can_implement(c, b));
  c.act_zero_point = false;
  EXPECT_NE(msg(detail::can_implement(c, a)).find("has_act_zero_point = false"), std::string::npos)
      << msg(detail::can_implement(c, a));

  // QuantizedLinear: weight_colsum required when asymmetric, refused otherwise.
  detail::LinearCore l;
  l.n = 64;
  l.k = 33;
  l.act_element = ElementKind::F16;
  l.out_element = ElementKind::F16;
  l.act_zero_point = true;
  l.quantize.operand_align = 1;
  detail::LinearCall la;
  la.activation = {halves, 5, 33, 33, 1, ElementKind::F16};
  la.weight = {bytes, 64, 33, 40, 1, ElementKind::S8};
  la.weight_scale = {scales, 64, 1, ElementKind::F32};
  la.output = {halves, 5, 64, 64, 1, ElementKind::F16};
  la.act_q_scratch = {bytes, 5, 33, 33, 1, ElementKind::S8};
  la.act_scale_scratch = {scales, 5, 1, ElementKind::F32};
  EXPECT_NE(msg(detail::can_implement(l, la)).find("weight_colsum"), std::string::npos)
      << msg(detail::can_implement(l, la));
  la.weight_colsum = {ints, 64, 1, ElementKind::S32};
  EXPECT_EQ(msg(detail::can_implement(l, la)), "ok");
  l.act_zero_point = false;
  EXPECT_NE(msg(detail::can_implement(l, la)).find("the descriptor has asymmetric = false"), std::string::npos);
}

// `qjit warmup --plans azp` in a fresh process (the kernel service reads QJIT_CACHE_DIR once per process): the
// asymmetric QuantizedLinear's quantize pass and GEMM and ScaledMatmul's zero-point GEMMs (weight per channel and per
// tensor) are the specs ops::linear_kernel_specs gives the plans, each azp (the symmetric kernels are not asked for),
// compiled once and found in the cache by a second warm-up; f64 is refused naming the field.
int warm_azp_in_fresh_process() {
  cache::testing::TempDir dir;
  cache::testing::use_only_cache_dir(dir.sub("cache"));
  ops::WarmupRequest req;
  req.arch = 90;
  req.items = {{256, 512, 16, "t o"}};
  req.jobs = 2;
  req.plans = {ops::WarmupPlan::Asymmetric};
  auto r = ops::run_warmup(req);
  if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
  std::set<std::string> want;
  ops::LinearShape ql{.m = 16, .n = 256, .k = 512, .activation = ElementKind::BF16, .output = ElementKind::BF16};
  ql.act_zero_point = true;
  const auto ql_specs = ops::linear_kernel_specs(ql, 90);
  want.insert(ql_specs.quantize->to_string());
  want.insert(ql_specs.gemm.to_string());
  for (bool w_pt : {false, true}) {
    ops::LinearShape mm{.smooth_quant = true, .m = 16, .n = 256, .k = 512, .output = ElementKind::BF16};
    mm.scaled_matmul = true;
    mm.weight_scale_per_tensor = w_pt;
    mm.act_zero_point = true;
    want.insert(ops::linear_kernel_specs(mm, 90).gemm.to_string());
  }
  std::set<std::string> got;
  for (const auto& k : r->kernels) {
    got.insert(k.spec.to_string());
    if (!k.spec.act_zero_point) return std::fprintf(stderr, "not an azp kernel: %s\n", k.spec.to_string().c_str()), 2;
  }
  if (r->failed || r->compiled != want.size() || got != want || want.size() < 3)
    return std::fprintf(stderr, "%zu kernels, %zu compiled, %zu failed, %zu wanted\n", r->kernels.size(), r->compiled,
                        r->failed, want.size()),
           3;
  auto again = ops::run_warmup(req);
  if (!again || again->cached != want.size() || again->compiled != 0) return 4;
  req.dtype = ElementKind::F64;
  auto bad = ops::run_warmup(req);
  if (bad ||
      bad.error().message().find("WarmupRequest.dtype must be f16, bf16 or f32 for the azp plan") == std::string::npos)
    return 5;
  std::fprintf(stderr, "azp warmup ok (%zu kernels)\n", want.size());
  return 0;
}

TEST(OpsAzpWarmup, PlansParseAndTheAsymmetricKernelsCompileOnce) {
  EXPECT_EQ(ops::parse_warmup_plans("azp,asymmetric")->size(), 1u);
  EXPECT_EQ(ops::parse_warmup_plans("asymmetric")->front(), ops::WarmupPlan::Asymmetric);
  EXPECT_EQ(ops::warmup_plan_name(ops::WarmupPlan::Asymmetric), "azp");
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_azp_in_fresh_process()), ::testing::ExitedWithCode(0), "azp warmup ok");
}

}  // namespace
}  // namespace qjit
