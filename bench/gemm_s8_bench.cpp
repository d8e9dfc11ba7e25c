// Google Benchmark: qjit's two linear plans against cuBLASLt int8 (s8 x s8 -> s32, 64 MiB workspace, best of its
// heuristic's top 8) and bf16 cuBLASLt, on the same random data, for the Llama-2-7B shapes (data/llm_linear_shapes.csv)
// at M in {1, 16, 128, 2048, 8192}, plus the floors' probes (8192^3 and 4096x4096 at M = 1). Weight buffers rotate
// past the L2 size. After the runs it prints a markdown table of times, TOPS and the qjit/cuBLASLt ratios.
// Without a GPU or cuBLASLt every benchmark is skipped with the reason.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/cublaslt_baseline.h"
#include "bench/timing.h"
#include "qjit/linear.h"
#include "runtime/device.h"
#include "runtime/driver.h"

namespace qjit::bench {
namespace {

struct Shape {
  std::string name;
  std::int64_t n, k;
};

std::vector<Shape> load_shapes(const std::string& model) {
  std::vector<Shape> out;
  // The working directory's copy first (the GPU machine runs from a copy of the tree), then the source tree's.
  std::ifstream in("data/llm_linear_shapes.csv");
  if (!in) in.open(std::string(QJIT_SOURCE_DIR) + "/data/llm_linear_shapes.csv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("model,", 0) == 0) continue;
    std::stringstream ss(line);
    std::string m, layer, n, k;
    std::getline(ss, m, ',');
    std::getline(ss, layer, ',');
    std::getline(ss, n, ',');
    std::getline(ss, k, ',');
    if (m == model) out.push_back({m + "/" + layer, std::stoll(n), std::stoll(k)});
  }
  return out;
}

// Device buffer owned for the whole benchmark process (freed at exit by the driver).
void* device_alloc(std::size_t bytes) {
  auto api = runtime::driver();
  runtime::CUdeviceptr p = 0;
  if (!api.has_value() || (*api)->cuMemAlloc(&p, bytes) != runtime::kCudaSuccess) return nullptr;
  return reinterpret_cast<void*>(p);
}
void device_free(void* p) {
  if (auto api = runtime::driver(); api.has_value() && p) (*api)->cuMemFree(reinterpret_cast<runtime::CUdeviceptr>(p));
}
void upload(void* dst, const void* src, std::size_t bytes) {
  if (auto api = runtime::driver(); api.has_value())
    (*api)->cuMemcpyHtoD(reinterpret_cast<runtime::CUdeviceptr>(dst), src, bytes);
}

struct Row {
  double qjit_ql = 0, qjit_sq = 0, lt_s8 = 0, lt_bf16 = 0;  // microseconds
  std::int64_t m = 0, n = 0, k = 0;
};
std::map<std::string, Row> g_rows;

// Everything one (shape, M) case needs, allocated once and shared by its four benchmarks.
struct Case {
  std::int64_t m, n, k;
  int copies = 1;
  std::vector<void*> w8, w16;  // rotated weight copies (int8, bf16)
  void *x16 = nullptr, *xq = nullptr, *xs = nullptr, *ws = nullptr, *bias = nullptr, *y16 = nullptr, *y32 = nullptr;
  void* lt_workspace = nullptr;
  float act_scale = 0.02f;

  Case(std::int64_t m_, std::int64_t n_, std::int64_t k_) : m(m_), n(n_), k(k_) {
    const double wbytes = static_cast<double>(n) * k;
    copies = static_cast<int>(std::clamp(std::ceil(256.0 * (1 << 20) / wbytes), 2.0, 8.0));
    std::mt19937_64 rng(1234 + m * 7 + n * 13 + k);
    std::uniform_int_distribution<int> i8(-128, 127);
    std::normal_distribution<float> nd(0, 1);
    std::vector<std::int8_t> hw(static_cast<std::size_t>(n * k));
    for (auto& v : hw) v = static_cast<std::int8_t>(i8(rng));
    std::vector<bf16> hw16(hw.size());
    for (std::size_t i = 0; i < hw.size(); ++i) hw16[i] = float_to_bf16(hw[i] / 64.0f);
    for (int c = 0; c < copies; ++c) {
      w8.push_back(device_alloc(hw.size()));
      upload(w8.back(), hw.data(), hw.size());
      w16.push_back(device_alloc(hw.size() * 2));
      upload(w16.back(), hw16.data(), hw.size() * 2);
    }
    std::vector<bf16> hx(static_cast<std::size_t>(m * k));
    std::vector<std::int8_t> hq(hx.size());
    for (std::size_t i = 0; i < hx.size(); ++i) {
      hx[i] = float_to_bf16(nd(rng));
      hq[i] = static_cast<std::int8_t>(i8(rng));
    }
    x16 = device_alloc(hx.size() * 2);
    upload(x16, hx.data(), hx.size() * 2);
    xq = device_alloc(hq.size());
    upload(xq, hq.data(), hq.size());
    xs = device_alloc(static_cast<std::size_t>(m) * 4);
    std::vector<float> hs(static_cast<std::size_t>(n));
    for (auto& v : hs) v = 1e-3f * (1.0f + 0.5f * nd(rng) * nd(rng));
    ws = device_alloc(hs.size() * 4);
    upload(ws, hs.data(), hs.size() * 4);
    std::vector<bf16> hb(static_cast<std::size_t>(n));
    for (auto& v : hb) v = float_to_bf16(nd(rng));
    bias = device_alloc(hb.size() * 2);
    upload(bias, hb.data(), hb.size() * 2);
    y16 = device_alloc(static_cast<std::size_t>(m * n) * 2);
    y32 = device_alloc(static_cast<std::size_t>(m * n) * 4);
    lt_workspace = device_alloc(64u << 20);
  }
  ~Case() {
    for (void* p : w8) device_free(p);
    for (void* p : w16) device_free(p);
    for (void* p : {x16, xq, xs, ws, bias, y16, y32, lt_workspace}) device_free(p);
  }
  bool ok() const { return x16 && xq && y16 && y32 && lt_workspace && !w8.empty() && w8.back() && w16.back(); }
};

enum class Which { QjitQuantizedLinear, QjitSmoothQuant, CublasLtInt8, CublasLtBf16 };

void run_case(benchmark::State& state, Which which, std::int64_t m, std::int64_t n, std::int64_t k,
              const std::string& label) {
  auto dev = runtime::current_device();
  if (!dev.has_value()) {
    state.SkipWithError(("no GPU: " + dev.error().to_string()).c_str());
    return;
  }
  Case c(m, n, k);
  if (!c.ok()) {
    state.SkipWithError("device allocation failed");
    return;
  }
  CUstream stream = nullptr;
  int rot = 0;
  std::function<Status()> launch;
  std::unique_ptr<CublasLtGemm> lt;
  std::optional<QuantizedLinearPlan<bf16>> ql;
  std::optional<SmoothQuantLinearPlan<bf16>> sq;
  if (which == Which::QjitQuantizedLinear) {
    auto p = QuantizedLinearPlan<bf16>::select(Stream(stream), QuantizedLinearDescriptor::make<bf16>(m, n, k, true));
    if (!p.has_value()) return state.SkipWithError(p.error().to_string().c_str());
    ql.emplace(std::move(p).value());
    state.SetLabel(ql->describe());
    launch = [&]() -> Status {
      QuantizedLinearPlan<bf16>::Args a;
      a.activation = TensorRef<bf16, 2>::contiguous(static_cast<bf16*>(c.x16), {m, k});
      a.weight_q = TensorRef<std::int8_t, 2>::contiguous(static_cast<std::int8_t*>(c.w8[rot++ % c.copies]), {n, k});
      a.weight_scale = TensorRef<float, 1>::contiguous(static_cast<float*>(c.ws), {n});
      a.bias = TensorRef<bf16, 1>::contiguous(static_cast<bf16*>(c.bias), {n});
      a.output = TensorMut<bf16, 2>::contiguous(static_cast<bf16*>(c.y16), {m, n});
      a.act_q_scratch = TensorMut<std::int8_t, 2>::contiguous(static_cast<std::int8_t*>(c.xq), {m, k});
      a.act_scale_scratch = TensorMut<float, 1>::contiguous(static_cast<float*>(c.xs), {m});
      return ql->run(Stream(stream), Workspace{c.lt_workspace, 64u << 20}, a);
    };
  } else if (which == Which::QjitSmoothQuant) {
    auto p = SmoothQuantLinearPlan<bf16>::select(Stream(stream),
                                                 SmoothQuantLinearDescriptor::make<bf16>(m, n, k, c.act_scale, true));
    if (!p.has_value()) return state.SkipWithError(p.error().to_string().c_str());
    sq.emplace(std::move(p).value());
    state.SetLabel(sq->describe());
    launch = [&]() -> Status {
      SmoothQuantLinearPlan<bf16>::Args a;
      a.act_q = TensorRef<std::int8_t, 2>::contiguous(static_cast<std::int8_t*>(c.xq), {m, k});
      a.weight_q = TensorRef<std::int8_t, 2>::contiguous(static_cast<std::int8_t*>(c.w8[rot++ % c.copies]), {n, k});
      a.weight_scale = TensorRef<float, 1>::contiguous(static_cast<float*>(c.ws), {n});
      a.bias = TensorRef<bf16, 1>::contiguous(static_cast<bf16*>(c.bias), {n});
      a.output = TensorMut<bf16, 2>::contiguous(static_cast<bf16*>(c.y16), {m, n});
      return sq->run(Stream(stream), Workspace{c.lt_workspace, 64u << 20}, a);
    };
  } else {
    const bool int8 = which == Which::CublasLtInt8;
    if (Status s = cublaslt_available(); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    auto g = CublasLtGemm::create(int8 ? BaselineKind::Int8 : BaselineKind::Bf16, m, n, k, int8 ? c.xq : c.x16,
                                  int8 ? c.w8[0] : c.w16[0], int8 ? c.y32 : c.y16, c.lt_workspace, 64u << 20, stream);
    if (!g.has_value()) return state.SkipWithError(g.error().to_string().c_str());
    lt = std::move(g).value();
    state.SetLabel(lt->algo_description());
    launch = [&, int8]() -> Status {
      const int r = rot++ % c.copies;
      return lt->run(int8 ? c.xq : c.x16, int8 ? c.w8[r] : c.w16[r], int8 ? c.y32 : c.y16, stream);
    };
  }
  double best_median = 0;
  for (auto _ : state) {
    auto t = time_launches(launch, stream, /*warmup=*/3, /*reps=*/15, /*batch=*/5);
    if (!t.has_value()) return state.SkipWithError(t.error().to_string().c_str());
    state.SetIterationTime(*t * 1e-6);
    best_median = *t;
  }
  const double ops = 2.0 * m * n * k;
  state.counters["TOPS"] = ops / (best_median * 1e-6) / 1e12;
  state.counters["us"] = best_median;
  Row& row = g_rows[label];
  row.m = m;
  row.n = n;
  row.k = k;
  (which == Which::QjitQuantizedLinear ? row.qjit_ql
   : which == Which::QjitSmoothQuant   ? row.qjit_sq
   : which == Which::CublasLtInt8      ? row.lt_s8
                                       : row.lt_bf16) = best_median;
}

void register_all() {
  struct Item {
    std::string name;
    std::int64_t m, n, k;
  };
  std::vector<Item> items;
  for (const auto& s : load_shapes("llama-2-7b"))
    for (std::int64_t m : {1, 16, 128, 2048, 8192}) items.push_back({s.name, m, s.n, s.k});
  items.push_back({"floor/square", 8192, 8192, 8192});
  const char* which_names[] = {"qjit_quantized_linear_bf16", "qjit_smooth_quant_bf16", "cublaslt_s8s8s32",
                               "cublaslt_bf16"};
  for (const auto& it : items) {
    const std::string label = it.name + " M=" + std::to_string(it.m);
    for (int w = 0; w < 4; ++w) {
      const std::string bname = std::string(which_names[w]) + "/" + label;
      benchmark::RegisterBenchmark(bname.c_str(), [=](benchmark::State& st) {
        run_case(st, static_cast<Which>(w), it.m, it.n, it.k, label);
      })->UseManualTime()->Iterations(3)->Unit(benchmark::kMicrosecond);
    }
  }
}

void print_table() {
  if (g_rows.empty()) return;
  std::printf("\n| case | M | N | K | qjit QL us | qjit SQ us | cuBLASLt s8 us | cuBLASLt bf16 us | SQ TOPS | "
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
  if (count) std::printf("\ngeometric mean speed ratio qjit SQ / cuBLASLt s8: %.3f over %d cases\n",
                         std::exp(log_sum / count), count);
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
