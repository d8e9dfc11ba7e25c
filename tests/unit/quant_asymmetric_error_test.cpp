// The asymmetric (zero-point) per-token rule on the CPU (qjit/quant/asymmetric.h): the rule's fixed points, s8
// storage as the u8 code shifted, the weight column sums, the f64 zero-point GEMM against a direct dequantized sum,
// and the error study docs/QUANT.md ("when it helps") quotes: asymmetric vs symmetric per-token activations on
// skewed rows (post-GELU, post-SiLU, post-ReLU, SwiGLU) and on a centred Gaussian, through the same int8 weight,
// each against the exact f64 product with the unquantized weight.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "qjit/quant/asymmetric.h"
#include "qjit/quant/w8a8.h"

namespace qjit::quant {
namespace {

TEST(QuantAsymmetricTest, RuleFixedPoints) {
  // All zeros: scale 0, zp 0, every code 0.
  const std::vector<float> zeros(8, 0.0f);
  auto z = quantize_rows_asymmetric(zeros.data(), 1, 8, AsymStorage::U8);
  ASSERT_TRUE(z.has_value()) << z.error().message();
  EXPECT_EQ(z->scale[0], 0.0f);
  EXPECT_EQ(z->zero_point[0], 0);
  for (auto q : z->q) EXPECT_EQ(q, 0);
  // Non-negative row: lo = 0, zp = 0, max -> 255, an exact 0 stays 0.
  const std::vector<float> pos = {0.0f, 1.0f, 2.0f, 2.55f};
  auto p = quantize_rows_asymmetric(pos.data(), 1, 4, AsymStorage::U8);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->scale[0], 2.55f / 255.0f);
  EXPECT_EQ(p->zero_point[0], 0);
  EXPECT_EQ(p->q[0], 0);
  EXPECT_EQ(p->q[3], 255);
  EXPECT_EQ(p->q[1], static_cast<std::uint8_t>(std::nearbyint(1.0f / p->scale[0])));
  // Non-positive row: hi = 0, zp = 255 (0 maps to 255), the minimum to 0.
  const std::vector<float> neg = {-3.0f, -1.0f, 0.0f};
  auto n = quantize_rows_asymmetric(neg.data(), 1, 3, AsymStorage::U8);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->zero_point[0], 255);
  EXPECT_EQ(n->q[0], 0);
  EXPECT_EQ(n->q[2], 255);
  // Mixed row: x ≈ scale·(q − zp) within half a step, and 0 exactly representable.
  const std::vector<float> mix = {-0.17f, 0.0f, 0.4f, 3.0f, 1.25f};
  auto m = quantize_rows_asymmetric(mix.data(), 1, 5, AsymStorage::U8);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->scale[0], (3.0f - -0.17f) / 255.0f);
  EXPECT_EQ(m->q[1], m->zero_point[0]);
  for (int j = 0; j < 5; ++j)
    EXPECT_LE(std::fabs(m->scale[0] * (m->q[j] - m->zero_point[0]) - mix[j]), 0.5001 * m->scale[0]) << j;
}

TEST(QuantAsymmetricTest, S8StorageIsTheU8CodeShiftedBy128) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.3f, 1.0f);
  const std::int64_t rows = 9, cols = 77;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = d(rng);
  auto u = quantize_rows_asymmetric(x.data(), rows, cols, AsymStorage::U8);
  auto s = quantize_rows_asymmetric(x.data(), rows, cols, AsymStorage::S8);
  ASSERT_TRUE(u.has_value() && s.has_value());
  for (std::int64_t r = 0; r < rows; ++r) {
    EXPECT_EQ(u->scale[r], s->scale[r]);
    EXPECT_EQ(u->zero_point[r] - 128, s->zero_point[r]);
    EXPECT_GE(s->zero_point[r], -128);
    EXPECT_LE(s->zero_point[r], 127);
  }
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(static_cast<int>(u->q[i]) - 128, s->q_s8()[i]) << i;
}

TEST(QuantAsymmetricTest, RefusesNonFiniteAndBadShapesNamingThem) {
  std::vector<float> x = {1.0f, NAN, 2.0f};
  auto r = quantize_rows_asymmetric(x.data(), 1, 3, AsymStorage::U8);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("x[0, 1] must be finite"), std::string::npos) << r.error().message();
  auto c = weight_colsum(nullptr, 0, 4, 4);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("n must be > 0"), std::string::npos) << c.error().message();
  const std::int8_t w[4] = {1, 2, 3, 4};
  auto l = weight_colsum(w, 1, 4, 3);
  ASSERT_FALSE(l.has_value());
  EXPECT_NE(l.error().message().find("ldw must be >= k = 4, got 3"), std::string::npos) << l.error().message();
}

TEST(QuantAsymmetricTest, ColumnSumsAndZeroPointGemmMatchTheDequantizedSum) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> wi(-128, 127);
  std::normal_distribution<float> d(0.5f, 1.0f);
  const std::int64_t m = 5, n = 7, k = 33, ldw = 40;
  std::vector<std::int8_t> wpad(n * ldw, 99), w(n * k);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < k; ++t) w[i * k + t] = wpad[i * ldw + t] = static_cast<std::int8_t>(wi(rng));
  auto cs = weight_colsum(wpad.data(), n, k, ldw);
  ASSERT_TRUE(cs.has_value());
  for (std::int64_t i = 0; i < n; ++i) {
    std::int32_t s = 0;
    for (std::int64_t t = 0; t < k; ++t) s += w[i * k + t];
    EXPECT_EQ((*cs)[i], s);
  }
  std::vector<float> x(m * k), ws(n), bias_f(n);
  for (auto& v : x) v = d(rng);
  for (auto& v : ws) v = 0.01f + std::fabs(d(rng)) * 0.01f;
  std::vector<double> bias(n);
  for (std::int64_t j = 0; j < n; ++j) bias[j] = d(rng);
  auto q = quantize_rows_asymmetric(x.data(), m, k, AsymStorage::S8);
  ASSERT_TRUE(q.has_value());
  auto y = azp_gemm_reference(q->q_s8(), q->scale, q->zero_point, w, ws, bias, m, n, k);
  ASSERT_TRUE(y.has_value()) << y.error().message();
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      // acc − zp·colsum is the same integer as Σ (q − zp)·w.
      std::int64_t acc = 0;
      for (std::int64_t t = 0; t < k; ++t) acc += static_cast<std::int64_t>(q->q_s8()[i * k + t]) * w[j * k + t];
      const double want =
          static_cast<double>(q->scale[i]) * ws[j] * static_cast<double>(acc - std::int64_t{q->zero_point[i]} * (*cs)[j]) +
          bias[j];
      EXPECT_DOUBLE_EQ((*y)[i * n + j], want) << i << "," << j;
    }
  std::vector<double> no_bias;
  auto bad = azp_gemm_reference(q->q_s8(), q->scale, std::vector<std::int32_t>(m - 1), w, ws, no_bias, m, n, k);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("act_zero_point.size() must equal m = 5"), std::string::npos);
}

// ---- the error study -------------------------------------------------------------------------------------------

enum class Dist { Gelu, Silu, Relu, Gaussian, SwiGlu };
const char* dist_name(Dist d) {
  switch (d) {
    case Dist::Gelu: return "post-GELU";
    case Dist::Silu: return "post-SiLU";
    case Dist::Relu: return "post-ReLU";
    case Dist::Gaussian: return "Gaussian";
    case Dist::SwiGlu: return "SwiGLU";
  }
  return "?";
}

struct StudyResult {
  double sym, asym;  // ||y - y_exact|| / ||y_exact||
};

StudyResult run_study(Dist dist, std::uint32_t seed) {
  const std::int64_t m = 64, n = 96, k = 512;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(m * k);
  for (auto& v : x) {
    const float a = g(rng);
    switch (dist) {
      case Dist::Gelu: v = 0.5f * a * (1.0f + std::erf(a / std::sqrt(2.0f))); break;
      case Dist::Silu: v = a / (1.0f + std::exp(-a)); break;
      case Dist::Relu: v = a > 0.0f ? a : 0.0f; break;
      case Dist::Gaussian: v = a; break;
      case Dist::SwiGlu: v = a / (1.0f + std::exp(-a)) * g(rng); break;
    }
  }
  std::vector<float> wf(n * k);
  for (auto& v : wf) v = g(rng) * 0.05f;
  auto wq = quantize_weight_per_channel(wf.data(), n, k);
  EXPECT_TRUE(wq.has_value());
  // The exact product with the unquantized weight, in f64.
  std::vector<double> exact(m * n);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::int64_t t = 0; t < k; ++t) s += static_cast<double>(x[i * k + t]) * wf[j * k + t];
      exact[i * n + j] = s;
    }
  auto sym = smoothed_w8a8_linear(x, m, *wq, {});
  auto aq = quantize_rows_asymmetric(x.data(), m, k, AsymStorage::S8);
  EXPECT_TRUE(sym.has_value() && aq.has_value());
  auto asym = azp_gemm_reference(aq->q_s8(), aq->scale, aq->zero_point, wq->weight, wq->weight_scale, {}, m, n, k);
  EXPECT_TRUE(asym.has_value());
  return {relative_error(*sym, exact), relative_error(*asym, exact)};
}

// The measured ratios (asym / sym, 3 seeds averaged) and the bars they must stay under: asymmetric pays off where the
// rows are one-sided (the symmetric grid spends half its codes on a side the values never reach), not on centred
// data. docs/QUANT.md quotes the printed table.
TEST(QuantAsymmetricErrorTest, AsymmetricHelpsOnSkewedActivationsNotOnCentredOnes) {
  struct Bar {
    Dist dist;
    double max_ratio, min_ratio;
  };
  const Bar bars[] = {{Dist::Gelu, 0.85, 0.5},
                      {Dist::Silu, 0.85, 0.5},
                      {Dist::Relu, 0.85, 0.5},
                      {Dist::SwiGlu, 0.97, 0.6},
                      {Dist::Gaussian, 1.05, 0.9}};
  for (const Bar& b : bars) {
    double sym = 0, asym = 0;
    for (std::uint32_t seed : {1u, 2u, 3u}) {
      const StudyResult r = run_study(b.dist, seed);
      sym += r.sym / 3;
      asym += r.asym / 3;
    }
    const double ratio = asym / sym;
    std::printf("[ error study ] %-10s symmetric %.5f  asymmetric %.5f  ratio %.3f\n", dist_name(b.dist), sym, asym,
                ratio);
    EXPECT_LT(ratio, b.max_ratio) << dist_name(b.dist);
    EXPECT_GT(ratio, b.min_ratio) << dist_name(b.dist);
  }
}

}  // namespace
}  // namespace qjit::quant
