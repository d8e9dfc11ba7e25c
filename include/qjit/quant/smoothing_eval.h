// Measures what smoothing buys: the W8A8 error (per-token activation, per-channel weight, int32 accumulation,
// f32 epilogue) of X·Wᵀ against the exact f64 product, with and without SmoothQuant migration. Used by the
// property tests, by `qjit demo` to print the comparison, and by `qjit quantize` for its per-layer table.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

struct SmoothingReport {
  std::int64_t n_tokens = 0, k = 0, n_out = 0;
  float alpha = 0.0f;
  // ||Y_q − Y|| / ||Y|| (Frobenius), Y = X·Wᵀ in f64 on the original (unsmoothed) operands.
  double rel_error_plain = 0.0;
  double rel_error_smoothed = 0.0;
  double max_abs_error_plain = 0.0;
  double max_abs_error_smoothed = 0.0;
  double act_outlier_ratio = 0.0;  // max_j act_max[j] / median_j act_max[j]: how outlier-heavy X is
  double improvement() const { return rel_error_smoothed > 0 ? rel_error_plain / rel_error_smoothed : 0.0; }
};

// acts [n_tokens, k], weights [n_out, k], alpha in [0, 1].
Result<SmoothingReport> evaluate_smoothing(std::span<const float> acts, std::span<const float> weights,
                                           std::int64_t n_tokens, std::int64_t k, std::int64_t n_out, float alpha);

// Synthetic activations [n_tokens, k] ~ N(0, 1), except n_outlier_channels channels (spread evenly) scaled by
// outlier_factor — the persistent-outlier pattern LLM activations show. Deterministic for a given seed.
Result<std::vector<float>> synthesize_outlier_activations(std::int64_t n_tokens, std::int64_t k,
                                                          std::int64_t n_outlier_channels, float outlier_factor,
                                                          std::uint64_t seed);
// Synthetic weights [n_out, k] ~ N(0, 1/k) (a usual initialisation scale). Deterministic for a given seed.
Result<std::vector<float>> synthesize_weights(std::int64_t n_out, std::int64_t k, std::uint64_t seed);

}  // namespace qjit::quant
