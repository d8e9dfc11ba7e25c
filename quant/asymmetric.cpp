// The asymmetric per-token rule, the weight column sums and the f64 zero-point GEMM (qjit/quant/asymmetric.h).
// Every f32 step is one IEEE operation in the order the kernel (templates/quantize_rowwise_asym.cuh) performs it.
#include "qjit/quant/asymmetric.h"

#include <algorithm>
#include <cmath>

#include "quant/check.h"

namespace qjit::quant {
namespace {

// NaN -> 0, clamp to [lo, hi], round half to even (the default rounding mode; qjit never changes it).
std::int32_t rni_clamped(float v, float lo, float hi) noexcept {
  if (std::isnan(v)) return 0;
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return static_cast<std::int32_t>(std::nearbyint(v));
}

}  // namespace

AsymRowParams asymmetric_row_params(std::span<const float> row) noexcept {
  float lo = 0.0f, hi = 0.0f;
  for (const float v : row) {
    if (v < lo) lo = v;  // NOTE: NaN compares false: ignored, like the kernel's min.f32 / max.f32
    if (v > hi) hi = v;
  }
  AsymRowParams p;
  p.scale = (hi - lo) / 255.0f;
  if (p.scale == 0.0f) return p;
  p.zero_point = rni_clamped(-lo / p.scale, 0.0f, 255.0f);
  return p;
}

std::uint8_t quantize_u8(float x, const AsymRowParams& p) noexcept {
  if (p.scale == 0.0f) return 0;
  const std::int32_t r = rni_clamped(x / p.scale, -256.0f, 256.0f) + p.zero_point;
  return static_cast<std::uint8_t>(std::clamp(r, 0, 255));
}

Result<AsymmetricQuantized> quantize_rows_asymmetric(const float* x, std::int64_t rows, std::int64_t cols,
                                                     AsymStorage storage) {
  QJIT_TRY(detail::check_dims("rows", rows, "cols", cols));
  if (x == nullptr) return detail::invalid("x must not be null");
  for (std::int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(x[i])) return detail::non_finite_error("x", x, rows, cols);
  AsymmetricQuantized out;
  out.rows = rows;
  out.cols = cols;
  out.storage = storage;
  out.q.resize(static_cast<std::size_t>(rows * cols));
  out.scale.resize(static_cast<std::size_t>(rows));
  out.zero_point.resize(static_cast<std::size_t>(rows));
  const int shift = storage == AsymStorage::S8 ? 128 : 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::span<const float> row(x + r * cols, static_cast<std::size_t>(cols));
    const AsymRowParams p = asymmetric_row_params(row);
    out.scale[static_cast<std::size_t>(r)] = p.scale;
    out.zero_point[static_cast<std::size_t>(r)] = p.zero_point - shift;
    for (std::int64_t j = 0; j < cols; ++j)
      out.q[static_cast<std::size_t>(r * cols + j)] = static_cast<std::uint8_t>(quantize_u8(row[j], p) - shift);
  }
  return out;
}

Result<std::vector<std::int32_t>> weight_colsum(const std::int8_t* w, std::int64_t n, std::int64_t k,
                                                std::int64_t ldw) {
  QJIT_TRY(detail::check_dims("n", n, "k", k));
  if (w == nullptr) return detail::invalid("w must not be null");
  if (ldw < k) return detail::invalid(llvm::formatv("ldw must be >= k = {0}, got {1}", k, ldw).str());
  if (k > (std::int64_t{1} << 24))
    return detail::invalid(llvm::formatv("k must be <= 2^24 for an exact int32 column sum, got {0}", k).str());
  std::vector<std::int32_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    std::int32_t s = 0;
    for (std::int64_t t = 0; t < k; ++t) s += w[i * ldw + t];
    out[static_cast<std::size_t>(i)] = s;
  }
  return out;
}

Result<std::vector<double>> azp_gemm_reference(std::span<const std::int8_t> act_q, std::span<const float> act_scale,
                                               std::span<const std::int32_t> act_zero_point,
                                               std::span<const std::int8_t> weight, std::span<const float> weight_scale,
                                               std::span<const double> bias, std::int64_t m, std::int64_t n,
                                               std::int64_t k) {
  QJIT_TRY(detail::check_dims("m", m, "k", k));
  QJIT_TRY(detail::check_dims("n", n, "k", k));
  QJIT_TRY(detail::check_size("act_q", act_q.size(), m * k, "m * k"));
  QJIT_TRY(detail::check_size("act_scale", act_scale.size(), m, "m"));
  QJIT_TRY(detail::check_size("act_zero_point", act_zero_point.size(), m, "m"));
  QJIT_TRY(detail::check_size("weight", weight.size(), n * k, "n * k"));
  if (weight_scale.size() != 1) QJIT_TRY(detail::check_size("weight_scale", weight_scale.size(), n, "n (or 1)"));
  if (!bias.empty()) QJIT_TRY(detail::check_size("bias", bias.size(), n, "n"));
  std::vector<double> y(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t zp = act_zero_point[static_cast<std::size_t>(i)];
    for (std::int64_t j = 0; j < n; ++j) {
      std::int64_t acc = 0;
      for (std::int64_t t = 0; t < k; ++t)
        acc += (static_cast<std::int64_t>(act_q[static_cast<std::size_t>(i * k + t)]) - zp) *
               weight[static_cast<std::size_t>(j * k + t)];
      const double ws = weight_scale[weight_scale.size() == 1 ? 0 : static_cast<std::size_t>(j)];
      y[static_cast<std::size_t>(i * n + j)] = static_cast<double>(act_scale[static_cast<std::size_t>(i)]) * ws *
                                                   static_cast<double>(acc) +
                                               (bias.empty() ? 0.0 : bias[static_cast<std::size_t>(j)]);
    }
  }
  return y;
}

}  // namespace qjit::quant
