// `qjit tune` argument handling, in-process: each usage error exits 2 and names the flag (or the shape file's line),
// --help exits 0, and a machine without a GPU gets a clean exit 1 after the arguments were accepted. The work plan,
// through --dry-run (no GPU needed): the shards of one n partition the kernels of the whole shape file x M (each
// kernel in exactly one shard, all agreeing on the plan), balanced by estimated cost; --shard auto takes the index
// from Slurm's or Kubernetes' variables; --devices spreads one shard's kernels over the GPUs by cost.
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "llvm/Support/JSON.h"
#include "runtime/device.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/command_runner.h"
#include "tools/commands.h"

namespace qjit::testing {
namespace {

using cache::testing::TempDir;

const std::string kShapes = std::string(QJIT_SOURCE_DIR) + "/data/llm_linear_shapes.csv";

CommandResult tune(const std::vector<std::string>& args) { return run_command(tools::run_tune_command, "tune", args); }

void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  const CommandResult r = tune(args);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr does not name '" << needle << "':\n" << r.err;
}

TEST(ToolsTuneArgsTest, HelpExitsZero) {
  const CommandResult r = tune({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--shard"), std::string::npos) << r.out;
}

TEST(ToolsTuneArgsTest, EachBadFlagIsAUsageErrorNamingIt) {
  expect_usage_error({"--m", "1"}, "--shapes");
  expect_usage_error({"--shapes", kShapes}, "--m");
  expect_usage_error({"--shapes", kShapes, "--m", "1,x"}, "--m");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--shard", "3/3"}, "--shard");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--dtype", "s8"}, "--dtype");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--plans", "ql,xx"}, "--plans");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--devices", "a"}, "--devices");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--devices", "0,1,0"}, "GPU 0 twice");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--devices", ""}, "--devices");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--shard", "auto/0"}, "--shard");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--reps", "5"}, "--reps");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--bogus", "1"}, "--bogus");
  expect_usage_error({"--shapes", kShapes, "--m"}, "--m");
}

TEST(ToolsTuneArgsTest, MalformedShapeFileNamesTheLine) {
  TempDir tmp;
  const std::string path = tmp.sub("bad.csv");
  std::ofstream(path) << "# comment\nmodel,layer,N,K\nm,l,4096,x\n";
  expect_usage_error({"--shapes", path, "--m", "1"}, "bad.csv:3");
}

TEST(ToolsTuneArgsTest, NoGpuIsACleanFailure) {
  if (runtime::current_device().has_value()) GTEST_SKIP() << "a GPU is present: this test covers machines without one";
  const CommandResult r = tune({"--shapes", kShapes, "--m", "1"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("needs a GPU"), std::string::npos) << r.err;
}

TEST(ToolsTuneArgsTest, DevicesAllWithoutAGpuIsAClearFailure) {
  if (runtime::current_device().has_value()) GTEST_SKIP() << "a GPU is present: this test covers machines without one";
  for (bool dry : {false, true}) {
    std::vector<std::string> args = {"--shapes", kShapes, "--m", "1", "--devices", "all"};
    if (dry) args.push_back("--dry-run");
    const CommandResult r = tune(args);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("--devices all needs a GPU"), std::string::npos) << r.err;
  }
}

// The scheduler variables are cleared (an empty value counts as unset), so a test run inside an array job sees none.
class ToolsTunePlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                          "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX", "QJIT_SHARD_COUNT"})
      env_.set(v, "");
    env_.set("QJIT_TUNING_DB", tmp_.sub("tuning.json"));
  }

  struct Plan {
    int index = -1, count = -1;
    std::string source, fingerprint;
    double serial = 0, makespan = 0;
    std::map<std::string, double> kernels;  // "spec m=M" -> estimated seconds
    std::set<int> devices;
  };

  // `qjit tune --dry-run --json` with `extra`; fails the test unless it exits 0.
  Plan plan(std::vector<std::string> extra, const std::string& m = "1,16,64,128,512,2048,8192") {
    std::vector<std::string> args = {"--shapes", kShapes, "--m", m, "--dry-run", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = tune(args);
    EXPECT_EQ(r.code, 0) << r.err;
    Plan p;
    auto parsed = llvm::json::parse(r.out);
    if (!parsed) {
      ADD_FAILURE() << llvm::toString(parsed.takeError()) << "\n" << r.out;
      return p;
    }
    const llvm::json::Object& top = *parsed->getAsObject();
    const llvm::json::Object& shard = *top.getObject("shard");
    p.index = static_cast<int>(*shard.getInteger("index"));
    p.count = static_cast<int>(*shard.getInteger("count"));
    p.source = shard.getString("source")->str();
    p.fingerprint = top.getString("plan")->str();
    p.serial = *top.getNumber("estimated_serial_s");
    p.makespan = *top.getNumber("estimated_makespan_s");
    for (const llvm::json::Value& row : *top.getArray("results")) {
      const llvm::json::Object& o = *row.getAsObject();
      const std::string key = o.getString("spec")->str() + " m=" + std::to_string(*o.getInteger("m"));
      EXPECT_TRUE(p.kernels.emplace(key, *o.getNumber("estimated_s")).second) << "listed twice: " << key;
      p.devices.insert(static_cast<int>(*o.getInteger("device")));
    }
    return p;
  }

  TempDir tmp_;
  ScopedEnv env_;
};

// --plans rmsnorm,layernorm: one kernel per (norm, residual, K, M bucket), whatever N; nothing of the linears.
TEST_F(ToolsTunePlanTest, NormPlansTuneTheFusedNormQuantizeKernelsPerK) {
  const Plan p = plan({"--plans", "rmsnorm,layernorm"}, "16,2048");
  ASSERT_EQ(p.kernels.size(), 8u * 2 * 2 * 2) << "8 K x {rms, layer} x {residual or not} x 2 M buckets";
  for (const auto& [key, cost] : p.kernels) {
    EXPECT_TRUE(key.rfind("rms_norm_quantize ", 0) == 0 || key.rfind("layer_norm_quantize ", 0) == 0) << key;
    EXPECT_GT(cost, 0) << key;
  }
  EXPECT_EQ(p.kernels.count("rms_norm_quantize bf16->s8 k=4096 m<=16 residual per_token sm_90a m=16"), 1u);
  const Plan both = plan({"--plans", "ql,rmsnorm"}, "16,2048");
  EXPECT_EQ(both.kernels.size(), plan({"--plans", "ql"}, "16,2048").kernels.size() + 8u * 2 * 2);
}

TEST_F(ToolsTunePlanTest, ShardsPartitionTheKernelsAndBalanceTheirCost) {
  const Plan whole = plan({});
  ASSERT_EQ(whole.kernels.size(), 175u);  // 17 (N, K) x 7 M GEMMs + 8 K x 7 M quantize kernels
  double largest = 0;
  for (const auto& [key, cost] : whole.kernels) largest = std::max(largest, cost);
  for (int n : {2, 3, 8, 16}) {
    std::map<std::string, int> owner;
    std::set<std::string> fingerprints;
    for (int i = 0; i < n; ++i) {
      const Plan part = plan({"--shard", std::to_string(i) + "/" + std::to_string(n)});
      EXPECT_EQ(part.index, i);
      EXPECT_EQ(part.count, n);
      fingerprints.insert(part.fingerprint);
      for (const auto& [key, cost] : part.kernels) {
        EXPECT_TRUE(whole.kernels.count(key)) << key;
        EXPECT_TRUE(owner.emplace(key, i).second) << key << " in shards " << owner[key] << " and " << i;
      }
      // Every shard within an even share plus the largest kernel.
      EXPECT_LE(part.serial, whole.serial / n + largest + 1e-6) << "shard " << i << "/" << n;
    }
    EXPECT_EQ(owner.size(), whole.kernels.size()) << n << " shards";
    EXPECT_EQ(fingerprints.size(), 1u) << "the shards of one n must agree on the plan";
  }
}

TEST_F(ToolsTunePlanTest, ShardAutoFollowsSlurmAndKubernetes) {
  {
    ScopedEnv slurm;
    slurm.set("SLURM_ARRAY_TASK_ID", "4");
    slurm.set("SLURM_ARRAY_TASK_MIN", "1");
    slurm.set("SLURM_ARRAY_TASK_MAX", "8");
    slurm.set("SLURM_ARRAY_TASK_COUNT", "8");
    const Plan p = plan({"--shard", "auto"});
    EXPECT_EQ(p.index, 3);
    EXPECT_EQ(p.count, 8);
    EXPECT_NE(p.source.find("Slurm array task 4"), std::string::npos) << p.source;
    EXPECT_EQ(p.kernels, plan({"--shard", "3/8"}).kernels);
  }
  {
    ScopedEnv k8s;
    k8s.set("JOB_COMPLETION_INDEX", "5");
    k8s.set("QJIT_SHARD_COUNT", "6");
    const Plan p = plan({"--shard", "auto"});
    EXPECT_EQ(p.index, 5);
    EXPECT_EQ(p.count, 6);
    EXPECT_EQ(p.kernels, plan({"--shard", "5/6"}).kernels);
  }
  const CommandResult r = tune({"--shapes", kShapes, "--m", "1", "--shard", "auto", "--dry-run"});
  EXPECT_EQ(r.code, 2) << r.err;
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "QJIT_SHARD_COUNT"})
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
}

TEST_F(ToolsTunePlanTest, DevicesShareOneShardByCost) {
  if (runtime::current_device().has_value()) GTEST_SKIP() << "planned for the assumed H200 only without a GPU";
  const Plan one = plan({});
  const Plan eight = plan({"--devices", "0,1,2,3,4,5,6,7"});
  EXPECT_EQ(one.kernels, eight.kernels);
  EXPECT_EQ(eight.devices, (std::set<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  double largest = 0;
  for (const auto& [key, cost] : eight.kernels) largest = std::max(largest, cost);
  EXPECT_DOUBLE_EQ(one.makespan, one.serial);
  EXPECT_LE(eight.makespan, eight.serial / 8 + largest);
  EXPECT_GE(one.makespan / eight.makespan, 6.5) << "the estimate itself must leave room for issue 19's bar";
}

}  // namespace
}  // namespace qjit::testing
