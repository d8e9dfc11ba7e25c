// SmoothQuant migration: moves quantization difficulty from activations to weights with a per-input-channel scale
// s, so that X·Wᵀ = (X·diag(s)⁻¹)·(W·diag(s))ᵀ holds exactly in real arithmetic while both factors have smaller
// outliers. s[j] = act_max[j]^α / weight_max[j]^(1−α), computed in f64 and clamped below at min_scale.
//
// Zero-maximum rule: a channel whose activation maximum or weight maximum is zero gets s[j] = 1. Such a channel
// carries no information in the calibration data (or no weight), so migrating anything through it is meaningless,
// and a scale of 0 or ∞ would turn a run-time activation that calibration never saw into ∞ or NaN.
//
// Layout: row-major; activations [n_tokens, n_channels], weights [n_out, n_channels] (Y = X·Wᵀ). Every function
// validates its arguments (sizes, finiteness, alpha in [0, 1]) and returns a Status naming the argument; none of
// them throws or produces a silent NaN.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

inline constexpr float kDefaultMinScale = 1e-5f;

struct SmoothQuantConfig {
  float alpha = 0.5f;                  // migration strength in [0, 1]; 0 leaves activations alone
  float min_scale = kDefaultMinScale;  // lower clamp of s, > 0
};

// Validates a config: alpha finite and in [0, 1], min_scale finite and > 0.
Status validate(const SmoothQuantConfig& config);

// One weight matrix [n_out, n_channels] that shares its input with others (q/k/v, gate/up).
struct WeightRef {
  float* data = nullptr;
  std::int64_t n_out = 0;
};

class SmoothQuantMigrator {
 public:
  explicit SmoothQuantMigrator(float alpha) : config_{alpha, kDefaultMinScale} {}
  explicit SmoothQuantMigrator(SmoothQuantConfig config) : config_(config) {}

  const SmoothQuantConfig& config() const { return config_; }

  // s[j] = act_max[j]^α / weight_max[j]^(1−α), clamped to >= min_scale; 1 where either maximum is zero.
  // Errors: empty input, size mismatch, negative or non-finite maxima, bad config, a scale that overflows f32.
  Result<std::vector<float>> compute_migration_scales(std::span<const float> act_max,
                                                      std::span<const float> weight_max) const;

  // Per-channel absmax of activations [n_tokens, n_channels]. Errors on non-finite values (naming the position).
  static Result<std::vector<float>> compute_act_stats(std::span<const float> acts, std::int64_t n_tokens,
                                                      std::int64_t n_channels);
  // Per-column (input channel) absmax of weights [n_out, n_channels].
  static Result<std::vector<float>> compute_weight_stats(std::span<const float> weights, std::int64_t n_out,
                                                         std::int64_t n_channels);
  // Element-wise max of several linears' weight stats (all of length n_channels): the shared-input rule.
  static Result<std::vector<float>> combine_weight_stats(std::span<const std::vector<float>> per_linear);

  // acts[:, j] /= scales[j], in place.
  static Status smooth_activations(std::span<float> acts, std::span<const float> scales, std::int64_t n_tokens,
                                   std::int64_t n_channels);
  // weights[:, j] *= scales[j], in place.
  static Status smooth_weights(std::span<float> weights, std::span<const float> scales, std::int64_t n_out,
                               std::int64_t n_channels);

  // Computes the scales from acts and weights, applies them to both and returns them.
  Result<std::vector<float>> smooth_layer(std::span<float> acts, std::span<float> weights, std::int64_t n_tokens,
                                          std::int64_t n_channels, std::int64_t n_out) const;

  // Several linears reading one input: one scale vector from act_max and the max over all their weights, applied
  // to every weight. n_channels = act_max.size(). Returns the scales.
  Result<std::vector<float>> smooth_shared_input(std::span<const float> act_max,
                                                 std::span<const WeightRef> weights) const;

 private:
  SmoothQuantConfig config_;
};

// Folds 1/s into the LayerNorm/RMSNorm that produces the smoothed input: norm_weight[j] /= s[j] and, when
// norm_bias is non-empty, norm_bias[j] /= s[j]. After this the run-time graph needs no division.
Status fold_into_norm(std::span<float> norm_weight, std::span<float> norm_bias, std::span<const float> scales);

}  // namespace qjit::quant
