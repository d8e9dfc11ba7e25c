// Google Benchmark: the dynamic per-token quantization pass (DynamicRangeQuantizePlan<bf16>) against a plain device
// copy of the same bytes, for every distinct K of data/llm_linear_shapes.csv at M in {1, 16, 128, 2048, 8192}. The
// pass reads 2*M*K bytes and writes M*K + 4*M; the copy reads and writes half of that total each with
// cuMemcpyDtoDAsync, so "vs copy" compares bytes per second on the same traffic (issue 6's bar: >= 90%). Inputs
// rotate through copies past the L2. The smoothed pass (x * pre_quant_scale[k] first, issue 18) runs beside the plain one:
// "smooth / plain" is their time ratio (the bar: no measurable cost). The asymmetric pass (per-token scale and zero
// point, s8 codes, issue 17 item 3; it also writes 4*M bytes of zero points) runs beside them: "asym / plain" is its
// time over the plain pass's. Without a GPU every benchmark is skipped.
// --sweep: instead of the suite, for K in {4096, 14336} x M in {2048, 8192}, every candidate config of the plain and
// the smoothed pass bound directly, each timed interleaved with a copy of the same bytes and the plain pass's
// heuristic config on the same inputs; one line per config (issue 18: which configs the smoothed pass wants).
// --sweep=plain or --sweep=smooth times one of the two.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <future>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "autotune/shapes.h"
#include "autotune/timing.h"
#include "bench/shapes_file.h"
#include "codegen/quantize_rowwise.h"
#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "perf/interleave.h"
#include "qjit/dynamic_range_quantize.h"
#include "runtime/device.h"
#include "runtime/device_memory.h"

namespace qjit {
namespace {

enum class Mode { Quantize, Smoothed, Asymmetric, Copy };

struct Row {
  double quant_us = 0, smooth_us = 0, asym_us = 0, copy_us = 0;
  std::int64_t bytes = 0;
};
std::map<std::pair<std::int64_t, std::int64_t>, Row> g_rows;  // (K, M)

void run_case(benchmark::State& state, Mode mode, std::int64_t m, std::int64_t k) {
  const bool copy = mode == Mode::Copy;
  auto dev = runtime::current_device();
  if (!dev.has_value()) return state.SkipWithError(("no GPU: " + dev.error().to_string()).c_str());
  const std::size_t in_bytes = static_cast<std::size_t>(m * k * 2), out_bytes = static_cast<std::size_t>(m * k + 4 * m);
  const int copies = std::clamp(static_cast<int>(2.0 * dev->l2_bytes / static_cast<double>(in_bytes)) + 1, 1, 64);
  std::vector<runtime::DeviceMemory> inputs;
  std::vector<std::uint16_t> host(static_cast<std::size_t>(m * k));
  std::uint32_t x = 12345u + static_cast<std::uint32_t>(k);
  for (auto& h : host) {
    x = x * 1664525u + 1013904223u;
    h = static_cast<std::uint16_t>(0x3c00u + (x >> 22)) ^ static_cast<std::uint16_t>((x >> 16) & 0x8000u);  // ~[1, 4)
  }
  for (int i = 0; i < copies; ++i) {
    auto buf = runtime::DeviceMemory::allocate(in_bytes, "bench input");
    if (!buf) return state.SkipWithError(buf.error().to_string().c_str());
    if (Status s = buf->upload(host.data(), in_bytes); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    inputs.push_back(std::move(*buf));
  }
  auto out = runtime::DeviceMemory::allocate(std::max(out_bytes, in_bytes + out_bytes), "bench output");
  if (!out) return state.SkipWithError(out.error().to_string().c_str());
  std::vector<float> smooth_host(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < smooth_host.size(); ++i) smooth_host[i] = 0.25f + 0.125f * static_cast<float>(i % 29);
  auto smooth = runtime::DeviceMemory::allocate(smooth_host.size() * 4, "bench smoothing vector");
  if (!smooth) return state.SkipWithError(smooth.error().to_string().c_str());
  if (Status s = smooth->upload(smooth_host.data(), smooth_host.size() * 4); !s.ok())
    return state.SkipWithError(s.to_string().c_str());
  CUstream stream = nullptr;
  std::function<Status(int)> launch;
  std::optional<DynamicRangeQuantizePlan<bf16>> plan;
  if (copy) {
    // The same traffic as the pass: (in + out) / 2 bytes read and written once = in + out bytes moved.
    const std::size_t n = (in_bytes + out_bytes) / 2;
    launch = [&, n](int call) { return out->copy_from(inputs[call % inputs.size()], n, stream); };
    state.SetLabel("cuMemcpyDtoDAsync");
  } else {
    auto desc = mode == Mode::Asymmetric ? DynamicRangeQuantizeDescriptor::make_asymmetric<bf16, std::int8_t>(m, k)
                                         : DynamicRangeQuantizeDescriptor::make<bf16>(m, k);
    desc.has_smooth = mode == Mode::Smoothed;
    auto p = DynamicRangeQuantizePlan<bf16>::select(Stream(stream), desc);
    if (!p) return state.SkipWithError(p.error().to_string().c_str());
    plan.emplace(std::move(*p));
    state.SetLabel(plan->describe());
    launch = [&, m, k](int call) {
      DynamicRangeQuantizePlan<bf16>::Args a;
      a.input = TensorRef<bf16, 2>::contiguous(static_cast<const bf16*>(inputs[call % inputs.size()].get()), {m, k});
      a.output = TensorMut<std::int8_t, 2>::contiguous(static_cast<std::int8_t*>(out->get()), {m, k});
      a.scale =
          TensorMut<float, 1>::contiguous(reinterpret_cast<float*>(static_cast<std::int8_t*>(out->get()) + m * k), {m});
      if (mode == Mode::Asymmetric)
        a.zero_point = TensorMut<std::int32_t, 1>::contiguous(
            reinterpret_cast<std::int32_t*>(static_cast<std::int8_t*>(out->get()) + m * k + 4 * m), {m});
      if (mode == Mode::Smoothed)
        a.pre_quant_scale = TensorRef<float, 1>::contiguous(static_cast<const float*>(smooth->get()), {k});
      return plan->run(Stream(stream), Workspace{}, a);
    };
  }
  double median = 0;
  for (auto _ : state) {
    auto t = autotune::median_launch_us(launch, stream, autotune::TimingOptions{});
    if (!t) return state.SkipWithError(t.error().to_string().c_str());
    state.SetIterationTime(*t * 1e-6);
    median = *t;
  }
  const double bytes = static_cast<double>(in_bytes + out_bytes);
  state.counters["GBps"] = bytes / (median * 1e-6) / 1e9;
  Row& row = g_rows[{k, m}];
  row.bytes = static_cast<std::int64_t>(bytes);
  (mode == Mode::Copy         ? row.copy_us
   : mode == Mode::Smoothed   ? row.smooth_us
   : mode == Mode::Asymmetric ? row.asym_us
                              : row.quant_us) = median;
}


// Every candidate of the quantize family for the plain and the smoothed rowwise spec, bound directly and timed
// interleaved against a copy and the plain heuristic config; prints one line per config.
void sweep_configs(std::int64_t m, std::int64_t k, const char* which) {
  auto dev = runtime::current_device();
  auto api = runtime::driver();
  if (!dev.has_value() || !api.has_value()) {
    std::printf("sweep: no GPU\n");
    return;
  }
  const std::size_t in_bytes = static_cast<std::size_t>(m * k * 2), out_bytes = static_cast<std::size_t>(m * k + 4 * m);
  const int copies = std::clamp(static_cast<int>(2.0 * dev->l2_bytes / static_cast<double>(in_bytes)) + 1, 1, 64);
  std::vector<runtime::DeviceMemory> inputs;
  std::vector<std::uint16_t> host(static_cast<std::size_t>(m * k));
  std::uint32_t x = 12345u + static_cast<std::uint32_t>(k);
  for (auto& h : host) {
    x = x * 1664525u + 1013904223u;
    h = static_cast<std::uint16_t>(0x3c00u + (x >> 22)) ^ static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  }
  for (int i = 0; i < copies; ++i) {
    auto buf = runtime::DeviceMemory::allocate(in_bytes, "sweep input");
    if (!buf || !buf->upload(host.data(), in_bytes).ok()) return;
    inputs.push_back(std::move(*buf));
  }
  auto out = runtime::DeviceMemory::allocate(in_bytes + out_bytes, "sweep output");
  std::vector<float> smooth_host(static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < smooth_host.size(); ++i) smooth_host[i] = 0.25f + 0.125f * static_cast<float>(i % 29);
  auto smooth = runtime::DeviceMemory::allocate(smooth_host.size() * 4, "sweep smoothing vector");
  if (!out || !smooth || !smooth->upload(smooth_host.data(), smooth_host.size() * 4).ok()) return;
  CUstream stream = nullptr;
  const jit::KernelFamilyRuntime& fam = jit::quantize_family();
  codegen::KernelSpec plain = codegen::quantize_spec(codegen::KernelOp::QuantizeRowwise, ElementKind::BF16, k,
                                                     codegen::m_bucket_of(m), jit::target_arch(*dev));
  codegen::KernelSpec smoothed = plain;
  smoothed.smooth = true;
  const auto launch_of = [&](const jit::KernelBinding& b, bool smooth_on) -> perf::Launch {
    return [&, smooth_on, bp = &b](int call) -> Status {
      codegen::QuantizeParams p{};
      p.x = inputs[call % copies].get();
      p.ldx = k;
      p.q = static_cast<std::int8_t*>(out->get());
      p.ldq = k;
      p.scale = reinterpret_cast<float*>(static_cast<std::int8_t*>(out->get()) + m * k);
      p.m = static_cast<std::int32_t>(m);
      p.smooth = smooth_on ? static_cast<const float*>(smooth->get()) : nullptr;
      return bp->kernel->launch(jit::launch_dims(*bp, m), stream, &p);
    };
  };
  auto base = jit::bind_kernel_with(plain, fam.heuristic(plain, dev->sm_count), *dev);
  if (!base) {
    std::printf("sweep: %s\n", base.error().to_string().c_str());
    return;
  }
  const std::size_t copy_n = (in_bytes + out_bytes) / 2;
  const perf::Launch copy_side = [&](int call) { return out->copy_from(inputs[call % copies], copy_n, stream); };
  const perf::Launch base_side = launch_of(*base, false);
  std::printf("sweep K=%lld M=%lld (base: plain %s)\n", static_cast<long long>(k), static_cast<long long>(m),
              fam.heuristic(plain, dev->sm_count).to_string().c_str());
  for (const codegen::KernelSpec* spec : {&plain, &smoothed}) {
    if (std::strcmp(which, spec->smooth ? "plain" : "smooth") == 0) continue;
    const codegen::TileConfig chosen = fam.heuristic(*spec, dev->sm_count);
    const auto cands = fam.candidates(*spec, jit::CandidateOptions{.sm_count = dev->sm_count});
    std::vector<std::future<Result<jit::KernelBinding>>> bound;
    for (const codegen::TileConfig& c : cands)
      bound.push_back(std::async(std::launch::async, [&, c]() -> Result<jit::KernelBinding> {
        QJIT_TRY(runtime::current_device().status());  // binds the primary context to this thread
        return jit::bind_kernel_with(*spec, c, *dev);
      }));
    for (std::size_t i = 0; i < cands.size(); ++i) {
      auto b = bound[i].get();
      if (!b) {
        std::printf("  %-36s %s\n", cands[i].to_string().c_str(), b.error().to_string().c_str());
        continue;
      }
      auto t = perf::time_interleaved({copy_side, base_side, launch_of(*b, spec->smooth)}, stream,
                                      perf::InterleaveOptions{}, nullptr);
      if (!t) {
        std::printf("  %-36s %s\n", cands[i].to_string().c_str(), t.error().to_string().c_str());
        continue;
      }
      std::printf("%c %-8s %-36s us %8.2f  base_us %8.2f  copy_us %8.2f  vs_base %5.3f  vs_copy %5.3f  regs %d\n",
                  cands[i] == chosen ? '*' : ' ', spec->smooth ? "smooth" : "plain", cands[i].to_string().c_str(),
                  (*t)[2].us, (*t)[1].us, (*t)[0].us, (*t)[2].us / (*t)[1].us, (*t)[0].us / (*t)[2].us,
                  b->kernel->registers());
      std::fflush(stdout);
    }
  }
}

void register_all() {
  auto shapes = autotune::load_shapes(bench::default_shapes_file());
  if (!shapes) {
    std::fprintf(stderr, "quantize_rowwise_bench: %s\n", shapes.error().to_string().c_str());
    return;
  }
  std::set<std::int64_t> ks;
  for (const auto& s : *shapes) ks.insert(s.k);
  for (std::int64_t k : ks)
    for (std::int64_t m : {1, 16, 128, 2048, 8192})
      for (Mode mode : {Mode::Quantize, Mode::Smoothed, Mode::Asymmetric, Mode::Copy}) {
        const char* what = mode == Mode::Copy         ? "copy"
                           : mode == Mode::Smoothed   ? "quantize_rowwise_bf16_smooth"
                           : mode == Mode::Asymmetric ? "quantize_rowwise_bf16_asym"
                                                      : "quantize_rowwise_bf16";
        const std::string name = std::string(what) + "/K=" + std::to_string(k) + "/M=" + std::to_string(m);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run_case(st, mode, m, k); })
            ->UseManualTime()
            ->Iterations(3)
            ->Unit(benchmark::kMicrosecond);
      }
}

void print_table() {
  if (g_rows.empty()) return;
  std::printf(
      "\n| K | M | quantize us | smoothed us | asym us | copy us | quantize GB/s | vs copy | smooth / plain | asym / "
      "plain |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [key, r] : g_rows) {
    if (r.quant_us <= 0 || r.copy_us <= 0) continue;
    std::printf("| %lld | %lld | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f | %.3f | %.3f |\n",
                static_cast<long long>(key.first), static_cast<long long>(key.second), r.quant_us, r.smooth_us,
                r.asym_us, r.copy_us, r.bytes / (r.quant_us * 1e-6) / 1e9, r.copy_us / r.quant_us,
                r.smooth_us > 0 ? r.smooth_us / r.quant_us : 0.0, r.asym_us > 0 ? r.asym_us / r.quant_us : 0.0);
  }
}

}  // namespace
}  // namespace qjit

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--sweep", 7) == 0) {
      const char* which = argv[i][7] == '=' ? argv[i] + 8 : "both";  // --sweep=plain | --sweep=smooth
      for (std::int64_t k : {4096, 14336})
        for (std::int64_t m : {2048, 8192}) qjit::sweep_configs(m, k, which);
      return 0;
    }
  qjit::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  qjit::print_table();
  return 0;
}
