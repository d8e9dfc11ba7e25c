// RmsNormQuantizePlan / LayerNormQuantizePlan with no GPU: the C ABI refuses bad descriptors and plans naming the
// field and the expected value (before any device is touched), descriptors print, the C++ wrapper checks its typed
// fields, `qjit warmup` compiles the four norm variants of a K with real NVRTC into a private store, and `qjit
// inspect --op rms_norm_quantize` shows the kernel.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "ops/warmup.h"
#include "qjit/norm_quantize.h"
#include "qjit/qjit_c.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"
#if QJIT_HAVE_TOOLS
#include "llvm/Support/JSON.h"
#include "tests/support/command_runner.h"
#include "tools/commands.h"
#endif

namespace qjit {
namespace {

qjit_norm_quantize_desc valid_desc() {
  return {sizeof(qjit_norm_quantize_desc), 16, 4096, QJIT_RMS_NORM, QJIT_BF16, QJIT_PER_TOKEN, 0, 1e-6f, 0.0f};
}

std::string refusal(const qjit_norm_quantize_desc& d, qjit_status want = QJIT_INVALID_ARGUMENT) {
  qjit_plan* plan = reinterpret_cast<qjit_plan*>(0x1);  // reset to NULL on failure
  const qjit_status s = qjit_norm_quantize_plan_select(nullptr, &d, QJIT_PREF_HEURISTIC, &plan);
  EXPECT_EQ(s, want) << qjit_last_error_message();
  EXPECT_EQ(plan, nullptr);
  return qjit_last_error_message();
}

TEST(NormQuantizeCApi, SelectRefusesBadDescriptorsNamingTheField) {
  auto d = valid_desc();
  d.norm = 2;
  EXPECT_EQ(refusal(d), "descriptor.norm must be QJIT_RMS_NORM (0) or QJIT_LAYER_NORM (1), got 2");
  d = valid_desc();
  d.granularity = 3;
  EXPECT_EQ(refusal(d), "descriptor.granularity must be QJIT_PER_TOKEN (0) or QJIT_PER_TENSOR (1), got 3");
  d = valid_desc();
  d.struct_size = 12;
  EXPECT_NE(refusal(d).find("desc->struct_size must be >= 48"), std::string::npos) << qjit_last_error_message();
  d = valid_desc();
  d.k = 0;
  EXPECT_EQ(refusal(d), "descriptor.k must be in [1, 2^31), got 0");
  d = valid_desc();
  d.k = (1 << 20) + 16;
  EXPECT_NE(refusal(d, QJIT_UNSUPPORTED).find("descriptor.k must be <= 2^20 for rms_norm_quantize, got 1048592"),
            std::string::npos);
  d = valid_desc();
  d.input_element = QJIT_F64;
  EXPECT_NE(refusal(d, QJIT_UNSUPPORTED).find("descriptor.input_element must be f16, bf16 or f32, got f64"),
            std::string::npos);
  d = valid_desc();
  d.input_element = 9;
  EXPECT_NE(refusal(d).find("descriptor.input_element must be a qjit_element"), std::string::npos);
  d = valid_desc();
  d.eps = -1.0f;
  EXPECT_EQ(refusal(d), "descriptor.eps must be finite and >= 0, got -1");
  d = valid_desc();
  d.granularity = QJIT_PER_TENSOR;
  EXPECT_NE(refusal(d).find("descriptor.static_scale must be finite and > 0 with a static (per-tensor) scale, got 0"),
            std::string::npos);
  d.static_scale = 1.0f / 0.0f;
  EXPECT_NE(refusal(d).find("descriptor.static_scale must be finite and > 0"), std::string::npos);
  d = valid_desc();
  d.static_scale = 0.5f;
  EXPECT_NE(refusal(d).find("descriptor.static_scale must be 0 with per-token (dynamic) scales, got 0.5"),
            std::string::npos);
  qjit_plan* plan = nullptr;
  EXPECT_EQ(qjit_norm_quantize_plan_select(nullptr, nullptr, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_STREQ(qjit_last_error_message(), "desc must not be NULL");
  d = valid_desc();
  EXPECT_EQ(qjit_norm_quantize_plan_select(nullptr, &d, 5, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qjit_last_error_message()).find("preference must be"), std::string::npos);
  EXPECT_EQ(qjit_norm_quantize_plan_select(nullptr, &d, 0, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_STREQ(qjit_last_error_message(), "out_plan must not be NULL");
}

TEST(NormQuantizeCApi, RunAndCanImplementRefuseMissingPlansAndArgs) {
  qjit_norm_quantize_args args{};
  args.struct_size = sizeof args;
  EXPECT_EQ(qjit_norm_quantize_plan_can_implement(nullptr, &args), QJIT_INVALID_ARGUMENT);
  EXPECT_STREQ(qjit_last_error_message(), "plan must not be NULL");
  EXPECT_EQ(qjit_norm_quantize_plan_run(nullptr, nullptr, nullptr, 0, &args), QJIT_INVALID_ARGUMENT);
  EXPECT_STREQ(qjit_last_error_message(), "plan must not be NULL");
  EXPECT_EQ(qjit_plan_get_kind(nullptr), 0);
}

TEST(NormQuantizeCApi, DescriptorsPrint) {
  auto d = valid_desc();
  char buf[256];
  ASSERT_GT(qjit_norm_quantize_desc_to_string(&d, buf, sizeof buf), 1u);
  EXPECT_STREQ(buf, "rms_norm_quantize m=16 k=4096 in=bf16 eps=1e-06 per-token");
  d.norm = QJIT_LAYER_NORM;
  d.granularity = QJIT_PER_TENSOR;
  d.static_scale = 0.25f;
  d.has_residual = 1;
  d.input_element = QJIT_F16;
  qjit_norm_quantize_desc_to_string(&d, buf, sizeof buf);
  EXPECT_STREQ(buf, "layer_norm_quantize m=16 k=4096 in=f16 eps=1e-06 static-scale=0.25 residual");
  d.norm = 7;
  qjit_norm_quantize_desc_to_string(&d, buf, sizeof buf);
  EXPECT_NE(std::string(buf).find("invalid descriptor: descriptor.norm must be"), std::string::npos) << buf;
  // The C++ descriptor prints the same through the C ABI.
  EXPECT_EQ(NormQuantizeDescriptor::layer_norm<bf16>(2048, 5120, 1e-5f, true).with_static_scale(2.0f).to_string(),
            "layer_norm_quantize m=2048 k=5120 in=bf16 eps=1e-05 static-scale=2 residual");
}

TEST(NormQuantizePlan, TypedSelectChecksTheNormAndTheElementFirst) {
  auto r = LayerNormQuantizePlan<bf16>::select(Stream(), NormQuantizeDescriptor::rms_norm<bf16>(16, 4096));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "descriptor.norm must be LayerNorm for this plan, got RmsNorm");
  auto e = RmsNormQuantizePlan<f16>::select(Stream(), NormQuantizeDescriptor::rms_norm<bf16>(16, 4096));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().message(), "descriptor.input_element must be f16 for this plan, got bf16");
}

// The warm-up of the norm plans in a fresh process (the kernel service reads QJIT_CACHE_DIR once per process).
int warm_norms_in_fresh_process() {
  cache::testing::TempDir dir;
  cache::testing::use_only_cache_dir(dir.sub("cache"));
  ops::WarmupRequest req;
  req.arch = 90;
  req.items = {{4096, 4096, 16, "t q"}, {11008, 4096, 16, "t up"}};  // one K: the norm kernels repeat
  req.jobs = 2;
  req.plans = {ops::WarmupPlan::RmsNormQuantize};
  auto r = ops::run_warmup(req);
  if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
  std::size_t residual = 0, dynamic = 0;
  for (const auto& k : r->kernels) {
    if (k.spec.op != codegen::KernelOp::RmsNormQuantize) return std::fprintf(stderr, "%s\n", k.spec.to_string().c_str()), 2;
    residual += k.spec.residual;
    dynamic += k.spec.per_token_scale;
  }
  if (r->failed || r->kernel_requests != 8 || r->kernels.size() != 4 || residual != 2 || dynamic != 2 ||
      r->compiled != 4)
    return std::fprintf(stderr, "%zu requests, %zu kernels, %zu failed\n", r->kernel_requests, r->kernels.size(),
                        r->failed),
           3;
  // f64 is no input of the norm plans: refused up front, naming the field.
  req.dtype = ElementKind::F64;
  auto bad = ops::run_warmup(req);
  if (bad || bad.error().message().find("WarmupRequest.dtype must be f16, bf16 or f32 for the rmsnorm plan") ==
                 std::string::npos)
    return 4;
  std::fprintf(stderr, "norm warmup ok\n");
  return 0;
}

TEST(NormQuantizeWarmup, PlansParseAndTheFourVariantsOfAKCompile) {
  EXPECT_EQ(ops::parse_warmup_plans("rmsnorm,layer_norm_quantize")->size(), 2u);
  EXPECT_EQ(ops::parse_warmup_plans("layernorm")->front(), ops::WarmupPlan::LayerNormQuantize);
  EXPECT_NE(ops::parse_warmup_plans("rms").error().message().find("rmsnorm (RmsNormQuantize)"), std::string::npos);
  EXPECT_EQ(ops::warmup_plan_name(ops::WarmupPlan::RmsNormQuantize), "rmsnorm");
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_norms_in_fresh_process()), ::testing::ExitedWithCode(0), "norm warmup ok");
}

#if QJIT_HAVE_TOOLS
TEST(NormQuantizeInspect, ShowsTheFusedKernelAndRefusesLinearFlags) {
  using qjit::testing::run_command;
  auto bad = run_command(tools::run_inspect_command, "inspect", {"--op", "rms_norm_quantize", "--n", "4", "--k", "64"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--n is not used by rms_norm_quantize"), std::string::npos) << bad.err;
  bad = run_command(tools::run_inspect_command, "inspect",
                    {"--op", "quantized_linear", "--n", "64", "--k", "64", "--residual"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--residual and --static-scale are for"), std::string::npos) << bad.err;
  cache::testing::TempDir dir;
  qjit::testing::ScopedEnv env;
  env.set("QJIT_CACHE_DIR", dir.sub("cache"));
  env.set("QJIT_CACHE_PATH", "");
  const auto r = run_command(tools::run_inspect_command, "inspect",
                             {"--op", "layer_norm_quantize", "--m", "4096", "--k", "5120", "--dtype", "f16",
                              "--residual", "--static-scale", "--arch", "sm_80", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = llvm::json::parse(r.out);
  ASSERT_TRUE(bool(doc)) << r.out;
  const auto* kernels = doc->getAsObject()->getArray("kernels");
  ASSERT_TRUE(kernels && kernels->size() == 1) << r.out;
  const auto* k = (*kernels)[0].getAsObject();
  EXPECT_EQ(k->getString("role").getValueOr(""), "norm_quantize");
  EXPECT_EQ(k->getString("spec").getValueOr(""), "layer_norm_quantize f16->s8 k=5120 m<=4096 residual static sm_80");
  EXPECT_EQ(k->getString("entry").getValueOr("").str().rfind("qjit_layer_norm_quantize_f16_k5120_", 0), 0u);
  EXPECT_EQ(doc->getAsObject()->getString("descriptor").getValueOr(""),
            "layer_norm_quantize m=4096 k=5120 in=f16 eps=1e-06 static-scale=1 residual");
}
#endif

}  // namespace
}  // namespace qjit
