// The benchmark harness (see harness.h): buffers, case data, the four contenders, timing and the check.
#include "perf/harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "qjit/linear.h"

#if QJIT_HAVE_CUBLASLT
#include "perf/cublaslt_baseline.h"
#endif

namespace qjit::perf {
namespace {

// splitmix64: fast enough to fill a few hundred MiB of test data per shape without dominating the run.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0); }
};

// int8 values in [-127, 127] (no -128, so a negated weight stays representable, as real quantizers produce).
void fill_s8(std::vector<std::int8_t>& v, Rng& rng) {
  for (std::size_t i = 0; i < v.size(); i += 8) {
    std::uint64_t r = rng.next();
    for (std::size_t j = i; j < std::min(v.size(), i + 8); ++j, r >>= 8)
      v[j] = static_cast<std::int8_t>(static_cast<int>(r & 0xff) % 255 - 127);
  }
}

// Host values of `kind` (f16, bf16, f32) as raw bytes.
std::vector<std::uint8_t> fp_bytes(const std::vector<float>& values, ElementKind kind) {
  std::vector<std::uint8_t> out(values.size() * element_size(kind));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (kind == ElementKind::BF16) {
      const bf16 b = float_to_bf16(values[i]);
      std::memcpy(&out[i * 2], &b, 2);
    } else if (kind == ElementKind::F16) {
      const f16 h = float_to_f16(values[i]);
      std::memcpy(&out[i * 2], &h, 2);
    } else {
      std::memcpy(&out[i * 4], &values[i], 4);
    }
  }
  return out;
}

float load_fp(const std::uint8_t* p, ElementKind kind) {
  const auto bits = static_cast<std::uint16_t>(p[0] | p[1] << 8);
  if (kind == ElementKind::BF16) return bf16_to_float(bf16{bits});
  if (kind == ElementKind::F16) return f16_to_float(f16{bits});
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

Result<runtime::DeviceMemory> upload_new(const void* src, std::size_t bytes, const char* what) {
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceMemory b, runtime::DeviceMemory::allocate(bytes, what));
  if (src) QJIT_TRY(b.upload(src, bytes));
  return b;
}

template <class T>
T* as(const runtime::DeviceMemory& b) {
  return static_cast<T*>(b.get());
}

std::int8_t* weight_copy(const CaseData& d, int call) {
  return as<std::int8_t>(d.weights->s8[call % d.weights->copies]);
}

// The workspace a qjit plan gets, as an engine that wants the staged Hopper path for every view sizes it (issue 15,
// qjit/linear.h): workspace_size, which counts the staged int8 rows when K % 16 != 0, and, when an int8 view of
// an aligned K has a misaligned row stride (the odd-shapes file's K = 4096 case with act_q rows of 4104), room for
// them too (qjit::staged_workspace_size). Never less than workspace_size: the bench times what callers get.
template <class Plan>
std::size_t bench_workspace(const Plan& p, std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t ld_act_int8,
                            std::int64_t ld_weight) {
  const std::size_t plan_ws = std::max(p.workspace_size(), p.workspace_size(m));
  if (ld_act_int8 % 16 == 0 && ld_weight % 16 == 0) return plan_ws;
  return staged_workspace_size(plan_ws, m, n, k);
}

// The qjit plans, per output type.
template <FloatElement T>
Result<Prepared> prepare_qjit(bool smooth_quant, CaseData& d, PlanPreference pref, CUstream stream) {
  const std::int64_t m = d.m, n = d.weights->n, k = d.weights->k;
  TensorRef<T, 1> bias;
  if (d.has_bias) bias = TensorRef<T, 1>::contiguous(as<T>(d.bias), {n});
  if (smooth_quant) {
    QJIT_ASSIGN_OR_RETURN(
        auto plan, SmoothQuantLinearPlan<T>::select(
                       Stream(stream), SmoothQuantLinearDescriptor::make<T>(m, n, k, d.act_scale, d.has_bias), pref));
    auto p = std::make_shared<SmoothQuantLinearPlan<T>>(std::move(plan));
    auto ws = std::make_shared<runtime::DeviceMemory>();
    const std::size_t ws_bytes = bench_workspace(*p, m, n, k, d.ld.act_s8, d.weights->ld);
    QJIT_ASSIGN_OR_RETURN(*ws, runtime::DeviceMemory::allocate(std::max<std::size_t>(ws_bytes, 256), "plan workspace"));
    Prepared out;
    out.description = p->describe();
    out.launch = [p, ws, ws_bytes, bias, &d, stream, m, n, k](int call) -> Status {
      typename SmoothQuantLinearPlan<T>::Args a;
      a.act_q = TensorRef<std::int8_t, 2>::strided(as<std::int8_t>(d.act_s8), m, k, d.ld.act_s8);
      a.weight_q = TensorRef<std::int8_t, 2>::strided(weight_copy(d, call), n, k, d.weights->ld);
      a.weight_scale = TensorRef<float, 1>::contiguous(as<float>(d.weights->scale), {n});
      a.bias = bias;
      a.output = TensorMut<T, 2>::contiguous(as<T>(d.out), {m, n});
      return p->run(Stream(stream), Workspace{ws->get(), ws_bytes}, a);
    };
    return out;
  }
  QJIT_ASSIGN_OR_RETURN(auto plan, QuantizedLinearPlan<T>::select(
                                       Stream(stream), QuantizedLinearDescriptor::make<T>(m, n, k, d.has_bias), pref));
  auto p = std::make_shared<QuantizedLinearPlan<T>>(std::move(plan));
  auto ws = std::make_shared<runtime::DeviceMemory>();
  const std::size_t ws_bytes = bench_workspace(*p, m, n, k, d.ld.act_q, d.weights->ld);
  QJIT_ASSIGN_OR_RETURN(*ws, runtime::DeviceMemory::allocate(std::max<std::size_t>(ws_bytes, 256), "plan workspace"));
  Prepared out;
  out.description = p->describe();
  out.launch = [p, ws, ws_bytes, bias, &d, stream, m, n, k](int call) -> Status {
    typename QuantizedLinearPlan<T>::Args a;
    a.activation = TensorRef<T, 2>::strided(as<T>(d.act_fp), m, k, d.ld.act_fp);
    a.weight_q = TensorRef<std::int8_t, 2>::strided(weight_copy(d, call), n, k, d.weights->ld);
    a.weight_scale = TensorRef<float, 1>::contiguous(as<float>(d.weights->scale), {n});
    a.bias = bias;
    a.output = TensorMut<T, 2>::contiguous(as<T>(d.out), {m, n});
    a.act_q_scratch = TensorMut<std::int8_t, 2>::strided(as<std::int8_t>(d.act_q_scratch), m, k, d.ld.act_q);
    a.act_scale_scratch = TensorMut<float, 1>::contiguous(as<float>(d.act_scale_scratch), {m});
    return p->run(Stream(stream), Workspace{ws->get(), ws_bytes}, a);
  };
  return out;
}

Result<Prepared> prepare_baseline(bool int8, CaseData& d, CUstream stream) {
#if QJIT_HAVE_CUBLASLT
  QJIT_TRY(cublaslt_available());
  if (!d.out_s32.get() || (!int8 && d.weights->bf16.empty()))
    return Status(StatusCode::InvalidArgument, "case data was made without the baseline's buffers (with_baseline)");
  const std::int64_t m = d.m, n = d.weights->n, k = d.weights->k;
  const void* x = int8 ? d.act_s8.get() : d.act_bf16_ptr();
  void* y = int8 ? d.out_s32.get() : d.out_bf16.get();
  QJIT_ASSIGN_OR_RETURN(std::unique_ptr<CublasLtGemm> g,
                        CublasLtGemm::create(int8 ? BaselineKind::Int8 : BaselineKind::Bf16, m, n, k, x,
                                             int8 ? d.weights->s8[0].get() : d.weights->bf16[0].get(), y,
                                             d.lt_workspace.get(), d.lt_workspace.bytes(), stream, 8,
                                             int8 ? d.ld.act_s8 : k, int8 ? d.weights->ld : k));
  std::shared_ptr<CublasLtGemm> lt = std::move(g);
  Prepared out;
  out.description = lt->algo_description();
  out.launch = [lt, &d, int8, x, y, stream](int call) -> Status {
    const int copy = call % d.weights->copies;
    const void* w = int8 ? d.weights->s8[copy].get() : d.weights->bf16[copy].get();
    return lt->run(x, w, y, stream);
  };
  return out;
#else
  (void)int8, (void)d, (void)stream;
  return cublaslt_baseline_status();
#endif
}

}  // namespace

// ---- facts ----

std::optional<double> dense_int8_peak_tops(std::string_view name) {
  auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  // Data-sheet dense int8 tensor TOPS (half the "with sparsity" figure). Order matters: the PCIe and NVL H100s
  // share the "H100" substring with the SXM part, and "GH200" contains "H200" (same GPU, same peak).
  if (has("H200")) return 1979.0;
  if (has("H100")) {
    if (has("PCIe")) return 1513.0;
    if (has("NVL")) return 1671.0;
    return 1979.0;  // "NVIDIA H100 80GB HBM3" is the SXM5 part
  }
  if (has("A100")) return 624.0;
  if (has("L40S")) return 733.0;
  return std::nullopt;
}

std::string_view contender_name(Contender c) {
  switch (c) {
    case Contender::QjitSmoothQuant: return "qjit_smooth_quant";
    case Contender::QjitQuantizedLinear: return "qjit_quantized_linear";
    case Contender::CublasLtS8: return "cublaslt_s8";
    case Contender::CublasLtBf16: return "cublaslt_bf16";
  }
  return "?";
}

bool built_with_cublaslt() { return QJIT_HAVE_CUBLASLT != 0; }

Status cublaslt_baseline_status() {
#if QJIT_HAVE_CUBLASLT
  return cublaslt_available();
#else
  return Status(StatusCode::Unsupported,
                "this qjit was built without the cuBLASLt baseline (the CUDA toolkit headers were not found when it "
                "was configured); install the toolkit headers and re-run cmake to compare against cuBLASLt");
#endif
}

// ---- data ----

std::int64_t aligned_row_stride(std::int64_t k, std::size_t element_bytes, std::size_t align_bytes) {
  const std::size_t e = std::max<std::size_t>(1, element_bytes);
  const auto per = static_cast<std::int64_t>(std::max<std::size_t>(1, align_bytes / e));
  return (k + per - 1) / per * per;
}

Result<std::shared_ptr<WeightSet>> make_weights(std::int64_t n, std::int64_t k, std::int64_t l2_bytes,
                                                std::int64_t device_memory_bytes, std::uint64_t seed, bool with_bf16,
                                                std::int64_t ld) {
  auto w = std::make_shared<WeightSet>();
  w->n = n;
  w->k = k;
  w->ld = ld > 0 ? std::max(ld, k) : k;
  const std::size_t count = static_cast<std::size_t>(n * k);
  // NOTE: the bf16 copies are twice the size but rotate in step with the int8 ones, so they span 4x the L2.
  w->copies = autotune::rotation_copies(static_cast<std::size_t>(n * w->ld), l2_bytes,
                                        device_memory_bytes / (with_bf16 ? 3 : 1));
  Rng rng{seed};
  std::vector<std::int8_t> q(count);
  fill_s8(q, rng);
  w->host_scale.resize(static_cast<std::size_t>(n));
  for (auto& s : w->host_scale) s = 1e-3f * (1.0f + 0.5f * rng.uniform());
  QJIT_ASSIGN_OR_RETURN(w->scale, upload_new(w->host_scale.data(), w->host_scale.size() * 4, "weight scales"));
  std::vector<float> dequant;
  if (with_bf16) {
    dequant.resize(count);
    for (std::size_t i = 0; i < count; ++i) dequant[i] = q[i] * w->host_scale[i / static_cast<std::size_t>(k)];
  }
  const std::vector<std::uint8_t> w16 = with_bf16 ? fp_bytes(dequant, ElementKind::BF16) : std::vector<std::uint8_t>{};
  // The int8 copies with their row stride (zero pad bytes).
  std::vector<std::int8_t> q_ld;
  if (w->ld != k) {
    q_ld.assign(static_cast<std::size_t>(n * w->ld), 0);
    for (std::int64_t r = 0; r < n; ++r) std::memcpy(&q_ld[r * w->ld], &q[r * k], static_cast<std::size_t>(k));
  }
  const std::vector<std::int8_t>& q_up = w->ld != k ? q_ld : q;
  for (int c = 0; c < w->copies; ++c) {
    QJIT_ASSIGN_OR_RETURN(runtime::DeviceMemory b, upload_new(q_up.data(), q_up.size(), "int8 weight copy"));
    w->s8.push_back(std::move(b));
    if (with_bf16) {
      QJIT_ASSIGN_OR_RETURN(runtime::DeviceMemory b16, upload_new(w16.data(), w16.size(), "bf16 weight copy"));
      w->bf16.push_back(std::move(b16));
    }
  }
  return w;
}

Result<std::unique_ptr<CaseData>> make_case(std::shared_ptr<WeightSet> weights, std::int64_t m, ElementKind dtype,
                                            bool has_bias, bool with_baseline, std::uint64_t seed,
                                            ActLayout layout) {
  if (dtype != ElementKind::F16 && dtype != ElementKind::BF16 && dtype != ElementKind::F32)
    return Status(StatusCode::InvalidArgument,
                  "dtype must be f16, bf16 or f32, got " + std::string(element_name(dtype)));
  if (with_baseline && weights->bf16.empty())
    return Status(StatusCode::InvalidArgument, "with_baseline needs weights made with_bf16");
  auto d = std::make_unique<CaseData>();
  const std::int64_t n = weights->n, k = weights->k;
  d->weights = std::move(weights);
  d->m = m;
  d->dtype = dtype;
  d->has_bias = has_bias;
  auto resolve = [k](std::int64_t ld) { return ld > 0 ? std::max(ld, k) : k; };
  d->ld = ActLayout{resolve(layout.act_fp), resolve(layout.act_s8), resolve(layout.act_q)};
  Rng rng{seed};
  const std::size_t mn = static_cast<std::size_t>(m * n);
  // Every row of a strided buffer is filled (pad elements too: they are never read as values).
  std::vector<float> x(static_cast<std::size_t>(m * d->ld.act_fp));
  for (auto& v : x) v = 2.0f * rng.uniform();
  std::vector<std::int8_t> xq(static_cast<std::size_t>(m * d->ld.act_s8));
  fill_s8(xq, rng);
  const auto x_fp = fp_bytes(x, dtype);
  QJIT_ASSIGN_OR_RETURN(d->act_fp, upload_new(x_fp.data(), x_fp.size(), "activation"));
  QJIT_ASSIGN_OR_RETURN(d->act_s8, upload_new(xq.data(), xq.size(), "int8 activation"));
  QJIT_ASSIGN_OR_RETURN(d->act_q_scratch,
                        runtime::DeviceMemory::allocate(static_cast<std::size_t>(m * d->ld.act_q), "quantize scratch"));
  QJIT_ASSIGN_OR_RETURN(d->act_scale_scratch,
                        runtime::DeviceMemory::allocate(static_cast<std::size_t>(m) * 4, "per-token scales"));
  QJIT_ASSIGN_OR_RETURN(d->out, runtime::DeviceMemory::allocate(mn * element_size(dtype), "output"));
  if (has_bias) {
    std::vector<float> b(static_cast<std::size_t>(n));
    for (auto& v : b) v = rng.uniform();
    const auto bytes = fp_bytes(b, dtype);
    QJIT_ASSIGN_OR_RETURN(d->bias, upload_new(bytes.data(), bytes.size(), "bias"));
  }
  if (with_baseline) {
    if (dtype != ElementKind::BF16 || d->ld.act_fp != k) {
      // bf16 cuBLASLt reads a contiguous [M, K] copy of the same values.
      std::vector<float> xc(static_cast<std::size_t>(m * k));
      for (std::int64_t r = 0; r < m; ++r)
        std::copy_n(&x[static_cast<std::size_t>(r * d->ld.act_fp)], k, &xc[static_cast<std::size_t>(r * k)]);
      const auto x16 = fp_bytes(xc, ElementKind::BF16);
      QJIT_ASSIGN_OR_RETURN(d->act_bf16, upload_new(x16.data(), x16.size(), "bf16 activation"));
    }
    QJIT_ASSIGN_OR_RETURN(d->out_bf16, runtime::DeviceMemory::allocate(mn * 2, "bf16 baseline output"));
    QJIT_ASSIGN_OR_RETURN(d->out_s32, runtime::DeviceMemory::allocate(mn * 4, "int32 baseline output"));
    QJIT_ASSIGN_OR_RETURN(d->lt_workspace,
                          runtime::DeviceMemory::allocate(kBaselineWorkspaceBytes, "cuBLASLt workspace"));
  }
  return d;
}

// ---- contenders, timing, check ----

Result<Prepared> prepare(Contender c, CaseData& d, PlanPreference pref, CUstream stream) {
  const bool sq = c == Contender::QjitSmoothQuant;
  switch (c) {
    case Contender::QjitSmoothQuant:
    case Contender::QjitQuantizedLinear:
      if (d.dtype == ElementKind::BF16) return prepare_qjit<bf16>(sq, d, pref, stream);
      if (d.dtype == ElementKind::F16) return prepare_qjit<f16>(sq, d, pref, stream);
      return prepare_qjit<float>(sq, d, pref, stream);
    case Contender::CublasLtS8: return prepare_baseline(true, d, stream);
    case Contender::CublasLtBf16: return prepare_baseline(false, d, stream);
  }
  return Status(StatusCode::InvalidArgument, "unknown contender");
}

Result<CheckResult> check_smooth_quant_against_baseline(const CaseData& d, int rows) {
  if (!d.out_s32.get()) return Status(StatusCode::InvalidArgument, "the check needs the int8 baseline's output");
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  QJIT_CU(*api, cuCtxSynchronize);
  const std::int64_t n = d.weights->n;
  const std::size_t esize = element_size(d.dtype);
  // One output rounding (plus the f32 epilogue's own few roundings, in whatever order the kernel multiplies).
  const double tol = d.dtype == ElementKind::BF16 ? 0x1p-7 : d.dtype == ElementKind::F16 ? 0x1p-10 : 0x1p-20;
  std::vector<float> bias(static_cast<std::size_t>(n), 0.0f);
  if (d.has_bias) {
    std::vector<std::uint8_t> raw(static_cast<std::size_t>(n) * esize);
    QJIT_TRY(d.bias.download(raw.data(), raw.size()));
    for (std::int64_t j = 0; j < n; ++j) bias[j] = load_fp(&raw[static_cast<std::size_t>(j) * esize], d.dtype);
  }
  // The int8 operands as uploaded (row strides included), for the exact accumulators.
  const std::int64_t k = d.weights->k, ldw = d.weights->ld, lda = d.ld.act_s8;
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * ldw));
  QJIT_TRY(d.weights->s8[0].download(w.data(), w.size()));
  std::vector<std::int8_t> a(static_cast<std::size_t>(k));
  CheckResult r;
  const int count = static_cast<int>(std::min<std::int64_t>(rows, d.m));
  std::vector<std::int32_t> acc(static_cast<std::size_t>(n)), lt(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> y(static_cast<std::size_t>(n) * esize);
  for (int i = 0; i < count; ++i) {
    const std::int64_t row = count == 1 ? 0 : i * (d.m - 1) / (count - 1);
    QJIT_TRY(d.act_s8.download(a.data(), a.size(), static_cast<std::size_t>(row * lda)));
    QJIT_TRY(d.out_s32.download(lt.data(), lt.size() * 4, static_cast<std::size_t>(row * n) * 4));
    QJIT_TRY(d.out.download(y.data(), y.size(), static_cast<std::size_t>(row * n) * esize));
    for (std::int64_t j = 0; j < n; ++j) {
      // Exact in int32: |acc| <= K * 128 * 128 < 2^31 for every K the plans accept.
      const std::int8_t* wr = &w[static_cast<std::size_t>(j * ldw)];
      std::int32_t s = 0;
      for (std::int64_t kk = 0; kk < k; ++kk) s += std::int32_t{a[kk]} * std::int32_t{wr[kk]};
      acc[j] = s;
      r.baseline_mismatches += lt[j] != s ? 1 : 0;
    }
    for (std::int64_t j = 0; j < n; ++j) {
      const float product = d.act_scale * d.weights->host_scale[j] * static_cast<float>(acc[j]);
      const float ref = product + bias[j];
      const float got = load_fp(&y[static_cast<std::size_t>(j) * esize], d.dtype);
      const double err = std::fabs(static_cast<double>(got) - ref);
      // NOTE: relative to the larger addend, since a bias that cancels the product leaves a tiny |ref| whose
      // relative error says nothing about the kernel.
      const double scale =
          std::max({std::fabs(double{ref}), std::fabs(double{product}), std::fabs(double{bias[j]}), 1e-6});
      r.max_rel_error = std::max(r.max_rel_error, err / scale);
      if (!(err <= tol * scale + 1e-6)) ++r.mismatches;  // NaN counts as a mismatch
      ++r.compared;
    }
  }
  return r;
}

}  // namespace qjit::perf
