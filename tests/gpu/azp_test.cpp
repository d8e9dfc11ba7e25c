// GPU tests of asymmetric activations (issue 17 item 3), each on fresh random inputs (the seed is printed on failure)
// with every output poisoned first:
//  - QuantizeAzpGpuTest: DynamicRangeQuantizePlan asymmetric (u8 and s8 codes) against the CPU rule
//    (qjit::quant::quantize_rows_asymmetric) bit for bit: codes, scales and zero points, f16 / bf16 / f32 input,
//    skewed (post-GELU) and signed rows, an all-zero and an all-negative row, odd K (the scalar tail), strided views
//    whose padding must stay poisoned.
//  - AzpLinearGpuTest: ScaledMatmulPlan with act_zero_point (per-channel and per-tensor weight scale) and
//    QuantizedLinearPlan asymmetric (its act_q / act_scale scratch bit for bit against the CPU rule), f16 / bf16 /
//    f32 output, bias, odd M, N and K, against the f64 zero-point GEMM (qjit::quant::azp_gemm_reference) within the
//    plans' epilogue bound; and on sm_90 the two GEMM families' azp kernels bit for bit. The default run exercises
//    the family the registry picks (gemm_sm90 on an H200); scripts/gpu-check.sh reruns with QJIT_DISABLE_SM90=1 for
//    the portable one (SM80_FILTER='AzpLinearGpuTest.*:QuantizeAzpGpuTest.*').
// Skip with the reason without a GPU.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/config_choice.h"
#include "qjit/dynamic_range_quantize.h"
#include "qjit/linear.h"
#include "qjit/quant/asymmetric.h"
#include "qjit/scaled_matmul.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

// post-GELU values (one-sided, as the inputs of down / fc2 projections) or a signed Gaussian mixture.
std::vector<float> skewed_rows(std::int64_t m, std::int64_t k, bool gelu, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(m * k));
  for (auto& v : x) {
    const float a = g(rng) * 2.0f;
    v = gelu ? 0.5f * a * (1.0f + std::erf(a / std::sqrt(2.0f))) : a + 0.7f;
  }
  return x;
}

template <class T>
std::vector<float> round_trip(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  const auto t = convert_from_float<T>(v);
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(to_double(t[i]));
  return out;
}

// output (row stride ldc) against the f64 reference: every element written and finite, pads untouched, each within
// the epilogue bound (4 f32 roundings + the output rounding) of |s_a·s_w·(acc − zp·colsum)| + |bias|.
template <class T>
::testing::AssertionResult compare(const std::vector<T>& out, std::int64_t ldc, std::int64_t m, std::int64_t n,
                                   const std::vector<double>& ref, const std::vector<double>& bias,
                                   std::uint64_t seed) {
  const double eps = 5 * std::ldexp(1.0, -24) + unit_roundoff<T>();
  const double abs_floor = std::is_same_v<T, f16> ? std::ldexp(1.0, -25) : 0.0;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = n; j < ldc; ++j) {
      const auto* b = reinterpret_cast<const unsigned char*>(&out[i * ldc + j]);
      for (std::size_t e = 0; e < sizeof(T); ++e)
        if (b[e] != 0xff)
          return ::testing::AssertionFailure()
                 << "output[" << i << "," << j << "] is padding and was written, seed " << seed;
    }
    for (std::int64_t j = 0; j < n; ++j) {
      const double got = to_double(out[i * ldc + j]);
      const double want = ref[i * n + j];
      const double b = bias.empty() ? 0.0 : bias[j];
      const double scale = std::fabs(want - b) + std::fabs(b) + 1e-30;
      if (!std::isfinite(got) || std::fabs(got - want) > eps * scale + abs_floor)
        return ::testing::AssertionFailure() << "output[" << i << "," << j << "] = " << got << ", reference " << want
                                             << " (bound " << eps << " x " << scale << "), seed " << seed;
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- the asymmetric quantize pass -------------------------------------------------------------------------------

template <class T, class TQ>
::testing::AssertionResult check_quantize(std::int64_t m, std::int64_t k, bool gelu, std::int64_t pad) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const std::int64_t ldx = k + pad, ldq = k + 16 * (pad > 0);
  std::vector<float> x = skewed_rows(m, k, gelu, rng);
  if (m >= 3) {
    std::fill_n(x.begin() + k, k, 0.0f);                                                   // row 1: all zeros
    for (std::int64_t j = 0; j < k; ++j) x[2 * k + j] = -std::fabs(x[2 * k + j]) - 0.25f;  // row 2: all negative
  }
  const std::vector<float> xf = round_trip<T>(x);                             // what the kernel sees, widened
  std::vector<T> xs(static_cast<std::size_t>(m * ldx), from_float<T>(1e4f));  // pads: values that would set the range
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < k; ++j) xs[i * ldx + j] = from_float<T>(x[i * k + j]);
  constexpr bool kU8 = std::is_same_v<TQ, std::uint8_t>;
  auto want = quant::quantize_rows_asymmetric(xf.data(), m, k, kU8 ? quant::AsymStorage::U8 : quant::AsymStorage::S8);
  if (!want) return ::testing::AssertionFailure() << want.error().to_string();

  DeviceBuffer dx(xs.size() * sizeof(T)), dq(static_cast<std::size_t>(m * ldq)), ds(m * 4), dz(m * 4);
  for (const Status& s : {dx.status(), dq.status(), ds.status(), dz.status(), dx.upload(xs), dq.fill_bytes(0x5a),
                          ds.fill_bytes(0xff), dz.fill_bytes(0xff)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto plan =
      DynamicRangeQuantizePlan<T, TQ>::select(Stream(), DynamicRangeQuantizeDescriptor::make_asymmetric<T, TQ>(m, k));
  if (!plan) return ::testing::AssertionFailure() << "select: " << plan.error().to_string();
  typename DynamicRangeQuantizePlan<T, TQ>::Args args;
  args.input = TensorRef<T, 2>::strided(dx.get<T>(), m, k, ldx);
  args.output = TensorMut<TQ, 2>::strided(dq.get<TQ>(), m, k, ldq);
  args.scale = TensorMut<float, 1>::contiguous(ds.get<float>(), {m});
  args.zero_point = TensorMut<std::int32_t, 1>::contiguous(dz.get<std::int32_t>(), {m});
  if (Status s = plan->can_implement(args); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (plan->workspace_size() != 0) return ::testing::AssertionFailure() << "workspace_size() must be 0";
  if (Status s = plan->run(Stream(), Workspace{}, args); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto q = dq.download_as<std::uint8_t>(static_cast<std::size_t>(m * ldq));
  auto sc = ds.download_as<float>(static_cast<std::size_t>(m));
  auto zp = dz.download_as<std::int32_t>(static_cast<std::size_t>(m));
  if (!q || !sc || !zp) return ::testing::AssertionFailure() << "download failed";
  for (std::int64_t i = 0; i < m; ++i) {
    if (std::memcmp(&(*sc)[i], &want->scale[i], 4) != 0)
      return ::testing::AssertionFailure()
             << "scale[" << i << "] = " << (*sc)[i] << ", CPU rule " << want->scale[i] << ", seed " << seed;
    if ((*zp)[i] != want->zero_point[i])
      return ::testing::AssertionFailure()
             << "zero_point[" << i << "] = " << (*zp)[i] << ", CPU rule " << want->zero_point[i] << ", seed " << seed;
    for (std::int64_t j = 0; j < ldq; ++j) {
      const std::uint8_t got = (*q)[i * ldq + j];
      if (j >= k) {
        if (got != 0x5a)
          return ::testing::AssertionFailure()
                 << "q[" << i << "," << j << "] is padding and was written, seed " << seed;
      } else if (got != want->q[i * k + j]) {
        return ::testing::AssertionFailure()
               << "q[" << i << "," << j << "] = " << int(got) << ", CPU rule " << int(want->q[i * k + j])
               << " (x = " << xf[i * k + j] << "), seed " << seed;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(QuantizeAzpGpuTest, U8AndS8CodesMatchTheCpuRuleBitForBit) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 7, 300})
    for (std::int64_t k : {4096, 4095, 17, 11008})
      for (bool gelu : {true, false}) {
        const std::string what = "M=" + std::to_string(m) + " K=" + std::to_string(k) + (gelu ? " gelu" : " signed");
        EXPECT_TRUE((check_quantize<f16, std::uint8_t>(m, k, gelu, 0))) << what << " f16 u8";
        EXPECT_TRUE((check_quantize<bf16, std::int8_t>(m, k, gelu, 0))) << what << " bf16 s8";
        EXPECT_TRUE((check_quantize<float, std::uint8_t>(m, k, gelu, 0))) << what << " f32 u8";
        EXPECT_TRUE((check_quantize<float, std::int8_t>(m, k, gelu, 0))) << what << " f32 s8";
      }
}

TEST(QuantizeAzpGpuTest, StridedViewsKeepTheirPadding) {
  QJIT_REQUIRE_GPU();
  EXPECT_TRUE((check_quantize<bf16, std::uint8_t>(33, 4096, true, 8)));  // 16-byte aligned rows: vector path
  EXPECT_TRUE((check_quantize<f16, std::int8_t>(33, 4096, true, 3)));    // misaligned rows: scalar path
  EXPECT_TRUE((check_quantize<float, std::int8_t>(5, 1000, false, 1)));
}

// ---- the azp GEMM ------------------------------------------------------------------------------------------------

struct AzpCase {
  std::int64_t m, n, k;
  bool bias = false;
  bool weight_per_tensor = false;
  std::string to_string() const {
    return "M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k) + (bias ? " bias" : "") +
           (weight_per_tensor ? " weight=per_tensor" : "");
  }
};

template <class T>
::testing::AssertionResult check_scaled_matmul_azp(const AzpCase& c) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  // Asymmetric codes as the quantize pass writes them (s8 storage) from skewed rows, so q and zp are realistic.
  const auto x = skewed_rows(c.m, c.k, true, rng);
  auto aq = quant::quantize_rows_asymmetric(x.data(), c.m, c.k, quant::AsymStorage::S8);
  if (!aq) return ::testing::AssertionFailure() << aq.error().to_string();
  const auto w = random_int8(static_cast<std::size_t>(c.n * c.k), rng);
  const auto w_scale = random_floats(c.weight_per_tensor ? 1 : static_cast<std::size_t>(c.n), 2e-4f, 2e-3f, rng);
  const auto bias_f = random_floats(static_cast<std::size_t>(c.n), -4.0f, 4.0f, rng);
  const auto bias = convert_from_float<T>(bias_f);
  auto colsum = weight_colsum(w.data(), c.n, c.k, c.k);
  if (!colsum) return ::testing::AssertionFailure() << colsum.error().to_string();
  const std::vector<double> bias_d = c.bias ? widen(bias) : std::vector<double>{};
  auto ref = quant::azp_gemm_reference(aq->q_s8(), aq->scale, aq->zero_point, w, w_scale, bias_d, c.m, c.n, c.k);
  if (!ref) return ::testing::AssertionFailure() << ref.error().to_string();

  const std::int64_t ldc = c.n + 3;
  DeviceBuffer da(aq->q.size()), dw(w.size()), das(c.m * 4), dws(w_scale.size() * 4), dz(c.m * 4), dcs(c.n * 4),
      db(c.n * sizeof(T)), dout(static_cast<std::size_t>(c.m * ldc) * sizeof(T));
  for (const Status& s : {da.upload(aq->q), dw.upload(w), das.upload(aq->scale), dws.upload(w_scale),
                          dz.upload(aq->zero_point), dcs.upload(*colsum), db.upload(bias), dout.fill_bytes(0xff)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto desc =
      ScaledMatmulDescriptor::make<T>(c.m, c.n, c.k, c.bias, ActScaleMode::PerToken,
                                      c.weight_per_tensor ? WeightScaleMode::PerTensor : WeightScaleMode::PerChannel);
  desc.has_act_zero_point = true;
  auto plan = ScaledMatmulPlan<T>::select(Stream(), desc);
  if (!plan) return ::testing::AssertionFailure() << "select: " << plan.error().to_string();
  // The description is a string_view the C ABI hands out as a pointer: it must outlive the call (a temporary
  // std::string once made every linear plan's description garbage, seen first from Python).
  if (plan->precision_guarantee().description.find("zp[m] * colsum[n]") == std::string_view::npos)
    return ::testing::AssertionFailure() << "precision_guarantee().description: "
                                         << plan->precision_guarantee().description;
  typename ScaledMatmulPlan<T>::Args args;
  args.act_q = TensorRef<std::int8_t, 2>::contiguous(da.get<std::int8_t>(), {c.m, c.k});
  args.weight_q = TensorRef<std::int8_t, 2>::contiguous(dw.get<std::int8_t>(), {c.n, c.k});
  args.act_scale = TensorRef<float, 1>::contiguous(das.get<float>(), {c.m});
  args.weight_scale = TensorRef<float, 1>::contiguous(dws.get<float>(), {static_cast<std::int64_t>(w_scale.size())});
  if (c.bias) args.bias = TensorRef<T, 1>::contiguous(db.get<T>(), {c.n});
  args.output = TensorMut<T, 2>::strided(dout.get<T>(), c.m, c.n, ldc);
  args.act_zero_point = TensorRef<std::int32_t, 1>::contiguous(dz.get<std::int32_t>(), {c.m});
  args.weight_colsum = TensorRef<std::int32_t, 1>::contiguous(dcs.get<std::int32_t>(), {c.n});
  const std::size_t ws_bytes = plan->workspace_size();
  DeviceBuffer ws(ws_bytes > 0 ? ws_bytes : 16);
  if (Status s = ws.fill_bytes(0x33); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = plan->run(Stream(), Workspace{ws.get(), ws_bytes}, args); !s.ok())
    return ::testing::AssertionFailure() << "run: " << s.to_string() << " (" << plan->describe() << ")";
  if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto out = dout.download_as<T>(static_cast<std::size_t>(c.m * ldc));
  if (!out) return ::testing::AssertionFailure() << out.error().to_string();
  return compare(*out, ldc, c.m, c.n, *ref, bias_d, seed) << " (" << plan->describe() << ")";
}

template <class T>
::testing::AssertionResult check_quantized_linear_asym(std::int64_t m, std::int64_t n, std::int64_t k, bool bias) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const auto x = skewed_rows(m, k, true, rng);
  const auto xt = convert_from_float<T>(x);
  const auto xf = round_trip<T>(x);
  auto aq = quant::quantize_rows_asymmetric(xf.data(), m, k, quant::AsymStorage::S8);
  if (!aq) return ::testing::AssertionFailure() << aq.error().to_string();
  const auto w = random_int8(static_cast<std::size_t>(n * k), rng);
  const auto w_scale = random_floats(static_cast<std::size_t>(n), 2e-4f, 2e-3f, rng);
  const auto bias_t = convert_from_float<T>(random_floats(static_cast<std::size_t>(n), -4.0f, 4.0f, rng));
  auto colsum = weight_colsum(w.data(), n, k, k);
  if (!colsum) return ::testing::AssertionFailure() << colsum.error().to_string();
  const std::vector<double> bias_d = bias ? widen(bias_t) : std::vector<double>{};
  auto ref = quant::azp_gemm_reference(aq->q_s8(), aq->scale, aq->zero_point, w, w_scale, bias_d, m, n, k);
  if (!ref) return ::testing::AssertionFailure() << ref.error().to_string();

  DeviceBuffer dx(xt.size() * sizeof(T)), dw(w.size()), dws(n * 4), dcs(n * 4), db(n * sizeof(T)),
      dout(static_cast<std::size_t>(m * n) * sizeof(T)), dq(static_cast<std::size_t>(m * k)), ds(m * 4);
  for (const Status& s : {dx.upload(xt), dw.upload(w), dws.upload(w_scale), dcs.upload(*colsum), db.upload(bias_t),
                          dout.fill_bytes(0xff), dq.fill_bytes(0x7f), ds.fill_bytes(0xff)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto desc = QuantizedLinearDescriptor::make<T>(m, n, k, bias);
  desc.asymmetric = true;
  auto plan = QuantizedLinearPlan<T>::select(Stream(), desc);
  if (!plan) return ::testing::AssertionFailure() << "select: " << plan.error().to_string();
  if (plan->precision_guarantee().description.find("asymmetric per-token") == std::string_view::npos)
    return ::testing::AssertionFailure() << "precision_guarantee().description: "
                                         << plan->precision_guarantee().description;
  typename QuantizedLinearPlan<T>::Args args;
  args.activation = TensorRef<T, 2>::contiguous(dx.get<T>(), {m, k});
  args.weight_q = TensorRef<std::int8_t, 2>::contiguous(dw.get<std::int8_t>(), {n, k});
  args.weight_scale = TensorRef<float, 1>::contiguous(dws.get<float>(), {n});
  if (bias) args.bias = TensorRef<T, 1>::contiguous(db.get<T>(), {n});
  args.output = TensorMut<T, 2>::contiguous(dout.get<T>(), {m, n});
  args.act_q_scratch = TensorMut<std::int8_t, 2>::contiguous(dq.get<std::int8_t>(), {m, k});
  args.act_scale_scratch = TensorMut<float, 1>::contiguous(ds.get<float>(), {m});
  args.weight_colsum = TensorRef<std::int32_t, 1>::contiguous(dcs.get<std::int32_t>(), {n});
  const std::size_t ws_bytes = plan->workspace_size();
  if (ws_bytes < static_cast<std::size_t>(m) * 4)
    return ::testing::AssertionFailure() << "workspace_size() = " << ws_bytes << " cannot hold M zero points";
  DeviceBuffer ws(ws_bytes);
  if (Status s = ws.fill_bytes(0xee); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = plan->run(Stream(), Workspace{ws.get(), ws_bytes}, args); !s.ok())
    return ::testing::AssertionFailure() << "run: " << s.to_string() << " (" << plan->describe() << ")";
  if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  // On sm_90a a contiguous int8 row of odd K is not 16-byte aligned: the quantize pass then writes the staged region
  // of the workspace (after the plan's own bytes, at preferred_row_stride(K)) and leaves act_q_scratch untouched, as
  // qjit/linear.h documents.
  // (One row is read and written in place: its stride is never followed, only its base counts.)
  const bool staged = m > 1 && k % 16 != 0 && plan->describe().find("staged into the workspace") != std::string::npos;
  const std::size_t own = staged ? (plan->workspace_size(m) - staged_rows_bytes(m, k) - staged_rows_bytes(n, k) +
                                    255) / 256 * 256
                                 : 0;
  const std::int64_t ldq = staged ? preferred_row_stride(k) : k;
  auto q = dq.download_as<std::int8_t>(static_cast<std::size_t>(m * k));
  auto sc = ds.download_as<float>(static_cast<std::size_t>(m));
  auto zp = ws.download_as<std::int32_t>(static_cast<std::size_t>(m));  // the zero points lead the workspace
  auto out = dout.download_as<T>(static_cast<std::size_t>(m * n));
  if (!q || !sc || !zp || !out) return ::testing::AssertionFailure() << "download failed";
  std::vector<std::int8_t> q_got = *q;
  if (staged) {
    for (std::int64_t j = 0; j < m * k; ++j)
      if ((*q)[static_cast<std::size_t>(j)] != 0x7f)
        return ::testing::AssertionFailure() << "act_q_scratch was written on the staged path, seed " << seed;
    q_got.resize(static_cast<std::size_t>(m * ldq));
    if (Status s = ws.download(q_got.data(), q_got.size(), own); !s.ok())
      return ::testing::AssertionFailure() << "reading the staged act_q: " << s.to_string();
  }
  for (std::int64_t i = 0; i < m; ++i) {
    if (std::memcmp(&(*sc)[i], &aq->scale[i], 4) != 0 || (*zp)[i] != aq->zero_point[i])
      return ::testing::AssertionFailure()
             << "row " << i << ": scale " << (*sc)[i] << " zp " << (*zp)[i] << ", CPU rule " << aq->scale[i] << " "
             << aq->zero_point[i] << ", seed " << seed;
    for (std::int64_t j = 0; j < k; ++j)
      if (q_got[i * ldq + j] != aq->q_s8()[i * k + j])
        return ::testing::AssertionFailure()
               << (staged ? "staged act_q[" : "act_q[") << i << "," << j << "] = " << int(q_got[i * ldq + j])
               << ", CPU rule " << int(aq->q_s8()[i * k + j]) << ", seed " << seed;
  }
  return compare(*out, n, m, n, *ref, bias_d, seed) << " (" << plan->describe() << ")";
}

TEST(AzpLinearGpuTest, ScaledMatmulAzpF16Bf16F32DecodeAndPrefill) {
  QJIT_REQUIRE_GPU();
  // NOTE: N = 1024 keeps the f64 reference (every row, every column) to seconds; M = 130 crosses a 128-row tile.
  for (std::int64_t m : {1, 7, 64, 130})
    for (bool bias : {false, true})
      for (bool wpt : {false, true}) {
        const AzpCase c{m, 1024, 4096, bias, wpt};
        EXPECT_TRUE(check_scaled_matmul_azp<f16>(c)) << c.to_string() << " f16";
        EXPECT_TRUE(check_scaled_matmul_azp<bf16>(c)) << c.to_string() << " bf16";
        EXPECT_TRUE(check_scaled_matmul_azp<float>(c)) << c.to_string() << " f32";
      }
}

TEST(AzpLinearGpuTest, ScaledMatmulAzpOddShapes) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {3, 129}) {
    EXPECT_TRUE(check_scaled_matmul_azp<bf16>(AzpCase{m, 5003, 1024, true}));
    EXPECT_TRUE(check_scaled_matmul_azp<f16>(AzpCase{m, 4096, 4095, false, true}));  // odd K: staged on sm_90a
    EXPECT_TRUE(check_scaled_matmul_azp<float>(AzpCase{m, 1001, 4100, true}));
    EXPECT_TRUE(check_scaled_matmul_azp<bf16>(AzpCase{m, 33, 17, true}));
  }
}

TEST(AzpLinearGpuTest, QuantizedLinearAsymmetricF16Bf16F32) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 5, 300})
    for (bool bias : {false, true}) {
      EXPECT_TRUE(check_quantized_linear_asym<f16>(m, 1024, 4096, bias)) << "M=" << m << " f16";
      EXPECT_TRUE(check_quantized_linear_asym<bf16>(m, 512, 11008, bias)) << "M=" << m << " bf16";
      EXPECT_TRUE(check_quantized_linear_asym<float>(m, 1001, 4100, bias)) << "M=" << m << " f32";
    }
}

// On sm_90: the portable family's azp kernel and the Hopper family's (staged, swap-AB direct, split-K) give the same
// bits, as their symmetric epilogues do (gemm_families_bitwise_test.cpp).
TEST(AzpLinearGpuTest, Sm80AndSm90AzpKernelsGiveIdenticalBits) {
  QJIT_REQUIRE_GPU();
  const runtime::DeviceInfo& device = *gpu();
  if (device.arch != 90) GTEST_SKIP() << "needs an sm_90 GPU (both families), this one is sm_" << device.arch;
  if (const char* v = std::getenv("QJIT_DISABLE_SM90"); v && std::string(v) == "1")
    GTEST_SKIP() << "QJIT_DISABLE_SM90=1 turns the Hopper family off in this process";
  for (std::int64_t m : {1, 64, 300})
    for (bool wpc : {true, false}) {
      codegen::KernelSpec spec;
      spec.op = codegen::KernelOp::GemmS8;
      spec.in_element = ElementKind::S8;
      spec.out_element = ElementKind::BF16;
      spec.n = 1000;
      spec.k = 1024;
      spec.m_bucket = codegen::m_bucket_of(m);
      spec.has_bias = true;
      spec.per_token_scale = true;
      spec.per_channel_weight_scale = wpc;
      spec.act_zero_point = true;
      spec.arch = ops::target_arch(device);
      const std::uint64_t seed = fresh_seed();
      std::mt19937_64 rng(seed);
      const auto a = random_int8(static_cast<std::size_t>(m * spec.k), rng);
      const auto b = random_int8(static_cast<std::size_t>(spec.n * spec.k), rng);
      const auto as = random_floats(static_cast<std::size_t>(m), 1e-3f, 3e-2f, rng);
      const auto bs = random_floats(static_cast<std::size_t>(spec.n), 1e-3f, 3e-2f, rng);
      const auto bias = convert_from_float<bf16>(random_floats(static_cast<std::size_t>(spec.n), -4.0f, 4.0f, rng));
      std::vector<std::int32_t> zp(static_cast<std::size_t>(m));
      std::uniform_int_distribution<int> zd(-128, 127);
      for (auto& z : zp) z = zd(rng);
      auto cs = weight_colsum(b.data(), spec.n, spec.k, spec.k);
      ASSERT_TRUE(cs.has_value());
      DeviceBuffer da(a.size()), db(b.size()), das(as.size() * 4), dbs(bs.size() * 4), dbias(bias.size() * 2),
          dz(zp.size() * 4), dcs(cs->size() * 4);
      for (const Status& s : {da.upload(a), db.upload(b), das.upload(as), dbs.upload(bs), dbias.upload(bias),
                              dz.upload(zp), dcs.upload(*cs)})
        QJIT_ASSERT_OK(s);
      auto run = [&](const codegen::TileConfig& cfg) -> Result<std::vector<std::uint16_t>> {
        QJIT_ASSIGN_OR_RETURN(ops::KernelBinding k, ops::bind_kernel_with(spec, cfg, device));
        const std::size_t ws_bytes = ops::kernel_workspace_bytes(spec, cfg, m);
        DeviceBuffer dc(static_cast<std::size_t>(m * spec.n) * 2), dws(ws_bytes > 0 ? ws_bytes : 16);
        QJIT_TRY(dc.fill_bytes(0xff));
        codegen::GemmS8Params p{};
        p.a = da.get();
        p.b = db.get();
        p.lda = spec.k;
        p.ldb = spec.k;
        p.a_scale = das.get<float>();
        p.b_scale = dbs.get<float>();
        p.bias = dbias.get();
        p.c = dc.get();
        p.ldc = spec.n;
        p.m = static_cast<int>(m);
        p.workspace = ws_bytes > 0 ? dws.get() : nullptr;
        const codegen::GemmAzpArgs azp{dz.get<std::int32_t>(), dcs.get<std::int32_t>()};
        QJIT_TRY(ops::launch_gemm(k, p, ws_bytes, nullptr, &azp));
        QJIT_TRY(synchronize());
        return dc.download_as<std::uint16_t>(static_cast<std::size_t>(m * spec.n));
      };
      auto want = run(codegen::Sm80Tile{.block_m = 64, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2});
      ASSERT_TRUE(want.has_value()) << want.error().to_string();
      std::vector<codegen::TileConfig> cfgs = {
          codegen::Sm90Tile{.block_m = 128, .block_n = 128, .stages = 4, .consumers = 2}};
      auto heuristic = ops::choose_config(spec, PlanPreference::Heuristic, device);
      ASSERT_TRUE(heuristic.has_value());
      cfgs.push_back(*heuristic);
      if (m <= 16)
        cfgs.push_back(codegen::Sm90Tile{
            .block_m = 16, .block_n = 128, .stages = 6, .split_k = 2, .consumers = 1, .swap_ab = true});
      for (const codegen::TileConfig& cfg : cfgs) {
        auto got = run(cfg);
        ASSERT_TRUE(got.has_value()) << cfg.to_string() << ": " << got.error().to_string();
        for (std::size_t i = 0; i < want->size(); ++i)
          ASSERT_EQ((*got)[i], (*want)[i]) << cfg.to_string() << " M=" << m << (wpc ? "" : " weight=per_tensor")
                                           << ": output[" << i / spec.n << "," << i % spec.n << "], seed " << seed;
      }
    }
}

}  // namespace
}  // namespace qjit::testing
