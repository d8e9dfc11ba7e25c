// `qjit bench` without a GPU: every argument error exits 2 with a message naming the flag (or the shape file's
// line), a valid command on a machine without a GPU exits 1 saying so, and the pure parts -- the per-regime M-range
// geomeans, the CSV header (shared with bench/peers.py) and quoting, the peak table, the L2 rotation rule the tuner
// shares, the interleaving order, the NVML-absent path -- compute what the bars need.
#if QJIT_HAVE_TOOLS
#include <cmath>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "autotune/timing.h"
#include "perf/harness.h"
#include "perf/interleave.h"
#include "perf/nvml.h"
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

TEST(ToolsBenchArgsTest, InterleavingFlagsNameThemselves) {
  expect_usage_error({"--shapes", kShapes, "--regime", "steady"},
                     "--regime must be sustained, burst or both, got 'steady'");
  expect_usage_error({"--shapes", kShapes, "--rounds", "0"}, "--rounds must be in [1, 1000], got 0");
  expect_usage_error({"--shapes", kShapes, "--batch", "0"}, "--batch");
  expect_usage_error({"--shapes", kShapes, "--sustain-ms", "0"}, "--sustain-ms");
  expect_usage_error({"--shapes", kShapes, "--burst-gap-us", "-1"}, "--burst-gap-us");
  expect_usage_error({"--shapes", kShapes, "--graph-launches", "8"}, "--graph-launches needs --graph");
  expect_usage_error({"--shapes", kShapes, "--graph", "--graph-launches", "5000"}, "--graph-launches must be in");
}

TEST(ToolsBenchArgsTest, WithoutShapesTheInstalledFileIsNamed) {
  // The test binary has no share/qjit/ beside it, so the error says where the installed copy was looked for.
  const auto r = bench({});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("share/qjit/llm_linear_shapes.csv"), std::string::npos) << r.err;
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

tools::BenchRow row(std::int64_t m, double qjit_us, double lt_us, double ql_us = 0, double bf16_us = 0,
                    const char* regime = "burst") {
  tools::BenchRow r;
  r.label = "llama-2-7b q_proj, llama-2-13b q_proj";
  r.n = 4096;
  r.k = 4096;
  r.m = m;
  r.regime = regime;
  r.side(tools::Impl::Qjit).us = qjit_us;
  r.side(tools::Impl::CublasLtS8).us = lt_us;
  r.side(tools::Impl::Ql).us = ql_us;
  r.side(tools::Impl::CublasLtBf16).us = bf16_us;
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

// A peer whose answer failed the exact check keeps its time in the row but not its ratio in the geomeans.
TEST(ToolsBenchReportTest, AWrongPeerLeavesTheGeomeans) {
  std::vector<tools::BenchRow> rows = {row(2048, 10, 20, 10, 30), row(2048, 10, 400, 10, 30)};
  rows[1].s8_peer_wrong = true;
  const auto groups = tools::group_geomeans(rows);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[2].rows, 2);
  EXPECT_EQ(groups[2].ratio_count, 1);
  EXPECT_NEAR(groups[2].geomean_ratio, 2.0, 1e-12);
  EXPECT_EQ(groups[2].ql_ratio_count, 2);  // the bf16 peer's ratio stays
  EXPECT_NEAR(rows[1].ratio(), 40.0, 1e-12);
}

TEST(ToolsBenchReportTest, GeomeansAreKeptApartPerRegimeAndMode) {
  std::vector<tools::BenchRow> rows = {row(16, 10, 20, 0, 0, "sustained"), row(16, 10, 11, 0, 0, "burst"),
                                       row(16, 10, 12, 0, 0, "burst")};
  rows[2].mode = "graph";
  const auto groups = tools::group_geomeans(rows);
  ASSERT_EQ(groups.size(), 9u);  // three (regime, mode) pairs x three M ranges
  EXPECT_EQ(groups[0].regime, "sustained");
  EXPECT_NEAR(groups[0].geomean_ratio, 2.0, 1e-12);
  EXPECT_EQ(groups[3].regime, "burst");
  EXPECT_EQ(groups[3].mode, "stream");
  EXPECT_NEAR(groups[3].geomean_ratio, 1.1, 1e-12);
  EXPECT_EQ(groups[6].mode, "graph");
  EXPECT_NEAR(groups[6].geomean_ratio, 1.2, 1e-12);
}

TEST(ToolsBenchReportTest, ClockAndPowerGiveTopsPerGhzAndPerWatt) {
  auto r = row(8192, 1000, 1100);
  EXPECT_EQ(r.tops_per_ghz(), 0);  // no clock reading: no figure
  r.side(tools::Impl::Qjit).mhz = 1500;
  r.side(tools::Impl::Qjit).watts = 600;
  EXPECT_NEAR(r.tops_per_ghz(), r.tops() / 1.5, 1e-9);
  EXPECT_NEAR(r.tops_per_watt(), r.tops() / 600, 1e-12);
  r.side(tools::Impl::TorchIntMm).us = 1500;
  EXPECT_NEAR(r.ratio(tools::Impl::TorchIntMm), 1.5, 1e-12);
  r.side(tools::Impl::TorchBf16).us = 100;
  EXPECT_EQ(r.ratio(tools::Impl::TorchBf16), 0);  // its reference (QuantizedLinear) was not measured
}

TEST(ToolsBenchReportTest, CsvHeaderIsTheOnePeersPyWrites) {
  const std::string header = tools::csv_header();
  EXPECT_EQ(
      header.rfind("label,n,k,m,dtype,regime,mode,rounds,qjit_us,qjit_mhz,qjit_w,qjit_tops,qjit_tops_per_ghz,", 0), 0u)
      << header;
  for (const char* column : {",cublaslt_s8_us,", ",ratio,", ",torch_int_mm_ratio,", ",triton_s8_us,", ",ql_ratio,",
                             ",torch_bf16_w,", ",device,error"})
    EXPECT_NE(header.find(column), std::string::npos) << column;
  std::ifstream in(std::string(QJIT_SOURCE_DIR) + "/bench/peers.py");
  ASSERT_TRUE(in) << "bench/peers.py";
  const std::string peers((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(peers.find("CSV_HEADER = \"" + header + "\""), std::string::npos)
      << "bench/peers.py's CSV_HEADER differs from tools/bench_report.cpp's csv_header():\n"
      << header;
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
  EXPECT_EQ(csv.rfind(tools::csv_header() + "\n", 0), 0u);
  EXPECT_NE(csv.find("\"llama-2-7b q_proj, llama-2-13b q_proj\",4096,4096,16,bf16,burst,stream,0,10.000,,,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",12.000,,,1.2000,"), std::string::npos) << csv;
  const std::string md = tools::markdown_report(ctx, rows, tools::group_geomeans(rows));
  EXPECT_EQ(md.find("% peak"), std::string::npos);
  ctx.peak_tops = 1979;
  EXPECT_NE(tools::markdown_report(ctx, rows, tools::group_geomeans(rows)).find("% peak"), std::string::npos);
}

// Issue 15: an odd shape's aligned neighbour is timed beside it; the report gives the slowdown (this / neighbour).
TEST(ToolsBenchReportTest, OddShapesReportTheirAlignedNeighbour) {
  tools::BenchContext ctx;
  ctx.device = "Test GPU";
  tools::BenchRow r = row(16, 10, 12);
  r.k = 4095;
  r.aligned_n = 4096;
  r.aligned_k = 4096;
  r.side(tools::Impl::QjitAligned).us = 8;
  r.side(tools::Impl::Ql).us = 20;
  r.side(tools::Impl::QlAligned).us = 16;
  EXPECT_NEAR(r.ratio(tools::Impl::QjitAligned), 0.8, 1e-12);
  const std::vector<tools::BenchRow> rows = {r, row(16, 10, 12)};
  const std::string md = tools::markdown_report(ctx, rows, tools::group_geomeans(rows));
  EXPECT_NE(md.find("### odd shapes beside their aligned neighbours (aligned layout"), std::string::npos) << md;
  EXPECT_NE(md.find("| 4096 x 4096 | 10.0 | 8.0 | 1.250 | 20.0 | 16.0 | 1.250 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| burst | stream | 1 | 1.250 | 1.250 | 1.250 | 1.250 |"), std::string::npos) << md;
  const std::string csv = tools::csv_report(ctx, rows);
  EXPECT_NE(csv.find(",,4096,4096,aligned\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",8.000,,,0.8000,"), std::string::npos) << csv;
}

// A peer that refuses a shape (cuBLASLt at a row stride that is not 16-byte aligned) leaves its cell empty and says
// so in the check cell and in its algorithm column; it is not an error of the row.
TEST(ToolsBenchReportTest, APeerThatRefusesTheShapeIsNotedNotAnError) {
  tools::BenchContext ctx;
  ctx.device = "Test GPU";
  tools::BenchRow r = row(16, 10, 0, 12, 11);
  r.k = 4095;
  r.side(tools::Impl::CublasLtS8).what = "refused: unsupported: no cuBLASLt algorithm";
  const std::vector<tools::BenchRow> rows = {r};
  EXPECT_TRUE(rows[0].error.empty());
  const std::string md = tools::markdown_report(ctx, rows, tools::group_geomeans(rows));
  EXPECT_NE(md.find("| n/a; cublaslt_s8 refused: unsupported: no cuBLASLt algorithm |"), std::string::npos) << md;
  EXPECT_EQ(md.find("ERROR"), std::string::npos) << md;
  EXPECT_NE(tools::csv_report(ctx, rows).find(",refused: unsupported: no cuBLASLt algorithm,"), std::string::npos);
}

TEST(ToolsBenchArgsTest, LayoutMustBeAlignedOrContiguous) {
  expect_usage_error({"--shapes", kShapes, "--layout", "padded"}, "--layout must be aligned, aligned16 or contiguous, got 'padded'");
}

TEST(BenchHarnessTest, DenseInt8PeakByDeviceName) {
  EXPECT_EQ(perf::dense_int8_peak_tops("NVIDIA H100 80GB HBM3"), 1979.0);
  EXPECT_EQ(perf::dense_int8_peak_tops("NVIDIA H100 PCIe"), 1513.0);
  EXPECT_EQ(perf::dense_int8_peak_tops("NVIDIA H200"), 1979.0);
  EXPECT_EQ(perf::dense_int8_peak_tops("NVIDIA A100-SXM4-80GB"), 624.0);
  EXPECT_EQ(perf::dense_int8_peak_tops("NVIDIA L40S"), 733.0);
  EXPECT_FALSE(perf::dense_int8_peak_tops("NVIDIA L40").has_value());
  EXPECT_FALSE(perf::dense_int8_peak_tops("NVIDIA GeForce RTX 4090").has_value());
}

// The one rotation rule the autotuner and the benches share (autotune/timing.h).
TEST(TimingRotationTest, CoversTwiceTheL2WithinItsBounds) {
  const std::int64_t l2 = 50 << 20, mem = std::int64_t{80} << 30;
  EXPECT_EQ(autotune::rotation_copies(16 << 20, l2, mem), 7);                         // 7 x 16 MiB >= 100 MiB
  EXPECT_EQ(autotune::rotation_copies(std::size_t{1} << 30, l2, mem), 2);             // never fewer than two
  EXPECT_EQ(autotune::rotation_copies(1024, l2, mem), autotune::kMaxRotationCopies);  // capped
  EXPECT_EQ(autotune::kMaxRotationCopies, 256);
  EXPECT_GE(autotune::rotation_copies(16 << 20, 0, mem) * (16 << 20), 2 * (50 << 20));  // unknown L2: generous
  // At most an eighth of the device's memory: a 3 GiB operand on a 16 GiB device gets one copy, not two.
  EXPECT_EQ(autotune::rotation_copies(std::size_t{3} << 30, l2, std::int64_t{16} << 30), 1);
  EXPECT_EQ(autotune::rotation_copies(std::size_t{1} << 20, l2, std::int64_t{80} << 20), 10);  // 10 MiB budget
}

TEST(TimingRotationTest, BadTimingOptionsAreRejectedBeforeTheDriver) {
  autotune::TimingOptions o;
  o.reps = 0;
  auto r = autotune::batch_launch_us([](int) { return Status(); }, nullptr, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::InvalidArgument);
  EXPECT_NE(r.error().message().find("reps"), std::string::npos);
  EXPECT_EQ(autotune::median({3, 1, 2}), 2);
  EXPECT_EQ(autotune::median({4, 1, 3, 2}), 3);  // the upper middle, as the tuner has always reported
  EXPECT_EQ(autotune::median({}), 0);
}

TEST(PerfInterleaveTest, RoundOrderRotatesSoEverySideGoesFirstEquallyOften) {
  EXPECT_EQ(perf::round_order(0, 2), (std::vector<int>{0, 1}));
  EXPECT_EQ(perf::round_order(1, 2), (std::vector<int>{1, 0}));
  EXPECT_EQ(perf::round_order(2, 2), (std::vector<int>{0, 1}));
  EXPECT_EQ(perf::round_order(4, 3), (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(perf::round_order(0, 1), (std::vector<int>{0}));
  EXPECT_TRUE(perf::round_order(3, 0).empty());
  std::vector<int> firsts(3, 0);
  for (int r = 0; r < 6; ++r) ++firsts[perf::round_order(r, 3).front()];
  EXPECT_EQ(firsts, (std::vector<int>{2, 2, 2}));
}

TEST(PerfInterleaveTest, RegimesAndOptions) {
  EXPECT_EQ(*perf::parse_regimes("both", "--regime"),
            (std::vector<perf::Regime>{perf::Regime::Sustained, perf::Regime::Burst}));
  EXPECT_EQ(*perf::parse_regimes("burst", "--regime"), (std::vector<perf::Regime>{perf::Regime::Burst}));
  auto bad = perf::parse_regimes("Burst", "--regime");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("--regime must be sustained, burst or both, got 'Burst'"), std::string::npos);
  EXPECT_EQ(perf::regime_name(perf::Regime::Sustained), "sustained");
  EXPECT_EQ(perf::mode_name(perf::LaunchMode::Graph), "graph");
  perf::InterleaveOptions o;
  EXPECT_TRUE(perf::validate(o).ok());
  EXPECT_GE(o.rounds, 5);  // the default the issue asks for
  o.rounds = 0;
  EXPECT_NE(perf::validate(o).message().find("--rounds"), std::string::npos);
  // A side set that cannot be timed is rejected before any device work.
  auto timed = perf::time_interleaved({}, nullptr, o, nullptr);
  ASSERT_FALSE(timed.has_value());
  EXPECT_EQ(timed.error().code(), StatusCode::InvalidArgument);
}

TEST(PerfNvmlTest, AbsentLibraryIsUnsupportedAndTheSamplerReadsNothing) {
  auto nvml = perf::Nvml::open(0, "/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(nvml.has_value());
  EXPECT_EQ(nvml.error().code(), StatusCode::Unsupported);
  EXPECT_NE(nvml.error().message().find("NVML"), std::string::npos) << nvml.error().message();
  perf::ClockPowerSampler sampler(nullptr);
  sampler.start();
  const perf::ClockPower cp = sampler.stop();
  EXPECT_EQ(cp.samples, 0);
  EXPECT_EQ(cp.sm_mhz, 0);
}

TEST(PerfNvmlTest, PciBusIdSpellingAndWeightedMeans) {
  EXPECT_EQ(perf::nvml_pci_bus_id(0, 0x1b, 0), "00000000:1B:00.0");
  EXPECT_EQ(perf::nvml_pci_bus_id(1, 255, 31), "00000001:FF:1F.0");
  perf::ClockPower a{1800, 600, 3};
  a.add(perf::ClockPower{1400, 400, 1});
  EXPECT_EQ(a.samples, 4);
  EXPECT_NEAR(a.sm_mhz, 1700, 1e-9);
  EXPECT_NEAR(a.power_w, 550, 1e-9);
  a.add(perf::ClockPower{});  // an empty window changes nothing
  EXPECT_EQ(a.samples, 4);
}

}  // namespace
}  // namespace qjit
#endif  // QJIT_HAVE_TOOLS
