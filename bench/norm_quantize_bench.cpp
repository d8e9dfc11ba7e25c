// Google Benchmark: the fused norm + quantize plans (RmsNormQuantizePlan<bf16>, with and without a residual, and
// LayerNormQuantizePlan<bf16>) against
//  - copy: cuMemcpyDtoDAsync of the same traffic (the fused pass reads 2 bytes of x (+ 2 of residual) and writes
//    1 of q (+ 2 of residual_out) per element, + 4 bytes of scale per row; the copy reads and writes half of that
//    each), so "vs copy" compares bytes per second on equal traffic (the bar: >= 0.9 at M >= 2048);
//  - unfused: the pair an engine runs without the fusion, with the norm at its best possible speed: a copy of the
//    norm's own traffic (read x (+ residual), write y (+ residual_out): what a norm kernel at copy bandwidth moves)
//    followed by the real DynamicRangeQuantizePlan<bf16> pass over y. PyTorch's RMSNorm and its pair with qjit's
//    quantize pass are timed by bench/norm_peers.py on the same device.
// For every distinct K of data/llm_linear_shapes.csv at M in {1, 16, 128, 2048, 8192}; inputs rotate through copies
// past the L2; medians of autotune/timing. Without a GPU every benchmark is skipped.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>

#include "autotune/shapes.h"
#include "autotune/timing.h"
#include "bench/shapes_file.h"
#include "qjit/dynamic_range_quantize.h"
#include "qjit/norm_quantize.h"
#include "runtime/device.h"
#include "runtime/device_memory.h"
#include "runtime/env.h"

namespace qjit {
namespace {

enum class Variant { Rms, RmsResidual, Layer };
enum class Mode { Fused, Unfused, Copy };
const char* variant_name(Variant v) {
  return v == Variant::Rms ? "rms_norm" : v == Variant::RmsResidual ? "rms_norm_residual" : "layer_norm";
}

struct Row {
  double fused_us = 0, unfused_us = 0, copy_us = 0;
  double bytes = 0;
};
std::map<std::tuple<int, std::int64_t, std::int64_t>, Row> g_rows;  // (variant, K, M)

// QJIT_BENCH_PREF=tuned times the fused plans with the tuning database's configs (after `qjit tune --plans
// rmsnorm,layernorm`); the default is the heuristic's.
PlanPreference fused_preference() {
  return env::text(env::Var::BenchPref) == "tuned" ? PlanPreference::Tuned : PlanPreference::Heuristic;
}

void run_case(benchmark::State& state, Variant variant, Mode mode, std::int64_t m, std::int64_t k) {
  auto dev = runtime::current_device();
  if (!dev.has_value()) return state.SkipWithError(("no GPU: " + dev.error().to_string()).c_str());
  const bool residual = variant == Variant::RmsResidual;
  const std::size_t mk = static_cast<std::size_t>(m * k);
  const std::size_t in_bytes = mk * 2 * (residual ? 2 : 1);
  const std::size_t out_bytes = mk + 4 * static_cast<std::size_t>(m) + (residual ? mk * 2 : 0);
  const int copies = std::clamp(static_cast<int>(2.0 * dev->l2_bytes / static_cast<double>(in_bytes)) + 1, 1, 64);
  std::vector<std::uint16_t> host(mk);
  std::uint32_t x = 777u + static_cast<std::uint32_t>(k);
  for (auto& h : host) {
    x = x * 1664525u + 1013904223u;
    h = static_cast<std::uint16_t>(0x3f80u + (x >> 25)) ^ static_cast<std::uint16_t>((x >> 16) & 0x8000u);  // bf16
  }
  // Each rotation copy holds x then (with a residual) the residual: one allocation, 2 * mk elements.
  std::vector<runtime::DeviceMemory> inputs;
  for (int i = 0; i < copies; ++i) {
    auto buf = runtime::DeviceMemory::allocate(in_bytes, "bench input");
    if (!buf) return state.SkipWithError(buf.error().to_string().c_str());
    for (std::size_t off = 0; off < in_bytes; off += mk * 2)
      if (Status s = buf->upload(host.data(), mk * 2, off); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    inputs.push_back(std::move(*buf));
  }
  std::vector<std::uint16_t> gb(static_cast<std::size_t>(2 * k));
  for (std::size_t i = 0; i < gb.size(); ++i) gb[i] = static_cast<std::uint16_t>(0x3f80u + (i % 17));  // ~[1, 1.13]
  auto gamma_beta = runtime::DeviceMemory::allocate(gb.size() * 2, "bench gamma/beta");
  if (!gamma_beta) return state.SkipWithError(gamma_beta.error().to_string().c_str());
  if (Status s = gamma_beta->upload(gb.data(), gb.size() * 2); !s.ok()) return state.SkipWithError(s.to_string().c_str());
  // q | scale | residual_out; the unfused pair's normalised activation y (and its residual_out) in `norm_out`
  auto out = runtime::DeviceMemory::allocate(out_bytes + 16, "bench output");
  auto norm_out = runtime::DeviceMemory::allocate(in_bytes, "bench unfused norm output");
  if (!norm_out) return state.SkipWithError(norm_out.error().to_string().c_str());
  if (!out) return state.SkipWithError(out.error().to_string().c_str());
  auto* q = static_cast<std::int8_t*>(out->get());
  auto* scale = reinterpret_cast<float*>(q + mk);
  auto* res_out = reinterpret_cast<bf16*>(q + (mk + 4 * m + 15) / 16 * 16);
  const auto* y = static_cast<const bf16*>(norm_out->get());
  const auto* gamma = static_cast<const bf16*>(gamma_beta->get());
  CUstream stream = nullptr;
  std::function<Status(int)> launch;
  std::optional<RmsNormQuantizePlan<bf16>> rms;
  std::optional<LayerNormQuantizePlan<bf16>> layer;
  std::optional<DynamicRangeQuantizePlan<bf16>> drq;
  const double traffic = static_cast<double>(in_bytes + out_bytes);
  if (mode == Mode::Copy) {
    const std::size_t n = (in_bytes + out_bytes) / 2;  // <= in_bytes: norm_out (in_bytes) is the destination
    launch = [&, n](int call) { return norm_out->copy_from(inputs[call % inputs.size()], n, stream); };
    state.SetLabel("cuMemcpyDtoDAsync");
  } else if (mode == Mode::Unfused) {
    auto p = DynamicRangeQuantizePlan<bf16>::select(Stream(stream), DynamicRangeQuantizeDescriptor::make<bf16>(m, k));
    if (!p) return state.SkipWithError(p.error().to_string().c_str());
    drq.emplace(std::move(*p));
    state.SetLabel("copy of the norm's traffic + " + drq->describe());
    const std::size_t norm_half = in_bytes;  // the norm reads in_bytes and writes as much (y, residual_out)
    launch = [&, m, k, norm_half](int call) {
      QJIT_TRY(norm_out->copy_from(inputs[call % inputs.size()], norm_half, stream));
      DynamicRangeQuantizePlan<bf16>::Args a;
      a.input = TensorRef<bf16, 2>::contiguous(y, {m, k});
      a.output = TensorMut<std::int8_t, 2>::contiguous(q, {m, k});
      a.scale = TensorMut<float, 1>::contiguous(scale, {m});
      return drq->run(Stream(stream), Workspace{}, a);
    };
  } else {
    auto desc = variant == Variant::Layer ? NormQuantizeDescriptor::layer_norm<bf16>(m, k)
                                          : NormQuantizeDescriptor::rms_norm<bf16>(m, k, 1e-6f, residual);
    auto args = [&, m, k](int call) {
      const auto* base = static_cast<const bf16*>(inputs[call % inputs.size()].get());
      NormQuantizeArgs<bf16> a;
      a.input = TensorRef<bf16, 2>::contiguous(base, {m, k});
      if (residual) {
        a.residual = TensorRef<bf16, 2>::contiguous(base + m * k, {m, k});
        a.residual_out = TensorMut<bf16, 2>::contiguous(res_out, {m, k});
      }
      a.gamma = TensorRef<bf16, 1>::contiguous(gamma, {k});
      if (variant == Variant::Layer) a.beta = TensorRef<bf16, 1>::contiguous(gamma + k, {k});
      a.output = TensorMut<std::int8_t, 2>::contiguous(q, {m, k});
      a.scale = TensorMut<float, 1>::contiguous(scale, {m});
      return a;
    };
    if (variant == Variant::Layer) {
      auto p = LayerNormQuantizePlan<bf16>::select(Stream(stream), desc, fused_preference());
      if (!p) return state.SkipWithError(p.error().to_string().c_str());
      layer.emplace(std::move(*p));
      state.SetLabel(layer->describe());
      launch = [&, args](int call) { return layer->run(Stream(stream), Workspace{}, args(call)); };
    } else {
      auto p = RmsNormQuantizePlan<bf16>::select(Stream(stream), desc, fused_preference());
      if (!p) return state.SkipWithError(p.error().to_string().c_str());
      rms.emplace(std::move(*p));
      state.SetLabel(rms->describe());
      launch = [&, args](int call) { return rms->run(Stream(stream), Workspace{}, args(call)); };
    }
  }
  double median = 0;
  for (auto _ : state) {
    auto t = autotune::median_launch_us(launch, stream, autotune::TimingOptions{});
    if (!t) return state.SkipWithError(t.error().to_string().c_str());
    state.SetIterationTime(*t * 1e-6);
    median = *t;
  }
  state.counters["GBps"] = traffic / (median * 1e-6) / 1e9;
  Row& row = g_rows[{static_cast<int>(variant), k, m}];
  row.bytes = traffic;
  (mode == Mode::Copy ? row.copy_us : mode == Mode::Unfused ? row.unfused_us : row.fused_us) = median;
}

void register_all() {
  auto shapes = autotune::load_shapes(bench::default_shapes_file());
  if (!shapes) {
    std::fprintf(stderr, "norm_quantize_bench: %s\n", shapes.error().to_string().c_str());
    return;
  }
  std::set<std::int64_t> ks;
  for (const auto& s : *shapes) ks.insert(s.k);
  for (Variant v : {Variant::Rms, Variant::RmsResidual, Variant::Layer})
    for (std::int64_t k : ks)
      for (std::int64_t m : {1, 16, 128, 2048, 8192})
        for (Mode mode : {Mode::Fused, Mode::Unfused, Mode::Copy}) {
          const char* what = mode == Mode::Copy ? "copy" : mode == Mode::Unfused ? "unfused" : "fused";
          const std::string name = std::string(variant_name(v)) + "_" + what + "/K=" + std::to_string(k) +
                                   "/M=" + std::to_string(m);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run_case(st, v, mode, m, k); })
              ->UseManualTime()
              ->Iterations(3)
              ->Unit(benchmark::kMicrosecond);
        }
}

void print_table() {
  if (g_rows.empty()) return;
  std::printf(
      "\n| op | K | M | fused us | unfused us | copy us | fused GB/s | vs copy | unfused / fused |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [key, r] : g_rows) {
    if (r.fused_us <= 0 || r.copy_us <= 0) continue;
    std::printf("| %s | %lld | %lld | %.2f | %.2f | %.2f | %.0f | %.2f | %.2f |\n",
                variant_name(static_cast<Variant>(std::get<0>(key))), static_cast<long long>(std::get<1>(key)),
                static_cast<long long>(std::get<2>(key)), r.fused_us, r.unfused_us, r.copy_us,
                r.bytes / (r.fused_us * 1e-6) / 1e9, r.copy_us / r.fused_us,
                r.unfused_us > 0 ? r.unfused_us / r.fused_us : 0.0);
  }
}

}  // namespace
}  // namespace qjit

int main(int argc, char** argv) {
  qjit::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  qjit::print_table();
  return 0;
}
