// The C ABI (qjit_c.h) as a C caller meets it, with no GPU: every refusal names the field and the expected value
// (NULL pointers, struct sizes, enum ranges, tensor ranks), failures never leave a stale plan behind, the last error
// is per thread, strings are sized and truncated as documented, the cache calls work on a real store, and a
// warm-up through the C ABI compiles real kernels with NVRTC and reports failures with a non-OK status.
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "qjit/qjit_c.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"

namespace {

using qjit::cache::testing::TempDir;

std::string last_error() { return qjit_last_error_message(); }

qjit_quantized_linear_desc valid_ql() {
  return {sizeof(qjit_quantized_linear_desc), 16, 256, 512, QJIT_BF16, QJIT_S8, QJIT_BF16, 0};
}

TEST(CApi, VersionsAndStatusNames) {
  EXPECT_EQ(qjit_abi_version(), static_cast<uint32_t>(QJIT_ABI_VERSION));
  int32_t major = -1, minor = -1, patch = -1;
  qjit_version(&major, &minor, &patch);
  EXPECT_EQ(std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch), qjit_version_string());
  EXPECT_STREQ(qjit_status_name(QJIT_INVALID_ARGUMENT), "InvalidArgument");
  EXPECT_STREQ(qjit_status_name(QJIT_INTERNAL), "Internal");
  EXPECT_STREQ(qjit_status_name(static_cast<qjit_status>(42)), "?");
}

TEST(CApi, SelectRefusesBadDescriptorsNamingTheField) {
  qjit_plan* plan = reinterpret_cast<qjit_plan*>(0x1);  // must be reset to NULL on failure
  auto d = valid_ql();
  d.k = 0;
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(plan, nullptr);
  EXPECT_EQ(last_error(), "descriptor.k must be in [1, 2^31), got 0");
  EXPECT_EQ(qjit_last_error_code(), QJIT_INVALID_ARGUMENT);

  d = valid_ql();
  d.struct_size = 8;
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("desc->struct_size must be >= 48"), std::string::npos) << last_error();

  d = valid_ql();
  d.output_element = 17;
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "descriptor.output_element must be a qjit_element (0 = QJIT_F16 ... 6 = QJIT_S32), got 17");

  d = valid_ql();
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 7, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("preference must be"), std::string::npos);
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, nullptr, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "desc must not be NULL");
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "out_plan must not be NULL");

  d = valid_ql();
  d.activation_element = d.output_element = QJIT_S32;
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "descriptor.output_element must be f16, bf16, f32 or f64, got s32");

  qjit_smooth_quant_linear_desc sq{sizeof sq, 1, 64, 64, NAN, QJIT_S8, QJIT_S8, QJIT_F32, 0};
  EXPECT_EQ(qjit_smooth_quant_linear_plan_select(nullptr, &sq, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("descriptor.act_scale must be finite and > 0"), std::string::npos) << last_error();

  qjit_dynamic_range_quantize_desc q{sizeof q, 4, 64, QJIT_F32, 5};
  EXPECT_EQ(qjit_dynamic_range_quantize_plan_select(nullptr, &q, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("descriptor.granularity"), std::string::npos);
}

// A caller compiled against the first form of a struct (before has_smooth / pre_quant_scale were appended) passes a
// smaller struct_size: accepted, the appended fields read as absent, and nothing past its struct_size is read.
TEST(CApi, StructsOfTheFirstFormAreAcceptedAndAppendedFieldsReadAsZero) {
  auto d = valid_ql();
  d.struct_size = offsetof(qjit_quantized_linear_desc, has_smooth);
  d.has_smooth = 1;  // past the struct_size: must be ignored
  d.k = 0;           // so select fails in validation, before the driver
  qjit_plan* plan = nullptr;
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "descriptor.k must be in [1, 2^31), got 0");  // not a struct_size complaint
  d.k = 512;
  char buf[128];
  qjit_quantized_linear_desc_to_string(&d, buf, sizeof buf);
  EXPECT_STREQ(buf, "quantized_linear m=16 n=256 k=512 act=bf16 weight=s8 out=bf16");  // no " smooth"
  d.struct_size = sizeof d;
  qjit_quantized_linear_desc_to_string(&d, buf, sizeof buf);
  EXPECT_STREQ(buf, "quantized_linear m=16 n=256 k=512 act=bf16 weight=s8 out=bf16 smooth");
  d.struct_size = offsetof(qjit_quantized_linear_desc, has_smooth) - 4;
  EXPECT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("desc->struct_size must be >= 48"), std::string::npos) << last_error();
}

TEST(CApi, AValidDescriptorWithoutAGpuIsDriverUnavailable) {
  // Point the driver lookup at a library that does not exist, so this holds on a GPU machine too.
  ::setenv("QJIT_CUDA_LIBRARY", "/nonexistent/libcuda.so.1", 1);
  auto d = valid_ql();
  qjit_plan* plan = nullptr;
  const qjit_status s = qjit_quantized_linear_plan_select(nullptr, &d, QJIT_PREF_HEURISTIC, &plan);
  ::unsetenv("QJIT_CUDA_LIBRARY");
  if (s == QJIT_OK) {  // the driver was already loaded by an earlier test in this process
    qjit_plan_release(plan);
    GTEST_SKIP() << "the CUDA driver was already open in this process";
  }
  EXPECT_EQ(s, QJIT_DRIVER_UNAVAILABLE) << last_error();
  EXPECT_EQ(plan, nullptr);
  EXPECT_NE(last_error().find("libcuda"), std::string::npos) << last_error();
}

TEST(CApi, NullPlansAreRefusedNotDereferenced) {
  size_t bytes = 1;
  EXPECT_EQ(qjit_plan_workspace_size(nullptr, &bytes), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(qjit_plan_workspace_size_for_m(nullptr, 16, &bytes), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "plan must not be NULL");
  // run refuses M >= 2^31 (the kernels' 32-bit M), so a size for such an M is refused too, never a wrapped number.
  EXPECT_EQ(qjit_plan_workspace_size_for_m(nullptr, int64_t{1} << 31, &bytes), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "m must be in [1, 2^31), got 2147483648");
  EXPECT_EQ(qjit_plan_workspace_size_for_m(nullptr, 0, &bytes), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "m must be in [1, 2^31), got 0");
  qjit_linear_args a{};
  a.struct_size = sizeof a;
  EXPECT_EQ(qjit_linear_plan_run(nullptr, nullptr, nullptr, 0, &a), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(qjit_quantize_plan_can_implement(nullptr, nullptr), QJIT_INVALID_ARGUMENT);
  qjit_precision_guarantee g{};
  g.struct_size = sizeof g;
  EXPECT_EQ(qjit_plan_precision_guarantee(nullptr, &g), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(qjit_plan_get_kind(nullptr), 0);
  char buf[4] = "xyz";
  EXPECT_EQ(qjit_plan_describe(nullptr, buf, sizeof buf), 1u);
  EXPECT_STREQ(buf, "");
  qjit_plan_release(nullptr);  // a no-op
  EXPECT_EQ(qjit_plan_retain(nullptr), nullptr);
}

TEST(CApi, LastErrorIsPerThreadAndClearable) {
  auto d = valid_ql();
  d.n = -3;
  qjit_plan* plan = nullptr;
  ASSERT_EQ(qjit_quantized_linear_plan_select(nullptr, &d, 0, &plan), QJIT_INVALID_ARGUMENT);
  std::string other;
  qjit_status other_code = QJIT_INTERNAL;
  std::thread([&] {
    other = qjit_last_error_message();
    other_code = qjit_last_error_code();
  }).join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(other_code, QJIT_OK);
  EXPECT_EQ(last_error(), "descriptor.n must be in [1, 2^31), got -3");
  // Sized copies: the full length including the NUL comes back, the copy is truncated and terminated.
  char small[11];
  EXPECT_EQ(qjit_last_error_copy(small, sizeof small), last_error().size() + 1);
  EXPECT_STREQ(small, "descriptor");
  EXPECT_EQ(qjit_last_error_copy(nullptr, 0), last_error().size() + 1);
  qjit_clear_last_error();
  EXPECT_EQ(qjit_last_error_code(), QJIT_OK);
  EXPECT_EQ(last_error(), "");
}

TEST(CApi, DescriptorsPrintAsTheCppApiDoes) {
  auto d = valid_ql();
  d.has_bias = 1;
  char buf[128];
  const size_t need = qjit_quantized_linear_desc_to_string(&d, buf, sizeof buf);
  EXPECT_STREQ(buf, "quantized_linear m=16 n=256 k=512 act=bf16 weight=s8 out=bf16 bias");
  EXPECT_EQ(need, std::strlen(buf) + 1);
  qjit_dynamic_range_quantize_desc q{sizeof q, 4, 64, QJIT_F16, QJIT_PER_TENSOR};
  qjit_dynamic_range_quantize_desc_to_string(&q, buf, sizeof buf);
  EXPECT_STREQ(buf, "dynamic_range_quantize m=4 k=64 in=f16 per-tensor");
  qjit_smooth_quant_linear_desc_to_string(nullptr, buf, sizeof buf);
  EXPECT_STREQ(buf, "invalid descriptor: desc must not be NULL");
}

TEST(CApi, CacheCallsOnARealStore) {
  TempDir dir;
  const std::string store = dir.sub("store");
  qjit_cache_location loc{sizeof loc, store.c_str(), nullptr, 0, 0};
  qjit_cache_stats stats{};
  stats.struct_size = sizeof stats;
  int stores_seen = 0;
  auto on_store = [](const qjit_cache_store_info* s, void* user) -> int {
    ++*static_cast<int*>(user);
    EXPECT_EQ(s->entries, 0u);
    return 0;
  };
  ASSERT_EQ(qjit_cache_stats_get(&loc, &stats, on_store, &stores_seen), QJIT_OK) << last_error();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stores_seen, 1);
  EXPECT_EQ(qjit_cache_list(&loc, QJIT_CACHE_VERIFY, nullptr, nullptr), QJIT_OK) << last_error();
  EXPECT_EQ(qjit_cache_list(&loc, QJIT_CACHE_REMOVE_BAD, nullptr, nullptr), QJIT_INVALID_ARGUMENT);
  qjit_cache_prune_report r{};
  r.struct_size = sizeof r;
  EXPECT_EQ(qjit_cache_prune(&loc, 0, &r), QJIT_OK) << last_error();
  qjit_cache_location ro = loc;
  ro.read_only = 1;
  EXPECT_EQ(qjit_cache_prune(&ro, 0, &r), QJIT_UNSUPPORTED) << last_error();
  qjit_cache_location small = loc;
  small.struct_size = 4;
  EXPECT_EQ(qjit_cache_stats_get(&small, &stats, nullptr, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("location->struct_size"), std::string::npos);
}

TEST(CApi, WarmupRefusesMalformedRequests) {
  const qjit_layer_shape shape{256, 512};
  const int64_t ms[] = {16};
  qjit_warmup_request r{};
  r.struct_size = sizeof r;
  r.arch = "sm_75";
  r.shapes = &shape;
  r.shape_count = 1;
  r.ms = ms;
  r.m_count = 1;
  r.dtype = QJIT_BF16;
  EXPECT_EQ(qjit_warmup(&r, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("sm_75"), std::string::npos) << last_error();
  r.arch = "sm_90a";
  r.dtype = QJIT_S8;
  EXPECT_EQ(qjit_warmup(&r, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "request->dtype must be f16, bf16, f32 or f64, got s8");
  r.dtype = QJIT_BF16;
  r.smooth_modes = 4;
  EXPECT_EQ(qjit_warmup(&r, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("request->smooth_modes"), std::string::npos) << last_error();
  r.smooth_modes = 0;
  r.plans = 128;  // past the last plan bit
  EXPECT_EQ(qjit_warmup(&r, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("request->plans"), std::string::npos) << last_error();
  r.plans = QJIT_WARMUP_ASYMMETRIC;  // reaches the asymmetric plans, which have no f64 output
  r.dtype = QJIT_F64;
  EXPECT_EQ(qjit_warmup(&r, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("for the azp plan"), std::string::npos) << last_error();
  r.plans = 0;
  r.dtype = QJIT_BF16;
  r.shape_count = 0;
  EXPECT_EQ(qjit_warmup(&r, nullptr), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(last_error(), "request->shapes must hold at least one shape");
}

// Runs in a child: the process's kernel service reads QJIT_CACHE_DIR once.
int warm_through_the_c_abi(const std::string& store) {
  qjit::cache::testing::use_only_cache_dir(store);
  const qjit_layer_shape shape{256, 512};
  const int64_t ms[] = {1, 2048};
  qjit_warmup_request r{};
  r.struct_size = sizeof r;
  r.arch = "sm_90a";
  r.shapes = &shape;
  r.shape_count = 1;
  r.ms = ms;
  r.m_count = 2;
  r.plans = QJIT_WARMUP_QUANTIZED_LINEAR;
  r.dtype = QJIT_BF16;
  r.jobs = 2;
  r.smooth_modes = QJIT_WARMUP_NO_SMOOTH | QJIT_WARMUP_SMOOTH;
  qjit_warmup_report rep{};
  rep.struct_size = sizeof rep;
  if (qjit_warmup(&r, &rep) != QJIT_OK) return std::fprintf(stderr, "warmup: %s\n", qjit_last_error_message()), 2;
  // 2 M buckets x (plain + smoothed quantize pass + GEMM); the quantize sources do not depend on M.
  if (rep.failed != 0 || rep.compiled + rep.cached != rep.kernels || rep.kernels < 4) return 3;
  qjit_cache_stats stats{};
  stats.struct_size = sizeof stats;
  if (qjit_cache_stats_get(nullptr, &stats, nullptr, nullptr) != QJIT_OK || stats.entries != rep.kernels) return 4;
  std::fprintf(stderr, "c-abi warmup ok: %llu kernels\n", static_cast<unsigned long long>(rep.kernels));
  return 0;
}

TEST(CApi, WarmupCompilesIntoTheEnvironmentsStore) {
  if (!qjit::runtime::nvrtc().has_value()) GTEST_SKIP() << qjit::runtime::nvrtc().status().to_string();
  TempDir dir;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(warm_through_the_c_abi(dir.sub("store"))), ::testing::ExitedWithCode(0), "c-abi warmup ok");
}

}  // namespace
