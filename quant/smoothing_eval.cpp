// evaluate_smoothing: the W8A8 pipeline run twice on the CPU — as is, and after SmoothQuant migration — each
// compared with the exact f64 product of the original operands. Both runs use the kernels' exact arithmetic
// (per-token and per-channel rni_sat quantization, int32 accumulation, f32 epilogue), so the numbers it reports are
// the ones the GPU would produce.
#include "qjit/quant/smoothing_eval.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "qjit/quant/smooth_quant.h"
#include "qjit/quant/w8a8.h"
#include "quant/check.h"

namespace qjit::quant {
namespace {

struct ErrorNorms {
  double rel = 0.0, max_abs = 0.0;
};

Result<ErrorNorms> w8a8_error(const std::vector<float>& x, const std::vector<float>& w, const std::vector<double>& ref,
                              std::int64_t m, std::int64_t k, std::int64_t n) {
  QJIT_ASSIGN_OR_RETURN(auto xq, quantize_rows_per_token(x.data(), m, k));
  QJIT_ASSIGN_OR_RETURN(auto wq, quantize_weight_per_channel(w.data(), n, k));
  QJIT_ASSIGN_OR_RETURN(auto y, w8a8_gemm_reference(xq.q, xq.scale, wq, m));
  double num = 0.0, den = 0.0, max_abs = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(y[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
    max_abs = std::max(max_abs, std::fabs(d));
  }
  return ErrorNorms{den > 0.0 ? std::sqrt(num / den) : std::sqrt(num), max_abs};
}

}  // namespace

Result<SmoothingReport> evaluate_smoothing(std::span<const float> acts, std::span<const float> weights,
                                           std::int64_t n_tokens, std::int64_t k, std::int64_t n_out, float alpha) {
  QJIT_TRY(detail::check_dims("n_tokens", n_tokens, "k", k));
  QJIT_TRY(detail::check_dims("n_out", n_out, "k", k));
  QJIT_TRY(detail::check_size("acts", acts.size(), n_tokens * k, "n_tokens * k"));
  QJIT_TRY(detail::check_size("weights", weights.size(), n_out * k, "n_out * k"));
  const SmoothQuantMigrator migrator(alpha);
  QJIT_TRY(validate(migrator.config()));

  QJIT_ASSIGN_OR_RETURN(auto act_max, SmoothQuantMigrator::compute_act_stats(acts, n_tokens, k));
  QJIT_ASSIGN_OR_RETURN(auto weight_max, SmoothQuantMigrator::compute_weight_stats(weights, n_out, k));

  // The exact product of the original operands (smoothing is an identity in real arithmetic).
  std::vector<double> ref(static_cast<std::size_t>(n_tokens * n_out));
  for (std::int64_t i = 0; i < n_tokens; ++i)
    for (std::int64_t j = 0; j < n_out; ++j) {
      double acc = 0.0;
      for (std::int64_t t = 0; t < k; ++t)
        acc += static_cast<double>(acts[i * k + t]) * static_cast<double>(weights[j * k + t]);
      ref[static_cast<std::size_t>(i * n_out + j)] = acc;
    }

  std::vector<float> x(acts.begin(), acts.end()), w(weights.begin(), weights.end());
  QJIT_ASSIGN_OR_RETURN(auto plain, w8a8_error(x, w, ref, n_tokens, k, n_out));
  QJIT_ASSIGN_OR_RETURN(auto s, migrator.compute_migration_scales(act_max, weight_max));
  QJIT_TRY(SmoothQuantMigrator::smooth_activations(x, s, n_tokens, k));
  QJIT_TRY(SmoothQuantMigrator::smooth_weights(w, s, n_out, k));
  QJIT_ASSIGN_OR_RETURN(auto smoothed, w8a8_error(x, w, ref, n_tokens, k, n_out));

  SmoothingReport r;
  r.n_tokens = n_tokens;
  r.k = k;
  r.n_out = n_out;
  r.alpha = alpha;
  r.rel_error_plain = plain.rel;
  r.max_abs_error_plain = plain.max_abs;
  r.rel_error_smoothed = smoothed.rel;
  r.max_abs_error_smoothed = smoothed.max_abs;
  std::vector<float> sorted = act_max;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const float median = sorted[sorted.size() / 2];
  const float max = *std::max_element(act_max.begin(), act_max.end());
  r.act_outlier_ratio = median > 0.0f ? static_cast<double>(max) / median : 0.0;
  return r;
}

Result<std::vector<float>> synthesize_outlier_activations(std::int64_t n_tokens, std::int64_t k,
                                                          std::int64_t n_outlier_channels, float outlier_factor,
                                                          std::uint64_t seed) {
  QJIT_TRY(detail::check_dims("n_tokens", n_tokens, "k", k));
  if (n_outlier_channels < 0 || n_outlier_channels > k)
    return detail::invalid(
        llvm::formatv("n_outlier_channels must be in [0, k = {0}], got {1}", k, n_outlier_channels).str());
  if (!(std::isfinite(outlier_factor) && outlier_factor > 0.0f))
    return detail::invalid(llvm::formatv("outlier_factor must be finite and > 0, got {0}", outlier_factor).str());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(n_tokens * k));
  for (auto& v : x) v = normal(rng);
  for (std::int64_t o = 0; o < n_outlier_channels; ++o) {
    const std::int64_t j = (2 * o + 1) * k / (2 * n_outlier_channels);  // spread evenly, away from the edges
    for (std::int64_t t = 0; t < n_tokens; ++t) x[static_cast<std::size_t>(t * k + j)] *= outlier_factor;
  }
  return x;
}

Result<std::vector<float>> synthesize_weights(std::int64_t n_out, std::int64_t k, std::uint64_t seed) {
  QJIT_TRY(detail::check_dims("n_out", n_out, "k", k));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(k)));
  std::vector<float> w(static_cast<std::size_t>(n_out * k));
  for (auto& v : w) v = normal(rng);
  return w;
}

}  // namespace qjit::quant
