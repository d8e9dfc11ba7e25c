// `qjit demo`: the whole job on one synthetic layer. (1) offline: a layer whose activations have outlier channels
// is smoothed (SmoothQuant) and quantized, printing the W8A8 error with and without smoothing; (2) JIT: the layer's
// kernels are rendered and compiled into the kernel cache (a second run of the demo shows the cache hits); (3) on a
// GPU, both linear plans run on the layer and their output is checked against the f64 reference. Without a GPU it
// says so and stops after compiling.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "codegen/kernel_spec.h"
#include "jit/kernel_service.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/config_choice.h"
#include "qjit/linear.h"
#include "qjit/quant/calibration.h"
#include "qjit/quant/smooth_quant.h"
#include "qjit/quant/smoothing_eval.h"
#include "qjit/quant/w8a8.h"
#include "runtime/device.h"
#include "runtime/driver.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

namespace cl = llvm::cl;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Frobenius relative error of y against the f64 reference.
double rel_error(const std::vector<double>& y, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    num += (y[i] - ref[i]) * (y[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

struct DeviceMem {
  runtime::CUdeviceptr p = 0;
  const runtime::DriverApi* api = nullptr;
  ~DeviceMem() {
    if (p && api) api->cuMemFree(p);
  }
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(p);
  }
};

Status upload(const runtime::DriverApi& api, DeviceMem& m, const void* src, std::size_t bytes) {
  m.api = &api;
  QJIT_CU(api, cuMemAlloc, &m.p, bytes);
  if (src) QJIT_CU(api, cuMemcpyHtoD, m.p, src, bytes);
  return Status();
}

int fail(const Status& s) {
  std::fprintf(stderr, "qjit demo: %s\n", s.to_string().c_str());
  return 1;
}

// Runs both plans on the GPU and prints their error against the f64 reference.
Status run_on_gpu(std::int64_t m, std::int64_t n, std::int64_t k, const std::vector<float>& x_smoothed,
                  const quant::W8A8Weights& w, float act_scale, const std::vector<double>& y_ref) {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  std::vector<bf16> x16(x_smoothed.size());
  for (std::size_t i = 0; i < x16.size(); ++i) x16[i] = float_to_bf16(x_smoothed[i]);
  DeviceMem d_x, d_w, d_ws, d_y, d_q, d_s, d_sq_a;
  QJIT_TRY(upload(*api, d_x, x16.data(), x16.size() * 2));
  QJIT_TRY(upload(*api, d_w, w.weight.data(), w.weight.size()));
  QJIT_TRY(upload(*api, d_ws, w.weight_scale.data(), w.weight_scale.size() * 4));
  QJIT_TRY(upload(*api, d_y, nullptr, static_cast<std::size_t>(m * n) * 2));
  QJIT_TRY(upload(*api, d_q, nullptr, static_cast<std::size_t>(m * k)));
  QJIT_TRY(upload(*api, d_s, nullptr, static_cast<std::size_t>(m) * 4));
  auto read_y = [&]() -> Result<std::vector<double>> {
    std::vector<bf16> y(static_cast<std::size_t>(m * n));
    QJIT_CU(*api, cuCtxSynchronize);
    QJIT_CU(*api, cuMemcpyDtoH, y.data(), d_y.p, y.size() * 2);
    std::vector<double> out(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) out[i] = bf16_to_float(y[i]);
    return out;
  };

  // QuantizedLinearPlan: bf16 activation -> per-token int8 -> GEMM -> bf16.
  auto t0 = std::chrono::steady_clock::now();
  QJIT_ASSIGN_OR_RETURN(auto ql,
                        QuantizedLinearPlan<bf16>::select(Stream(), QuantizedLinearDescriptor::make<bf16>(m, n, k)));
  std::printf("  QuantizedLinearPlan<bf16>::select   %7.1f ms  %s\n", 1e3 * seconds_since(t0), ql.describe().c_str());
  QuantizedLinearPlan<bf16>::Args a;
  a.activation = TensorRef<bf16, 2>::contiguous(d_x.as<bf16>(), {m, k});
  a.weight_q = TensorRef<std::int8_t, 2>::contiguous(d_w.as<std::int8_t>(), {n, k});
  a.weight_scale = TensorRef<float, 1>::contiguous(d_ws.as<float>(), {n});
  a.output = TensorMut<bf16, 2>::contiguous(d_y.as<bf16>(), {m, n});
  a.act_q_scratch = TensorMut<std::int8_t, 2>::contiguous(d_q.as<std::int8_t>(), {m, k});
  a.act_scale_scratch = TensorMut<float, 1>::contiguous(d_s.as<float>(), {m});
  QJIT_TRY(ql.can_implement(a));
  // Split-K decode kernels need a workspace; the plan says how much (0 for most configs).
  DeviceMem d_work;
  const std::size_t work_bytes = std::max(ql.workspace_size(), std::size_t{256});
  QJIT_TRY(upload(*api, d_work, nullptr, work_bytes));
  QJIT_TRY(ql.run(Stream(), Workspace{d_work.as<void>(), ql.workspace_size()}, a));
  QJIT_ASSIGN_OR_RETURN(auto y1, read_y());
  std::printf("  QuantizedLinearPlan  (per-token)    rel. error vs f64 X·Wᵀ: %.3e\n", rel_error(y1, y_ref));

  // SmoothQuantLinearPlan: the static per-tensor scale from calibration.
  QJIT_ASSIGN_OR_RETURN(auto act_q, quant::quantize_per_tensor(x_smoothed, act_scale));
  QJIT_TRY(upload(*api, d_sq_a, act_q.data(), act_q.size()));
  t0 = std::chrono::steady_clock::now();
  QJIT_ASSIGN_OR_RETURN(auto sq, SmoothQuantLinearPlan<bf16>::select(
                                     Stream(), SmoothQuantLinearDescriptor::make<bf16>(m, n, k, act_scale)));
  std::printf("  SmoothQuantLinearPlan<bf16>::select %7.1f ms  %s\n", 1e3 * seconds_since(t0), sq.describe().c_str());
  SmoothQuantLinearPlan<bf16>::Args b;
  b.act_q = TensorRef<std::int8_t, 2>::contiguous(d_sq_a.as<std::int8_t>(), {m, k});
  b.weight_q = a.weight_q;
  b.weight_scale = a.weight_scale;
  b.output = a.output;
  DeviceMem d_work2;
  QJIT_TRY(upload(*api, d_work2, nullptr, std::max(sq.workspace_size(), std::size_t{256})));
  QJIT_TRY(sq.run(Stream(), Workspace{d_work2.as<void>(), sq.workspace_size()}, b));
  QJIT_ASSIGN_OR_RETURN(auto y2, read_y());
  std::printf("  SmoothQuantLinearPlan (static)      rel. error vs f64 X·Wᵀ: %.3e\n", rel_error(y2, y_ref));
  const double worst = std::max(rel_error(y1, y_ref), rel_error(y2, y_ref));
  if (!(worst < 0.05))
    return Status(StatusCode::Unsupported, "GPU result error " + std::to_string(worst) + " exceeds 5%");
  return Status();
}

// NOTE: the demo holds the activations and weights several times over in f32 plus f64 references and computes
// two f64 products on the CPU; bounding the layer up front turns `-m 100000 -n 100000 -k 100000` (an abort on
// bad_alloc) into a usage error, and keeps the CPU reference to about a minute.
constexpr std::uint64_t kMaxDemoBytes = 4ull << 30;
constexpr std::uint64_t kMaxDemoMacs = 1ull << 36;

Status check_demo_size(std::int64_t m, std::int64_t n, std::int64_t k) {
  const auto um = static_cast<std::uint64_t>(m), un = static_cast<std::uint64_t>(n), uk = static_cast<std::uint64_t>(k);
  std::uint64_t macs = 0, mn = 0, mk = 0, nk = 0, bytes = 0;
  const bool overflow = __builtin_mul_overflow(um, un, &mn) || __builtin_mul_overflow(mn, uk, &macs) ||
                        __builtin_mul_overflow(um, uk, &mk) || __builtin_mul_overflow(un, uk, &nk) ||
                        __builtin_mul_overflow(mk + nk, std::uint64_t{24}, &bytes) ||
                        __builtin_add_overflow(bytes, mn * 24, &bytes);
  if (overflow || macs > kMaxDemoMacs || bytes > kMaxDemoBytes)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("the demo layer --m {0} --n {1} --k {2} must need at most {3} multiply-adds and about "
                                "{4} GiB of host memory (it checks the GPU against a CPU f64 reference); pick a "
                                "smaller layer, e.g. the default -m 64 -n 4096 -k 4096",
                                m, n, k, kMaxDemoMacs, kMaxDemoBytes >> 30)
                      .str());
  return Status();
}

}  // namespace

int run_demo_command(int argc, char** argv) {
  cl::OptionCategory cat("qjit demo options");
  cl::opt<int> m_opt("m", cl::desc("tokens (rows of the activation)"), cl::init(64), cl::cat(cat));
  cl::opt<int> n_opt("n", cl::desc("output features"), cl::init(4096), cl::cat(cat));
  cl::opt<int> k_opt("k", cl::desc("input features"), cl::init(4096), cl::cat(cat));
  cl::opt<float> alpha_opt("alpha", cl::desc("SmoothQuant migration strength"), cl::init(0.5f), cl::cat(cat));
  cl::opt<std::string> arch_opt("arch", cl::desc("target when no GPU is present: sm_80, sm_89 or sm_90a"),
                                cl::init("sm_90a"), cl::cat(cat));
  cl::HideUnrelatedOptions(cat);
  if (!cl::ParseCommandLineOptions(argc, argv,
                                   "qjit demo: quantize a synthetic layer, JIT-compile its kernels, "
                                   "and run and check them on a GPU\n",
                                   &llvm::errs()))
    return 2;
  const std::int64_t m = m_opt, n = n_opt, k = k_opt;
  if (m < 1 || n < 1 || k < 1) return fail(Status(StatusCode::InvalidArgument, "--m, --n and --k must be >= 1"));
  if (Status s = check_demo_size(m, n, k); !s.ok()) return fail(s);

  std::printf("qjit demo: a %lld x %lld linear layer, %lld tokens, activations with 8 outlier channels (x50)\n\n",
              static_cast<long long>(n), static_cast<long long>(k), static_cast<long long>(m));
  // ---- 1. offline: smooth + quantize ----
  auto x = quant::synthesize_outlier_activations(m, k, 8, 50.0f, 42);
  auto w = quant::synthesize_weights(n, k, 43);
  if (!x.has_value()) return fail(x.error());
  if (!w.has_value()) return fail(w.error());
  auto report = quant::evaluate_smoothing(*x, *w, m, k, n, alpha_opt);
  if (!report.has_value()) return fail(report.error());
  std::printf("1. offline quantization (CPU, f64 reference)\n");
  std::printf("  W8A8 rel. error without smoothing: %.3e\n", report->rel_error_plain);
  std::printf("  W8A8 rel. error with SmoothQuant (alpha %.2f): %.3e  (%.1fx lower)\n\n", report->alpha,
              report->rel_error_smoothed, report->improvement());
  std::vector<float> xs = *x, ws = *w;
  quant::SmoothQuantMigrator migrator(alpha_opt);
  auto act_max = quant::SmoothQuantMigrator::compute_act_stats(*x, m, k);
  if (!act_max.has_value()) return fail(act_max.error());
  auto scales = migrator.smooth_layer(xs, ws, m, k, n);
  if (!scales.has_value()) return fail(scales.error());
  auto wq = quant::quantize_weight_per_channel(ws.data(), n, k);
  if (!wq.has_value()) return fail(wq.error());
  auto act_scale = quant::static_activation_scale(*act_max, *scales);
  if (!act_scale.has_value()) return fail(act_scale.error());

  // ---- 2. JIT: render and compile the layer's kernels into the cache ----
  auto device = runtime::current_device();
  int arch = 90;
  if (device.has_value())
    arch = device->arch;
  else if (arch_opt == "sm_80")
    arch = 80;
  else if (arch_opt == "sm_89")
    arch = 89;
  else if (arch_opt != "sm_90a")
    return fail(Status(StatusCode::InvalidArgument, "--arch must be sm_80, sm_89 or sm_90a, got " + arch_opt));
  std::printf("2. JIT compile for %s (%s)\n", codegen::arch_option(arch).c_str(),
              device.has_value() ? device->name.c_str() : "no GPU: compiling for the --arch target");
  const int sm_count = device.has_value() ? device->sm_count : 132;
  std::vector<codegen::KernelSpec> specs;
  {
    codegen::KernelSpec q{};
    q.op = codegen::KernelOp::QuantizeRowwise;
    q.in_element = ElementKind::BF16;
    q.out_element = ElementKind::S8;
    q.k = k;
    q.m_bucket = codegen::m_bucket_of(m);
    q.arch = arch;
    specs.push_back(q);
    codegen::KernelSpec g{};
    g.op = codegen::KernelOp::GemmS8;
    g.in_element = ElementKind::S8;
    g.out_element = ElementKind::BF16;
    g.n = n;
    g.k = k;
    g.m_bucket = codegen::m_bucket_of(m);
    g.per_token_scale = true;
    g.arch = arch;
    specs.push_back(g);
    g.per_token_scale = false;
    specs.push_back(g);
  }
  auto& service = jit::KernelService::process();
  for (const auto& spec : specs) {
    runtime::DeviceInfo target = device.has_value() ? *device : runtime::DeviceInfo{};
    target.arch = arch;
    target.sm_count = sm_count;
    // The same choice the plans make (Hopper family on sm_90 where K allows it), so step 3 finds these kernels.
    auto config = ops::choose_config(spec, PlanPreference::Heuristic, target);
    if (!config.has_value()) return fail(config.error());
    auto source = ops::render(spec, *config);
    if (!source.has_value()) return fail(source.error());
    auto t0 = std::chrono::steady_clock::now();
    auto compiled = service.obtain(*source, arch);
    if (!compiled.has_value()) return fail(compiled.error());
    const double first = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    auto again = service.obtain(*source, arch);
    if (!again.has_value()) return fail(again.error());
    std::printf("  %-58s %s %7.1f ms, then disk hit %5.2f ms  (%zu-byte cubin)\n", source->entry.c_str(),
                compiled->compiled_now ? "compiled " : "cache hit", 1e3 * first, 1e3 * seconds_since(t0),
                compiled->entry->payload.size());
  }
  if (auto store = service.store())
    std::printf("  kernel cache: %s\n\n", store->options().writable_dir.c_str());
  else
    std::printf("  kernel cache: disabled (see the warning above)\n\n");

  // ---- 3. run on the GPU ----
  if (!device.has_value()) {
    std::printf("3. no GPU here (%s): stopping after compile.\n", device.error().message().c_str());
    return 0;
  }
  std::printf("3. run on %s and check against the f64 reference\n", device->name.c_str());
  std::vector<double> y_ref(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t t = 0; t < k; ++t) s += static_cast<double>((*x)[i * k + t]) * (*w)[j * k + t];
      y_ref[i * n + j] = s;
    }
  if (Status s = run_on_gpu(m, n, k, xs, *wq, *act_scale, y_ref); !s.ok()) return fail(s);
  std::printf("\nok\n");
  return 0;
}

}  // namespace qjit::tools
