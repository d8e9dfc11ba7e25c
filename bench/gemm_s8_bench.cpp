// Google Benchmark: qjit's two linear plans against cuBLASLt int8 (s8 x s8 -> s32, 64 MiB workspace, best of its
// heuristic's top 8) and bf16 cuBLASLt, on the same random data, for one model's shapes (data/llm_linear_shapes.csv; QJIT_BENCH_MODEL, default llama-2-7b)
// at M in {1, 16, 128, 2048, 8192}, plus the floors' probes (8192^3 and 4096x4096 at M = 1). Data, timing and weight
// rotation past the L2 come from perf/harness.h, which `qjit bench` shares. After the runs it prints a markdown table
// of times, TOPS and the qjit/cuBLASLt ratios. Without a GPU or cuBLASLt every benchmark is skipped with the reason.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "autotune/shapes.h"
#include "bench/shapes_file.h"
#include "perf/harness.h"
#include "runtime/device.h"
#include "runtime/env.h"

namespace qjit::bench {
namespace {

using namespace ::qjit::perf;  // NOLINT(google-build-using-namespace): the harness

// The model whose shapes are benchmarked: QJIT_BENCH_MODEL (a model name of the shape file), default llama-2-7b.
std::string bench_model() {
  const std::string v = env::text(env::Var::BenchModel);
  return v.empty() ? "llama-2-7b" : v;
}

struct Row {
  double qjit_ql = 0, qjit_sq = 0, lt_s8 = 0, lt_bf16 = 0;  // microseconds
  std::int64_t m = 0, n = 0, k = 0;
};
std::map<std::string, Row> g_rows;

// Each benchmark builds its own case (harness.h: weights rotated past the L2, bias on, the same seeds for all four
// contenders, so they see the same data) and reports the median of the harness's timing.
void run_case(benchmark::State& state, Contender which, std::int64_t m, std::int64_t n, std::int64_t k,
              const std::string& label) {
  auto dev = runtime::current_device();
  if (!dev.has_value()) {
    state.SkipWithError(("no GPU: " + dev.error().to_string()).c_str());
    return;
  }
  auto weights = make_weights(n, k, dev->l2_bytes, static_cast<std::int64_t>(dev->total_memory), 1234 + n * 13 + k,
                              /*with_bf16=*/true);
  if (!weights.has_value()) return state.SkipWithError(weights.error().to_string().c_str());
  auto data = make_case(*weights, m, ElementKind::BF16, /*has_bias=*/true, /*with_baseline=*/true, 99 + m * 7 + k);
  if (!data.has_value()) return state.SkipWithError(data.error().to_string().c_str());
  CUstream stream = nullptr;
  auto prepared = prepare(which, **data, PlanPreference::Heuristic, stream);
  if (!prepared.has_value()) return state.SkipWithError(prepared.error().to_string().c_str());
  state.SetLabel(prepared->description);
  double median = 0;
  for (auto _ : state) {
    auto t = autotune::median_launch_us(prepared->launch, stream, autotune::TimingOptions{});
    if (!t.has_value()) return state.SkipWithError(t.error().to_string().c_str());
    state.SetIterationTime(*t * 1e-6);
    median = *t;
  }
  const double ops = 2.0 * m * n * k;
  state.counters["TOPS"] = ops / (median * 1e-6) / 1e12;
  state.counters["us"] = median;
  Row& row = g_rows[label];
  row.m = m;
  row.n = n;
  row.k = k;
  (which == Contender::QjitQuantizedLinear ? row.qjit_ql
   : which == Contender::QjitSmoothQuant   ? row.qjit_sq
   : which == Contender::CublasLtS8        ? row.lt_s8
                                           : row.lt_bf16) = median;
}

void register_all() {
  struct Item {
    std::string name;
    std::int64_t m, n, k;
  };
  std::vector<Item> items;
  auto shapes = autotune::load_shapes(default_shapes_file());
  if (!shapes) std::fprintf(stderr, "gemm_s8_bench: %s\n", shapes.error().to_string().c_str());
  const std::string model = bench_model();
  if (shapes)
    for (const auto& s : *shapes)
      if (s.model == model)
        for (std::int64_t m : {1, 16, 128, 2048, 8192}) items.push_back({s.model + "/" + s.layer, m, s.n, s.k});
  items.push_back({"floor/square", 8192, 8192, 8192});
  const Contender contenders[] = {Contender::QjitQuantizedLinear, Contender::QjitSmoothQuant, Contender::CublasLtS8,
                                  Contender::CublasLtBf16};
  const char* which_names[] = {"qjit_quantized_linear_bf16", "qjit_smooth_quant_bf16", "cublaslt_s8s8s32",
                               "cublaslt_bf16"};
  for (const auto& it : items) {
    const std::string label = it.name + " M=" + std::to_string(it.m);
    for (int w = 0; w < 4; ++w) {
      const std::string bname = std::string(which_names[w]) + "/" + label;
      benchmark::RegisterBenchmark(bname.c_str(),
                                   [=](benchmark::State& st) { run_case(st, contenders[w], it.m, it.n, it.k, label); })
          ->UseManualTime()
          ->Iterations(3)
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

void print_table() {
  if (g_rows.empty()) return;
  std::printf(
      "\n| case | M | N | K | qjit QL us | qjit SQ us | cuBLASLt s8 us | cuBLASLt bf16 us | SQ TOPS | "
      "SQ/LT-s8 | QL/LT-bf16 |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  double log_sum = 0;
  int count = 0;
  for (const auto& [label, r] : g_rows) {
    const double tops = r.qjit_sq > 0 ? 2.0 * r.m * r.n * r.k / (r.qjit_sq * 1e-6) / 1e12 : 0;
    const double ratio_s8 = r.qjit_sq > 0 && r.lt_s8 > 0 ? r.lt_s8 / r.qjit_sq : 0;
    const double ratio_bf16 = r.qjit_ql > 0 && r.lt_bf16 > 0 ? r.lt_bf16 / r.qjit_ql : 0;
    if (ratio_s8 > 0) {
      log_sum += std::log(ratio_s8);
      ++count;
    }
    std::printf("| %s | %lld | %lld | %lld | %.1f | %.1f | %.1f | %.1f | %.0f | %.2f | %.2f |\n", label.c_str(),
                static_cast<long long>(r.m), static_cast<long long>(r.n), static_cast<long long>(r.k), r.qjit_ql,
                r.qjit_sq, r.lt_s8, r.lt_bf16, tops, ratio_s8, ratio_bf16);
  }
  if (count)
    std::printf("\ngeometric mean speed ratio qjit SQ / cuBLASLt s8: %.3f over %d cases\n", std::exp(log_sum / count),
                count);
}

}  // namespace
}  // namespace qjit::bench

int main(int argc, char** argv) {
  qjit::bench::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  qjit::bench::print_table();
  return 0;
}
