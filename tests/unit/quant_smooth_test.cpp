// SmoothQuantMigrator: the scale formula on hand-computed cases, the zero-maximum rule, argument errors, the
// invariance X·Wᵀ = (X/s)·(W·s)ᵀ for random operands and alphas, the shared-input rule and norm folding.
#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "qjit/quant/smooth_quant.h"

namespace qjit::quant {
namespace {

std::vector<float> random_matrix(std::int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(QuantSmoothTest, MigrationScalesMatchHandComputedFormula) {
  const SmoothQuantMigrator m(0.5f);
  auto s = m.compute_migration_scales(std::vector<float>{4.0f, 9.0f, 1.0f}, std::vector<float>{1.0f, 4.0f, 16.0f});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_FLOAT_EQ((*s)[0], 2.0f);   // sqrt(4)/sqrt(1)
  EXPECT_FLOAT_EQ((*s)[1], 1.5f);   // sqrt(9)/sqrt(4)
  EXPECT_FLOAT_EQ((*s)[2], 0.25f);  // sqrt(1)/sqrt(16)
  const SmoothQuantMigrator m85(0.85f);
  auto s85 = m85.compute_migration_scales(std::vector<float>{10.0f}, std::vector<float>{0.5f});
  ASSERT_TRUE(s85.has_value());
  EXPECT_NEAR((*s85)[0], std::pow(10.0, 0.85) / std::pow(0.5, 0.15), 1e-5);
}

TEST(QuantSmoothTest, AlphaEndpointsMoveAllOrNothing) {
  auto s0 = SmoothQuantMigrator(0.0f).compute_migration_scales(std::vector<float>{8.0f}, std::vector<float>{0.25f});
  auto s1 = SmoothQuantMigrator(1.0f).compute_migration_scales(std::vector<float>{8.0f}, std::vector<float>{0.25f});
  ASSERT_TRUE(s0 && s1);
  EXPECT_FLOAT_EQ((*s0)[0], 4.0f);  // 1 / weight_max
  EXPECT_FLOAT_EQ((*s1)[0], 8.0f);  // act_max
}

TEST(QuantSmoothTest, ZeroMaximaGetScaleOneAndTinyScalesClampToMin) {
  SmoothQuantMigrator m(SmoothQuantConfig{0.5f, 1e-3f});
  auto s = m.compute_migration_scales(std::vector<float>{0.0f, 5.0f, 1e-8f}, std::vector<float>{3.0f, 0.0f, 1.0f});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ((*s)[0], 1.0f);
  EXPECT_EQ((*s)[1], 1.0f);
  EXPECT_EQ((*s)[2], 1e-3f);  // sqrt(1e-8) = 1e-4 < min_scale
}

TEST(QuantSmoothTest, BadArgumentsAreErrorsNamingTheArgument) {
  const SmoothQuantMigrator m(0.5f);
  auto empty = m.compute_migration_scales({}, {});
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().message().find("act_max"), std::string::npos);
  auto mismatch = m.compute_migration_scales(std::vector<float>(4096, 1.0f), std::vector<float>(4095, 1.0f));
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_EQ(mismatch.error().message(), "act_max.size() must equal weight_max.size() = 4095, got 4096");
  auto nan = m.compute_migration_scales(std::vector<float>{1.0f, NAN}, std::vector<float>{1.0f, 1.0f});
  ASSERT_FALSE(nan.has_value());
  EXPECT_NE(nan.error().message().find("act_max[1]"), std::string::npos);
  auto neg = m.compute_migration_scales(std::vector<float>{1.0f}, std::vector<float>{-1.0f});
  ASSERT_FALSE(neg.has_value());
  EXPECT_NE(neg.error().message().find("weight_max[0]"), std::string::npos);
  for (float alpha : {-0.1f, 1.5f, NAN}) {
    auto r = SmoothQuantMigrator(alpha).compute_migration_scales(std::vector<float>{1.0f}, std::vector<float>{1.0f});
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("alpha must be in [0, 1]"), std::string::npos);
  }
  auto overflow =
      SmoothQuantMigrator(0.5f).compute_migration_scales(std::vector<float>{3e38f}, std::vector<float>{1e-44f});
  ASSERT_FALSE(overflow.has_value());
  EXPECT_NE(overflow.error().message().find("overflows f32"), std::string::npos);
}

TEST(QuantSmoothTest, StatsAreColumnAbsmaxAndRejectNonFiniteWithPosition) {
  std::vector<float> acts = {1.0f, -7.0f, 0.5f, -3.0f, 2.0f, 0.0f};  // [2, 3]
  auto a = SmoothQuantMigrator::compute_act_stats(acts, 2, 3);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (std::vector<float>{3.0f, 7.0f, 0.5f}));
  auto w = SmoothQuantMigrator::compute_weight_stats(acts, 3, 2);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, (std::vector<float>{2.0f, 7.0f}));  // rows (1,-7), (0.5,-3), (2,0)
  acts[4] = std::numeric_limits<float>::infinity();
  auto bad = SmoothQuantMigrator::compute_act_stats(acts, 2, 3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("acts[1, 1] must be finite"), std::string::npos);
  acts[4] = NAN;
  EXPECT_FALSE(SmoothQuantMigrator::compute_act_stats(acts, 2, 3).has_value());
  EXPECT_FALSE(SmoothQuantMigrator::compute_act_stats(acts, 2, 4).has_value());
  EXPECT_FALSE(SmoothQuantMigrator::compute_act_stats(acts, 0, 3).has_value());
}

TEST(QuantSmoothTest, LargeStatsMatchSerialDefinitionAcrossThreads) {
  // Big enough to take the multi-threaded path.
  std::mt19937 rng(3);
  const std::int64_t rows = 1500, cols = 1000;
  auto w = random_matrix(rows * cols, rng);
  w[777 * cols + 5] = -50.0f;
  auto m = SmoothQuantMigrator::compute_weight_stats(w, rows, cols);
  ASSERT_TRUE(m.has_value());
  for (std::int64_t j = 0; j < cols; ++j) {
    float ref = 0.0f;
    for (std::int64_t r = 0; r < rows; ++r) ref = std::max(ref, std::fabs(w[r * cols + j]));
    ASSERT_EQ((*m)[j], ref) << j;
  }
  w[1499 * cols + 999] = NAN;
  auto bad = SmoothQuantMigrator::compute_weight_stats(w, rows, cols);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("weights[1499, 999]"), std::string::npos);
}

TEST(QuantSmoothTest, SmoothingLeavesProductUnchangedForRandomOperandsAndAlphas) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 12; ++trial) {
    const std::int64_t t = 3 + trial, k = 16 + 3 * trial, n = 5 + trial;
    const float alpha = 0.1f * static_cast<float>(trial % 10) + 0.05f;
    auto x = random_matrix(t * k, rng, 3.0f);
    auto w = random_matrix(n * k, rng, 0.2f);
    x[k / 2] *= 80.0f;  // an outlier
    const auto x0 = x, w0 = w;
    auto s = SmoothQuantMigrator(alpha).smooth_layer(x, w, t, k, n);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    for (std::int64_t i = 0; i < t; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double ref = 0.0, got = 0.0, mag = 0.0;
        for (std::int64_t c = 0; c < k; ++c) {
          ref += double(x0[i * k + c]) * w0[j * k + c];
          got += double(x[i * k + c]) * w[j * k + c];
          mag += std::fabs(double(x0[i * k + c]) * w0[j * k + c]);
        }
        // Each smoothed factor carries at most 1 ulp of f32 rounding per element.
        EXPECT_NEAR(got, ref, 4e-7 * mag + 1e-12) << "trial " << trial;
      }
  }
}

TEST(QuantSmoothTest, SmoothingBalancesChannelMaxima) {
  // After smoothing with alpha = 0.5, act_max/s == weight_max*s for every channel (the point of the method).
  std::mt19937 rng(11);
  const std::int64_t t = 32, k = 24, n = 16;
  auto x = random_matrix(t * k, rng);
  auto w = random_matrix(n * k, rng);
  auto s = SmoothQuantMigrator(0.5f).smooth_layer(x, w, t, k, n);
  ASSERT_TRUE(s.has_value());
  auto am = SmoothQuantMigrator::compute_act_stats(x, t, k);
  auto wm = SmoothQuantMigrator::compute_weight_stats(w, n, k);
  for (std::int64_t j = 0; j < k; ++j) EXPECT_NEAR((*am)[j], (*wm)[j], 1e-5f * (*am)[j]);
}

TEST(QuantSmoothTest, SharedInputUsesMaxOverAllWeights) {
  std::vector<float> q = {1.0f, 0.5f, -2.0f, 0.25f};  // [2, 2]
  std::vector<float> kk = {0.5f, -4.0f};              // [1, 2]
  const std::vector<float> act_max = {4.0f, 16.0f};
  std::vector<WeightRef> refs = {{q.data(), 2}, {kk.data(), 1}};
  auto s = SmoothQuantMigrator(0.5f).smooth_shared_input(act_max, refs);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_FLOAT_EQ((*s)[0], 2.0f / std::sqrt(2.0f));  // weight_max col 0 = max(2, 0.5) = 2
  EXPECT_FLOAT_EQ((*s)[1], 4.0f / 2.0f);             // weight_max col 1 = max(0.5, 4) = 4
  EXPECT_FLOAT_EQ(kk[1], -8.0f);
  EXPECT_FLOAT_EQ(q[0], std::sqrt(2.0f));
  std::vector<WeightRef> null_ref = {{nullptr, 1}};
  EXPECT_FALSE(SmoothQuantMigrator(0.5f).smooth_shared_input(act_max, null_ref).has_value());
}

TEST(QuantSmoothTest, FoldIntoNormDividesWeightAndBias) {
  std::vector<float> w = {2.0f, 3.0f}, b = {1.0f, -6.0f};
  ASSERT_TRUE(fold_into_norm(w, b, std::vector<float>{2.0f, 3.0f}).ok());
  EXPECT_EQ(w, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(b, (std::vector<float>{0.5f, -2.0f}));
  std::vector<float> rms = {1.0f};
  ASSERT_TRUE(fold_into_norm(rms, {}, std::vector<float>{4.0f}).ok());  // RMSNorm: no bias
  EXPECT_EQ(rms[0], 0.25f);
  EXPECT_FALSE(fold_into_norm(w, b, std::vector<float>{1.0f}).ok());
  EXPECT_FALSE(fold_into_norm(w, b, std::vector<float>{1.0f, 0.0f}).ok());
  std::vector<float> huge = {3e38f};
  Status s = fold_into_norm(huge, {}, std::vector<float>{1e-5f});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(huge[0], 3e38f);  // untouched on error
}

TEST(QuantSmoothTest, SmoothWeightsRejectsBadScales) {
  std::vector<float> w = {1.0f, 2.0f};
  Status s = SmoothQuantMigrator::smooth_weights(w, std::vector<float>{1.0f, -1.0f}, 1, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("scales[1] must be finite and > 0"), std::string::npos);
  EXPECT_FALSE(SmoothQuantMigrator::smooth_activations(w, std::vector<float>{1.0f}, 1, 2).ok());
  std::vector<float> big = {3e38f};
  EXPECT_FALSE(SmoothQuantMigrator::smooth_weights(big, std::vector<float>{10.0f}, 1, 1).ok());
}

}  // namespace
}  // namespace qjit::quant
