// QuantizedLinear: weight-only int8 quantization in f64 and the dequantize-then-matmul forward pass. Rounding is
// half to even (std::nearbyint in the default rounding mode), the same rule the GPU's cvt.rni uses.
#include "qjit/quant/quantized_linear.h"

#include <algorithm>
#include <cmath>

#include "quant/check.h"

namespace qjit::quant {

Result<QuantizedLinear> QuantizedLinear::from_fp(const MatrixF64& weight, const QuantizationParams& params) {
  if (params.type != QuantType::Int8)
    return Status(
        StatusCode::Unsupported,
        llvm::formatv("params.type must be Int8 (QuantizedLinear stores int8), got {0}", quant_type_name(params.type))
            .str());
  QJIT_TRY(detail::check_dims("weight.rows", weight.rows, "weight.cols", weight.cols));
  QJIT_TRY(detail::check_size("weight.data", weight.data.size(), weight.rows * weight.cols, "rows * cols"));
  QJIT_TRY(validate(params, weight.rows));
  QuantizedLinear q;
  q.out_features_ = weight.rows;
  q.in_features_ = weight.cols;
  q.params_ = params;
  q.weight_q_.resize(weight.data.size());
  const double qmin = quant_min(params.type), qmax = quant_max(params.type);
  for (std::int64_t r = 0; r < weight.rows; ++r) {
    const std::size_t c = params.granularity == QuantGranularity::PerChannel ? static_cast<std::size_t>(r) : 0;
    const double scale = params.scales[c];
    const double zp = params.zero_points[c];
    for (std::int64_t k = 0; k < weight.cols; ++k) {
      const double w = weight.at(r, k);
      if (!std::isfinite(w))
        return detail::invalid(llvm::formatv("weight[{0}, {1}] must be finite, got {2}", r, k, w).str());
      const double v = scale == 0.0 ? zp : std::clamp(std::nearbyint(w / scale) + zp, qmin, qmax);
      q.weight_q_[static_cast<std::size_t>(r * weight.cols + k)] = static_cast<std::int8_t>(v);
    }
  }
  return q;
}

Result<QuantizedLinear> QuantizedLinear::with_bias(std::vector<double> bias) const& {
  QuantizedLinear copy = *this;
  return std::move(copy).with_bias(std::move(bias));
}

Result<QuantizedLinear> QuantizedLinear::with_bias(std::vector<double> bias) && {
  QJIT_TRY(detail::check_size("bias", bias.size(), out_features_, "out_features"));
  for (std::size_t i = 0; i < bias.size(); ++i)
    if (!std::isfinite(bias[i]))
      return detail::invalid(llvm::formatv("bias[{0}] must be finite, got {1}", i, bias[i]).str());
  bias_ = std::move(bias);
  return std::move(*this);
}

MatrixF64 QuantizedLinear::dequantize() const {
  MatrixF64 w = MatrixF64::zeros(out_features_, in_features_);
  for (std::int64_t r = 0; r < out_features_; ++r) {
    const std::size_t c = params_.granularity == QuantGranularity::PerChannel ? static_cast<std::size_t>(r) : 0;
    for (std::int64_t k = 0; k < in_features_; ++k)
      w.at(r, k) =
          (static_cast<double>(weight_q_[static_cast<std::size_t>(r * in_features_ + k)]) - params_.zero_points[c]) *
          params_.scales[c];
  }
  return w;
}

Result<MatrixF64> QuantizedLinear::forward(const MatrixF64& x) const {
  if (x.rows <= 0) return detail::invalid(llvm::formatv("x.rows must be > 0, got {0}", x.rows).str());
  if (x.cols != in_features_)
    return detail::invalid(llvm::formatv("x.cols must equal in_features = {0}, got {1}", in_features_, x.cols).str());
  QJIT_TRY(detail::check_size("x.data", x.data.size(), x.rows * x.cols, "rows * cols"));
  QJIT_ASSIGN_OR_RETURN(MatrixF64 y, matmul_transposed(x, dequantize()));
  if (bias_)
    for (std::int64_t m = 0; m < y.rows; ++m)
      for (std::int64_t n = 0; n < y.cols; ++n) y.at(m, n) += (*bias_)[static_cast<std::size_t>(n)];
  return y;
}

}  // namespace qjit::quant
