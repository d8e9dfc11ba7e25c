// The autotuner end to end on the GPU: tune a small layer's kernels (decode and prefill buckets), check the
// outcome's invariants (the heuristic is timed first, no candidate disagrees with it bit for bit, the winner is no
// slower than the heuristic), save the database, and have a fresh process -- this binary re-executed on a disabled
// test -- select with PlanPreference::Tuned, find the recorded configs in its plans and pass the f64 reference
// check with them; the same child also selects with PlanPreference::Autotune and finds its winner saved.
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "autotune/autotuner.h"
#include "autotune/tuning_db.h"
#include "ops/linear_specs.h"
#include "qjit/linear.h"
#include "tests/gpu/linear_check.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/device.h"

namespace qjit::testing {
namespace {

constexpr std::int64_t kN = 1000, kK = 1024;

ops::LinearKernelSpecs specs_for(std::int64_t m, int arch) {
  ops::LinearShape s;
  s.m = m;
  s.n = kN;
  s.k = kK;
  s.activation = s.output = ElementKind::BF16;
  s.has_bias = true;
  return ops::linear_kernel_specs(s, arch);
}

// Child: with QJIT_TUNING_DB set by the parent, Tuned plans must carry the recorded GEMM configs and be correct.
TEST(AutotuneGpuChild, DISABLED_TunedPlansUseTheDatabase) {
  QJIT_REQUIRE_GPU();
  const char* db_path = std::getenv("QJIT_TUNING_DB");
  ASSERT_NE(db_path, nullptr);
  auto db = autotune::TuningDb::load(db_path);
  ASSERT_TRUE(db.has_value()) << db.error().to_string();
  for (std::int64_t m : {16, 256}) {
    const auto spec = specs_for(m, gpu()->arch).gemm;
    const auto* r = db->find(autotune::tuning_key(spec, gpu()->name, gpu()->sm_count));
    ASSERT_NE(r, nullptr) << "no record for " << spec.to_string();
    auto plan = QuantizedLinearPlan<bf16>::select(Stream(), QuantizedLinearDescriptor::make<bf16>(m, kN, kK, true),
                                                  PlanPreference::Tuned);
    ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
    EXPECT_NE(plan->describe().find(r->config.to_string()), std::string::npos)
        << plan->describe() << " does not use the tuned " << r->config.to_string();
    LinearCase c{m, kN, kK, true};
    c.pref = PlanPreference::Tuned;
    EXPECT_TRUE(check_quantized_linear<bf16>(c));
  }
  // Autotune at select time: a shape the parent did not tune; the winner lands in the database file.
  LinearCase fresh{32, 768, 512, false};
  fresh.pref = PlanPreference::Autotune;
  EXPECT_TRUE(check_smooth_quant_linear<bf16>(fresh));
  auto after = autotune::TuningDb::load(db_path);
  ASSERT_TRUE(after.has_value()) << after.error().to_string();
  EXPECT_GT(after->size(), db->size()) << "PlanPreference::Autotune recorded nothing";
}

TEST(AutotuneGpuTest, TunesASmallLayerAndAFreshProcessUsesTheWinners) {
  QJIT_REQUIRE_GPU();
  cache::testing::TempDir tmp;
  const std::string db_path = tmp.sub("tuning.json");
  autotune::TuningDb db;
  autotune::TuneOptions options;
  options.max_candidates = 16;
  for (std::int64_t m : {16, 256}) {
    const auto specs = specs_for(m, gpu()->arch);
    for (const auto& spec : {*specs.quantize, specs.gemm}) {
      auto out = autotune::autotune_kernel(spec, m, *gpu(), options);
      ASSERT_TRUE(out.has_value()) << spec.to_string() << ": " << out.error().to_string();
      int timed = 0;
      for (const auto& c : out->candidates) {
        if (c.us > 0) ++timed;
        EXPECT_EQ(c.rejected.rfind("output differs", 0), std::string::npos)
            << spec.to_string() << " " << c.config.to_string() << ": " << c.rejected;
      }
      EXPECT_EQ(out->mismatches, 0);
      EXPECT_GT(out->candidates[0].us, 0) << "the heuristic was not timed";
      EXPECT_EQ(out->candidates[0].config, out->heuristic);
      EXPECT_GE(timed, 2) << spec.to_string() << ": fewer than two candidates survived";
      EXPECT_LE(out->record.time_us, out->record.heuristic_time_us);
      EXPECT_EQ(out->record.key.m_bucket, codegen::m_bucket_of(m));
      std::printf("[ tuned ] %s m=%lld: %s %.2f us (heuristic %s %.2f us), %d timed, compile %.2fs time %.2fs\n",
                  spec.to_string().c_str(), static_cast<long long>(m), out->record.config.to_string().c_str(),
                  out->record.time_us, out->heuristic.to_string().c_str(), out->record.heuristic_time_us, timed,
                  out->compile_seconds, out->timing_seconds);
      db.put(out->record);
    }
  }
  QJIT_ASSERT_OK(db.save(db_path));

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("QJIT_TUNING_DB", db_path.c_str(), 1);
    ::execl("/proc/self/exe", "qjit_gpu_tests", "--gtest_filter=AutotuneGpuChild.DISABLED_TunedPlansUseTheDatabase",
            "--gtest_also_run_disabled_tests", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the fresh process failed (status " << status << ")";
}

}  // namespace
}  // namespace qjit::testing
