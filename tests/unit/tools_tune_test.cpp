// `qjit tune` argument handling, in-process: each usage error exits 2 and names the flag (or the shape file's line),
// --help exits 0, and a machine without a GPU gets a clean exit 1 after the arguments were accepted.
#include <gtest/gtest.h>

#include <fstream>

#include "runtime/device.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/command_runner.h"
#include "tools/commands.h"

namespace qjit::testing {
namespace {

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
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--reps", "5"}, "--reps");
  expect_usage_error({"--shapes", kShapes, "--m", "1", "--bogus", "1"}, "--bogus");
  expect_usage_error({"--shapes", kShapes, "--m"}, "--m");
}

TEST(ToolsTuneArgsTest, MalformedShapeFileNamesTheLine) {
  cache::testing::TempDir tmp;
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

}  // namespace
}  // namespace qjit::testing
