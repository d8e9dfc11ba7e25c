// select() latency at its three temperatures (issue 4's and DESIGN.md's targets):
//   - warm in memory: a repeated select() of a seen descriptor (target <= 2 µs). Needs a GPU (select asks the
//     current context); without one the benchmark is skipped with the reason;
//   - on disk: what a fresh process pays per kernel before cuModuleLoadData -- render the source, hash the compile
//     key, load and verify the entry from the store (target <= 1 ms), no GPU needed;
//   - cold: the same with an empty store, so NVRTC compiles (target <= 0.6 s for the GEMM on the 2-core machine).
// The store is a fresh temp directory (QJIT_CACHE_DIR is set before anything opens it).
#include <filesystem>
#include <stdlib.h>
#include <string>

#include <benchmark/benchmark.h>

#include "jit/kernel_service.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "qjit/linear.h"
#include "runtime/driver.h"

namespace qjit {
namespace {

std::string g_cache_dir;

codegen::KernelSpec gemm_spec(int arch, std::int64_t m) {
  ops::LinearShape s;
  s.smooth_quant = true;
  s.m = m;
  s.n = 4096;
  s.k = 4096;
  s.output = ElementKind::BF16;
  return ops::linear_kernel_specs(s, arch).gemm;
}

runtime::DeviceInfo synthetic_device(int arch) {
  runtime::DeviceInfo d;
  d.arch = arch;
  d.sm_count = 132;
  return d;
}

void BM_SelectWarmInMemory(benchmark::State& state) {
  const bool quantized = state.range(0) == 1;
  Stream stream;
  const auto sq = SmoothQuantLinearDescriptor::make<bf16>(128, 4096, 4096, 0.02f, true);
  const auto ql = QuantizedLinearDescriptor::make<bf16>(128, 4096, 4096, true);
  // The first select compiles (or hits the disk); the loop measures the memoised path.
  Status first = quantized ? QuantizedLinearPlan<bf16>::select(stream, ql).status()
                           : SmoothQuantLinearPlan<bf16>::select(stream, sq).status();
  if (!first.ok()) {
    state.SkipWithError(("needs a GPU: " + first.message()).c_str());
    return;
  }
  for (auto _ : state) {
    if (quantized) {
      auto p = QuantizedLinearPlan<bf16>::select(stream, ql);
      benchmark::DoNotOptimize(p);
    } else {
      auto p = SmoothQuantLinearPlan<bf16>::select(stream, sq);
      benchmark::DoNotOptimize(p);
    }
  }
  state.SetLabel(quantized ? "QuantizedLinearPlan<bf16>" : "SmoothQuantLinearPlan<bf16>");
}
BENCHMARK(BM_SelectWarmInMemory)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Render + key + disk load + verify, per kernel. Arg: the arch (80 = portable GEMM, 90 = Hopper GEMM).
void BM_SelectOnDisk(benchmark::State& state) {
  const int arch = static_cast<int>(state.range(0));
  const auto spec = gemm_spec(arch, 128);
  auto config = ops::choose_config(spec, PlanPreference::Heuristic, synthetic_device(arch));
  if (!config) {
    state.SkipWithError(config.error().message().c_str());
    return;
  }
  auto warm = ops::render(spec, *config);
  if (!warm || !jit::KernelService::process().obtain(*warm, arch)) {
    state.SkipWithError("the first compile failed (is NVRTC present?)");
    return;
  }
  for (auto _ : state) {
    auto source = ops::render(spec, *config);
    auto compiled = jit::KernelService::process().obtain(*source, arch);
    if (!compiled || compiled->compiled_now) state.SkipWithError("expected a disk hit");
    benchmark::DoNotOptimize(compiled);
  }
}
BENCHMARK(BM_SelectOnDisk)->Arg(80)->Arg(90)->Unit(benchmark::kMicrosecond);

// NVRTC compile of a kernel no store has seen: each iteration renders a distinct N so the key is new.
void BM_SelectCold(benchmark::State& state) {
  const int arch = static_cast<int>(state.range(0));
  std::int64_t n = 4096;
  for (auto _ : state) {
    auto spec = gemm_spec(arch, 128);
    spec.n = ++n;
    auto config = ops::choose_config(spec, PlanPreference::Heuristic, synthetic_device(arch));
    auto source = ops::render(spec, *config);
    auto compiled = jit::KernelService::process().obtain(*source, arch);
    if (!compiled) {
      state.SkipWithError(compiled.error().message().c_str());
      return;
    }
    if (!compiled->compiled_now) state.SkipWithError("expected a compile");
  }
}
BENCHMARK(BM_SelectCold)->Arg(80)->Arg(90)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace qjit

int main(int argc, char** argv) {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base && *base ? base : "/tmp") + "/qjit-select-bench-XXXXXX";
  if (!::mkdtemp(dir.data())) return 1;
  ::setenv("QJIT_CACHE_DIR", dir.c_str(), 1);
  ::unsetenv("QJIT_CACHE_PATH");
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(dir);
  return 0;
}
