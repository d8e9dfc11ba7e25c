// QuantizedLinear: a weight-only int8 linear layer computed in f64, the numerical reference the rest of qjit is
// checked against. The weight is stored as int8 [out_features, in_features] with per-tensor or per-channel
// (per output row) scales and zero points; forward() dequantizes (q − zero_point[c])·scale[c] and multiplies in f64.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "qjit/quant/calibration.h"
#include "qjit/quant/matrix.h"
#include "qjit/status.h"

namespace qjit::quant {

class QuantizedLinear {
 public:
  // Quantizes weight [out, in] with params (from calibrate_linear): q = clamp(round_half_even(w/scale) + zp,
  // qmin, qmax), and q = zp where scale is 0. Only QuantType::Int8 is supported (Unsupported otherwise).
  static Result<QuantizedLinear> from_fp(const MatrixF64& weight, const QuantizationParams& params);

  // Attaches a bias of length out_features.
  Result<QuantizedLinear> with_bias(std::vector<double> bias) const&;
  Result<QuantizedLinear> with_bias(std::vector<double> bias) &&;

  // x [batch, in_features] -> [batch, out_features].
  Result<MatrixF64> forward(const MatrixF64& x) const;
  // The stored weights back in f64.
  MatrixF64 dequantize() const;

  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }
  QuantGranularity granularity() const { return params_.granularity; }
  bool symmetric() const { return params_.symmetric; }
  const std::vector<double>& scales() const { return params_.scales; }
  const std::vector<std::int32_t>& zero_points() const { return params_.zero_points; }
  const std::vector<std::int8_t>& weight_q() const { return weight_q_; }
  const std::optional<std::vector<double>>& bias() const { return bias_; }

 private:
  std::int64_t in_features_ = 0;
  std::int64_t out_features_ = 0;
  QuantizationParams params_;
  std::vector<std::int8_t> weight_q_;
  std::optional<std::vector<double>> bias_;
};

}  // namespace qjit::quant
