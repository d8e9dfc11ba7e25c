// Calibration of quantization parameters: ranges (min-max or percentile-clipped, per tensor or per output
// channel) turned into scales and zero points by the convention in calibration.h, and the static activation scale
// the W8A8 plans take.
#include "qjit/quant/calibration.h"

#include <algorithm>
#include <cmath>

#include "quant/check.h"

namespace qjit::quant {
namespace {

using detail::invalid;

struct Range {
  double lo = 0.0, hi = 0.0;
};

// The p-th percentile (nearest rank) of values; values is reordered.
double percentile_of(std::vector<double>& values, double p) {
  const auto n = values.size();
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1), values.end());
  return values[rank - 1];
}

Range range_of(const double* v, std::size_t n, const CalibrationOptions& o) {
  Range r;
  if (o.method == ClipMethod::MinMax) {
    for (std::size_t i = 0; i < n; ++i) {
      r.lo = std::min(r.lo, v[i]);
      r.hi = std::max(r.hi, v[i]);
    }
  } else if (o.symmetric) {
    std::vector<double> a(n);
    for (std::size_t i = 0; i < n; ++i) a[i] = std::fabs(v[i]);
    r.hi = percentile_of(a, o.percentile);
    r.lo = -r.hi;
  } else {
    std::vector<double> a(v, v + n);
    r.hi = std::max(0.0, percentile_of(a, o.percentile));
    r.lo = std::min(0.0, percentile_of(a, 100.0 - o.percentile + 0.0));
  }
  return r;
}

void params_from_range(Range r, const CalibrationOptions& o, double* scale, std::int32_t* zp) {
  const double qmin = quant_min(o.type), qmax = quant_max(o.type);
  if (o.symmetric) {
    const double absmax = std::max(std::fabs(r.lo), std::fabs(r.hi));
    *scale = absmax / qmax;
    *zp = 0;
    return;
  }
  // NOTE: the range always contains 0 (lo <= 0 <= hi), so 0 is exactly representable by q = zero_point.
  r.lo = std::min(r.lo, 0.0);
  r.hi = std::max(r.hi, 0.0);
  if (r.hi == r.lo) {
    *scale = 0.0;
    *zp = 0;
    return;
  }
  *scale = (r.hi - r.lo) / (qmax - qmin);
  *zp = static_cast<std::int32_t>(std::clamp(std::nearbyint(qmin - r.lo / *scale), qmin, qmax));
}

}  // namespace

std::string_view quant_type_name(QuantType type) { return type == QuantType::Int8 ? "Int8" : "Int4"; }
std::string_view granularity_name(QuantGranularity g) {
  return g == QuantGranularity::PerTensor ? "PerTensor" : "PerChannel";
}
std::int32_t quant_min(QuantType type) { return type == QuantType::Int8 ? -128 : -8; }
std::int32_t quant_max(QuantType type) { return type == QuantType::Int8 ? 127 : 7; }

Status validate(const QuantizationParams& p, std::int64_t out_features) {
  if (out_features <= 0) return invalid(llvm::formatv("out_features must be > 0, got {0}", out_features).str());
  const std::int64_t expected = p.granularity == QuantGranularity::PerTensor ? 1 : out_features;
  const char* expr = p.granularity == QuantGranularity::PerTensor ? "1 (PerTensor)" : "out_features (PerChannel)";
  QJIT_TRY(detail::check_size("params.scales", p.scales.size(), expected, expr));
  QJIT_TRY(detail::check_size("params.zero_points", p.zero_points.size(), expected, expr));
  for (std::size_t c = 0; c < p.scales.size(); ++c) {
    if (!(std::isfinite(p.scales[c]) && p.scales[c] >= 0.0))
      return invalid(llvm::formatv("params.scales[{0}] must be finite and >= 0, got {1}", c, p.scales[c]).str());
    const std::int32_t zp = p.zero_points[c];
    if (p.symmetric && zp != 0)
      return invalid(llvm::formatv("params.zero_points[{0}] must be 0 for symmetric params, got {1}", c, zp).str());
    if (zp < quant_min(p.type) || zp > quant_max(p.type))
      return invalid(llvm::formatv("params.zero_points[{0}] must be in [{1}, {2}], got {3}", c, quant_min(p.type),
                                   quant_max(p.type), zp)
                         .str());
  }
  return Status();
}

Result<QuantizationParams> calibrate_linear(const MatrixF64& weight, const CalibrationOptions& options) {
  QJIT_TRY(detail::check_dims("weight.rows", weight.rows, "weight.cols", weight.cols));
  QJIT_TRY(detail::check_size("weight.data", weight.data.size(), weight.rows * weight.cols, "rows * cols"));
  if (options.method == ClipMethod::Percentile && !(options.percentile > 0.0 && options.percentile <= 100.0))
    return invalid(llvm::formatv("options.percentile must be in (0, 100], got {0}", options.percentile).str());
  for (std::size_t i = 0; i < weight.data.size(); ++i)
    if (!std::isfinite(weight.data[i]))
      return invalid(
          llvm::formatv("weight[{0}, {1}] must be finite, got {2}", i / weight.cols, i % weight.cols, weight.data[i])
              .str());
  QuantizationParams p;
  p.type = options.type;
  p.granularity = options.granularity;
  p.symmetric = options.symmetric;
  const bool per_tensor = options.granularity == QuantGranularity::PerTensor;
  const std::int64_t groups = per_tensor ? 1 : weight.rows;
  const auto group_size = static_cast<std::size_t>(per_tensor ? weight.rows * weight.cols : weight.cols);
  p.scales.resize(static_cast<std::size_t>(groups));
  p.zero_points.resize(static_cast<std::size_t>(groups));
  for (std::int64_t g = 0; g < groups; ++g)
    params_from_range(range_of(weight.data.data() + g * static_cast<std::int64_t>(group_size), group_size, options),
                      options, &p.scales[g], &p.zero_points[g]);
  return p;
}

Result<float> static_activation_scale(std::span<const float> act_max, std::span<const float> smoothing_scales) {
  if (act_max.empty()) return invalid("act_max must not be empty");
  if (!smoothing_scales.empty()) {
    QJIT_TRY(detail::check_size("smoothing_scales", smoothing_scales.size(), static_cast<std::int64_t>(act_max.size()),
                                "act_max.size()"));
    QJIT_TRY(detail::check_positive_finite("smoothing_scales", smoothing_scales));
  }
  float absmax = 0.0f;
  for (std::size_t j = 0; j < act_max.size(); ++j) {
    if (!(std::isfinite(act_max[j]) && act_max[j] >= 0.0f))
      return invalid(llvm::formatv("act_max[{0}] must be finite and >= 0, got {1}", j, act_max[j]).str());
    const float a = smoothing_scales.empty() ? act_max[j] : act_max[j] / smoothing_scales[j];
    absmax = std::max(absmax, a);
  }
  if (!std::isfinite(absmax)) return invalid("the smoothed activation absmax overflows f32");
  // NOTE: a zero scale would be written as a static input_scale that every engine divides by; all-zero statistics
  // mean the calibration never reached this input, which must be said, not encoded.
  if (!(absmax / 127.0f > 0.0f))
    return invalid(llvm::formatv("act_max must hold a positive value (max |x| / 127 must be a normal positive "
                                 "scale), got max {0}: the statistics are all zero",
                                 absmax)
                       .str());
  return absmax / 127.0f;
}

Result<float> static_activation_scale(const ActStatsAccumulator& stats, ClipMethod method, double percentile) {
  if (stats.n_tokens_seen() == 0) return invalid("stats must have seen at least one token");
  if (method == ClipMethod::MinMax) return stats.tensor_absmax() / 127.0f;
  QJIT_ASSIGN_OR_RETURN(float clip, stats.percentile(percentile));
  return clip / 127.0f;
}

}  // namespace qjit::quant
