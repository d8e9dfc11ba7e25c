// SmoothQuantMigrator: per-channel statistics, migration scales, and their application to activations, weights
// and the norm in front of a linear. The big passes (a 28672×8192 weight is 235 M values) are single sweeps over
// row-major memory (quant/kernels.cpp), split across threads by rows; non-finite values are detected in the same
// sweep and located by a slow rescan only when present.
#include "qjit/quant/smooth_quant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "quant/check.h"
#include "quant/kernels.h"
#include "quant/parallel.h"

namespace qjit::quant {
namespace {

using detail::invalid;

// Column absmax of a [rows, cols] matrix; `poisoned` becomes true when any value is not finite.
std::vector<float> column_absmax(const float* data, std::int64_t rows, std::int64_t cols, bool* poisoned) {
  std::vector<std::vector<std::uint32_t>> partial(detail::worker_count());
  const unsigned used = detail::parallel_rows(rows, cols, [&](unsigned c, std::int64_t r0, std::int64_t r1) {
    std::vector<std::uint32_t> m(static_cast<std::size_t>(cols), 0);
    detail::column_absmax_bits(data, r0, r1, cols, m.data());
    partial[c] = std::move(m);
  });
  std::vector<float> out(static_cast<std::size_t>(cols));
  bool bad = false;
  for (std::int64_t j = 0; j < cols; ++j) {
    std::uint32_t b = 0;
    for (unsigned c = 0; c < used; ++c) b = std::max(b, partial[c][j]);
    bad |= b >= detail::kNonFiniteBits;
    out[j] = std::bit_cast<float>(b);
  }
  *poisoned = bad;
  return out;
}

// data[r, j] = data[r, j] * s[j] (or / s[j]) over all rows; returns false when a result is not finite.
bool scale_all_columns(float* data, const float* s, std::int64_t rows, std::int64_t cols, bool divide) {
  std::vector<char> ok(detail::worker_count(), 1);
  detail::parallel_rows(rows, cols, [&](unsigned c, std::int64_t r0, std::int64_t r1) {
    ok[c] = detail::scale_columns(data, s, r0, r1, cols, divide);
  });
  return std::all_of(ok.begin(), ok.end(), [](char b) { return b != 0; });
}

}  // namespace

Status validate(const SmoothQuantConfig& config) {
  if (!(config.alpha >= 0.0f && config.alpha <= 1.0f))
    return invalid(llvm::formatv("alpha must be in [0, 1], got {0}", config.alpha).str());
  if (!(std::isfinite(config.min_scale) && config.min_scale > 0.0f))
    return invalid(llvm::formatv("min_scale must be finite and > 0, got {0}", config.min_scale).str());
  return Status();
}

Result<std::vector<float>> SmoothQuantMigrator::compute_migration_scales(std::span<const float> act_max,
                                                                         std::span<const float> weight_max) const {
  QJIT_TRY(validate(config_));
  if (act_max.empty()) return invalid("act_max must not be empty");
  QJIT_TRY(
      detail::check_size("act_max", act_max.size(), static_cast<std::int64_t>(weight_max.size()), "weight_max.size()"));
  const double alpha = config_.alpha;
  std::vector<float> s(act_max.size());
  for (std::size_t j = 0; j < act_max.size(); ++j) {
    const float a = act_max[j], w = weight_max[j];
    if (!(std::isfinite(a) && a >= 0.0f))
      return invalid(llvm::formatv("act_max[{0}] must be finite and >= 0, got {1}", j, a).str());
    if (!(std::isfinite(w) && w >= 0.0f))
      return invalid(llvm::formatv("weight_max[{0}] must be finite and >= 0, got {1}", j, w).str());
    if (a == 0.0f || w == 0.0f) {  // NOTE: the zero-maximum rule (see the header): nothing to migrate
      s[j] = 1.0f;
      continue;
    }
    const double v = std::pow(static_cast<double>(a), alpha) / std::pow(static_cast<double>(w), 1.0 - alpha);
    if (!(v <= static_cast<double>(std::numeric_limits<float>::max())))
      return invalid(llvm::formatv("migration scale of channel {0} overflows f32 (act_max {1}, weight_max {2}, "
                                   "alpha {3}); lower alpha or check the statistics",
                                   j, a, w, alpha)
                         .str());
    s[j] = std::max(static_cast<float>(v), config_.min_scale);
  }
  return s;
}

Result<std::vector<float>> SmoothQuantMigrator::compute_act_stats(std::span<const float> acts, std::int64_t n_tokens,
                                                                  std::int64_t n_channels) {
  QJIT_TRY(detail::check_dims("n_tokens", n_tokens, "n_channels", n_channels));
  QJIT_TRY(detail::check_size("acts", acts.size(), n_tokens * n_channels, "n_tokens * n_channels"));
  bool poisoned = false;
  std::vector<float> m = column_absmax(acts.data(), n_tokens, n_channels, &poisoned);
  if (poisoned) return detail::non_finite_error("acts", acts.data(), n_tokens, n_channels);
  return m;
}

Result<std::vector<float>> SmoothQuantMigrator::compute_weight_stats(std::span<const float> weights, std::int64_t n_out,
                                                                     std::int64_t n_channels) {
  QJIT_TRY(detail::check_dims("n_out", n_out, "n_channels", n_channels));
  QJIT_TRY(detail::check_size("weights", weights.size(), n_out * n_channels, "n_out * n_channels"));
  bool poisoned = false;
  std::vector<float> m = column_absmax(weights.data(), n_out, n_channels, &poisoned);
  if (poisoned) return detail::non_finite_error("weights", weights.data(), n_out, n_channels);
  return m;
}

Result<std::vector<float>> SmoothQuantMigrator::combine_weight_stats(std::span<const std::vector<float>> per_linear) {
  if (per_linear.empty()) return invalid("per_linear must hold at least one weight_max vector");
  std::vector<float> out = per_linear[0];
  if (out.empty()) return invalid("per_linear[0] must not be empty");
  for (std::size_t i = 1; i < per_linear.size(); ++i) {
    if (per_linear[i].size() != out.size())
      return invalid(llvm::formatv("per_linear[{0}].size() must equal per_linear[0].size() = {1}, got {2}", i,
                                   out.size(), per_linear[i].size())
                         .str());
    for (std::size_t j = 0; j < out.size(); ++j) out[j] = std::max(out[j], per_linear[i][j]);
  }
  return out;
}

Status SmoothQuantMigrator::smooth_activations(std::span<float> acts, std::span<const float> scales,
                                               std::int64_t n_tokens, std::int64_t n_channels) {
  QJIT_TRY(detail::check_dims("n_tokens", n_tokens, "n_channels", n_channels));
  QJIT_TRY(detail::check_size("acts", acts.size(), n_tokens * n_channels, "n_tokens * n_channels"));
  QJIT_TRY(detail::check_size("scales", scales.size(), n_channels, "n_channels"));
  QJIT_TRY(detail::check_positive_finite("scales", scales));
  if (!scale_all_columns(acts.data(), scales.data(), n_tokens, n_channels, /*divide=*/true))
    return invalid(
        "acts must be finite before and after smoothing (a value is inf/NaN or overflowed when divided "
        "by its scale); acts may be partially smoothed");
  return Status();
}

Status SmoothQuantMigrator::smooth_weights(std::span<float> weights, std::span<const float> scales, std::int64_t n_out,
                                           std::int64_t n_channels) {
  QJIT_TRY(detail::check_dims("n_out", n_out, "n_channels", n_channels));
  QJIT_TRY(detail::check_size("weights", weights.size(), n_out * n_channels, "n_out * n_channels"));
  QJIT_TRY(detail::check_size("scales", scales.size(), n_channels, "n_channels"));
  QJIT_TRY(detail::check_positive_finite("scales", scales));
  if (!scale_all_columns(weights.data(), scales.data(), n_out, n_channels, /*divide=*/false))
    return invalid(
        "weights must be finite before and after smoothing (a value is inf/NaN or overflowed when "
        "multiplied by its scale); weights may be partially smoothed");
  return Status();
}

Result<std::vector<float>> SmoothQuantMigrator::smooth_layer(std::span<float> acts, std::span<float> weights,
                                                             std::int64_t n_tokens, std::int64_t n_channels,
                                                             std::int64_t n_out) const {
  QJIT_TRY(validate(config_));
  QJIT_ASSIGN_OR_RETURN(auto act_max, compute_act_stats(acts, n_tokens, n_channels));
  QJIT_ASSIGN_OR_RETURN(auto weight_max, compute_weight_stats(weights, n_out, n_channels));
  QJIT_ASSIGN_OR_RETURN(auto s, compute_migration_scales(act_max, weight_max));
  QJIT_TRY(smooth_activations(acts, s, n_tokens, n_channels));
  QJIT_TRY(smooth_weights(weights, s, n_out, n_channels));
  return s;
}

Result<std::vector<float>> SmoothQuantMigrator::smooth_shared_input(std::span<const float> act_max,
                                                                    std::span<const WeightRef> weights) const {
  QJIT_TRY(validate(config_));
  if (act_max.empty()) return invalid("act_max must not be empty");
  if (weights.empty()) return invalid("weights must hold at least one linear");
  const auto k = static_cast<std::int64_t>(act_max.size());
  std::vector<std::vector<float>> stats;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].data == nullptr) return invalid(llvm::formatv("weights[{0}].data must not be null", i).str());
    QJIT_ASSIGN_OR_RETURN(
        auto m,
        compute_weight_stats(std::span<const float>(weights[i].data, static_cast<std::size_t>(weights[i].n_out * k)),
                             weights[i].n_out, k));
    stats.push_back(std::move(m));
  }
  QJIT_ASSIGN_OR_RETURN(auto weight_max, combine_weight_stats(stats));
  QJIT_ASSIGN_OR_RETURN(auto s, compute_migration_scales(act_max, weight_max));
  for (const auto& w : weights)
    QJIT_TRY(smooth_weights(std::span<float>(w.data, static_cast<std::size_t>(w.n_out * k)), s, w.n_out, k));
  return s;
}

Status fold_into_norm(std::span<float> norm_weight, std::span<float> norm_bias, std::span<const float> scales) {
  if (norm_weight.empty()) return invalid("norm_weight must not be empty");
  QJIT_TRY(
      detail::check_size("scales", scales.size(), static_cast<std::int64_t>(norm_weight.size()), "norm_weight.size()"));
  if (!norm_bias.empty())
    QJIT_TRY(detail::check_size("norm_bias", norm_bias.size(), static_cast<std::int64_t>(norm_weight.size()),
                                "norm_weight.size()"));
  QJIT_TRY(detail::check_positive_finite("scales", scales));
  for (std::size_t j = 0; j < norm_weight.size(); ++j) {
    if (!std::isfinite(norm_weight[j]))
      return invalid(llvm::formatv("norm_weight[{0}] must be finite, got {1}", j, norm_weight[j]).str());
    if (!norm_bias.empty() && !std::isfinite(norm_bias[j]))
      return invalid(llvm::formatv("norm_bias[{0}] must be finite, got {1}", j, norm_bias[j]).str());
  }
  for (std::size_t j = 0; j < norm_weight.size(); ++j) {
    const float w = norm_weight[j] / scales[j];
    const float b = norm_bias.empty() ? 0.0f : norm_bias[j] / scales[j];
    if (!std::isfinite(w) || !std::isfinite(b))
      return invalid(
          llvm::formatv("norm channel {0} overflows f32 when divided by scale {1}; nothing was folded", j, scales[j])
              .str());
  }
  for (std::size_t j = 0; j < norm_weight.size(); ++j) {
    norm_weight[j] /= scales[j];
    if (!norm_bias.empty()) norm_bias[j] /= scales[j];
  }
  return Status();
}

}  // namespace qjit::quant
