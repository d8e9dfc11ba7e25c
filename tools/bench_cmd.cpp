// `qjit bench`: the benchmark issue 16's bars are judged by. For every (N, K) of a shape file crossed with every M of
// --m it times, on the same random data and rotated weights (perf/harness.h), qjit's SmoothQuantLinearPlan GEMM
// interleaved with cuBLASLt int8 (64 MiB workspace, best of its heuristic's top 8, chosen before any timed batch), and
// qjit's QuantizedLinearPlan end to end (quantize + GEMM) interleaved with bf16 cuBLASLt (perf/interleave.h: A B A B
// ... over --rounds rounds, order rotated, each round the median of its batches), under the sustained and/or burst load
// regime, with stream launches or (--graph) CUDA-graph replays. Each side's SM clock and board power come from NVML
// where it is present. It checks qjit's output (and cuBLASLt's int32 accumulators) against exact host accumulators and
// reports times, ratios, TOPS, TOPS per GHz and per watt, GB/s, % of peak and per-regime M-range geomeans
// (tools/bench_report.h) as markdown, CSV (--csv) or JSON (--json). The shape file defaults to the copy installed
// beside the command (<prefix>/share/qjit/llm_linear_shapes.csv). Built without the CUDA toolkit headers it still times
// qjit and says the baseline is missing. Exit codes: 0 every row measured and checked, 1 no GPU or a row failed, 2 bad
// usage or a bad shape file.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "autotune/shapes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"
#include "ops/config_choice.h"
#include "perf/harness.h"
#include "perf/interleave.h"
#include "perf/nvml.h"
#include "runtime/device.h"
#include "runtime/safe_file.h"
#include "tools/bench_report.h"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

namespace cl = llvm::cl;
constexpr const char* kCommand = "bench";
constexpr const char* kShapesName = "llm_linear_shapes.csv";

struct Options {
  std::vector<autotune::WorkItem> items;
  ElementKind dtype = ElementKind::BF16;
  PlanPreference pref = PlanPreference::Heuristic;
  std::string pref_name;
  std::vector<perf::Regime> regimes;
  perf::InterleaveOptions timing;
  int graph_launches = 0;  // 0: max(16, the rotation's copies), at most 256
  std::string csv_path;
  bool json = false;
  bool aligned_layout = true;  // --layout aligned*: int8 rows padded (weights prepacked, scratch padded)
  std::size_t align_bytes = 128;  // aligned: 128 bytes; aligned16: 16 bytes
  bool neighbours = true;      // time an odd shape's aligned neighbour beside it
};

// An odd dimension's aligned neighbour: the nearest multiple of 64 (ties up), at least 64.
std::int64_t neighbour_dim(std::int64_t v) { return std::max<std::int64_t>(64, (v + 32) / 64 * 64); }
bool is_odd_item(const autotune::WorkItem& it) { return it.n % 16 != 0 || it.k % 16 != 0 || it.act_stride != 0; }

// The int8 weight row stride and activation views of an item under the --layout.
std::int64_t weight_ld(const autotune::WorkItem& it, const Options& o) {
  return o.aligned_layout ? perf::aligned_row_stride(it.k, 1, o.align_bytes) : it.k;
}
perf::ActLayout act_layout(const autotune::WorkItem& it, const Options& o) {
  perf::ActLayout l;
  l.act_fp = it.act_stride;  // the engine's FP activation as the shape file says
  // SmoothQuant's int8 activation: the shape file's stride, else (aligned) padded like every int8 operand.
  l.act_s8 = it.act_stride ? it.act_stride : (o.aligned_layout ? perf::aligned_row_stride(it.k, 1, o.align_bytes) : 0);
  l.act_q = o.aligned_layout ? perf::aligned_row_stride(it.k, 1, o.align_bytes) : 0;  // the plan's scratch
  return l;
}

// <prefix>/share/qjit/llm_linear_shapes.csv for the running executable at <prefix>/bin/qjit.
std::string installed_shapes_file(const char* argv0) {
  static int anchor = 0;
  const std::string exe = llvm::sys::fs::getMainExecutable(argv0, &anchor);
  if (exe.empty()) return "";
  llvm::SmallString<256> path(llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
  llvm::sys::path::append(path, "share", "qjit", kShapesName);
  return std::string(path);
}

void add_error(BenchRow& row, std::string_view what, const Status& st) {
  row.error += (row.error.empty() ? "" : "; ") + std::string(what) + ": " + st.to_string();
}

// One pair of sides (qjit's plan and its peer) prepared on `data`; a side that cannot be prepared is left out.
struct Pair {
  Impl qjit_impl, peer_impl;
  std::optional<perf::Prepared> qjit, peer;
  Impl aligned_impl = Impl::QjitAligned;
  std::optional<perf::Prepared> aligned;  // the odd shape's aligned neighbour, when timed
};
Pair prepare_pair(perf::Contender q, Impl qi, perf::Contender p, Impl pi, bool baseline, perf::CaseData& d,
                  const Options& o, CUstream stream, BenchRow& row) {
  Pair pair{qi, pi, std::nullopt, std::nullopt};
  if (auto prepared = perf::prepare(q, d, o.pref, stream); prepared.has_value())
    pair.qjit = std::move(*prepared);
  else
    add_error(row, perf::contender_name(q), prepared.error());
  if (!baseline) return pair;
  // A peer that refuses the shape (cuBLASLt has no algorithm for a row stride that is not 16-byte aligned) is a
  // finding, not a failure of this run: its cell stays empty and its algorithm column says why.
  if (auto prepared = perf::prepare(p, d, o.pref, stream); prepared.has_value())
    pair.peer = std::move(*prepared);
  else
    row.side(pi).what = "refused: " + prepared.error().to_string();
  return pair;
}

// Times a pair interleaved into `row` (both sides, or the one that was prepared).
void time_pair(const Pair& pair, const perf::InterleaveOptions& t, CUstream stream, const perf::Nvml* nvml,
               BenchRow& row) {
  std::vector<perf::Launch> sides;
  std::vector<const perf::Prepared*> prepared;
  std::vector<Impl> impls;
  if (pair.qjit) sides.push_back(pair.qjit->launch), prepared.push_back(&*pair.qjit), impls.push_back(pair.qjit_impl);
  if (pair.peer) sides.push_back(pair.peer->launch), prepared.push_back(&*pair.peer), impls.push_back(pair.peer_impl);
  if (pair.aligned)
    sides.push_back(pair.aligned->launch), prepared.push_back(&*pair.aligned), impls.push_back(pair.aligned_impl);
  if (sides.empty()) return;
  auto timed = perf::time_interleaved(sides, stream, t, nvml);
  if (!timed.has_value()) {
    add_error(row, impl_info(pair.qjit_impl).column, timed.error());
    return;
  }
  for (std::size_t i = 0; i < sides.size(); ++i) {
    Side& s = row.side(impls[i]);
    s.us = (*timed)[i].us;
    s.mhz = (*timed)[i].clock.sm_mhz;
    s.watts = (*timed)[i].clock.power_w;
    s.what = prepared[i]->description;
  }
}

// Runs every item; returns the rows (a failing item becomes a row with its error, the run goes on).
std::vector<BenchRow> run_items(const Options& o, const runtime::DeviceInfo& dev, bool baseline, CUstream stream,
                                const perf::Nvml* nvml) {
  std::vector<BenchRow> rows;
  std::shared_ptr<perf::WeightSet> weights, neighbour_weights;
  for (std::size_t i = 0; i < o.items.size(); ++i) {
    const autotune::WorkItem& it = o.items[i];
    BenchRow base;
    base.label = it.label;
    base.n = it.n;
    base.k = it.k;
    base.m = it.m;
    base.act_stride = it.act_stride;
    const bool with_neighbour = o.neighbours && is_odd_item(it);
    if (with_neighbour) base.aligned_n = neighbour_dim(it.n), base.aligned_k = neighbour_dim(it.k);
    base.rounds = o.timing.rounds;
    base.mode = std::string(perf::mode_name(o.timing.mode));
    auto fail_all = [&](const std::string& what, const Status& st) {
      for (perf::Regime r : o.regimes) {
        BenchRow row = base;
        row.regime = std::string(perf::regime_name(r));
        add_error(row, what, st);
        rows.push_back(std::move(row));
      }
    };
    std::fprintf(stderr, "[%zu/%zu] %s N=%lld K=%lld M=%lld\n", i + 1, o.items.size(), it.label.c_str(),
                 static_cast<long long>(it.n), static_cast<long long>(it.k), static_cast<long long>(it.m));
    // Weights are shared by every M of a shape (the items are ordered by (N, K, M)); the old set is freed first.
    // With a neighbour, each weight set gets half the memory the rotation may use.
    const auto memory = static_cast<std::int64_t>(dev.total_memory) / (o.neighbours ? 2 : 1);
    if (!weights || weights->n != it.n || weights->k != it.k || weights->ld != weight_ld(it, o)) {
      weights.reset();
      auto w = perf::make_weights(it.n, it.k, dev.l2_bytes, memory,
                                  0x5eed0000 + static_cast<std::uint64_t>(it.n * 31 + it.k), baseline,
                                  weight_ld(it, o));
      if (!w.has_value()) {
        fail_all("weights", w.error());
        continue;
      }
      weights = *w;
    }
    if (with_neighbour && (!neighbour_weights || neighbour_weights->n != base.aligned_n ||
                           neighbour_weights->k != base.aligned_k)) {
      neighbour_weights.reset();
      auto w = perf::make_weights(base.aligned_n, base.aligned_k, dev.l2_bytes, memory,
                                  0x5eed0000 + static_cast<std::uint64_t>(base.aligned_n * 31 + base.aligned_k),
                                  /*with_bf16=*/false);
      if (!w.has_value()) {
        fail_all("neighbour weights", w.error());
        continue;
      }
      neighbour_weights = *w;
    }
    auto data = perf::make_case(weights, it.m, o.dtype, /*has_bias=*/false, baseline,
                                0xa11ce000 + static_cast<std::uint64_t>(it.m * 7 + it.k), act_layout(it, o));
    if (!data.has_value()) {
      fail_all("data", data.error());
      continue;
    }
    perf::CaseData& d = **data;
    // Plans selected and cuBLASLt's algorithms searched here, before any timed batch.
    BenchRow prepared_row = base;
    Pair gemm = prepare_pair(perf::Contender::QjitSmoothQuant, Impl::Qjit, perf::Contender::CublasLtS8,
                                   Impl::CublasLtS8, baseline, d, o, stream, prepared_row);
    Pair ql = prepare_pair(perf::Contender::QjitQuantizedLinear, Impl::Ql, perf::Contender::CublasLtBf16,
                           Impl::CublasLtBf16, baseline, d, o, stream, prepared_row);
    std::unique_ptr<perf::CaseData> neighbour;
    if (with_neighbour) {
      auto nd = perf::make_case(neighbour_weights, it.m, o.dtype, /*has_bias=*/false, /*with_baseline=*/false,
                                0xa11ce000 + static_cast<std::uint64_t>(it.m * 7 + base.aligned_k));
      if (!nd.has_value()) {
        add_error(prepared_row, "neighbour data", nd.error());
      } else {
        neighbour = std::move(*nd);
        for (auto [pair, c] : {std::pair{&gemm, perf::Contender::QjitSmoothQuant},
                               std::pair{&ql, perf::Contender::QjitQuantizedLinear}}) {
          pair->aligned_impl = c == perf::Contender::QjitSmoothQuant ? Impl::QjitAligned : Impl::QlAligned;
          if (auto p = perf::prepare(c, *neighbour, o.pref, stream); p.has_value())
            pair->aligned = std::move(*p);
          else
            add_error(prepared_row, "neighbour", p.error());
        }
      }
    }
    perf::InterleaveOptions t = o.timing;
    t.graph_launches = o.graph_launches > 0 ? o.graph_launches : std::clamp(weights->copies, 16, 256);
    bool checked = false;
    for (perf::Regime regime : o.regimes) {
      BenchRow row = prepared_row;
      row.regime = std::string(perf::regime_name(regime));
      t.regime = regime;
      time_pair(gemm, t, stream, nvml, row);
      if (!checked && row.side(Impl::Qjit).us > 0 && row.side(Impl::CublasLtS8).us > 0) {
        // Both GEMM sides last ran on the same activation (any weight copy: they hold the same values).
        checked = true;
        auto check = perf::check_smooth_quant_against_baseline(d);
        if (!check.has_value())
          add_error(row, "check", check.error());
        else if (check->ok())
          prepared_row.check = row.check = "ok";
        else
          prepared_row.check = row.check = llvm::formatv("MISMATCH {0}/{1} elements, max rel. error {2:e}",
                                                         check->mismatches, check->compared, check->max_rel_error)
                                               .str();
        if (check.has_value() && check->baseline_mismatches > 0) {
          // The peer's own answer is wrong there: the table says so and its ratio leaves the geomeans.
          prepared_row.check = row.check += llvm::formatv("; cuBLASLt s8 WRONG {0}/{1} accumulators",
                                                         check->baseline_mismatches, check->compared)
                                                .str();
          prepared_row.s8_peer_wrong = row.s8_peer_wrong = true;
        }
      }
      time_pair(ql, t, stream, nvml, row);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string method_line(const Options& o) {
  std::string regimes;
  for (perf::Regime r : o.regimes) regimes += (regimes.empty() ? "" : " and ") + std::string(perf::regime_name(r));
  std::string line =
      llvm::formatv(
          "interleaved A B A B over {0} rounds (order rotated), each the median of its "
          "batches; regime {1} (sustained: {2} ms back to back per side per round; burst: "
          "{3} batches of {4} with {5} us idle gaps)",
          o.timing.rounds, regimes, o.timing.sustain_ms, o.timing.batches, o.timing.batch, o.timing.burst_gap_us)
          .str();
  if (o.timing.mode == perf::LaunchMode::Graph)
    line += "; CUDA graphs of " +
            (o.graph_launches ? std::to_string(o.graph_launches) : std::string("max(16, weight copies)")) +
            " launches replayed";
  return line;
}

}  // namespace

int run_bench_command(int argc, char** argv) {
  // NOTE: static: cl keeps a pointer to every category ever constructed (the help printer walks them).
  static cl::OptionCategory cat("qjit bench options");
  const std::string installed = installed_shapes_file(argc > 0 ? argv[0] : "qjit");
  // NOTE: cl::desc keeps a StringRef, so the text must outlive the option.
  const std::string shapes_desc = "model shape file (model,layer,N,K lines; default: the installed " +
                                  std::string(kShapesName) + ", " + installed + ")";
  cl::opt<std::string> shapes_opt("shapes", cl::desc(shapes_desc), cl::value_desc("file.csv"), cl::cat(cat));
  cl::opt<std::string> m_opt("m", cl::desc("comma-separated token counts (default 1,16,128,2048,8192)"),
                             cl::init("1,16,128,2048,8192"), cl::cat(cat));
  cl::opt<std::string> dtype_opt("dtype", cl::desc("qjit's activation/output type: bf16 | f16 | f32 (default bf16)"),
                                 cl::init("bf16"), cl::cat(cat));
  cl::opt<std::string> pref_opt("pref", cl::desc("how qjit picks configs: heuristic | tuned (default heuristic)"),
                                cl::init("heuristic"), cl::cat(cat));
  cl::opt<std::string> filter_opt("filter", cl::desc("only items whose '<label> N=<n> K=<k>' matches this regex"),
                                  cl::value_desc("regex"), cl::cat(cat));
  cl::opt<std::string> regime_opt("regime",
                                  cl::desc("load regime: sustained (each side ~--sustain-ms back to back per round, "
                                           "the board at its power limit) | burst (short batches, idle gaps) | both "
                                           "(default both)"),
                                  cl::init("both"), cl::cat(cat));
  cl::opt<int> rounds_opt("rounds", cl::desc("interleaved rounds, order rotated; the median is reported (default 5)"),
                          cl::init(5), cl::cat(cat));
  cl::opt<int> iters_opt("iters", cl::desc("burst: timed batches per side per round (default 30)"), cl::init(30),
                         cl::cat(cat));
  cl::opt<int> batch_opt("batch", cl::desc("burst: launches per batch (default 5)"), cl::init(5), cl::cat(cat));
  cl::opt<int> warmup_opt("warmup", cl::desc("launches per side before its first round (default 5)"), cl::init(5),
                          cl::cat(cat));
  cl::opt<int> sustain_opt("sustain-ms", cl::desc("sustained: milliseconds per side per round (default 1000)"),
                           cl::init(1000), cl::cat(cat));
  cl::opt<int> gap_opt("burst-gap-us", cl::desc("burst: idle microseconds after each batch (default 500)"),
                       cl::init(500), cl::cat(cat));
  cl::opt<bool> graph_opt("graph", cl::desc("capture each side as a CUDA graph of N launches and time its replays"),
                          cl::cat(cat));
  cl::opt<int> graph_n_opt("graph-launches",
                           cl::desc("--graph: launches per graph (default max(16, weight copies), at most 256)"),
                           cl::init(0), cl::cat(cat));
  cl::opt<std::string> csv_opt("csv", cl::desc("also write the rows as CSV (for bench/plot_bench.py)"),
                               cl::value_desc("out.csv"), cl::cat(cat));
  cl::opt<bool> json_opt("json", cl::desc("print JSON instead of the markdown table"), cl::cat(cat));
  cl::opt<std::string> layout_opt(
      "layout",
      cl::desc("int8 row layout: aligned (weights prepacked and act_q scratch padded to 128-byte rows, as docs/PERF.md "
               "recommends for odd K) | aligned16 (16-byte rows, TMA's minimum) | contiguous (every row exactly K) "
               "(default aligned)"),
      cl::init("aligned"), cl::cat(cat));
  cl::opt<bool> no_neighbours_opt(
      "no-neighbours",
      cl::desc("do not time an odd shape's aligned neighbour (N, K to the nearest multiple of 64) beside it"),
      cl::cat(cat));
  OptionScope option_scope(cat);
  cl::HideUnrelatedOptions(cat);
  std::string overview =
      "qjit bench: qjit against cuBLASLt (int8 and bf16), interleaved, over a model's layer shapes\n\n"
      "  qjit bench --m 1,16,128,2048,8192 --regime both --csv out.csv\n"
      "  qjit bench --shapes my_model.csv --m 1,16,64 --graph --regime burst\n"
      "  qjit bench --shapes <prefix>/share/qjit/odd_shapes.csv --m 1,16,128,2048,8192   (odd shapes vs neighbours)\n";
  if (!perf::built_with_cublaslt())
    overview +=
        "\nThis qjit was built without the cuBLASLt baseline (no CUDA toolkit headers at configure time): it "
        "times qjit only.\n";
  if (!parse_command_line(argc, argv, kCommand, overview.c_str())) return kExitUsage;

  Options o;
  std::string shapes_path = shapes_opt;
  if (shapes_path.empty()) {
    if (installed.empty() || !llvm::sys::fs::exists(installed))
      return usage_error(kCommand, "--shapes is required (a model,layer,N,K file): no " + std::string(kShapesName) +
                                       " is installed beside this qjit (looked for " + installed + ")");
    shapes_path = installed;
  }
  auto ms = autotune::parse_m_list(m_opt);
  if (!ms) return usage_error(kCommand, "--m: " + ms.error().message());
  auto dtype = parse_dtype(dtype_opt, "--dtype");
  if (!dtype) return usage_error(kCommand, dtype.error().message());
  o.dtype = *dtype;
  auto pref = parse_preference(pref_opt, "--pref");
  if (!pref) return usage_error(kCommand, pref.error().message());
  o.pref = *pref;
  o.pref_name = pref_opt;
  auto regimes = perf::parse_regimes(regime_opt, "--regime");
  if (!regimes) return usage_error(kCommand, regimes.error().message());
  o.regimes = *regimes;
  o.timing.rounds = rounds_opt;
  o.timing.batches = iters_opt;
  o.timing.batch = batch_opt;
  o.timing.warmup = warmup_opt;
  o.timing.sustain_ms = sustain_opt;
  o.timing.burst_gap_us = gap_opt;
  o.timing.mode = graph_opt ? perf::LaunchMode::Graph : perf::LaunchMode::Stream;
  if (graph_n_opt.getNumOccurrences() && !graph_opt) return usage_error(kCommand, "--graph-launches needs --graph");
  if (graph_n_opt != 0) o.timing.graph_launches = graph_n_opt;
  if (Status st = perf::validate(o.timing); !st.ok()) return usage_error(kCommand, st.message());
  o.graph_launches = graph_n_opt;
  o.csv_path = csv_opt;
  o.json = json_opt;
  if (layout_opt != "aligned" && layout_opt != "aligned16" && layout_opt != "contiguous")
    return usage_error(kCommand, "--layout must be aligned, aligned16 or contiguous, got '" + layout_opt + "'");
  o.aligned_layout = layout_opt != "contiguous";
  o.align_bytes = layout_opt == "aligned16" ? 16 : 128;
  o.neighbours = !no_neighbours_opt;
  std::optional<llvm::Regex> filter;
  if (filter_opt.getNumOccurrences()) {
    filter.emplace(filter_opt.getValue());
    std::string why;
    if (!filter->isValid(why)) return usage_error(kCommand, "--filter '" + filter_opt + "' is not a regex: " + why);
  }
  auto shapes = autotune::load_shapes(shapes_path);
  if (!shapes) return usage_error(kCommand, "--shapes: " + shapes.error().message());
  const auto all = autotune::work_items(*shapes, *ms, /*views=*/true);
  for (const auto& it : all)
    if (!filter || filter->match(llvm::formatv("{0} N={1} K={2}", it.label, it.n, it.k).str())) o.items.push_back(it);
  if (o.items.empty())
    return usage_error(kCommand, "--filter '" + filter_opt + "' matches none of the " + std::to_string(all.size()) +
                                     " items of " + shapes_path);

  auto dev = runtime::current_device();
  if (!dev)
    return failure(kCommand, Status(dev.error().code(), "no GPU to time on: " + dev.error().message() +
                                                            " (qjit inspect and qjit warmup work without one)"));
  const Status baseline = perf::cublaslt_baseline_status();
  if (!baseline.ok()) std::fprintf(stderr, "qjit bench: timing qjit only: %s\n", baseline.message().c_str());
  auto nvml = perf::Nvml::open(dev->ordinal);
  if (!nvml.has_value())
    std::fprintf(stderr, "qjit bench: no clock or power readings (NVML): %s\n", nvml.error().message().c_str());
  // One created stream for everything (graph capture cannot use the legacy default stream).
  auto api = runtime::driver();
  if (!api) return failure(kCommand, api.error());
  CUstream stream = nullptr;
  if (const auto rc = (*api)->cuStreamCreate(&stream, 0); rc != runtime::kCudaSuccess)
    return failure(kCommand, runtime::driver_error(**api, rc, "cuStreamCreate"));

  const std::vector<BenchRow> rows =
      run_items(o, *dev, baseline.ok(), stream, nvml.has_value() ? nvml->get() : nullptr);
  (*api)->cuStreamSynchronize(stream);
  (*api)->cuStreamDestroy(stream);
  const auto groups = group_geomeans(rows);
  BenchContext ctx;
  ctx.device = dev->name;
  ctx.arch = codegen::arch_option(ops::target_arch(*dev));
  ctx.sm_count = dev->sm_count;
  ctx.l2_bytes = dev->l2_bytes;
  ctx.peak_tops = perf::dense_int8_peak_tops(dev->name);
  ctx.dtype = o.dtype;
  ctx.pref = o.pref_name;
  ctx.iters = o.timing.batches;
  ctx.warmup = o.timing.warmup;
  ctx.rounds = o.timing.rounds;
  ctx.method = method_line(o);
  ctx.layout = layout_opt;
  if (!baseline.ok()) ctx.baseline_note = baseline.message();
  if (!nvml.has_value()) ctx.nvml_note = nvml.error().message();

  if (o.json) {
    llvm::outs() << llvm::formatv("{0:2}", json_report(ctx, rows, groups)) << "\n";
    llvm::outs().flush();
  } else {
    std::fputs(markdown_report(ctx, rows, groups).c_str(), stdout);
    std::fflush(stdout);
  }
  if (!o.csv_path.empty()) {
    const runtime::WriteRules rules{.what = "--csv file", .code = StatusCode::CacheIo};
    if (Status st = runtime::write_file_atomically(o.csv_path, csv_report(ctx, rows), rules); !st.ok())
      return failure(kCommand, st);
  }
  int failed = 0;
  for (const auto& r : rows) failed += (!r.error.empty() || r.check.rfind("MISMATCH", 0) == 0) ? 1 : 0;
  if (failed) {
    std::fprintf(stderr, "qjit bench: %d of %zu rows failed or mismatched (see the table)\n", failed, rows.size());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace qjit::tools
