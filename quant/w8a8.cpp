// The CPU twins of what the GPU plans consume and produce: per-channel int8 weights, per-token (dynamic) and
// per-tensor (static) activation quantization, and the W8A8 GEMM with the contract's f32 epilogue. Every value is
// computed with the rounding the kernels use (see w8a8.h), so GPU tests can compare bit for bit.
#include "qjit/quant/w8a8.h"

#include <algorithm>
#include <cmath>

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
  QJIT_TRY(detail::check_dims("weights.n", weights.n, "weights.k", weights.k));
  if (weights.k > kMaxExactK)
    return detail::invalid(llvm::formatv("weights.k must be <= {0} for an exact int32 accumulator, got {1}",
                                         kMaxExactK, weights.k).str());
  QJIT_TRY(detail::check_size("act", act.size(), m * weights.k, "m * weights.k"));
  QJIT_TRY(detail::check_size("act_scale", act_scale.size(), m, "m"));
  QJIT_TRY(detail::check_size("weights.weight", weights.weight.size(), weights.n * weights.k, "n * k"));
  QJIT_TRY(detail::check_size("weights.weight_scale", weights.weight_scale.size(), weights.n, "n"));
  std::vector<float> y(static_cast<std::size_t>(m * weights.n));
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int8_t* a = act.data() + i * weights.k;
    for (std::int64_t j = 0; j < weights.n; ++j) {
      const std::int8_t* b = weights.weight.data() + j * weights.k;
      std::int32_t acc = 0;
      for (std::int64_t t = 0; t < weights.k; ++t) acc += static_cast<std::int32_t>(a[t]) * b[t];
      y[static_cast<std::size_t>(i * weights.n + j)] =
          act_scale[static_cast<std::size_t>(i)] * weights.weight_scale[static_cast<std::size_t>(j)] *
          static_cast<float>(acc);
    }
  }
  return y;
}

}  // namespace qjit::quant
