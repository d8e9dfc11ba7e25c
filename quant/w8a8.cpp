// The CPU twins of what the GPU plans consume and produce: per-channel int8 weights, per-token (dynamic) and
// per-tensor (static) activation quantization, and the W8A8 GEMM with the contract's f32 epilogue. Every value is
// computed with the rounding the kernels use (see w8a8.h), so GPU tests can compare bit for bit.
#include "qjit/quant/w8a8.h"

#include <algorithm>
#include <cmath>

#include "qjit/quant/smooth_quant.h"
#include "quant/check.h"
#include "quant/kernels.h"
#include "quant/parallel.h"

namespace qjit::quant {
namespace {

// NOTE: |acc| <= 128·128·k must stay below 2^31.
constexpr std::int64_t kMaxExactK = std::int64_t{1} << 17;

Status quantize_rowwise(const char* name, const float* x, std::int64_t rows, std::int64_t cols,
                        std::vector<std::int8_t>* q, std::vector<float>* scale) {
  if (x == nullptr) return detail::invalid(llvm::formatv("{0} must not be null", name).str());
  q->resize(static_cast<std::size_t>(rows * cols));
  scale->resize(static_cast<std::size_t>(rows));
  std::vector<char> ok(detail::worker_count(), 1);
  detail::parallel_rows(rows, cols, [&](unsigned c, std::int64_t r0, std::int64_t r1) {
    ok[c] = detail::quantize_rows_s8(x, r0, r1, cols, q->data(), scale->data());
  });
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) return detail::non_finite_error(name, x, rows, cols);
  return Status();
}

// The exact int32 dot product of two int8 rows (k <= kMaxExactK).
std::int32_t exact_dot(const std::int8_t* a, const std::int8_t* b, std::int64_t k) {
  std::int32_t acc = 0;
  for (std::int64_t t = 0; t < k; ++t) acc += static_cast<std::int32_t>(a[t]) * b[t];
  return acc;
}

Status check_weights(const W8A8Weights& weights) {
  QJIT_TRY(detail::check_dims("weights.n", weights.n, "weights.k", weights.k));
  if (weights.k > kMaxExactK)
    return detail::invalid(
        llvm::formatv("weights.k must be <= {0} for an exact int32 accumulator, got {1}", kMaxExactK, weights.k).str());
  QJIT_TRY(detail::check_size("weights.weight", weights.weight.size(), weights.n * weights.k, "n * k"));
  return detail::check_size("weights.weight_scale", weights.weight_scale.size(), weights.n, "n");
}

}  // namespace

Result<W8A8Weights> quantize_weight_per_channel(const float* w, std::int64_t n, std::int64_t k) {
  QJIT_TRY(detail::check_dims("n", n, "k", k));
  W8A8Weights out;
  out.n = n;
  out.k = k;
  QJIT_TRY(quantize_rowwise("w", w, n, k, &out.weight, &out.weight_scale));
  return out;
}

Result<PerTokenQuantized> quantize_rows_per_token(const float* x, std::int64_t rows, std::int64_t cols) {
  QJIT_TRY(detail::check_dims("rows", rows, "cols", cols));
  PerTokenQuantized out;
  out.rows = rows;
  out.cols = cols;
  QJIT_TRY(quantize_rowwise("x", x, rows, cols, &out.q, &out.scale));
  return out;
}

Result<std::vector<std::int8_t>> quantize_per_tensor(std::span<const float> x, float scale) {
  if (!(std::isfinite(scale) && scale >= 0.0f))
    return detail::invalid(llvm::formatv("scale must be finite and >= 0, got {0}", scale).str());
  std::vector<std::int8_t> q(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) return detail::invalid(llvm::formatv("x[{0}] must be finite, got {1}", i, x[i]).str());
    q[i] = quantize_s8(x[i], scale);
  }
  return q;
}

Result<std::vector<float>> w8a8_gemm_reference(std::span<const std::int8_t> act, std::span<const float> act_scale,
                                               const W8A8Weights& weights, std::int64_t m) {
  QJIT_TRY(detail::check_dims("m", m, "weights.k", weights.k));
  QJIT_TRY(check_weights(weights));
  QJIT_TRY(detail::check_size("act", act.size(), m * weights.k, "m * weights.k"));
  QJIT_TRY(detail::check_size("act_scale", act_scale.size(), m, "m"));
  std::vector<float> y(static_cast<std::size_t>(m * weights.n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < weights.n; ++j)
      y[static_cast<std::size_t>(i * weights.n + j)] =
          act_scale[static_cast<std::size_t>(i)] * weights.weight_scale[static_cast<std::size_t>(j)] *
          static_cast<float>(exact_dot(act.data() + i * weights.k, weights.weight.data() + j * weights.k, weights.k));
  return y;
}

Result<std::vector<double>> smoothed_w8a8_linear(std::span<const float> x, std::int64_t m, const W8A8Weights& weights,
                                                 std::span<const float> pre_quant_scale, std::span<const double> bias) {
  QJIT_TRY(detail::check_dims("m", m, "weights.k", weights.k));
  QJIT_TRY(check_weights(weights));
  QJIT_TRY(detail::check_size("x", x.size(), m * weights.k, "m * weights.k"));
  if (!bias.empty()) QJIT_TRY(detail::check_size("bias", bias.size(), weights.n, "weights.n"));
  std::vector<float> v(x.begin(), x.end());
  if (!pre_quant_scale.empty()) {
    QJIT_TRY(detail::check_size("pre_quant_scale", pre_quant_scale.size(), weights.k, "weights.k"));
    for (std::size_t j = 0; j < pre_quant_scale.size(); ++j)
      if (!std::isfinite(pre_quant_scale[j]) || !(pre_quant_scale[j] > 0.0f))
        return Status(StatusCode::InvalidArgument, "pre_quant_scale[" + std::to_string(j) +
                                                       "] must be finite and > 0, got " +
                                                       std::to_string(pre_quant_scale[j]));
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < weights.k; ++j) {
        float& e = v[static_cast<std::size_t>(i * weights.k + j)];
        e = e * pre_quant_scale[static_cast<std::size_t>(j)];  // one f32 multiply, as the engine's quantize pass
        if (!std::isfinite(e))
          return Status(StatusCode::InvalidArgument,
                        "x * pre_quant_scale is not finite at [" + std::to_string(i) + ", " + std::to_string(j) + "]");
      }
  }
  QJIT_ASSIGN_OR_RETURN(auto vq, quantize_rows_per_token(v.data(), m, weights.k));
  std::vector<double> y(static_cast<std::size_t>(m * weights.n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < weights.n; ++j)
      y[static_cast<std::size_t>(i * weights.n + j)] =
          static_cast<double>(vq.scale[static_cast<std::size_t>(i)]) *
              static_cast<double>(weights.weight_scale[static_cast<std::size_t>(j)]) *
              exact_dot(vq.q.data() + i * weights.k, weights.weight.data() + j * weights.k, weights.k) +
          (bias.empty() ? 0.0 : bias[static_cast<std::size_t>(j)]);
  return y;
}

double relative_error(std::span<const double> y, std::span<const double> ref) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < ref.size() && i < y.size(); ++i) {
    const double d = y[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace qjit::quant
