// `qjit bench` without a GPU: every argument error exits 2 with a message naming the flag (or the shape file's
// line), a valid command on a machine without a GPU exits 1 saying so, and the report's pure parts -- the M-range
// geomeans, the CSV quoting, the peak table, the L2 rotation count -- compute what the bars need.
#if QJIT_HAVE_TOOLS
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "bench/harness.h"
#include "runtime/device.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/command_runner.h"
#include "tools/bench_report.h"
#include "tools/commands.h"

namespace qjit {
namespace {

using qjit::testing::run_command;

const std::string kShapes = std::string(QJIT_SOURCE_DIR) + "/data/llm_linear_shapes.csv";

testing::CommandResult bench(std::vector<std::string> args) {
  return run_command(tools::run_bench_command, "bench", args);
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  const auto r = bench(args);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(ToolsBenchArgsTest, MissingShapesNamesTheFlag) { expect_usage_error({}, "--shapes"); }

TEST(ToolsBenchArgsTest, BadMListNamesTheFlagAndItem) {
  expect_usage_error({"--shapes", kShapes, "--m", "1,x"}, "--m");
  expect_usage_error({"--shapes", kShapes, "--m", "0"}, "--m");
}

TEST(ToolsBenchArgsTest, BadDtypePrefItersWarmupNameTheirFlags) {
  expect_usage_error({"--shapes", kShapes, "--dtype", "f8"}, "--dtype must be bf16, f16 or f32, got 'f8'");
  expect_usage_error({"--shapes", kShapes, "--pref", "fastest"}, "--pref must be heuristic or tuned");
  expect_usage_error({"--shapes", kShapes, "--iters", "0"}, "--iters");
  expect_usage_error({"--shapes", kShapes, "--warmup", "-1"}, "--warmup");
  expect_usage_error({"--shapes", kShapes, "--iters", "many"}, "--iters");
}

TEST(ToolsBenchArgsTest, FilterMustBeAValidRegexThatMatchesSomething) {
  expect_usage_error({"--shapes", kShapes, "--filter", "(q_proj"}, "--filter");
  expect_usage_error({"--shapes", kShapes, "--filter", "no-such-model"}, "matches none");
}

TEST(ToolsBenchArgsTest, UnknownFlagIsAUsageError) { expect_usage_error({"--shapes", kShapes, "--bogus"}, "--bogus"); }

TEST(ToolsBenchArgsTest, ShapeFileErrorsNameTheFileAndLine) {
  expect_usage_error({"--shapes", "/nonexistent/shapes.csv"}, "/nonexistent/shapes.csv");
  cache::testing::TempDir tmp;
  const std::string path = tmp.sub("bad.csv");
  std::ofstream(path) << "# comment\nmodel,layer,N,K\nllama,q_proj,4096,4096\nllama,o_proj,abc,4096\n";
  const auto r = bench({"--shapes", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.csv:4"), std::string::npos) << r.err;
}

TEST(ToolsBenchArgsTest, HelpExitsZero) {
  // cl prints the help and exits the process, so this runs in a death-test child (which captures stderr itself).
  char name[] = "bench", help[] = "--help";
  char* argv[] = {name, help, nullptr};
  EXPECT_EXIT(std::exit(tools::run_bench_command(2, argv)), ::testing::ExitedWithCode(0), "");
}

TEST(ToolsBenchArgsTest, NoGpuIsACleanFailure) {
  if (runtime::current_device().has_value()) GTEST_SKIP() << "a GPU is present: this test covers machines without one";
  const auto r = bench({"--shapes", kShapes, "--m", "16", "--filter", "llama-2-7b"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no GPU"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

tools::BenchRow row(std::int64_t m, double qjit_us, double lt_us, double ql_us = 0, double bf16_us = 0) {
  tools::BenchRow r;
  r.label = "llama-2-7b q_proj, llama-2-13b q_proj";
  r.n = 4096;
  r.k = 4096;
  r.m = m;
  r.qjit_us = qjit_us;
  r.lt_s8_us = lt_us;
  r.ql_us = ql_us;
  r.lt_bf16_us = bf16_us;
  return r;
}

TEST(ToolsBenchReportTest, GeomeansFollowTheBarsMRanges) {
  const std::vector<tools::BenchRow> rows = {row(1, 10, 20, 10, 40), row(64, 10, 80),
                                             row(128, 10, 10),       row(512, 10, 0 /* baseline missing */),
                                             row(8192, 100, 105),    row(1000, 10, 30)};
  const auto groups = tools::group_geomeans(rows);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].name, "M<=64");
  EXPECT_EQ(groups[0].rows, 2);
  EXPECT_NEAR(groups[0].geomean_ratio, 4.0, 1e-12);  // sqrt(2 * 8)
  EXPECT_EQ(groups[0].ql_ratio_count, 1);
  EXPECT_NEAR(groups[0].geomean_ql_ratio, 4.0, 1e-12);
  EXPECT_EQ(groups[1].rows, 2);
  EXPECT_EQ(groups[1].ratio_count, 1);  // the row without a baseline time is left out of the mean
  EXPECT_NEAR(groups[1].geomean_ratio, 1.0, 1e-12);
  EXPECT_NEAR(groups[2].geomean_ratio, 1.05, 1e-12);
  EXPECT_EQ(groups[3].name, "other M");
  EXPECT_EQ(groups[3].rows, 1);
}

TEST(ToolsBenchReportTest, DerivedFigures) {
  const auto r = row(8192, 1000, 1100);
  EXPECT_NEAR(r.ratio(), 1.1, 1e-12);
  EXPECT_NEAR(r.tops(), 2.0 * 8192 * 4096 * 4096 / 1e-3 / 1e12, 1e-6);
  const double bytes = 4096.0 * 4096 + 8192.0 * 4096 + 8192.0 * 4096 * 2;
  EXPECT_NEAR(r.gbps(ElementKind::BF16), bytes / 1e-3 / 1e9, 1e-6);
  EXPECT_EQ(row(1, 0, 5).ratio(), 0);
}

TEST(ToolsBenchReportTest, CsvQuotesLabelsAndMarkdownOmitsUnknownPeak) {
  tools::BenchContext ctx;
  ctx.device = "Test GPU";
  const std::vector<tools::BenchRow> rows = {row(16, 10, 12)};
  const std::string csv = tools::csv_report(ctx, rows);
  EXPECT_EQ(csv.rfind("label,n,k,m,", 0), 0u);
  EXPECT_NE(csv.find("\"llama-2-7b q_proj, llama-2-13b q_proj\",4096,4096,16,bf16,10.000,12.000,1.2000"),
            std::string::npos)
      << csv;
  const std::string md = tools::markdown_report(ctx, rows, tools::group_geomeans(rows));
  EXPECT_EQ(md.find("% peak"), std::string::npos);
  ctx.peak_tops = 1979;
  EXPECT_NE(tools::markdown_report(ctx, rows, tools::group_geomeans(rows)).find("% peak"), std::string::npos);
}

TEST(BenchHarnessTest, DenseInt8PeakByDeviceName) {
  EXPECT_EQ(bench::dense_int8_peak_tops("NVIDIA H100 80GB HBM3"), 1979.0);
  EXPECT_EQ(bench::dense_int8_peak_tops("NVIDIA H100 PCIe"), 1513.0);
  EXPECT_EQ(bench::dense_int8_peak_tops("NVIDIA H200"), 1979.0);
  EXPECT_EQ(bench::dense_int8_peak_tops("NVIDIA A100-SXM4-80GB"), 624.0);
  EXPECT_EQ(bench::dense_int8_peak_tops("NVIDIA L40S"), 733.0);
  EXPECT_FALSE(bench::dense_int8_peak_tops("NVIDIA L40").has_value());
  EXPECT_FALSE(bench::dense_int8_peak_tops("NVIDIA GeForce RTX 4090").has_value());
}

TEST(BenchHarnessTest, RotationCoversTwiceTheL2) {
  const std::int64_t l2 = 50 << 20;
  EXPECT_EQ(bench::rotation_copies(16 << 20, l2), 7);                           // 7 x 16 MiB >= 100 MiB
  EXPECT_EQ(bench::rotation_copies(std::size_t{1} << 30, l2), 2);               // never fewer than two
  EXPECT_EQ(bench::rotation_copies(1024, l2), 256);                             // capped
  EXPECT_GE(bench::rotation_copies(16 << 20, 0) * (16 << 20), 2 * (50 << 20));  // unknown L2: a generous guess
}

}  // namespace
}  // namespace qjit
#endif  // QJIT_HAVE_TOOLS
