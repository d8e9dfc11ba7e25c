// Google Benchmark: WeightOnlyLinearPlan<bf16> (W8A16: int8 weight, per-channel or per-group-128 scales) against
// bf16 cuBLASLt (perf/cublaslt_baseline: bf16 x bf16 -> bf16, f32 accumulation, the fastest of its top 8) on the same
// activation, timed interleaved (perf/interleave: A B A B over 5 rounds, order rotated, burst regime, stream
// launches), both sides' weights rotated past the L2 (autotune::rotation_copies). The bars (issue 17): M <= 16 at
// >= 1.7x cuBLASLt (half the weight bytes), M >= 2048 at >= 0.9x. Rows: the Llama-2-7B / Llama-3-8B / -70B linear
// shapes at M in {1, 16, 2048}; counters qjit_us, cublaslt_us, speedup (cuBLASLt time / qjit time, > 1 = faster),
// weight_GBps. Without a GPU (or cuBLASLt) every benchmark is skipped.
#include <algorithm>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "autotune/timing.h"
#include "perf/cublaslt_baseline.h"
#include "perf/interleave.h"
#include "qjit/weight_only_linear.h"
#include "runtime/device.h"
#include "runtime/device_memory.h"

namespace qjit {
namespace {

void run_case(benchmark::State& state, std::int64_t m, std::int64_t n, std::int64_t k, int group) {
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
  const struct {
    std::int64_t n, k;
  } shapes[] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {14336, 4096}, {4096, 14336}, {28672, 8192}, {8192, 28672}};
  for (std::int64_t m : {1, 16, 2048})
    for (const auto& s : shapes)
      for (int group : {0, 128}) {
        const std::string name = "w8a16_bf16/m" + std::to_string(m) + "/n" + std::to_string(s.n) + "/k" +
                                 std::to_string(s.k) + (group ? "/group128" : "/channel");
        benchmark::RegisterBenchmark(name.c_str(),
                                     [=](benchmark::State& st) { qjit::run_case(st, m, s.n, s.k, group); })
            ->UseManualTime()
            ->Iterations(1)
            ->Unit(benchmark::kMicrosecond);
      }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
