// The CPU twins of the GPU operands: cvt.rni.sat.s8.f32 semantics, per-channel weight and per-token activation
// quantization (scale = absmax/127 in f32, zero rows), static per-tensor quantization and the W8A8 GEMM epilogue.
#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "qjit/quant/w8a8.h"

namespace qjit::quant {
namespace {

TEST(QuantW8A8Test, RniSatRoundsHalfToEvenSaturatesAndZeroesNaN) {
  EXPECT_EQ(rni_sat_s8(0.5f), 0);
  EXPECT_EQ(rni_sat_s8(1.5f), 2);
  EXPECT_EQ(rni_sat_s8(2.5f), 2);
  EXPECT_EQ(rni_sat_s8(-2.5f), -2);
  EXPECT_EQ(rni_sat_s8(-3.5f), -4);
  EXPECT_EQ(rni_sat_s8(126.5f), 126);
  EXPECT_EQ(rni_sat_s8(127.49f), 127);
  EXPECT_EQ(rni_sat_s8(200.0f), 127);
  EXPECT_EQ(rni_sat_s8(-128.5f), -128);
  EXPECT_EQ(rni_sat_s8(-1e30f), -128);
  EXPECT_EQ(rni_sat_s8(std::numeric_limits<float>::infinity()), 127);
  EXPECT_EQ(rni_sat_s8(-std::numeric_limits<float>::infinity()), -128);
  EXPECT_EQ(rni_sat_s8(std::numeric_limits<float>::quiet_NaN()), 0);
  EXPECT_EQ(quantize_s8(5.0f, 0.0f), 0);
}

TEST(QuantW8A8Test, QuantizeUsesDivisionNotReciprocalMultiplication) {
  // Find a value where x / s and x * (1 / s) round to different integers: the helper must follow the division.
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  int differing = 0;
  for (int i = 0; i < 200000 && differing < 5; ++i) {
    const float s = std::fabs(d(rng)) / 127.0f + 1e-6f;
    const float x = std::nearbyint(d(rng) * 126.0f) * s + 0.5f * s;  // near a .5 boundary
    const float by_div = x / s;
    const float by_mul = x * (1.0f / s);
    if (std::nearbyint(by_div) != std::nearbyint(by_mul)) {
      ++differing;
      EXPECT_EQ(quantize_s8(x, s), static_cast<std::int8_t>(std::nearbyint(by_div)));
    }
  }
  EXPECT_GT(differing, 0) << "no distinguishing case found; the test lost its teeth";
}

TEST(QuantW8A8Test, PerChannelWeightsMatchTheContract) {
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.0f, 0.05f);
  const std::int64_t n = 37, k = 129;
  std::vector<float> w(n * k);
  for (auto& v : w) v = d(rng);
  for (std::int64_t j = 0; j < k; ++j) w[5 * k + j] = 0.0f;  // an all-zero row
  w[7 * k + 3] = -0.9f;
  auto q = quantize_weight_per_channel(w.data(), n, k);
  ASSERT_TRUE(q.has_value()) << q.error().to_string();
  ASSERT_EQ(q->weight.size(), static_cast<std::size_t>(n * k));
  ASSERT_EQ(q->weight_scale.size(), static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    float absmax = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) absmax = std::max(absmax, std::fabs(w[r * k + j]));
    ASSERT_EQ(q->weight_scale[r], absmax / 127.0f);
    for (std::int64_t j = 0; j < k; ++j) {
      const float x = w[r * k + j];
      const std::int8_t got = q->weight[r * k + j];
      if (absmax == 0.0f) {
        ASSERT_EQ(got, 0);
        continue;
      }
      ASSERT_EQ(got, rni_sat_s8(x / q->weight_scale[r]));
      ASSERT_LE(std::fabs(got * q->weight_scale[r] - x), 0.5f * q->weight_scale[r] * 1.0001f);
    }
  }
  EXPECT_EQ(q->weight[7 * k + 3], -127);
}

TEST(QuantW8A8Test, PerTokenActivationsAndErrors) {
  std::vector<float> x = {0.0f, 0.0f, 0.0f, 1.0f, -2.54f, 1.27f};
  auto q = quantize_rows_per_token(x.data(), 2, 3);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->scale[0], 0.0f);
  EXPECT_EQ(q->scale[1], 2.54f / 127.0f);
  EXPECT_EQ(q->q, (std::vector<std::int8_t>{0, 0, 0, 50, -127, rni_sat_s8(1.27f / (2.54f / 127.0f))}));
  x[4] = NAN;
  auto bad = quantize_rows_per_token(x.data(), 2, 3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("x[1, 1] must be finite"), std::string::npos);
  EXPECT_FALSE(quantize_rows_per_token(nullptr, 2, 3).has_value());
  EXPECT_FALSE(quantize_rows_per_token(x.data(), 0, 3).has_value());
  auto overflow = quantize_weight_per_channel(x.data(), std::int64_t{1} << 40, std::int64_t{1} << 40);
  ASSERT_FALSE(overflow.has_value());
  EXPECT_NE(overflow.error().message().find("overflows"), std::string::npos);
}

TEST(QuantW8A8Test, LargeInputsTakeTheThreadedPathWithIdenticalResults) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const std::int64_t rows = 2048, cols = 1024;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = d(rng);
  auto q = quantize_rows_per_token(x.data(), rows, cols);
  ASSERT_TRUE(q.has_value());
  for (std::int64_t r = 0; r < rows; r += 97) {
    auto one = quantize_rows_per_token(x.data() + r * cols, 1, cols);
    ASSERT_EQ(one->scale[0], q->scale[r]);
    for (std::int64_t j = 0; j < cols; ++j) ASSERT_EQ(one->q[j], q->q[r * cols + j]);
  }
}

TEST(QuantW8A8Test, PerTensorStaticQuantization) {
  auto q = quantize_per_tensor(std::vector<float>{0.1f, -1.0f, 5.0f}, 0.01f);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(*q, (std::vector<std::int8_t>{rni_sat_s8(0.1f / 0.01f), -100, 127}));
  EXPECT_FALSE(quantize_per_tensor(std::vector<float>{1.0f}, -1.0f).has_value());
  EXPECT_FALSE(quantize_per_tensor(std::vector<float>{INFINITY}, 1.0f).has_value());
}

TEST(QuantW8A8Test, GemmReferenceAppliesTheEpilogueInF32) {
  const std::vector<float> w = {1.0f, -1.0f, 0.5f, 0.25f, 2.0f, -0.5f};  // [2, 3]
  auto wq = quantize_weight_per_channel(w.data(), 2, 3);
  const std::vector<float> x = {3.0f, 1.0f, -2.0f};
  auto xq = quantize_rows_per_token(x.data(), 1, 3);
  auto y = w8a8_gemm_reference(xq->q, xq->scale, *wq, 1);
  ASSERT_TRUE(y.has_value());
  for (int n = 0; n < 2; ++n) {
    std::int32_t acc = 0;
    for (int k = 0; k < 3; ++k) acc += xq->q[k] * wq->weight[n * 3 + k];
    EXPECT_EQ((*y)[n], xq->scale[0] * wq->weight_scale[n] * static_cast<float>(acc));
    double exact = 0;
    for (int k = 0; k < 3; ++k) exact += double(x[k]) * w[n * 3 + k];
    EXPECT_NEAR((*y)[n], exact, 0.05);
  }
  EXPECT_FALSE(w8a8_gemm_reference(xq->q, xq->scale, *wq, 2).has_value());
}

}  // namespace
}  // namespace qjit::quant
