// `qjit inspect` without a GPU: argument errors exit 2 naming the flag; on sm_80 and sm_90a the output names the
// kernel family the plans would use (and why) and a 64-hex compile key; a cache lookup finds an entry stored under
// that key without compiling anything; with --compile the resources line (registers, spill-freeness) comes from the
// cubin itself, with no cuobjdump.
#if QJIT_HAVE_TOOLS
#include <regex>

#include <gtest/gtest.h>

#include "cache/disk_store.h"
#include "llvm/Support/JSON.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/command_runner.h"
#include "tools/commands.h"

namespace qjit {
namespace {

using cache::testing::TempDir;
using qjit::testing::run_command;
using qjit::testing::ScopedEnv;

testing::CommandResult inspect(const std::vector<std::string>& args) {
  return run_command(tools::run_inspect_command, "inspect", args);
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  const auto r = inspect(args);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(ToolsInspectArgsTest, OpIsRequiredAndChecked) {
  expect_usage_error({"--n", "4096", "--k", "4096"}, "--op is required");
  expect_usage_error({"--op", "conv2d", "--n", "4096", "--k", "4096"},
                     "--op must be quantized_linear, smooth_quant_linear, scaled_matmul, weight_only_linear, "
                     "rms_norm_quantize or layer_norm_quantize");
}

TEST(ToolsInspectArgsTest, DimensionsAreRequiredAndInRange) {
  expect_usage_error({"--op", "quantized_linear", "--k", "4096"}, "--n is required");
  expect_usage_error({"--op", "quantized_linear", "--n", "4096"}, "--k is required");
  expect_usage_error({"--op", "quantized_linear", "--n", "4096", "--k", "0"},
                     "--k must be an integer in [1, 2^31), got '0'");
  expect_usage_error({"--op", "quantized_linear", "--n", "4096", "--k", "4096", "--m", "-3"}, "--m");
  expect_usage_error({"--op", "quantized_linear", "--n", "4096", "--k", "4096", "--m", "many"}, "--m");
}

TEST(ToolsInspectArgsTest, ArchDtypeAndSmCountAreChecked) {
  const std::vector<std::string> base = {"--op", "quantized_linear", "--n", "4096", "--k", "4096"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_usage_error(with({"--arch", "sm_70"}), "--arch must be sm_80");
  expect_usage_error(with({"--dtype", "int4"}), "--dtype must be bf16, f16 or f32");
  expect_usage_error(with({"--sm-count", "-1"}), "--sm-count");
}

#define SKIP_WITHOUT_NVRTC()         \
  if (!runtime::nvrtc().has_value()) \
  GTEST_SKIP() << "the compile key needs NVRTC's version: " << runtime::nvrtc().status().to_string()

// Runs inspect --json against a private, empty cache and returns the parsed document.
llvm::json::Object inspect_json(const std::vector<std::string>& args, const std::string& cache_dir) {
  ScopedEnv env;
  env.set("QJIT_CACHE_DIR", cache_dir);
  env.set("QJIT_CACHE_PATH", "");
  auto a = args;
  a.push_back("--json");
  const auto r = inspect(a);
  EXPECT_EQ(r.code, 0) << r.err;
  auto parsed = llvm::json::parse(r.out);
  if (!parsed) {
    ADD_FAILURE() << "not JSON: " << llvm::toString(parsed.takeError()) << "\n" << r.out;
    return {};
  }
  return std::move(*parsed->getAsObject());
}

const std::regex kKeyHex("[0-9a-f]{64}");

// Field accessors that turn a missing field into a value no assertion accepts.
std::string str(const llvm::json::Object& o, const char* key) {
  auto v = o.getString(key);
  return v ? v->str() : "<missing " + std::string(key) + ">";
}
std::int64_t integer(const llvm::json::Object& o, const char* key) { return o.getInteger(key).getValueOr(-1); }
int boolean(const llvm::json::Object& o, const char* key) {
  auto v = o.getBoolean(key);
  return v ? static_cast<int>(*v) : -1;
}

TEST(ToolsInspectTest, Sm80SmoothQuantUsesThePortableFamily) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  auto doc = inspect_json(
      {"--op", "smooth_quant_linear", "--m", "128", "--n", "4096", "--k", "4096", "--arch", "sm_80"}, tmp.sub("cache"));
  EXPECT_EQ(str(doc, "arch"), "sm_80");
  const auto* kernels = doc.getArray("kernels");
  ASSERT_TRUE(kernels && kernels->size() == 1);  // SmoothQuant: the GEMM alone
  const auto& gemm = *(*kernels)[0].getAsObject();
  EXPECT_EQ(str(gemm, "family"), "gemm_sm80");
  EXPECT_NE(str(gemm, "family_reason").find("sm_80 has no wgmma"), std::string::npos);
  EXPECT_EQ(str(gemm, "config_reason"), "heuristic");
  EXPECT_TRUE(std::regex_match(str(gemm, "key"), kKeyHex));
  EXPECT_EQ(boolean(gemm, "cached"), 0);
  EXPECT_NE(str(gemm, "spec").find("per_tensor sm_80"), std::string::npos);
}

// ScaledMatmul: the GEMM alone, with the scale modes in its spec and entry name; its flags are refused elsewhere.
TEST(ToolsInspectTest, ScaledMatmulShowsTheScaleModesOfItsGemm) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  auto doc = inspect_json({"--op", "scaled_matmul", "--m", "16", "--n", "4096", "--k", "4096", "--arch", "sm_90a",
                           "--act-scale", "per_tensor", "--weight-scale", "per_tensor", "--bias"},
                          tmp.sub("cache"));
  const auto* kernels = doc.getArray("kernels");
  ASSERT_TRUE(kernels && kernels->size() == 1);
  const auto& gemm = *(*kernels)[0].getAsObject();
  EXPECT_NE(str(gemm, "spec").find("bias per_tensor act_scale=device weight_scale=per_tensor sm_90a"),
            std::string::npos)
      << str(gemm, "spec");
  EXPECT_NE(str(gemm, "entry").find("_ad_wt"), std::string::npos) << str(gemm, "entry");
  expect_usage_error({"--op", "quantized_linear", "--n", "64", "--k", "64", "--act-scale", "per_tensor"},
                     "--act-scale is for scaled_matmul");
  expect_usage_error({"--op", "quantized_linear", "--n", "64", "--k", "64", "--weight-scale", "per_tensor"},
                     "--weight-scale is for scaled_matmul and weight_only_linear");
  expect_usage_error({"--op", "scaled_matmul", "--n", "64", "--k", "64", "--weight-scale", "per_row"},
                     "--weight-scale must be per_channel or per_tensor, got 'per_row'");
  expect_usage_error({"--op", "scaled_matmul", "--n", "64", "--k", "64", "--weight-scale", "per_group"},
                     "--weight-scale must be per_channel or per_tensor, got 'per_group'");
}

// WeightOnlyLinear: one kernel of the w8a16_sm80 family, its scale mode, zero point and split-K workspace shown.
TEST(ToolsInspectTest, WeightOnlyLinearShowsTheW8A16FamilyAndItsScaleMode) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  auto doc = inspect_json({"--op", "weight_only_linear", "--m", "16", "--n", "4096", "--k", "4096", "--arch",
                           "sm_90a", "--weight-scale", "per_group", "--group-size", "128", "--zero-point", "--bias"},
                          tmp.sub("cache"));
  EXPECT_EQ(str(doc, "descriptor"),
            "weight_only_linear m=16 n=4096 k=4096 act=bf16 weight=s8 out=bf16 weight_scale=per_group(128) "
            "zero_point bias");
  const auto* kernels = doc.getArray("kernels");
  ASSERT_TRUE(kernels && kernels->size() == 1);
  const auto& gemm = *(*kernels)[0].getAsObject();
  EXPECT_EQ(str(gemm, "spec"), "w8a16_gemm bf16->bf16 n=4096 k=4096 m<=16 bias scale=group128 zp sm_90a");
  // M = 16: the decode (swap_ab) layout.
  EXPECT_NE(str(gemm, "entry").find("qjit_w8a16_sm80_swab_bf16_n4096_k4096_"), std::string::npos)
      << str(gemm, "entry");
  EXPECT_NE(str(gemm, "entry").find("_g128_zp_bias"), std::string::npos) << str(gemm, "entry");
  expect_usage_error({"--op", "weight_only_linear", "--n", "64", "--k", "64", "--weight-scale", "per_group"},
                     "--group-size (64 or 128) goes with --weight-scale per_group and only with it");
  expect_usage_error({"--op", "weight_only_linear", "--n", "64", "--k", "64", "--weight-scale", "per_group",
                      "--group-size", "32"},
                     "--group-size must be 64 or 128, got 32");
  expect_usage_error({"--op", "weight_only_linear", "--n", "64", "--k", "64", "--dtype", "f32"},
                     "--dtype must be bf16 or f16 for weight_only_linear, got f32");
  expect_usage_error({"--op", "quantized_linear", "--n", "64", "--k", "64", "--zero-point"},
                     "--group-size and --zero-point are for weight_only_linear");
}

// Asymmetric activations: QuantizedLinear shows the asymmetric quantize pass and the azp GEMM; ScaledMatmul the azp
// GEMM alone; the flag is refused for the other ops and with a per-tensor activation scale.
TEST(ToolsInspectTest, AsymmetricShowsTheAzpKernels) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  auto doc = inspect_json({"--op", "quantized_linear", "--m", "16", "--n", "4096", "--k", "11008", "--arch", "sm_90a",
                           "--asymmetric"},
                          tmp.sub("cache"));
  EXPECT_NE(str(doc, "descriptor").find(" asymmetric"), std::string::npos) << str(doc, "descriptor");
  const auto* kernels = doc.getArray("kernels");
  ASSERT_TRUE(kernels && kernels->size() == 2);
  const auto& quant = *(*kernels)[0].getAsObject();
  const auto& gemm = *(*kernels)[1].getAsObject();
  EXPECT_NE(str(quant, "spec").find("quantize_rowwise bf16->s8 k=11008 m<=16 azp sm_90a"), std::string::npos)
      << str(quant, "spec");
  EXPECT_NE(str(quant, "entry").find("_azp_s8"), std::string::npos) << str(quant, "entry");
  EXPECT_NE(str(gemm, "spec").find("per_token azp sm_90a"), std::string::npos) << str(gemm, "spec");
  EXPECT_NE(str(gemm, "entry").find("_azp"), std::string::npos) << str(gemm, "entry");
  auto mm = inspect_json({"--op", "scaled_matmul", "--m", "300", "--n", "1024", "--k", "4096", "--arch", "sm_80",
                          "--weight-scale", "per_tensor", "--asymmetric"},
                         tmp.sub("cache"));
  const auto* mk = mm.getArray("kernels");
  ASSERT_TRUE(mk && mk->size() == 1);
  EXPECT_NE(str(*(*mk)[0].getAsObject(), "spec").find("weight_scale=per_tensor azp sm_80"), std::string::npos);
  expect_usage_error({"--op", "smooth_quant_linear", "--n", "64", "--k", "64", "--asymmetric"},
                     "--asymmetric is for quantized_linear and scaled_matmul");
  expect_usage_error({"--op", "scaled_matmul", "--n", "64", "--k", "64", "--act-scale", "per_tensor", "--asymmetric"},
                     "--asymmetric needs --act-scale per_token");
}

TEST(ToolsInspectTest, Sm90aQuantizedLinearUsesTheHopperFamilyInText) {
  SKIP_WITHOUT_NVRTC();
  if (const char* v = std::getenv("QJIT_DISABLE_SM90"); v && std::string(v) == "1")
    GTEST_SKIP() << "QJIT_DISABLE_SM90=1 turns the Hopper family off in this process";
  TempDir tmp;
  ScopedEnv env;
  env.set("QJIT_CACHE_DIR", tmp.sub("cache"));
  const auto r = inspect(
      {"--op", "quantized_linear", "--m", "2048", "--n", "4096", "--k", "4096", "--arch", "sm_90a", "--source"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kernel 1/2: quantize"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("family    gemm_sm90: sm_90a: the wgmma + TMA pipeline (any K=4096"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(reason: heuristic)"), std::string::npos);
  EXPECT_NE(r.out.find("cache     not cached"), std::string::npos);
  EXPECT_NE(r.out.find("----- qjit_gemm_s8_sm90_"), std::string::npos);  // --source
  std::smatch match;
  const std::regex key_line("\n  key       ([0-9a-f]{64})\n");
  EXPECT_TRUE(std::regex_search(r.out, match, key_line)) << r.out;
}

// Issue 15: K % 16 != 0 takes the Hopper family on sm_90a too; its reason says misaligned views are staged (else
// get the portable family), and the staging record gives the staged rows' stride and the two regions' bytes.
TEST(ToolsInspectTest, Sm90aTakesOddKAndNamesTheStagedPathAndThePortableFallback) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  auto doc = inspect_json({"--op", "smooth_quant_linear", "--m", "64", "--n", "4096", "--k", "4100"}, tmp.sub("cache"));
  const auto& gemm = *(*doc.getArray("kernels"))[0].getAsObject();
  EXPECT_EQ(str(gemm, "family"), "gemm_sm90");
  EXPECT_NE(str(gemm, "family_reason").find("K=4100"), std::string::npos) << str(gemm, "family_reason");
  EXPECT_NE(str(gemm, "family_reason").find("staged into the plan's workspace"), std::string::npos)
      << str(gemm, "family_reason");
  EXPECT_NE(str(gemm, "family_reason").find("portable family"), std::string::npos) << str(gemm, "family_reason");
  const llvm::json::Object* staging = gemm.getObject("staging");
  ASSERT_NE(staging, nullptr);
  EXPECT_EQ(integer(*staging, "row_stride"), 4224);
  EXPECT_EQ(integer(*staging, "act_bytes"), 64 * 4224);
  EXPECT_EQ(integer(*staging, "weight_bytes"), 4096 * 4224);
  EXPECT_EQ(staging->getBoolean("counted_by_workspace_size").getValueOr(false), true);
  // K % 16 == 0: only misaligned views stage, and workspace_size does not count the regions.
  auto even = inspect_json({"--op", "smooth_quant_linear", "--m", "64", "--n", "4096", "--k", "4096"}, tmp.sub("c2"));
  const auto* even_staging = (*even.getArray("kernels"))[0].getAsObject()->getObject("staging");
  ASSERT_NE(even_staging, nullptr);
  EXPECT_EQ(even_staging->getBoolean("counted_by_workspace_size").getValueOr(true), false);
  // The portable family (sm_89) reads any view: no staging.
  auto ada = inspect_json({"--op", "smooth_quant_linear", "--m", "64", "--n", "4096", "--k", "4100", "--arch", "sm_89"},
                          tmp.sub("c3"));
  const auto& ada_gemm = *(*ada.getArray("kernels"))[0].getAsObject();
  ASSERT_NE(ada_gemm.get("staging"), nullptr);
  EXPECT_EQ(ada_gemm.get("staging")->kind(), llvm::json::Value::Null);
}

TEST(ToolsInspectTest, FindsACachedEntryUnderItsKeyWithoutCompiling) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  const std::vector<std::string> args = {
      "--op", "smooth_quant_linear", "--m", "16", "--n", "1024", "--k", "512", "--arch", "sm_80"};
  auto before = inspect_json(args, tmp.sub("cache"));
  const auto& gemm = *(*before.getArray("kernels"))[0].getAsObject();
  ASSERT_EQ(boolean(gemm, "cached"), 0);
  auto key = cache::CompileKey::from_hex(str(gemm, "key"));
  ASSERT_TRUE(key.has_value());
  {
    auto store = cache::DiskStore::open(cache::testing::writable_options(tmp.sub("cache")));
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    cache::Entry e = cache::testing::test_entry(7, 4096);
    e.key = *key;
    ASSERT_TRUE((*store)->store(e).ok());
  }
  auto after = inspect_json(args, tmp.sub("cache"));
  const auto& cached = *(*after.getArray("kernels"))[0].getAsObject();
  EXPECT_EQ(boolean(cached, "cached"), 1);
  EXPECT_EQ(integer(cached, "cubin_bytes"), 4096);
  EXPECT_EQ(str(cached, "key"), str(gemm, "key"));
  // The test payload is not a cubin: no resources, and the reason says so.
  const auto* resources = cached.getObject("resources");
  ASSERT_TRUE(resources);
  EXPECT_EQ(boolean(*resources, "available"), 0);
  EXPECT_NE(str(*resources, "note").find("malformed cubin"), std::string::npos) << str(*resources, "note");
}

TEST(ToolsInspectTest, CompileReportsRegistersAndSpillFreenessFromTheCubin) {
  SKIP_WITHOUT_NVRTC();
  TempDir tmp;
  auto doc = inspect_json(
      {"--op", "quantized_linear", "--m", "16", "--n", "1024", "--k", "512", "--arch", "sm_80", "--compile"},
      tmp.sub("cache"));
  const auto* kernels = doc.getArray("kernels");
  ASSERT_TRUE(kernels && kernels->size() == 2);
  for (const auto& k : *kernels) {
    const auto& kernel = *k.getAsObject();
    const auto* resources = kernel.getObject("resources");
    ASSERT_TRUE(resources) << str(kernel, "entry");
    EXPECT_EQ(boolean(*resources, "available"), 1) << str(*resources, "note");
    EXPECT_GT(integer(*resources, "registers"), 0);
    EXPECT_LE(integer(*resources, "registers"), 255);
    EXPECT_EQ(integer(*resources, "entry_registers"), integer(*resources, "registers"));  // recorded at compile
    EXPECT_EQ(boolean(*resources, "spill_free"), 1);
    EXPECT_EQ(integer(*resources, "local_bytes"), 0);
    EXPECT_EQ(integer(*resources, "max_threads"), integer(kernel, "threads"));
  }
}

TEST(ToolsInspectTest, Sm90aCompiledGemmPrints168RegistersInText) {
  SKIP_WITHOUT_NVRTC();
  if (const char* v = std::getenv("QJIT_DISABLE_SM90"); v && std::string(v) == "1")
    GTEST_SKIP() << "QJIT_DISABLE_SM90=1 turns the Hopper family off in this process";
  TempDir tmp;
  ScopedEnv env;
  env.set("QJIT_CACHE_DIR", tmp.sub("cache"));
  env.set("QJIT_CACHE_PATH", "");
  const auto r = inspect(
      {"--op", "smooth_quant_linear", "--m", "2048", "--n", "4096", "--k", "4096", "--arch", "sm_90a", "--compile"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(" c2 "), std::string::npos) << "expected a two-consumer config:\n" << r.out;
  EXPECT_NE(r.out.find("  resources registers 168, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no local memory (spill-free); compiled for <= 384 threads"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace qjit
#endif  // QJIT_HAVE_TOOLS
