// `--shard auto` (autotune::resolve_shard): each combination of Slurm's and Kubernetes' variables, with the error
// text an operator reads when the array is set up wrong; and "i/n" still parsed as before.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "autotune/shapes.h"

namespace qjit::autotune {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

Shard ok(const std::string& text, std::map<std::string, std::string> vars) {
  auto r = resolve_shard(text, env_of(std::move(vars)));
  EXPECT_TRUE(r) << text << ": " << r.error().to_string();
  return r ? r->shard : Shard{-1, -1};
}

std::string error(const std::string& text, std::map<std::string, std::string> vars) {
  auto r = resolve_shard(text, env_of(std::move(vars)));
  EXPECT_FALSE(r) << text << " resolved to " << (r ? r->shard.index : -1) << "/" << (r ? r->shard.count : -1);
  if (r) return "";
  EXPECT_EQ(r.error().code(), StatusCode::InvalidArgument);
  return r.error().message();
}

void expect_shard(const Shard& s, int index, int count) {
  EXPECT_EQ(s.index, index);
  EXPECT_EQ(s.count, count);
}

#define EXPECT_MENTIONS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "'" << (needle) << "' not in: " << (haystack)

TEST(AutotuneShardEnv, ExplicitShardIgnoresTheEnvironment) {
  expect_shard(ok("2/5", {{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_COUNT", "9"}}), 2, 5);
  auto r = resolve_shard("0/1", env_of({}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "--shard 0/1");
  EXPECT_MENTIONS(error("3/3", {}), "'i/n'");
}

TEST(AutotuneShardEnv, SlurmArrayFromZero) {
  expect_shard(ok("auto", {{"SLURM_ARRAY_TASK_ID", "0"},
                           {"SLURM_ARRAY_TASK_COUNT", "8"},
                           {"SLURM_ARRAY_TASK_MIN", "0"},
                           {"SLURM_ARRAY_TASK_MAX", "7"}}),
               0, 8);
  expect_shard(ok("auto", {{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}), 7, 8);  // MIN absent = 0
  auto r = resolve_shard("auto", env_of({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "Slurm array task 3");
}

TEST(AutotuneShardEnv, SlurmArrayNotStartingAtZeroIsOffsetByItsMin) {
  // sbatch --array=1-8: ids 1..8 are shards 0..7.
  const std::map<std::string, std::string> base = {
      {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_MAX", "8"}};
  for (int id = 1; id <= 8; ++id) {
    auto vars = base;
    vars["SLURM_ARRAY_TASK_ID"] = std::to_string(id);
    expect_shard(ok("auto", vars), id - 1, 8);
  }
  auto r = resolve_shard(
      "auto", env_of({{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "1"}}));
  ASSERT_TRUE(r);
  EXPECT_MENTIONS(r->source, "ids from 1");
  // --array=10-40:10 -> ids 10, 20, 30, 40 are shards 0..3.
  expect_shard(ok("auto", {{"SLURM_ARRAY_TASK_ID", "30"},
                           {"SLURM_ARRAY_TASK_COUNT", "4"},
                           {"SLURM_ARRAY_TASK_MIN", "10"},
                           {"SLURM_ARRAY_TASK_MAX", "40"},
                           {"SLURM_ARRAY_TASK_STEP", "10"}}),
               2, 4);
  // COUNT absent: derived from MIN, MAX and STEP.
  expect_shard(ok("auto", {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "2"}, {"SLURM_ARRAY_TASK_MAX", "9"}}),
               3, 8);
}

TEST(AutotuneShardEnv, SlurmMisconfigurationsAreRefusedByName) {
  EXPECT_MENTIONS(error("auto", {{"SLURM_ARRAY_TASK_ID", "3"}}), "SLURM_ARRAY_TASK_COUNT");
  // A list array (--array=1,5,9): 3 tasks over ids 1..9.
  const std::string list = error("auto", {{"SLURM_ARRAY_TASK_ID", "5"},
                                          {"SLURM_ARRAY_TASK_COUNT", "3"},
                                          {"SLURM_ARRAY_TASK_MIN", "1"},
                                          {"SLURM_ARRAY_TASK_MAX", "9"}});
  EXPECT_MENTIONS(list, "not a range");
  EXPECT_MENTIONS(list, "--array=A-B");
  EXPECT_MENTIONS(
      error("auto", {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}}),
      "SLURM_ARRAY_TASK_ID=0 is not an id");
  EXPECT_MENTIONS(error("auto", {{"SLURM_ARRAY_TASK_ID", "15"},
                                 {"SLURM_ARRAY_TASK_COUNT", "4"},
                                 {"SLURM_ARRAY_TASK_MIN", "10"},
                                 {"SLURM_ARRAY_TASK_STEP", "10"}}),
                  "not an id");
  EXPECT_MENTIONS(error("auto", {{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}),
                  "not below the count 8");
  EXPECT_MENTIONS(error("auto", {{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}),
                  "SLURM_ARRAY_TASK_ID must be a non-negative integer");
  EXPECT_MENTIONS(error("auto", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "-8"}}),
                  "SLURM_ARRAY_TASK_COUNT must be");
  EXPECT_MENTIONS(
      error("auto", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_STEP", "0"}}),
      "SLURM_ARRAY_TASK_STEP");
  // A count given by hand must agree with the array's.
  EXPECT_MENTIONS(error("auto/4", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}), "disagrees");
  expect_shard(ok("auto/8", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}), 1, 8);
  EXPECT_MENTIONS(
      error("auto", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"QJIT_SHARD_COUNT", "6"}}),
      "disagrees");
}

TEST(AutotuneShardEnv, KubernetesIndexedJobNeedsTheCount) {
  expect_shard(ok("auto", {{"JOB_COMPLETION_INDEX", "0"}, {"QJIT_SHARD_COUNT", "16"}}), 0, 16);
  expect_shard(ok("auto/16", {{"JOB_COMPLETION_INDEX", "15"}}), 15, 16);
  expect_shard(ok("auto/16", {{"JOB_COMPLETION_INDEX", "15"}, {"QJIT_SHARD_COUNT", "16"}}), 15, 16);
  auto r = resolve_shard("auto", env_of({{"JOB_COMPLETION_INDEX", "4"}, {"QJIT_SHARD_COUNT", "8"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, "Kubernetes completion index 4");
  const std::string no_count = error("auto", {{"JOB_COMPLETION_INDEX", "3"}});
  EXPECT_MENTIONS(no_count, "QJIT_SHARD_COUNT");
  EXPECT_MENTIONS(no_count, "--shard auto/N");
  EXPECT_MENTIONS(no_count, "completions");
  EXPECT_MENTIONS(error("auto", {{"JOB_COMPLETION_INDEX", "8"}, {"QJIT_SHARD_COUNT", "8"}}), "not below the count 8");
  EXPECT_MENTIONS(error("auto/8", {{"JOB_COMPLETION_INDEX", "1"}, {"QJIT_SHARD_COUNT", "6"}}),
                  "disagrees with QJIT_SHARD_COUNT=6");
  EXPECT_MENTIONS(error("auto", {{"JOB_COMPLETION_INDEX", "1"}, {"QJIT_SHARD_COUNT", "0"}}), "at least 1");
  EXPECT_MENTIONS(error("auto", {{"JOB_COMPLETION_INDEX", "1"}, {"QJIT_SHARD_COUNT", "lots"}}),
                  "QJIT_SHARD_COUNT must be a non-negative integer");
  EXPECT_MENTIONS(error("auto", {{"JOB_COMPLETION_INDEX", " 1x"}, {"QJIT_SHARD_COUNT", "4"}}), "JOB_COMPLETION_INDEX");
}

TEST(AutotuneShardEnv, NeitherOrBothSchedulersIsAnErrorNamingTheVariables) {
  for (const auto& vars :
       {std::map<std::string, std::string>{}, std::map<std::string, std::string>{{"QJIT_SHARD_COUNT", "4"}},
        std::map<std::string, std::string>{{"SLURM_ARRAY_TASK_ID", ""}}}) {
    const std::string msg = error("auto", vars);
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                             "JOB_COMPLETION_INDEX", "QJIT_SHARD_COUNT", "--shard i/n"})
      EXPECT_MENTIONS(msg, name);
  }
  const std::string both =
      error("auto", {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"JOB_COMPLETION_INDEX", "1"}});
  EXPECT_MENTIONS(both, "both");
  EXPECT_MENTIONS(error("auto/0", {{"JOB_COMPLETION_INDEX", "1"}}), "'auto/N'");
  EXPECT_MENTIONS(error("auto/x", {{"JOB_COMPLETION_INDEX", "1"}}), "'auto/N'");
  EXPECT_MENTIONS(error("automatic", {}), "'i/n'");
}

TEST(AutotuneShardEnv, ProcessEnvironmentTreatsEmptyAsUnset) {
  ::setenv("QJIT_TEST_SHARD_VAR", "", 1);
  EXPECT_FALSE(process_environment("QJIT_TEST_SHARD_VAR").has_value());
  ::setenv("QJIT_TEST_SHARD_VAR", "3", 1);
  EXPECT_EQ(process_environment("QJIT_TEST_SHARD_VAR"), std::optional<std::string>("3"));
  ::unsetenv("QJIT_TEST_SHARD_VAR");
  EXPECT_FALSE(process_environment("QJIT_TEST_SHARD_VAR").has_value());
}

}  // namespace
}  // namespace qjit::autotune
