// GPU tests of RmsNormQuantizePlan / LayerNormQuantizePlan: every input dtype, odd K (scalar tail), strided and
// misaligned rows (scalar path), residual written to a separate tensor or in place, dynamic and static scales, rows
// of zeros. Outputs are poisoned first. Each run is checked three ways:
//  1. bit for bit against a CPU f32 model of the documented arithmetic (the fixed sum tree, IEEE division and sqrt,
//     each step rounded), and residual_out bit for bit against x + residual rounded to the input type;
//  2. bit for bit against DynamicRangeQuantizePlan<float> run on the GPU over the model's f32 values v (per token;
//     per tensor with the same scale for the static mode): the fused quantization is the dynamic pass's;
//  3. against an f64 reference within the plan's stated bound (v), and |q - v64 / s64| <= 0.5 + that bound.
// Also: every tuner candidate (and threads-per-row the heuristic never picks) gives the same bits, and can_implement
// refuses bad arguments naming the field. Skips without a GPU.
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "codegen/kernel_params.h"
#include "codegen/norm_quantize.h"
#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "qjit/dynamic_range_quantize.h"
#include "qjit/norm_quantize.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

// Host f32 steps that cannot be contracted into an FMA or kept wider than f32.
float add(float a, float b) {
  volatile float r = a + b;
  return r;
}
float mul(float a, float b) {
  volatile float r = a * b;
  return r;
}
float dv(float a, float b) {
  volatile float r = a / b;
  return r;
}

// The kernel's sum: the perfect binary tree over the index, neighbours first, -0 padding to a power of two.
float tree_sum(std::vector<float> v) {
  std::size_t p = 1;
  while (p < v.size()) p *= 2;
  v.resize(p, -0.0f);
  for (std::size_t s = 1; s < p; s *= 2)
    for (std::size_t j = 0; j + s < p; j += 2 * s) v[j] = add(v[j], v[j + s]);
  return v[0];
}

enum class Residual { None, Separate, InPlaceResidual, InPlaceInput };

struct Case {
  NormKind norm = NormKind::RmsNorm;
  std::int64_t m = 1, k = 16, pad = 0;
  Residual residual = Residual::None;
  bool dynamic = true;
  float static_scale = 0;  // static mode: 0 = the tensor's absmax / 127 (so DRQ per-tensor must agree bit for bit)
  bool misaligned = false;  // every FP operand one element past a 16-byte boundary: the scalar path
  float eps = 1e-5f;
  std::string name() const {
    return std::string(norm == NormKind::RmsNorm ? "rms" : "layer") + " M=" + std::to_string(m) +
           " K=" + std::to_string(k) + " pad=" + std::to_string(pad) + " residual=" +
           std::to_string(static_cast<int>(residual)) + (dynamic ? " dynamic" : " static") +
           (misaligned ? " misaligned" : "") + " eps=" + std::to_string(eps);
  }
};

// The CPU model of one row: v (f32) from h (f32, already rounded to the input type).
std::vector<float> model_row(NormKind norm, const std::vector<float>& h, const std::vector<float>& g,
                             const std::vector<float>& b, float eps, float* rstd_out) {
  const std::size_t k = h.size();
  std::vector<float> v(k), leaves(k);
  float neg_mu = 0.0f;
  if (norm == NormKind::LayerNorm) {
    neg_mu = -dv(tree_sum(h), static_cast<float>(k));
    for (std::size_t j = 0; j < k; ++j) {
      const float d = add(h[j], neg_mu);
      leaves[j] = mul(d, d);
    }
  } else {
    for (std::size_t j = 0; j < k; ++j) leaves[j] = mul(h[j], h[j]);
  }
  const float rstd = dv(1.0f, std::sqrt(add(dv(tree_sum(leaves), static_cast<float>(k)), eps)));
  for (std::size_t j = 0; j < k; ++j)
    v[j] = norm == NormKind::LayerNorm ? add(mul(mul(add(h[j], neg_mu), rstd), g[j]), b[j]) : mul(mul(h[j], rstd), g[j]);
  *rstd_out = rstd;
  return v;
}

template <class T>
std::vector<T> typed(const std::vector<float>& v) {
  return convert_from_float<T>(v);
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Runs DynamicRangeQuantizePlan<float> on v [M, K] (contiguous): q and scale (per token: [M]; per tensor: [1]).
void drq_on_gpu(const std::vector<float>& v, std::int64_t m, std::int64_t k, QuantGranularity g,
                std::vector<std::int8_t>* q, std::vector<float>* s) {
  DeviceBuffer d_v(v.size() * 4), d_q(static_cast<std::size_t>(m * k)), d_s(static_cast<std::size_t>(m) * 4);
  QJIT_ASSERT_OK(d_v.upload(v));
  auto plan = DynamicRangeQuantizePlan<float>::select(Stream(), DynamicRangeQuantizeDescriptor::make<float>(m, k, g));
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  const std::int64_t ns = g == QuantGranularity::PerToken ? m : 1;
  DeviceBuffer ws(plan->workspace_size() + 16);
  QJIT_ASSERT_OK(plan->run(Stream(), Workspace{ws.get(), plan->workspace_size()},
                           {TensorRef<float, 2>::contiguous(d_v.get<float>(), {m, k}),
                            TensorMut<std::int8_t, 2>::contiguous(d_q.get<std::int8_t>(), {m, k}),
                            TensorMut<float, 1>::contiguous(d_s.get<float>(), {ns})}));
  auto hq = d_q.download_as<std::int8_t>(static_cast<std::size_t>(m * k));
  auto hs = d_s.download_as<float>(static_cast<std::size_t>(ns));
  ASSERT_TRUE(hq.has_value() && hs.has_value());
  *q = std::move(*hq);
  *s = std::move(*hs);
}

template <class T>
void check_norm(const Case& c) {
  const std::uint64_t seed = fresh_seed();
  SCOPED_TRACE(c.name() + " " + std::string(element_name(kind_of<T>)) + " seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::int64_t m = c.m, k = c.k, ld = c.k + c.pad, off = c.misaligned ? 1 : 0;
  const std::size_t n = static_cast<std::size_t>(m * ld + off);
  const bool has_res = c.residual != Residual::None;
  // Inputs (rounded to T first, so host and device see the same values).
  auto xf = random_activations(m, ld, rng);
  xf.insert(xf.begin(), off, 0.0f);
  if (m > 2)
    for (std::int64_t j = 0; j < ld; ++j) xf[off + ld + j] = 0.0f;  // a row of zeros (with no residual: scale 0)
  const auto x = typed<T>(xf);
  auto rf = random_floats(n, -4.0f, 4.0f, rng);
  const auto r = typed<T>(rf);
  auto gf = random_floats(static_cast<std::size_t>(k + off), 0.5f, 1.5f, rng);
  auto bfv = random_floats(static_cast<std::size_t>(k + off), -0.5f, 0.5f, rng);
  const auto gamma = typed<T>(gf), beta = typed<T>(bfv);

  // The CPU model: h, v, q, scale.
  std::vector<T> h_ref(n);
  std::vector<float> v_all(static_cast<std::size_t>(m * k));
  std::vector<double> rstd64(static_cast<std::size_t>(m));
  std::vector<float> g32(static_cast<std::size_t>(k)), b32(static_cast<std::size_t>(k));
  for (std::int64_t j = 0; j < k; ++j) {
    g32[j] = static_cast<float>(to_double(gamma[off + j]));
    b32[j] = static_cast<float>(to_double(beta[off + j]));
  }
  std::vector<std::vector<float>> hrow(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) {
    auto& hr = hrow[i];
    hr.resize(static_cast<std::size_t>(k));
    for (std::int64_t j = 0; j < k; ++j) {
      const std::size_t at = static_cast<std::size_t>(off + i * ld + j);
      float hv = static_cast<float>(to_double(x[at]));
      if (has_res) {
        h_ref[at] = from_float<T>(add(hv, static_cast<float>(to_double(r[at]))));
        hv = static_cast<float>(to_double(h_ref[at]));
      }
      hr[j] = hv;
    }
    float rstd = 0;
    const auto v = model_row(c.norm, hr, g32, b32, c.eps, &rstd);
    std::copy(v.begin(), v.end(), v_all.begin() + i * k);
  }
  float static_scale = c.static_scale;
  if (!c.dynamic && static_scale == 0) {
    float amax = 0;
    for (float v : v_all) amax = std::fmax(amax, std::fabs(v));
    static_scale = amax / 127.0f;
  }
  std::vector<std::int8_t> q_model(static_cast<std::size_t>(m * k));
  std::vector<float> s_model(static_cast<std::size_t>(m));
  if (c.dynamic) {
    reference_quantize_rows(std::vector<double>(v_all.begin(), v_all.end()), m, k, k, &q_model, &s_model);
  } else {
    for (std::size_t i = 0; i < v_all.size(); ++i) {
      float q = std::nearbyint(v_all[i] / static_scale);
      if (std::isnan(q)) q = 0;
      q_model[i] = static_cast<std::int8_t>(std::fmin(127.0f, std::fmax(-128.0f, q)));
    }
  }

  // The GPU run, with poisoned outputs.
  DeviceBuffer d_x(n * sizeof(T)), d_r(n * sizeof(T)), d_ro(n * sizeof(T)), d_g(gamma.size() * sizeof(T)),
      d_b(beta.size() * sizeof(T)), d_q(static_cast<std::size_t>(m * ld)), d_s(static_cast<std::size_t>(m) * 4);
  QJIT_ASSERT_OK(d_x.upload(x));
  QJIT_ASSERT_OK(d_r.upload(r));
  QJIT_ASSERT_OK(d_ro.fill_bytes(0x77));
  QJIT_ASSERT_OK(d_g.upload(gamma));
  QJIT_ASSERT_OK(d_b.upload(beta));
  QJIT_ASSERT_OK(d_q.fill_bytes(0x55));
  QJIT_ASSERT_OK(d_s.fill_bytes(0xff));
  NormQuantizeDescriptor desc = c.norm == NormKind::RmsNorm ? NormQuantizeDescriptor::rms_norm<T>(m, k, c.eps, has_res)
                                                             : NormQuantizeDescriptor::layer_norm<T>(m, k, c.eps, has_res);
  if (!c.dynamic) desc = desc.with_static_scale(static_scale);
  NormQuantizeArgs<T> args;
  args.input = TensorRef<T, 2>::strided(d_x.get<T>() + off, m, k, ld);
  T* res_out = c.residual == Residual::Separate          ? d_ro.get<T>()
               : c.residual == Residual::InPlaceResidual ? d_r.get<T>()
                                                         : d_x.get<T>();
  if (has_res) {
    args.residual = TensorRef<T, 2>::strided(d_r.get<T>() + off, m, k, ld);
    args.residual_out = TensorMut<T, 2>::strided(res_out + off, m, k, ld);
  }
  args.gamma = TensorRef<T, 1>::contiguous(d_g.get<T>() + off, {k});
  if (c.norm == NormKind::LayerNorm) args.beta = TensorRef<T, 1>::contiguous(d_b.get<T>() + off, {k});
  args.output = TensorMut<std::int8_t, 2>::strided(d_q.get<std::int8_t>(), m, k, ld);
  if (c.dynamic) args.scale = TensorMut<float, 1>::contiguous(d_s.get<float>(), {m});
  Status run;
  if (c.norm == NormKind::RmsNorm) {
    auto plan = RmsNormQuantizePlan<T>::select(Stream(), desc);
    ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
    EXPECT_EQ(plan->workspace_size(), 0u);
    EXPECT_TRUE(plan->precision_guarantee().deterministic);
    run = plan->run(Stream(), Workspace{}, args);
  } else {
    auto plan = LayerNormQuantizePlan<T>::select(Stream(), desc);
    ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
    run = plan->run(Stream(), Workspace{}, args);
  }
  QJIT_ASSERT_OK(run);
  QJIT_ASSERT_OK(synchronize());
  auto q = d_q.download_as<std::int8_t>(static_cast<std::size_t>(m * ld));
  auto s = d_s.download_as<float>(static_cast<std::size_t>(m));
  ASSERT_TRUE(q.has_value() && s.has_value());

  // 1. The model, bit for bit; padding never written; residual_out = RN_T(x + residual), padding untouched.
  for (std::int64_t i = 0; i < m; ++i) {
    if (c.dynamic) {
      ASSERT_TRUE(same_bits((*s)[i], s_model[i])) << "scale[" << i << "] = " << (*s)[i] << " vs " << s_model[i];
    }
    for (std::int64_t j = 0; j < k; ++j)
      ASSERT_EQ((*q)[i * ld + j], q_model[i * k + j]) << "q[" << i << "," << j << "] v=" << v_all[i * k + j];
    for (std::int64_t j = k; j < ld; ++j) ASSERT_EQ((*q)[i * ld + j], 0x55) << "q padding written at " << i << "," << j;
  }
  if (!c.dynamic) {
    for (std::int64_t i = 0; i < m; ++i) ASSERT_EQ(std::memcmp(&(*s)[i], "\xff\xff\xff\xff", 4), 0) << "scale written";
  }
  if (has_res) {
    const DeviceBuffer& out_buf = c.residual == Residual::Separate          ? d_ro
                                  : c.residual == Residual::InPlaceResidual ? d_r
                                                                            : d_x;
    auto ro = out_buf.download_as<T>(n);
    ASSERT_TRUE(ro.has_value());
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < ld; ++j) {
        const std::size_t at = static_cast<std::size_t>(off + i * ld + j);
        if (j < k) {
          ASSERT_TRUE(same_bits((*ro)[at], h_ref[at])) << "residual_out[" << i << "," << j << "]";
        } else if (c.residual == Residual::Separate) {
          std::uint8_t poison[sizeof(T)];
          std::memset(poison, 0x77, sizeof(T));
          ASSERT_EQ(std::memcmp(&(*ro)[at], poison, sizeof(T)), 0) << "residual_out padding written at " << i;
        }
      }
  }

  // 2. DynamicRangeQuantizePlan on the same f32 v gives the same bits.
  std::vector<std::int8_t> q_drq;
  std::vector<float> s_drq;
  drq_on_gpu(v_all, m, k, c.dynamic ? QuantGranularity::PerToken : QuantGranularity::PerTensor, &q_drq, &s_drq);
  if (c.dynamic || c.static_scale == 0) {
    if (!c.dynamic) {
      ASSERT_TRUE(same_bits(s_drq[0], static_scale)) << s_drq[0] << " vs " << static_scale;
    }
    for (std::int64_t i = 0; i < m; ++i) {
      if (c.dynamic) {
        ASSERT_TRUE(same_bits((*s)[i], s_drq[i])) << "scale[" << i << "] vs DynamicRangeQuantize";
      }
      for (std::int64_t j = 0; j < k; ++j)
        ASSERT_EQ((*q)[i * ld + j], q_drq[i * k + j]) << "q[" << i << "," << j << "] vs DynamicRangeQuantize";
    }
  }

  // 3. The f64 reference, within the stated bound.
  int depth = 0;
  while ((std::int64_t{1} << depth) < k) ++depth;
  const double u = std::ldexp(1.0, -24);
  for (std::int64_t i = 0; i < m; ++i) {
    const auto& hr = hrow[i];
    double mu = 0, ss = 0, mean_abs = 0;
    for (float hv : hr) mu += hv, mean_abs += std::fabs(hv);
    mu = c.norm == NormKind::LayerNorm ? mu / k : 0.0;
    mean_abs /= k;
    for (float hv : hr) ss += (hv - mu) * (hv - mu);
    const double rstd = 1.0 / std::sqrt(ss / k + c.eps);
    std::vector<double> v64(static_cast<std::size_t>(k));
    double amax64 = 0, err_max = 0;
    std::vector<double> err(static_cast<std::size_t>(k));
    for (std::int64_t j = 0; j < k; ++j) {
      v64[j] = (hr[j] - mu) * rstd * g32[j] + (c.norm == NormKind::LayerNorm ? b32[j] : 0.0);
      err[j] = c.norm == NormKind::RmsNorm ? (depth + 8) * u * std::fabs(v64[j])
                                           : (depth + 10) * u * (std::fabs(v64[j] - b32[j]) + g32[j] * rstd * mean_abs) +
                                                 u * std::fabs(b32[j]);
      err[j] += 1e-37;
      if (std::isnan(v64[j])) {  // eps = 0 on a row of zeros: 0 * inf, in f64 as in the kernel's f32
        ASSERT_TRUE(std::isnan(v_all[i * k + j])) << "v[" << i << "," << j << "] = " << v_all[i * k + j];
        continue;
      }
      ASSERT_LE(std::fabs(v_all[i * k + j] - v64[j]), err[j]) << "v[" << i << "," << j << "] vs f64";
      amax64 = std::fmax(amax64, std::fabs(v64[j]));
      err_max = std::fmax(err_max, err[j]);
    }
    const double s64 = c.dynamic ? amax64 / 127.0 : static_scale;
    if (s64 == 0) continue;
    for (std::int64_t j = 0; j < k; ++j) {
      if (std::isnan(v64[j])) continue;
      const double want = std::fmin(127.0, std::fmax(-128.0, v64[j] / s64));
      const double tol = 0.5 + (err[j] + (c.dynamic ? std::fabs(v64[j]) * err_max / amax64 : 0.0)) / s64 + 1e-6;
      ASSERT_LE(std::fabs((*q)[i * ld + j] - want), tol) << "q[" << i << "," << j << "] vs f64 " << want;
    }
  }
}

template <class T>
void check_every_mode(NormKind norm, std::int64_t m, std::int64_t k, std::int64_t pad) {
  for (Residual res : {Residual::None, Residual::Separate, Residual::InPlaceResidual, Residual::InPlaceInput})
    for (bool dynamic : {true, false}) {
      Case c;
      c.norm = norm;
      c.m = m;
      c.k = k;
      c.pad = pad;
      c.residual = res;
      c.dynamic = dynamic;
      check_norm<T>(c);
    }
}

TEST(NormQuantizeGpuTest, RmsNormEveryDtypeResidualAndScaleMode) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t k : {1, 17, 4096, 4100}) {
    check_every_mode<bf16>(NormKind::RmsNorm, 37, k, 0);
    check_every_mode<f16>(NormKind::RmsNorm, 5, k, 8);
    check_every_mode<float>(NormKind::RmsNorm, 3, k, 0);
  }
}

TEST(NormQuantizeGpuTest, LayerNormEveryDtypeResidualAndScaleMode) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t k : {1, 17, 4096, 4100}) {
    check_every_mode<bf16>(NormKind::LayerNorm, 37, k, 0);
    check_every_mode<f16>(NormKind::LayerNorm, 5, k, 8);
    check_every_mode<float>(NormKind::LayerNorm, 3, k, 0);
  }
}

TEST(NormQuantizeGpuTest, ScalarPathLargeKPrefillAndSaturatingStaticScale) {
  QJIT_REQUIRE_GPU();
  for (NormKind norm : {NormKind::RmsNorm, NormKind::LayerNorm}) {
    Case c;
    c.norm = norm;
    c.m = 33;
    c.k = 4096;
    c.misaligned = true;  // x, residual, gamma, beta one element off 16 bytes: the scalar path, same bits
    c.residual = Residual::Separate;
    check_norm<bf16>(c);
    check_norm<float>(c);
    c.misaligned = false;
    c.residual = Residual::InPlaceResidual;
    c.m = 2048;  // a prefill bucket: the heuristic's prefill config
    c.k = 14336;
    check_norm<bf16>(c);
    c.m = 64;
    c.k = 28672;
    check_norm<f16>(c);
    c.k = 1000;
    c.dynamic = false;
    c.static_scale = 0.002f;  // most |v| / scale far above 127: saturation through the clamped fast path
    check_norm<bf16>(c);
    c.static_scale = 1e-30f;  // a scale outside the fast path's range: the exact division
    check_norm<float>(c);
    c.static_scale = 0;
    c.dynamic = true;
    c.eps = 0;  // the zero row: rstd = inf, v = NaN -> scale 0, q 0 (as DynamicRangeQuantize treats NaN)
    c.m = 4;
    c.residual = Residual::None;
    check_norm<f16>(c);
  }
}

// Every candidate the tuner would time, and threads-per-row the heuristic never picks, give the same bits: the sums
// follow the element index, not the CTA shape.
TEST(NormQuantizeGpuTest, EveryConfigGivesTheSameBits) {
  QJIT_REQUIRE_GPU();
  const runtime::DeviceInfo& device = *gpu();
  const std::int64_t m = 37, k = 4100;
  std::mt19937_64 rng(fresh_seed());
  const auto x = convert_from_float<bf16>(random_activations(m, k, rng));
  const auto r = convert_from_float<bf16>(random_floats(static_cast<std::size_t>(m * k), -4, 4, rng));
  const auto g = convert_from_float<bf16>(random_floats(static_cast<std::size_t>(k), 0.5f, 1.5f, rng));
  const auto b = convert_from_float<bf16>(random_floats(static_cast<std::size_t>(k), -0.5f, 0.5f, rng));
  DeviceBuffer d_x(x.size() * 2), d_r(r.size() * 2), d_ro(r.size() * 2), d_g(g.size() * 2), d_b(b.size() * 2),
      d_q(static_cast<std::size_t>(m * k)), d_s(static_cast<std::size_t>(m) * 4);
  QJIT_ASSERT_OK(d_x.upload(x));
  QJIT_ASSERT_OK(d_r.upload(r));
  QJIT_ASSERT_OK(d_g.upload(g));
  QJIT_ASSERT_OK(d_b.upload(b));
  for (auto op : {codegen::KernelOp::RmsNormQuantize, codegen::KernelOp::LayerNormQuantize}) {
    const codegen::KernelSpec spec = codegen::norm_quantize_spec(op, ElementKind::BF16, k, 64, jit::target_arch(device),
                                                                 true, true);
    const jit::KernelFamilyRuntime& family = jit::FamilyRegistry::process().for_spec(spec);
    auto configs = family.candidates(spec, jit::CandidateOptions{});
    for (int tpr : {1, 2, 16, 64, 512, 1024}) {
      const codegen::TileConfig c =
          codegen::QuantizeTile{.rows_per_cta = std::max(1, 256 / tpr), .threads_per_row = tpr};
      if (family.validate(spec, c).ok()) configs.push_back(c);
    }
    std::vector<std::int8_t> q0;
    std::vector<float> s0;
    std::vector<bf16> ro0;
    for (const auto& cfg : configs) {
      SCOPED_TRACE(spec.to_string() + " " + cfg.to_string());
      auto bound = jit::bind_kernel_with(spec, cfg, device);
      ASSERT_TRUE(bound.has_value()) << bound.error().to_string();
      QJIT_ASSERT_OK(d_q.fill_bytes(0x55));
      QJIT_ASSERT_OK(d_s.fill_bytes(0xff));
      QJIT_ASSERT_OK(d_ro.fill_bytes(0x77));
      codegen::NormQuantizeParams p{};
      p.x = d_x.get();
      p.ldx = k;
      p.residual = d_r.get();
      p.ld_residual = k;
      p.residual_out = d_ro.get();
      p.ld_residual_out = k;
      p.gamma = d_g.get();
      p.beta = d_b.get();
      p.q = d_q.get<signed char>();
      p.ldq = k;
      p.scale = d_s.get<float>();
      p.eps = 1e-6f;
      p.m = static_cast<int>(m);
      QJIT_ASSERT_OK(bound->kernel->launch(jit::launch_dims(*bound, m), nullptr, &p));
      QJIT_ASSERT_OK(synchronize());
      auto q = d_q.download_as<std::int8_t>(static_cast<std::size_t>(m * k));
      auto s = d_s.download_as<float>(static_cast<std::size_t>(m));
      auto ro = d_ro.download_as<bf16>(r.size());
      ASSERT_TRUE(q.has_value() && s.has_value() && ro.has_value());
      if (q0.empty()) {
        q0 = *q, s0 = *s, ro0 = *ro;
        continue;
      }
      ASSERT_EQ(std::memcmp(q->data(), q0.data(), q0.size()), 0);
      ASSERT_EQ(std::memcmp(s->data(), s0.data(), s0.size() * 4), 0);
      ASSERT_EQ(std::memcmp(ro->data(), ro0.data(), ro0.size() * 2), 0);
    }
    EXPECT_GE(configs.size(), 6u);
  }
}

TEST(NormQuantizeGpuTest, CanImplementNamesTheField) {
  QJIT_REQUIRE_GPU();
  const std::int64_t m = 8, k = 256;
  DeviceBuffer x(m * k * 2 + 64), r(m * k * 2), g(k * 2), q(m * k), s(m * 4);
  auto plan = RmsNormQuantizePlan<bf16>::select(Stream(), NormQuantizeDescriptor::rms_norm<bf16>(m, k, 1e-6f, true));
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  NormQuantizeArgs<bf16> ok;
  ok.input = TensorRef<bf16, 2>::contiguous(x.get<bf16>(), {m, k});
  ok.residual = TensorRef<bf16, 2>::contiguous(r.get<bf16>(), {m, k});
  ok.residual_out = TensorMut<bf16, 2>::contiguous(r.get<bf16>(), {m, k});  // in place
  ok.gamma = TensorRef<bf16, 1>::contiguous(g.get<bf16>(), {k});
  ok.output = TensorMut<std::int8_t, 2>::contiguous(q.get<std::int8_t>(), {m, k});
  ok.scale = TensorMut<float, 1>::contiguous(s.get<float>(), {m});
  QJIT_ASSERT_OK(plan->can_implement(ok));
  auto expect = [&](NormQuantizeArgs<bf16> a, const std::string& text) {
    const Status st = plan->can_implement(a);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(text), std::string::npos) << st.to_string();
    EXPECT_FALSE(plan->run(Stream(), Workspace{}, a).ok());
  };
  auto a = ok;
  a.residual = {};
  expect(a, "residual.data is null");
  a = ok;
  a.gamma = TensorRef<bf16, 1>::contiguous(g.get<bf16>(), {k - 1});
  expect(a, "gamma.shape must be [K=256], got [255]");
  a = ok;
  a.beta = TensorRef<bf16, 1>::contiguous(g.get<bf16>(), {k});
  expect(a, "beta must be empty: RMSNorm has no beta");
  a = ok;
  a.scale = TensorMut<float, 1>::contiguous(s.get<float>(), {m - 1});
  expect(a, "scale.shape must be [M=8], got [7]");
  a = ok;
  a.output = TensorMut<std::int8_t, 2>::contiguous(q.get<std::int8_t>(), {m - 1, k});
  expect(a, "output.shape must be [M=8, K=256], got [7, 256]");
  a = ok;
  a.residual_out = TensorMut<bf16, 2>::contiguous(x.get<bf16>() + 16, {m, k});  // overlaps input at an offset
  expect(a, "residual_out must be exactly input (same data and stride[0], updated in place) or not overlap it");
  auto st = RmsNormQuantizePlan<bf16>::select(Stream(),
                                              NormQuantizeDescriptor::rms_norm<bf16>(m, k).with_static_scale(0.1f));
  ASSERT_TRUE(st.has_value());
  a = ok;
  a.residual = {};
  a.residual_out = {};
  EXPECT_NE(st->can_implement(a).message().find("scale must be empty: the descriptor has a static scale"),
            std::string::npos);
  a.scale = {};
  QJIT_ASSERT_OK(st->can_implement(a));
  a.residual = ok.residual;
  EXPECT_NE(st->can_implement(a).message().find("residual must be empty: the descriptor has has_residual = false"),
            std::string::npos);
}

}  // namespace
}  // namespace qjit::testing
