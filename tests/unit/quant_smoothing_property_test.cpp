// The reason SmoothQuant exists, as a property: on activations with a few persistent outlier channels (100× the
// rest), W8A8 (per-token activations, per-channel weights) is measurably more accurate after migration, for every
// alpha in the usual 0.5–0.85 range; and on activations without outliers smoothing does no real harm.
#include <gtest/gtest.h>

#include "qjit/quant/smoothing_eval.h"

namespace qjit::quant {
namespace {

TEST(QuantSmoothingPropertyTest, OutlierChannelsW8A8ErrorDropsWithSmoothing) {
  const std::int64_t tokens = 64, k = 512, n = 96;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    auto x = synthesize_outlier_activations(tokens, k, 6, 100.0f, seed);
    auto w = synthesize_weights(n, k, seed + 100);
    ASSERT_TRUE(x.has_value() && w.has_value());
    for (float alpha : {0.5f, 0.6f, 0.7f, 0.75f, 0.8f, 0.85f}) {
      auto r = evaluate_smoothing(*x, *w, tokens, k, n, alpha);
      ASSERT_TRUE(r.has_value()) << r.error().to_string();
      EXPECT_GT(r->act_outlier_ratio, 50.0);
      // "Measurably": at least 1.5x lower relative error everywhere (observed ~1.8x at 0.85, ~5x at 0.5), 3x at 0.5.
      const double factor = alpha == 0.5f ? 3.0 : 1.5;
      EXPECT_LT(r->rel_error_smoothed * factor, r->rel_error_plain)
          << "seed " << seed << " alpha " << alpha << ": plain " << r->rel_error_plain << " smoothed "
          << r->rel_error_smoothed;
      EXPECT_LT(r->max_abs_error_smoothed, r->max_abs_error_plain);
    }
  }
}

TEST(QuantSmoothingPropertyTest, NoOutliersSmoothingStaysClose) {
  const std::int64_t tokens = 32, k = 256, n = 64;
  auto x = synthesize_outlier_activations(tokens, k, 0, 1.0f, 4);
  auto w = synthesize_weights(n, k, 5);
  auto r = evaluate_smoothing(*x, *w, tokens, k, n, 0.5f);
  ASSERT_TRUE(r.has_value());
  EXPECT_LT(r->rel_error_plain, 0.02);
  EXPECT_LT(r->rel_error_smoothed, 1.5 * r->rel_error_plain);
}

TEST(QuantSmoothingPropertyTest, ArgumentErrors) {
  std::vector<float> x(8, 1.0f), w(8, 1.0f);
  EXPECT_FALSE(evaluate_smoothing(x, w, 2, 4, 2, 1.5f).has_value());
  EXPECT_FALSE(evaluate_smoothing(x, w, 2, 4, 3, 0.5f).has_value());
  EXPECT_FALSE(synthesize_outlier_activations(4, 4, 5, 100.0f, 1).has_value());
  EXPECT_FALSE(synthesize_outlier_activations(4, 4, 1, -1.0f, 1).has_value());
}

}  // namespace
}  // namespace qjit::quant
