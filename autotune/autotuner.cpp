// The autotuning loop (see autotuner.h): candidate list, parallel compile, reference run, bit-exact check, timing.
// Operands are fresh pseudo-random data (never zeros) so a kernel that skips work cannot match the reference.
#include "autotune/autotuner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>

#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "jit/kernel_service.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ThreadPool.h"
#include "runtime/device_memory.h"
#include "runtime/log.h"

namespace qjit::autotune {
namespace {

using jit::bind_kernel_with;
using jit::kernel_workspace_bytes;
using jit::KernelBinding;
using jit::KernelService;
using jit::launch_dims;
using jit::launch_gemm;
using jit::render;

using runtime::DeviceMemory;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// xorshift64*: cheap, deterministic per seed, never all-zero.
class Random {
 public:
  explicit Random(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    s_ ^= s_ >> 12, s_ ^= s_ << 25, s_ ^= s_ >> 27;
    return s_ * 2685821657736338717ull;
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 40) * 0x1p-24f; }

 private:
  std::uint64_t s_;
};

std::vector<std::uint8_t> random_s8(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> v(n);
  Random r(seed);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x = r.next();
    std::memcpy(&v[i], &x, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<std::uint8_t>(r.next());
  return v;
}

// `count` values uniform in [lo, hi) stored as `kind`.
std::vector<std::uint8_t> random_values(ElementKind kind, std::size_t count, float lo, float hi, std::uint64_t seed) {
  Random r(seed);
  std::vector<std::uint8_t> out(count * element_size(kind));
  for (std::size_t i = 0; i < count; ++i) {
    const float f = r.uniform(lo, hi);
    std::uint8_t* p = &out[i * element_size(kind)];
    switch (kind) {
      case ElementKind::F16: {
        const f16 h = float_to_f16(f);
        std::memcpy(p, &h, 2);
        break;
      }
      case ElementKind::BF16: {
        const bf16 b = float_to_bf16(f);
        std::memcpy(p, &b, 2);
        break;
      }
      case ElementKind::F32: std::memcpy(p, &f, 4); break;
      case ElementKind::F64: {
        const double d = f;
        std::memcpy(p, &d, 8);
        break;
      }
      default: break;
    }
  }
  return out;
}

Result<DeviceMemory> upload_new(const std::vector<std::uint8_t>& host, const char* what) {
  QJIT_ASSIGN_OR_RETURN(DeviceMemory m, DeviceMemory::allocate(host.size(), what));
  QJIT_TRY(m.upload(host.data(), host.size()));
  return m;
}

// One kernel's operands on the device, and how to launch a binding on them.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual Status launch(const KernelBinding& k, int call, CUstream stream) = 0;
  virtual Status poison(CUstream stream) = 0;
  virtual Result<std::vector<std::uint8_t>> read_output() = 0;
};

class GemmWorkload final : public Workload {
 public:
  static Result<std::unique_ptr<GemmWorkload>> create(const codegen::KernelSpec& spec, std::int64_t m,
                                                      std::size_t workspace, const runtime::DeviceInfo& device) {
    auto w = std::make_unique<GemmWorkload>();
    w->spec_ = spec;
    w->m_ = m;
    const auto n = static_cast<std::size_t>(spec.n), k = static_cast<std::size_t>(spec.k);
    QJIT_ASSIGN_OR_RETURN(w->a_, upload_new(random_s8(m * k, 1), "tuner activation"));
    QJIT_ASSIGN_OR_RETURN(DeviceMemory first, upload_new(random_s8(n * k, 2), "tuner weight"));
    w->weights_.push_back(std::move(first));
    const int copies =
        autotune::rotation_copies(n * k, device.l2_bytes, static_cast<std::int64_t>(device.total_memory));
    for (int i = 1; i < copies; ++i) {
      QJIT_ASSIGN_OR_RETURN(DeviceMemory c, DeviceMemory::allocate(n * k, "tuner weight copy"));
      QJIT_TRY(c.copy_from(w->weights_[0], n * k, nullptr));
      w->weights_.push_back(std::move(c));
    }
    QJIT_ASSIGN_OR_RETURN(w->a_scale_, upload_new(random_values(ElementKind::F32, m, 1e-3f, 2e-2f, 3), "a_scale"));
    QJIT_ASSIGN_OR_RETURN(w->b_scale_, upload_new(random_values(ElementKind::F32, n, 1e-3f, 2e-2f, 4), "b_scale"));
    if (spec.has_bias) {
      QJIT_ASSIGN_OR_RETURN(w->bias_, upload_new(random_values(spec.out_element, n, -4.0f, 4.0f, 5), "bias"));
    }
    w->c_bytes_ = m * n * element_size(spec.out_element);
    QJIT_ASSIGN_OR_RETURN(w->c_, DeviceMemory::allocate(w->c_bytes_, "tuner output"));
    QJIT_ASSIGN_OR_RETURN(w->ws_, DeviceMemory::allocate(std::max<std::size_t>(workspace, 16), "tuner workspace"));
    return w;
  }

  Status launch(const KernelBinding& g, int call, CUstream stream) override {
    codegen::GemmS8Params p{};
    p.a = a_.get();
    p.lda = spec_.k;
    p.b = weights_[static_cast<std::size_t>(call) % weights_.size()].get();
    p.ldb = spec_.k;
    // NOTE: a device per-tensor activation scale (ScaledMatmul) reads a_scale[0], so it needs the buffer too.
    p.a_scale = spec_.per_token_scale || spec_.device_act_scale ? static_cast<const float*>(a_scale_.get()) : nullptr;
    p.a_scale_value = 0.0125f;
    p.b_scale = static_cast<const float*>(b_scale_.get());
    p.bias = spec_.has_bias ? bias_.get() : nullptr;
    p.c = c_.get();
    p.ldc = spec_.n;
    p.m = static_cast<std::int32_t>(m_);
    const std::size_t need = kernel_workspace_bytes(g.spec, g.config, m_);
    if (need > ws_.bytes())
      return Status(StatusCode::InvalidArgument, "tuner workspace too small for " + g.config.to_string());
    p.workspace = need > 0 ? ws_.get() : nullptr;
    return launch_gemm(g, p, need, stream);
  }
  Status poison(CUstream stream) override { return c_.fill_bytes(0xFF, stream); }
  Result<std::vector<std::uint8_t>> read_output() override {
    std::vector<std::uint8_t> out(c_bytes_);
    QJIT_TRY(c_.download(out.data(), out.size()));
    return out;
  }

 private:
  codegen::KernelSpec spec_;
  std::int64_t m_ = 0;
  DeviceMemory a_, a_scale_, b_scale_, bias_, c_, ws_;
  std::vector<DeviceMemory> weights_;
  std::size_t c_bytes_ = 0;
};

class QuantizeWorkload final : public Workload {
 public:
  static Result<std::unique_ptr<QuantizeWorkload>> create(const codegen::KernelSpec& spec, std::int64_t m,
                                                          const runtime::DeviceInfo& device) {
    auto w = std::make_unique<QuantizeWorkload>();
    w->spec_ = spec;
    w->m_ = m;
    const auto k = static_cast<std::size_t>(spec.k);
    const std::size_t x_bytes = m * k * element_size(spec.in_element);
    QJIT_ASSIGN_OR_RETURN(DeviceMemory first,
                          upload_new(random_values(spec.in_element, m * k, -8.0f, 8.0f, 6), "tuner input"));
    w->inputs_.push_back(std::move(first));
    const int copies =
        autotune::rotation_copies(x_bytes, device.l2_bytes, static_cast<std::int64_t>(device.total_memory));
    for (int i = 1; i < copies; ++i) {
      QJIT_ASSIGN_OR_RETURN(DeviceMemory c, DeviceMemory::allocate(x_bytes, "tuner input copy"));
      QJIT_TRY(c.copy_from(w->inputs_[0], x_bytes, nullptr));
      w->inputs_.push_back(std::move(c));
    }
    w->q_bytes_ = m * k;
    QJIT_ASSIGN_OR_RETURN(w->out_, DeviceMemory::allocate(w->q_bytes_ + 4 * m, "tuner quantized output"));
    return w;
  }

  Status launch(const KernelBinding& q, int call, CUstream stream) override {
    codegen::QuantizeParams p{};
    p.x = inputs_[static_cast<std::size_t>(call) % inputs_.size()].get();
    p.ldx = spec_.k;
    p.q = static_cast<std::int8_t*>(out_.get());
    p.ldq = spec_.k;
    p.scale = reinterpret_cast<float*>(static_cast<char*>(out_.get()) + q_bytes_);
    p.m = static_cast<std::int32_t>(m_);
    return q.kernel->launch(launch_dims(q, m_), stream, &p);
  }
  Status poison(CUstream stream) override { return out_.fill_bytes(0xFF, stream); }
  Result<std::vector<std::uint8_t>> read_output() override {
    std::vector<std::uint8_t> out(out_.bytes());
    QJIT_TRY(out_.download(out.data(), out.size()));
    return out;
  }

 private:
  codegen::KernelSpec spec_;
  std::int64_t m_ = 0;
  std::vector<DeviceMemory> inputs_;
  DeviceMemory out_;
  std::size_t q_bytes_ = 0;
};

// The fused norm + quantize kernels: rotated inputs (and residuals), gamma and beta, and one output block holding q,
// the per-token scales and residual_out (a separate buffer, so repeated launches see the same inputs).
class NormQuantizeWorkload final : public Workload {
 public:
  static Result<std::unique_ptr<NormQuantizeWorkload>> create(const codegen::KernelSpec& spec, std::int64_t m,
                                                              const runtime::DeviceInfo& device) {
    auto w = std::make_unique<NormQuantizeWorkload>();
    w->spec_ = spec;
    w->m_ = m;
    const auto k = static_cast<std::size_t>(spec.k);
    const std::size_t esize = element_size(spec.in_element);
    const std::size_t x_bytes = m * k * esize;
    const int copies =
        autotune::rotation_copies(x_bytes * (spec.residual ? 2 : 1), device.l2_bytes,
                                  static_cast<std::int64_t>(device.total_memory));
    for (int i = 0; i < copies; ++i) {
      QJIT_ASSIGN_OR_RETURN(DeviceMemory x,
                            upload_new(random_values(spec.in_element, m * k, -8.0f, 8.0f, 6), "tuner input"));
      w->inputs_.push_back(std::move(x));
      if (spec.residual) {
        QJIT_ASSIGN_OR_RETURN(DeviceMemory r,
                              upload_new(random_values(spec.in_element, m * k, -8.0f, 8.0f, 7), "tuner residual"));
        w->residuals_.push_back(std::move(r));
      }
    }
    QJIT_ASSIGN_OR_RETURN(w->gamma_, upload_new(random_values(spec.in_element, k, 0.5f, 1.5f, 8), "tuner gamma"));
    QJIT_ASSIGN_OR_RETURN(w->beta_, upload_new(random_values(spec.in_element, k, -0.5f, 0.5f, 9), "tuner beta"));
    w->q_bytes_ = m * k;
    w->res_offset_ = (w->q_bytes_ + 4 * m + 15) / 16 * 16;
    QJIT_ASSIGN_OR_RETURN(w->out_, DeviceMemory::allocate(w->res_offset_ + (spec.residual ? x_bytes : 0),
                                                          "tuner norm-quantize output"));
    return w;
  }

  Status launch(const KernelBinding& b, int call, CUstream stream) override {
    const std::size_t i = static_cast<std::size_t>(call) % inputs_.size();
    codegen::NormQuantizeParams p{};
    p.x = inputs_[i].get();
    p.ldx = spec_.k;
    if (spec_.residual) {
      p.residual = residuals_[i].get();
      p.ld_residual = spec_.k;
      p.residual_out = static_cast<char*>(out_.get()) + res_offset_;
      p.ld_residual_out = spec_.k;
    }
    p.gamma = gamma_.get();
    p.beta = beta_.get();
    p.q = static_cast<signed char*>(out_.get());
    p.ldq = spec_.k;
    p.scale = reinterpret_cast<float*>(static_cast<char*>(out_.get()) + q_bytes_);
    p.static_scale = 0.05f;
    p.eps = 1e-6f;
    p.m = static_cast<int>(m_);
    return b.kernel->launch(launch_dims(b, m_), stream, &p);
  }
  Status poison(CUstream stream) override { return out_.fill_bytes(0xFF, stream); }
  Result<std::vector<std::uint8_t>> read_output() override {
    std::vector<std::uint8_t> out(out_.bytes());
    QJIT_TRY(out_.download(out.data(), out.size()));
    return out;
  }

 private:
  codegen::KernelSpec spec_;
  std::int64_t m_ = 0;
  std::vector<DeviceMemory> inputs_, residuals_;
  DeviceMemory gamma_, beta_, out_;
  std::size_t q_bytes_ = 0, res_offset_ = 0;
};

// A private stream, destroyed with the tuning run.
class OwnedStream {
 public:
  static Result<OwnedStream> create() {
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    OwnedStream s;
    QJIT_CU(*api, cuStreamCreate, &s.handle_, 1 /* CU_STREAM_NON_BLOCKING */);
    return s;
  }
  OwnedStream() = default;
  OwnedStream(OwnedStream&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
  ~OwnedStream() {
    if (handle_)
      if (auto api = runtime::driver(); api.has_value()) (*api)->cuStreamDestroy(handle_);
  }
  CUstream get() const { return handle_; }

 private:
  CUstream handle_ = nullptr;
};

Status synchronize(CUstream stream) {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  QJIT_CU(*api, cuStreamSynchronize, stream);
  return Status();
}

// First differing byte of two outputs, for the mismatch report.
std::string describe_mismatch(const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want) {
  std::size_t diffs = 0, first = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i] && diffs++ == 0) first = i;
  return llvm::formatv("output differs from the heuristic kernel's in {0} of {1} bytes (first at byte {2})", diffs,
                       want.size(), first)
      .str();
}

}  // namespace

std::vector<codegen::TileConfig> tuning_candidates(const codegen::KernelSpec& spec, const runtime::DeviceInfo& device) {
  // The family the plan would use (jit::FamilyRegistry::for_spec), its heuristic first, then its space.
  const jit::KernelFamilyRuntime& family = jit::FamilyRegistry::process().for_spec(spec);
  std::vector<codegen::TileConfig> out{family.heuristic(spec, device.sm_count)};
  const jit::CandidateOptions o{.allow_split_k = true, .sm_count = device.sm_count};
  for (const auto& c : family.candidates(spec, o))
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

Result<TuneOutcome> autotune_kernel(const codegen::KernelSpec& spec, std::int64_t m, const runtime::DeviceInfo& device,
                                    const TuneOptions& options) {
  if (m < 1) return Status(StatusCode::InvalidArgument, llvm::formatv("tuning M must be >= 1, got {0}", m).str());
  std::vector<codegen::TileConfig> configs = tuning_candidates(spec, device);
  if (configs.empty()) return Status(StatusCode::Unsupported, "no candidate configs for " + spec.to_string());
  if (options.max_candidates > 0 && configs.size() > static_cast<std::size_t>(options.max_candidates))
    configs.resize(static_cast<std::size_t>(options.max_candidates));
  const int total = static_cast<int>(configs.size());
  TuneOutcome out;
  out.heuristic = configs[0];
  out.candidates.resize(configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i) out.candidates[i].config = configs[i];

  // 1. Compile in parallel. NVRTC is thread-safe per program and the kernel service single-flights each key.
  auto t0 = Clock::now();
  {
    llvm::ThreadPool pool(llvm::hardware_concurrency(options.jobs));
    std::mutex mu;
    int done = 0;
    for (std::size_t i = 0; i < configs.size(); ++i) {
      pool.async([&, i] {
        std::string why;
        auto source = render(spec, configs[i]);
        if (!source)
          why = "render failed: " + source.error().message();
        else if (auto compiled = KernelService::process().obtain(*source, spec.arch); !compiled)
          why = "compile failed: " + compiled.error().message();
        std::lock_guard<std::mutex> lock(mu);
        out.candidates[i].rejected = why;
        if (options.progress) options.progress("compile", ++done, total);
      });
    }
    pool.wait();
  }
  out.compile_seconds = seconds_since(t0);
  if (!out.candidates[0].rejected.empty())
    return Status(StatusCode::CompileFailed,
                  "the heuristic config " + configs[0].to_string() + " failed: " + out.candidates[0].rejected);

  // 2. Load, then check every candidate against the heuristic's output on the same operands.
  t0 = Clock::now();
  std::vector<KernelBinding> bound(configs.size());
  std::size_t workspace = 0;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (!out.candidates[i].rejected.empty()) continue;
    auto b = bind_kernel_with(spec, configs[i], device);
    if (!b) {
      if (i == 0) return b.error().with_context("loading the heuristic kernel");
      out.candidates[i].rejected = "load failed: " + b.error().message();
      continue;
    }
    bound[i] = std::move(*b);
    workspace = std::max(workspace, kernel_workspace_bytes(spec, configs[i], m));
  }
  QJIT_ASSIGN_OR_RETURN(OwnedStream stream, OwnedStream::create());
  std::unique_ptr<Workload> work;
  if (spec.op == codegen::KernelOp::GemmS8) {
    QJIT_ASSIGN_OR_RETURN(work, GemmWorkload::create(spec, m, workspace, device));
  } else if (spec.op == codegen::KernelOp::QuantizeRowwise) {
    QJIT_ASSIGN_OR_RETURN(work, QuantizeWorkload::create(spec, m, device));
  } else if (codegen::is_norm_op(spec.op)) {
    QJIT_ASSIGN_OR_RETURN(work, NormQuantizeWorkload::create(spec, m, device));
  } else {
    return Status(StatusCode::Unsupported,
                  "autotuning supports gemm_s8, quantize_rowwise, rms_norm_quantize and layer_norm_quantize, got " +
                      std::string(kernel_op_name(spec.op)));
  }
  // NOTE: the rotation copies were queued on the legacy default stream, which a non-blocking stream does not wait
  // for; finish them before the first launch.
  QJIT_TRY(synchronize(nullptr));
  std::vector<std::uint8_t> reference;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (!out.candidates[i].rejected.empty()) continue;
    QJIT_TRY(work->poison(stream.get()));
    Status launched = work->launch(bound[i], 0, stream.get());
    if (launched.ok()) launched = synchronize(stream.get());
    if (!launched.ok()) {
      // NOTE: out-of-resources is reported at launch and leaves the context usable; anything else (an illegal
      // address) poisons the context, so tuning cannot go on.
      if (launched.code() != StatusCode::OutOfResources || i == 0)
        return launched.with_context("checking " + configs[i].to_string());
      out.candidates[i].rejected = "launch failed: " + launched.message();
      continue;
    }
    QJIT_ASSIGN_OR_RETURN(std::vector<std::uint8_t> got, work->read_output());
    if (i == 0) {
      reference = std::move(got);
    } else if (got != reference) {
      out.candidates[i].rejected = describe_mismatch(got, reference);
      ++out.mismatches;
      QJIT_LOG_WARN("autotune", "{0} {1}: {2}", spec.to_string(), configs[i].to_string(), out.candidates[i].rejected);
    }
  }
  out.check_seconds = seconds_since(t0);

  // 3. Time the survivors.
  t0 = Clock::now();
  int timed = 0;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (!out.candidates[i].rejected.empty()) continue;
    auto us = autotune::median_launch_us([&](int call) { return work->launch(bound[i], call, stream.get()); },
                                         stream.get(), options.timing);
    if (!us) {
      if (i == 0 || us.error().code() != StatusCode::OutOfResources)
        return us.error().with_context("timing " + configs[i].to_string());
      out.candidates[i].rejected = "timing failed: " + us.error().message();
    } else {
      out.candidates[i].us = *us;
      QJIT_LOG_INFO("autotune", "{0} {1}: {2} us", spec.to_string(), configs[i].to_string(),
                    llvm::formatv("{0:f1}", *us).str());
    }
    ++timed;
    if (options.progress) options.progress("time", timed, total);
  }

  std::size_t best = 0;
  const double heuristic_us = out.candidates[0].us;
  for (std::size_t i = 1; i < configs.size(); ++i)
    if (out.candidates[i].us > 0 && out.candidates[i].us < out.candidates[best].us) best = i;
  if (out.candidates[best].us > heuristic_us * (1.0 - options.min_gain)) best = 0;
  double best_us = out.candidates[best].us, base_us = heuristic_us;
  if (best != 0) {
    // Confirm the winner against the heuristic in alternating rounds, so a lucky sample or a drift of the clock
    // between the two measurements cannot put a slower config in the database.
    std::vector<double> win, base;
    for (int round = 0; round < 3; ++round) {
      for (std::size_t which : {best, std::size_t{0}}) {
        QJIT_ASSIGN_OR_RETURN(double us, autotune::median_launch_us(
                                             [&](int call) { return work->launch(bound[which], call, stream.get()); },
                                             stream.get(), options.timing));
        (which == 0 ? base : win).push_back(us);
      }
    }
    std::sort(win.begin(), win.end());
    std::sort(base.begin(), base.end());
    best_us = win[1];
    base_us = base[1];
    if (best_us > base_us * (1.0 - options.min_gain)) {
      best = 0;
      best_us = base_us;
    }
  }
  out.timing_seconds = seconds_since(t0);
  autotune::TuningRecord& r = out.record;
  r.key = autotune::tuning_key(spec, device.name, device.sm_count);
  r.key.m_bucket = codegen::m_bucket_of(m);
  r.config = configs[best];
  r.heuristic = configs[0];
  r.time_us = best_us;
  r.heuristic_time_us = base_us;
  r.candidates = timed;
  return out;
}

}  // namespace qjit::autotune
