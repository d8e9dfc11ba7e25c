// Google Benchmark: WeightOnlyLinearPlan<bf16> (W8A16: int8 weight, per-channel or per-group-128 scales) against
// bf16 cuBLASLt (perf/cublaslt_baseline: bf16 x bf16 -> bf16, f32 accumulation, the fastest of its top 8) on the same
// activation, timed interleaved (perf/interleave: A B A B over 5 rounds, order rotated, burst regime, stream
// launches), both sides' weights rotated past the L2 (autotune::rotation_copies). The bars (issue 17): M <= 16 at
// >= 1.7x cuBLASLt (half the weight bytes), M >= 2048 at >= 0.9x. Rows: the Llama-2-7B / Llama-3-8B / -70B linear
// shapes at M in {1, 16, 2048}; counters qjit_us, cublaslt_us, speedup (cuBLASLt time / qjit time, > 1 = faster),
// weight_GBps. Without a GPU (or cuBLASLt) every benchmark is skipped.
// --sweep (per-channel scales) or --sweep=group128: instead of the suite, for n4096 k4096, n28672 k8192 and n8192
// k28672 (or each --sweep-shape=NxK given) at M in {1, 16, 2048}, every candidate config of the w8a16_sm80 family (the
// swap_ab decode layout's at M <= 32; split-K only while the grid stays within 4 CTAs an SM, 8 for swap_ab; the
// heuristic's always), bound directly and timed interleaved against the same cuBLASLt; one line per config, the
// heuristic's marked '*', so one GPU call shows which tile each shape wants.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "autotune/timing.h"
#include "codegen/kernel_params.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "perf/cublaslt_baseline.h"
#include "perf/interleave.h"
#include "qjit/weight_only_linear.h"
#include "runtime/device.h"
#include "runtime/device_memory.h"
#include "runtime/driver.h"

namespace qjit {
namespace {

// Every candidate of the family for this shape, bound directly (the plan's launch: W8A16Params, split-K counters
// zeroed on the stream), timed interleaved against cuBLASLt; prints one line per config.
void sweep_configs(const runtime::DeviceInfo& dev, std::int64_t m, std::int64_t n, std::int64_t k, int group,
                   int copies, const std::vector<runtime::DeviceMemory>& w8, const void* x, const void* scale, void* y,
                   const std::vector<runtime::DeviceMemory>& w16, void* y2, perf::CublasLtGemm& lt, CUstream stream) {
  const codegen::KernelSpec spec = codegen::w8a16_spec(ElementKind::BF16, n, k, codegen::m_bucket_of(m),
                                                       jit::target_arch(dev), false, true, group, false);
  const jit::KernelFamilyRuntime& fam = jit::w8a16_sm80_family();
  const codegen::TileConfig chosen = fam.heuristic(spec, dev.sm_count);
  std::vector<codegen::TileConfig> cands;
  for (const codegen::TileConfig& c :
       fam.candidates(spec, jit::CandidateOptions{.allow_split_k = true, .sm_count = dev.sm_count})) {
    const runtime::LaunchDims d = jit::launch_dims(spec, c, m);
    // NOTE: the decode (swap_ab) layout's CTAs are small (128-512 threads streaming registers), so its splits may
    // reach 8 CTAs an SM; the heuristic's choice is always timed.
    const std::int64_t ctas = std::int64_t{d.grid[0]} * d.grid[1] * d.grid[2];
    if (c == chosen || c.fields().split_k == 1 || ctas <= (c.fields().swap_ab ? 8 : 4) * dev.sm_count)
      cands.push_back(c);
  }
  // NOTE: compiled concurrently (the kernel service compiles each key once), timed one after another.
  std::vector<std::future<Result<jit::KernelBinding>>> bound;
  for (const codegen::TileConfig& c : cands)
    bound.push_back(std::async(std::launch::async, [&, c]() -> Result<jit::KernelBinding> {
      QJIT_TRY(runtime::current_device().status());  // binds the primary context to this thread
      return jit::bind_kernel_with(spec, c, dev);
    }));
  auto api = runtime::driver();
  const std::int64_t groups = group > 0 ? (k + group - 1) / group : 1;
  std::size_t ws_bytes = 16;
  for (const codegen::TileConfig& c : cands) ws_bytes = std::max(ws_bytes, jit::kernel_workspace_bytes(spec, c, m));
  auto ws = runtime::DeviceMemory::allocate(ws_bytes, "sweep workspace");
  if (!api.has_value() || !ws) return;
  std::printf("sweep %s m=%lld (cuBLASLt %s)\n", spec.to_string().c_str(), static_cast<long long>(m),
              lt.algo_description().c_str());
  for (std::size_t i = 0; i < cands.size(); ++i) {
    auto b = bound[i].get();
    if (!b) {
      std::printf("  %-40s %s\n", cands[i].to_string().c_str(), b.error().to_string().c_str());
      continue;
    }
    const jit::WorkspaceLayout layout = fam.workspace(spec, cands[i], m);
    const perf::Launch qjit_side = [&](int call) -> Status {
      codegen::W8A16Params p{};
      p.x = x;
      p.ldx = k;
      p.w = w8[call % copies].get();
      p.ldw = k;
      p.scale = static_cast<const float*>(scale);
      p.ld_scale = groups;
      p.y = y;
      p.ldy = n;
      p.m = static_cast<std::int32_t>(m);
      if (layout.bytes > 0) {
        p.workspace = static_cast<float*>(ws->get());
        p.tile_counters = reinterpret_cast<std::int32_t*>(static_cast<char*>(ws->get()) + layout.counters_offset);
        QJIT_CU(**api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(p.tile_counters), 0u,
                layout.counters_bytes / 4, stream);
      }
      return b->kernel->launch(jit::launch_dims(*b, m), stream, &p);
    };
    const perf::Launch lt_side = [&](int call) { return lt.run(x, w16[call % copies].get(), y2, stream); };
    auto t = perf::time_interleaved({qjit_side, lt_side}, stream, perf::InterleaveOptions{}, nullptr);
    if (!t) {
      std::printf("  %-40s %s\n", cands[i].to_string().c_str(), t.error().to_string().c_str());
      continue;
    }
    std::printf("%c %-40s qjit_us %8.2f cublaslt_us %8.2f speedup %5.2f weight_GBps %7.0f\n",
                cands[i] == chosen ? '*' : ' ', cands[i].to_string().c_str(), (*t)[0].us, (*t)[1].us,
                (*t)[1].us / (*t)[0].us, static_cast<double>(n * k) / ((*t)[0].us * 1e-6) / 1e9);
    std::fflush(stdout);
  }
}

void run_case(benchmark::State& state, std::int64_t m, std::int64_t n, std::int64_t k, int group, bool sweep) {
  auto dev = runtime::current_device();
  if (!dev.has_value()) return state.SkipWithError(("no GPU: " + dev.error().to_string()).c_str());
  if (Status s = perf::cublaslt_available(); !s.ok()) return state.SkipWithError(s.to_string().c_str());
  const std::size_t nk = static_cast<std::size_t>(n * k);
  const int copies = autotune::rotation_copies(nk * 2, dev->l2_bytes, static_cast<std::int64_t>(dev->total_memory));
  // Random-looking operands (constant fills draw less power and flatter every side).
  std::vector<std::uint16_t> xb(static_cast<std::size_t>(m * k));
  std::vector<std::int8_t> q(nk);
  std::vector<std::uint16_t> wb(nk);
  std::uint32_t r = 12345u + static_cast<std::uint32_t>(n + k);
  auto next = [&r] { return r = r * 1664525u + 1013904223u; };
  for (auto& v : xb)
    v = static_cast<std::uint16_t>(0x3c00u + (next() >> 25)) ^ static_cast<std::uint16_t>(next() & 0x8000u);
  for (std::size_t i = 0; i < nk; ++i) {
    q[i] = static_cast<std::int8_t>(next() >> 24);
    wb[i] = static_cast<std::uint16_t>(0x3c00u + (next() >> 25)) ^ static_cast<std::uint16_t>(next() & 0x8000u);
  }
  const std::int64_t groups = group > 0 ? (k + group - 1) / group : 1;
  std::vector<float> scale(static_cast<std::size_t>(n * groups), 0.01f);
  auto alloc = [&](std::size_t bytes, const char* what) { return runtime::DeviceMemory::allocate(bytes, what); };
  std::vector<runtime::DeviceMemory> w8, w16;
  for (int i = 0; i < copies; ++i) {
    auto a = alloc(nk, "bench int8 weight");
    auto b = alloc(nk * 2, "bench bf16 weight");
    if (!a || !b) return state.SkipWithError("out of device memory for the weight copies");
    if (Status s = a->upload(q.data(), nk); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    if (Status s = b->upload(wb.data(), nk * 2); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    w8.push_back(std::move(*a));
    w16.push_back(std::move(*b));
  }
  auto x = alloc(xb.size() * 2, "bench x");
  auto sc = alloc(scale.size() * 4, "bench scale");
  auto y = alloc(static_cast<std::size_t>(m * n) * 2, "bench y");
  auto y2 = alloc(static_cast<std::size_t>(m * n) * 2, "bench y (cuBLASLt)");
  auto lt_ws = alloc(std::size_t{64} << 20, "cuBLASLt workspace");
  if (!x || !sc || !y || !y2 || !lt_ws) return state.SkipWithError("out of device memory");
  if (Status s = x->upload(xb.data(), xb.size() * 2); !s.ok()) return state.SkipWithError(s.to_string().c_str());
  if (Status s = sc->upload(scale.data(), scale.size() * 4); !s.ok()) return state.SkipWithError(s.to_string().c_str());

  CUstream stream = nullptr;
  if (sweep) {
    auto lt = perf::CublasLtGemm::create(perf::BaselineKind::Bf16, m, n, k, x->get(), w16[0].get(), y2->get(),
                                         lt_ws->get(), lt_ws->bytes(), stream);
    if (!lt) return state.SkipWithError(lt.error().to_string().c_str());
    sweep_configs(*dev, m, n, k, group, copies, w8, x->get(), sc->get(), y->get(), w16, y2->get(), **lt, stream);
    return state.SkipWithError("sweep: the rows are printed above");
  }
  auto plan = WeightOnlyLinearPlan<bf16>::select(
      Stream(stream), WeightOnlyLinearDescriptor::make<bf16>(
                          m, n, k, group > 0 ? WeightScaleMode::PerGroup : WeightScaleMode::PerChannel, group));
  if (!plan) return state.SkipWithError(plan.error().to_string().c_str());
  auto ws = alloc(std::max<std::size_t>(plan->workspace_size(), 16), "bench workspace");
  if (!ws) return state.SkipWithError(ws.error().to_string().c_str());
  auto lt = perf::CublasLtGemm::create(perf::BaselineKind::Bf16, m, n, k, x->get(), w16[0].get(), y2->get(),
                                       lt_ws->get(), lt_ws->bytes(), stream);
  if (!lt) return state.SkipWithError(lt.error().to_string().c_str());
  const perf::Launch qjit_side = [&](int call) {
    WeightOnlyLinearArgs<bf16> a;
    a.activation = TensorRef<bf16, 2>::contiguous(static_cast<const bf16*>(x->get()), {m, k});
    a.weight = TensorRef<std::int8_t, 2>::contiguous(static_cast<const std::int8_t*>(w8[call % copies].get()), {n, k});
    a.weight_scale = TensorRef<float, 2>::contiguous(static_cast<const float*>(sc->get()), {n, groups});
    a.output = TensorMut<bf16, 2>::contiguous(static_cast<bf16*>(y->get()), {m, n});
    return plan->run(Stream(stream), Workspace{ws->get(), ws->bytes()}, a);
  };
  const perf::Launch lt_side = [&](int call) {
    return (*lt)->run(x->get(), w16[call % copies].get(), y2->get(), stream);
  };
  perf::InterleaveOptions o;
  for (auto _ : state) {
    auto t = perf::time_interleaved({qjit_side, lt_side}, stream, o, nullptr);
    if (!t) return state.SkipWithError(t.error().to_string().c_str());
    state.SetIterationTime((*t)[0].us * 1e-6);
    state.counters["qjit_us"] = (*t)[0].us;
    state.counters["cublaslt_us"] = (*t)[1].us;
    state.counters["speedup"] = (*t)[1].us / (*t)[0].us;
    state.counters["weight_GBps"] = static_cast<double>(nk) / ((*t)[0].us * 1e-6) / 1e9;
  }
  state.SetLabel(plan->describe() + " vs " + (*lt)->algo_description());
}

}  // namespace
}  // namespace qjit

int main(int argc, char** argv) {
  int sweep_group = -1;  // -1: the suite; 0 / 128: the config sweep with per-channel / group-128 scales
  std::vector<std::pair<std::int64_t, std::int64_t>> sweep_shapes;  // --sweep-shape=NxK (repeatable)
  for (int i = 1; i < argc;) {
    long long n = 0, k = 0;
    char tail = 0;
    if (std::strcmp(argv[i], "--sweep") == 0 || std::strcmp(argv[i], "--sweep=group128") == 0) {
      sweep_group = argv[i][7] == '=' ? 128 : 0;
    } else if (std::strncmp(argv[i], "--sweep-shape=", 14) == 0) {
      if (std::sscanf(argv[i] + 14, "%lldx%lld%c", &n, &k, &tail) != 2 || n < 1 || k < 1) {
        std::fprintf(stderr, "--sweep-shape must be NxK with N, K >= 1 (e.g. 4096x14336), got %s\n", argv[i] + 14);
        return 2;
      }
      sweep_shapes.emplace_back(n, k);
    } else {
      ++i;
      continue;
    }
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
  }
  const bool sweep = sweep_group >= 0;
  if (sweep && sweep_shapes.empty()) sweep_shapes = {{4096, 4096}, {28672, 8192}, {8192, 28672}};
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes =
      sweep
          ? sweep_shapes
          : std::vector<std::pair<std::int64_t, std::int64_t>>{
                {4096, 4096}, {11008, 4096}, {4096, 11008}, {14336, 4096}, {4096, 14336}, {28672, 8192}, {8192, 28672}};
  const std::vector<int> groups = sweep ? std::vector<int>{sweep_group} : std::vector<int>{0, 128};
  for (std::int64_t m : {1, 16, 2048})
    for (const auto& [n, k] : shapes)
      for (int group : groups) {
        const std::string name = std::string(sweep ? "w8a16_sweep" : "w8a16_bf16") + "/m" + std::to_string(m) + "/n" +
                                 std::to_string(n) + "/k" + std::to_string(k) +
                                 (sweep   ? ""
                                  : group ? "/group128"
                                          : "/channel");
        benchmark::RegisterBenchmark(name.c_str(),
                                     [=](benchmark::State& st) { qjit::run_case(st, m, n, k, group, sweep); })
            ->UseManualTime()
            ->Iterations(1)
            ->Unit(benchmark::kMicrosecond);
      }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
