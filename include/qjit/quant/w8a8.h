// W8A8 operands exactly as the GPU plans consume them, computed on the CPU with the GPU's rounding, so GPU tests can
// compare bit for bit. The rule, shared by weights (per output channel) and activations (per token):
//   absmax = max |x| over the row (f32, exact); scale = absmax / 127.0f (f32, IEEE division);
//   q = rni_sat(x / scale) with x / scale an IEEE f32 division, rounded to nearest even and saturated to
//   [-128, 127] — the semantics of PTX `cvt.rni.sat.s8.f32`; a row with absmax == 0 gets scale 0 and q = 0.
// Dequantization multiplies: x ≈ q·scale; the GEMM epilogue is act_scale[m]·w_scale[n]·acc_s32[m, n].
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "qjit/status.h"

// NOTE: the bit-exact contract needs f32 expressions evaluated in f32 (no x87 excess precision).
static_assert(FLT_EVAL_METHOD == 0, "qjit::quant needs FLT_EVAL_METHOD == 0 (SSE/NEON f32 arithmetic)");

namespace qjit::quant {

// cvt.rni.sat.s8.f32: round to nearest even, saturate to [-128, 127], NaN -> 0.
inline std::int8_t rni_sat_s8(float v) noexcept {
  if (std::isnan(v)) return 0;
  if (v >= 127.0f) return 127;
  if (v <= -128.0f) return -128;
  // NOTE: std::nearbyint honours the current rounding mode; qjit never changes it from the default
  // round-to-nearest-even, which is the mode `rni` names.
  return static_cast<std::int8_t>(std::nearbyint(v));
}

// q for one value given its row's scale (scale 0 -> 0), the division done in f32 as the kernels do.
inline std::int8_t quantize_s8(float x, float scale) noexcept {
  if (scale == 0.0f) return 0;
  return rni_sat_s8(x / scale);  // NOTE: one IEEE f32 division (FLT_EVAL_METHOD == 0 checked below)
}

struct W8A8Weights {
  std::int64_t n = 0;               // out_features (rows)
  std::int64_t k = 0;               // in_features (columns)
  std::vector<std::int8_t> weight;  // [n, k] row-major (the S8 [N, K] operand of QuantizedLinearPlan)
  std::vector<float> weight_scale;  // [n]
};

// Symmetric per-output-channel int8 quantization of w [n, k]. Errors: null pointer, n or k <= 0, n*k overflow,
// non-finite values (naming the position).
Result<W8A8Weights> quantize_weight_per_channel(const float* w, std::int64_t n, std::int64_t k);

struct PerTokenQuantized {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::int8_t> q;  // [rows, cols]
  std::vector<float> scale;    // [rows]
};

// Dynamic per-token quantization of x [rows, cols], the CPU twin of the quantize_rowwise kernel.
Result<PerTokenQuantized> quantize_rows_per_token(const float* x, std::int64_t rows, std::int64_t cols);

// Static per-tensor quantization with a given scale (what SmoothQuantLinearPlan does with input_scale).
Result<std::vector<std::int8_t>> quantize_per_tensor(std::span<const float> x, float scale);

// The W8A8 GEMM reference: y[m, n] = act_scale[m]·w_scale[n]·acc[m, n] computed in f32 with an exact int32
// accumulator (the contract's epilogue, no bias). act [m, k] int8, weight [n, k] int8.
Result<std::vector<float>> w8a8_gemm_reference(std::span<const std::int8_t> act, std::span<const float> act_scale,
                                               const W8A8Weights& weights, std::int64_t m);

// A smoothed W8A8 linear exactly as the engine computes it from qjit quantize's output: v = x · r with
// r = pre_quant_scale = RN(1/s) (one f32 multiply per element, as qjit's quantize pass; r empty = an unsmoothed
// linear), per-token quantization of v (quantize_rows_per_token: the same absmax/127 scale and round-half-even
// saturation), the int8 GEMM in exact integer arithmetic, dequantized in f64:
// y[m, n] = act_scale[m]·w_scale[n]·acc[m, n] (+ bias[n]). x [m, weights.k]; weights hold int8 W·diag(s).
// Errors: shapes, r not finite and > 0, non-finite x or x · r.
Result<std::vector<double>> smoothed_w8a8_linear(std::span<const float> x, std::int64_t m, const W8A8Weights& weights,
                                                 std::span<const float> pre_quant_scale,
                                                 std::span<const double> bias = {});

// ||y − ref|| / ||ref|| (Frobenius; the absolute norm when ref is 0). Sizes must match.
double relative_error(std::span<const double> y, std::span<const double> ref);

}  // namespace qjit::quant
