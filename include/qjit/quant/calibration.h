// Calibration: chooses quantization parameters (scale, zero point) for a weight matrix or an activation tensor.
//
// Convention (the project's contract): real ≈ (q − zero_point)·scale. Symmetric: zero_point = 0 and
// scale = absmax / qmax. Asymmetric: the range [lo, hi] is widened to contain 0 (so 0 is exactly representable),
// scale = (hi − lo) / (qmax − qmin) and zero_point = round(qmin − lo / scale), clamped to [qmin, qmax]. A range of
// zero width gets scale 0 and zero point 0: every value quantizes to 0 and dequantizes to exactly 0.
//
// Clipping: MinMax uses the full range; Percentile uses the p-th percentile of |w| (symmetric) or the (100 − p)-th
// and p-th percentiles of w (asymmetric), per channel or per tensor, trading clipping error for resolution.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "qjit/quant/act_stats.h"
#include "qjit/quant/matrix.h"
#include "qjit/status.h"

namespace qjit::quant {

// Int4 exists so parameters can describe it (range [-8, 7]); QuantizedLinear and the GPU plans take Int8 only.
enum class QuantType { Int8, Int4 };
enum class QuantGranularity { PerTensor, PerChannel };
enum class ClipMethod { MinMax, Percentile };

std::string_view quant_type_name(QuantType type);
std::string_view granularity_name(QuantGranularity granularity);
std::int32_t quant_min(QuantType type);
std::int32_t quant_max(QuantType type);

struct QuantizationParams {
  QuantType type = QuantType::Int8;
  QuantGranularity granularity = QuantGranularity::PerChannel;
  bool symmetric = true;
  std::vector<double> scales;             // 1 (PerTensor) or out_features (PerChannel), each finite and >= 0
  std::vector<std::int32_t> zero_points;  // same length as scales; all 0 when symmetric
};

// Checks a params object against a weight with out_features rows: lengths, finiteness, zero points in range,
// symmetric => zero points 0.
Status validate(const QuantizationParams& params, std::int64_t out_features);

struct CalibrationOptions {
  QuantType type = QuantType::Int8;
  QuantGranularity granularity = QuantGranularity::PerChannel;
  bool symmetric = true;
  ClipMethod method = ClipMethod::MinMax;
  double percentile = 99.99;  // in (0, 100], used when method == Percentile
};

// Parameters for a weight [out_features, in_features]. Errors on empty/mismatched shapes, non-finite values or a
// percentile outside (0, 100].
Result<QuantizationParams> calibrate_linear(const MatrixF64& weight, const CalibrationOptions& options);

// The static per-tensor activation scale (absmax/127, in f32) that SmoothQuantLinearPlan takes, from per-channel
// absmax statistics collected before smoothing and the smoothing scales (empty = no smoothing): the smoothed
// absmax of channel j is act_max[j] / s[j] in f32. An all-zero input gives 0.
Result<float> static_activation_scale(std::span<const float> act_max, std::span<const float> smoothing_scales);

// The same from an accumulator fed with the (already smoothed) activations: MinMax uses the tensor absmax,
// Percentile the accumulator's histogram percentile (needs with_histogram).
Result<float> static_activation_scale(const ActStatsAccumulator& stats, ClipMethod method, double percentile = 99.99);

}  // namespace qjit::quant
