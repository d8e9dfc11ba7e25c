// Calibration (min-max and percentile ranges, symmetric and asymmetric), the activation statistics accumulator and
// its percentile sketch, and the f64 QuantizedLinear reference: quantize/dequantize bounds, forward, bias, errors.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "qjit/quant/act_stats.h"
#include "qjit/quant/calibration.h"
#include "qjit/quant/quantized_linear.h"

namespace qjit::quant {
namespace {

MatrixF64 random_weight(std::int64_t n, std::int64_t k, std::uint32_t seed, double shift = 0.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(shift, 1.0);
  MatrixF64 w = MatrixF64::zeros(n, k);
  for (auto& v : w.data) v = d(rng);
  return w;
}

TEST(QuantCalibrationTest, SymmetricPerChannelScaleIsRowAbsmaxOver127) {
  auto w = MatrixF64::create(2, 3, {1.0, -2.54, 0.5, 0.0, 0.0, 0.0}, "weight");
  ASSERT_TRUE(w.has_value());
  auto p = calibrate_linear(*w, CalibrationOptions{});
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_DOUBLE_EQ(p->scales[0], 2.54 / 127.0);
  EXPECT_EQ(p->scales[1], 0.0);  // an all-zero row: scale 0, dequantizes to exactly 0
  EXPECT_EQ(p->zero_points, (std::vector<std::int32_t>{0, 0}));
  auto q = QuantizedLinear::from_fp(*w, *p);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->weight_q()[1], -127);
  EXPECT_EQ(q->weight_q()[0], 50);  // 1 / 0.02 = 50
  EXPECT_EQ(q->dequantize().at(1, 2), 0.0);
}

TEST(QuantCalibrationTest, AsymmetricRangeContainsZeroAndRoundTripsWithinHalfStep) {
  const MatrixF64 w = random_weight(6, 40, 1, /*shift=*/3.0);  // mostly positive rows
  CalibrationOptions o;
  o.symmetric = false;
  auto p = calibrate_linear(w, o);
  ASSERT_TRUE(p.has_value());
  auto q = QuantizedLinear::from_fp(w, *p);
  ASSERT_TRUE(q.has_value());
  const MatrixF64 d = q->dequantize();
  for (std::int64_t r = 0; r < w.rows; ++r) {
    EXPECT_GE(p->zero_points[r], -128);
    EXPECT_LE(p->zero_points[r], 127);
    for (std::int64_t c = 0; c < w.cols; ++c)
      EXPECT_LE(std::fabs(d.at(r, c) - w.at(r, c)), 0.5 * p->scales[r] * (1 + 1e-9) + 1e-12);
  }
  // Asymmetric uses the full 256 levels, so it is finer than symmetric on a shifted distribution.
  auto sym = calibrate_linear(w, CalibrationOptions{});
  for (std::int64_t r = 0; r < w.rows; ++r) EXPECT_LT(p->scales[r], sym->scales[r]);
}

TEST(QuantCalibrationTest, PerTensorUsesOneScaleAndPercentileClipsOutliers) {
  MatrixF64 w = random_weight(8, 64, 2);
  w.at(3, 7) = 100.0;  // one outlier
  CalibrationOptions o;
  o.granularity = QuantGranularity::PerTensor;
  auto minmax = calibrate_linear(w, o);
  ASSERT_TRUE(minmax.has_value());
  ASSERT_EQ(minmax->scales.size(), 1u);
  EXPECT_DOUBLE_EQ(minmax->scales[0], 100.0 / 127.0);
  o.method = ClipMethod::Percentile;
  o.percentile = 99.0;
  auto clipped = calibrate_linear(w, o);
  ASSERT_TRUE(clipped.has_value());
  EXPECT_LT(clipped->scales[0], 5.0 / 127.0);
  auto q = QuantizedLinear::from_fp(w, *clipped);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->weight_q()[3 * 64 + 7], 127);  // saturated, not wrapped
  o.percentile = 0.0;
  EXPECT_FALSE(calibrate_linear(w, o).has_value());
}

TEST(QuantCalibrationTest, CalibrationRejectsBadWeights) {
  MatrixF64 w = random_weight(2, 2, 3);
  w.at(1, 0) = NAN;
  auto r = calibrate_linear(w, CalibrationOptions{});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("weight[1, 0] must be finite"), std::string::npos);
  EXPECT_FALSE(calibrate_linear(MatrixF64{}, CalibrationOptions{}).has_value());
  auto bad = MatrixF64::create(2, 3, std::vector<double>(5), "weight");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "weight.data.size() must equal rows * cols = 6, got 5");
}

TEST(QuantizedLinearTest, ForwardMatchesDequantizedMatmulPlusBias) {
  const MatrixF64 w = random_weight(5, 12, 4);
  auto p = calibrate_linear(w, CalibrationOptions{});
  auto q = QuantizedLinear::from_fp(w, *p);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->out_features(), 5);
  EXPECT_EQ(q->in_features(), 12);
  EXPECT_EQ(q->granularity(), QuantGranularity::PerChannel);
  EXPECT_EQ(q->scales().size(), 5u);
  std::vector<double> bias = {1, 2, 3, 4, 5};
  auto qb = q->with_bias(bias);
  ASSERT_TRUE(qb.has_value());
  const MatrixF64 x = random_weight(3, 12, 5);
  auto y = qb->forward(x);
  ASSERT_TRUE(y.has_value());
  const MatrixF64 d = q->dequantize();
  auto exact = matmul_transposed(x, w);
  for (std::int64_t m = 0; m < 3; ++m)
    for (std::int64_t n = 0; n < 5; ++n) {
      double ref = bias[n];
      double bound = 0.0;
      for (std::int64_t k = 0; k < 12; ++k) {
        ref += x.at(m, k) * d.at(n, k);
        bound += std::fabs(x.at(m, k)) * 0.5 * p->scales[n];
      }
      EXPECT_NEAR(y->at(m, n), ref, 1e-12);
      // Against the unquantized weight the error is bounded by half a step per term.
      EXPECT_LE(std::fabs(y->at(m, n) - bias[n] - exact->at(m, n)), bound + 1e-12);
    }
}

TEST(QuantizedLinearTest, ShapeAndTypeErrors) {
  const MatrixF64 w = random_weight(4, 6, 6);
  auto p = calibrate_linear(w, CalibrationOptions{});
  auto q = QuantizedLinear::from_fp(w, *p);
  ASSERT_TRUE(q.has_value());
  auto bad_bias = q->with_bias({1.0, 2.0});
  ASSERT_FALSE(bad_bias.has_value());
  EXPECT_EQ(bad_bias.error().message(), "bias.size() must equal out_features = 4, got 2");
  auto bad_x = q->forward(MatrixF64::zeros(2, 5));
  ASSERT_FALSE(bad_x.has_value());
  EXPECT_EQ(bad_x.error().message(), "x.cols must equal in_features = 6, got 5");
  QuantizationParams int4 = *p;
  int4.type = QuantType::Int4;
  auto u = QuantizedLinear::from_fp(w, int4);
  ASSERT_FALSE(u.has_value());
  EXPECT_EQ(u.error().code(), StatusCode::Unsupported);
  QuantizationParams short_scales = *p;
  short_scales.scales.pop_back();
  EXPECT_FALSE(QuantizedLinear::from_fp(w, short_scales).has_value());
  QuantizationParams bad_zp = *p;
  bad_zp.zero_points[0] = 3;  // symmetric params must have zero points 0
  EXPECT_FALSE(QuantizedLinear::from_fp(w, bad_zp).has_value());
}

TEST(QuantizedLinearTest, RoundsHalfToEven) {
  auto w = MatrixF64::create(1, 4, {2.5, 3.5, -2.5, 127.0});
  QuantizationParams p;
  p.granularity = QuantGranularity::PerTensor;
  p.scales = {1.0};
  p.zero_points = {0};
  auto q = QuantizedLinear::from_fp(*w, p);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->weight_q(), (std::vector<std::int8_t>{2, 4, -2, 127}));
}

TEST(QuantActStatsTest, AccumulatesAbsmaxAcrossBatchesAndMerges) {
  auto acc = ActStatsAccumulator::create(3, /*with_histogram=*/true);
  ASSERT_TRUE(acc.has_value());
  ASSERT_TRUE(acc->add_batch(std::vector<float>{1, -5, 2, 0.5f, 1, -3}, 2).ok());
  ASSERT_TRUE(acc->add_batch(std::vector<float>{-4, 0, 0}, 1).ok());
  EXPECT_EQ(acc->channel_absmax(), (std::vector<float>{4, 5, 3}));
  EXPECT_EQ(acc->n_tokens_seen(), 3);
  Status bad = acc->add_batch(std::vector<float>{1, NAN, 2}, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("acts[0, 1]"), std::string::npos);
  EXPECT_EQ(acc->n_tokens_seen(), 3);  // rejected batch left no trace
  EXPECT_FALSE(acc->add_batch(std::vector<float>{1, 2}, 1).ok());
  auto other = ActStatsAccumulator::create(3, true);
  ASSERT_TRUE(other->add_batch(std::vector<float>{9, 0, 0}, 1).ok());
  ASSERT_TRUE(acc->merge(*other).ok());
  EXPECT_EQ(acc->channel_absmax()[0], 9.0f);
  EXPECT_EQ(acc->tensor_absmax(), 9.0f);
  auto narrow = ActStatsAccumulator::create(2);
  EXPECT_FALSE(acc->merge(*narrow).ok());
  EXPECT_FALSE(ActStatsAccumulator::create(0).has_value());
}

TEST(QuantActStatsTest, PercentileIsATightUpperBound) {
  auto acc = ActStatsAccumulator::create(4, true);
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> all;
  for (int b = 0; b < 20; ++b) {
    std::vector<float> batch(4 * 250);
    for (auto& v : batch) v = d(rng);
    all.insert(all.end(), batch.begin(), batch.end());
    ASSERT_TRUE(acc->add_batch(batch, 250).ok());
  }
  for (auto& v : all) v = std::fabs(v);
  std::sort(all.begin(), all.end());
  for (double p : {50.0, 99.0, 99.9, 100.0}) {
    const float exact = all[static_cast<std::size_t>(std::ceil(p / 100.0 * all.size())) - 1];
    auto got = acc->percentile(p);
    ASSERT_TRUE(got.has_value());
    EXPECT_GE(*got, exact) << p;
    EXPECT_LE(*got, exact * (1.0f + 1.0f / 64.0f) + 1e-30f) << p;
  }
  auto scale = static_activation_scale(*acc, ClipMethod::Percentile, 99.9);
  ASSERT_TRUE(scale.has_value());
  EXPECT_LT(*scale, acc->tensor_absmax() / 127.0f);
  auto plain = ActStatsAccumulator::create(4, false);
  EXPECT_FALSE(plain->percentile(50).has_value());
  EXPECT_FALSE(acc->percentile(0).has_value());
}

TEST(QuantActStatsTest, StaticActivationScaleAfterSmoothing) {
  auto s = static_activation_scale(std::vector<float>{4.0f, 10.0f}, std::vector<float>{1.0f, 5.0f});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, 4.0f / 127.0f);  // smoothed maxima are 4 and 2
  auto plain = static_activation_scale(std::vector<float>{4.0f, 10.0f}, {});
  EXPECT_EQ(*plain, 10.0f / 127.0f);
  EXPECT_FALSE(static_activation_scale(std::vector<float>{4.0f}, std::vector<float>{1.0f, 2.0f}).has_value());
  EXPECT_FALSE(static_activation_scale(std::vector<float>{-1.0f}, {}).has_value());
}

}  // namespace
}  // namespace qjit::quant
