// Asymmetric (zero-point) per-token activation quantization and its GEMM, on the CPU with the GPU's rounding, so the
// GPU tests compare the codes bit for bit. The rule (ONNX DynamicQuantizeLinear, per row):
//   lo = min(0, min x), hi = max(0, max x) (f32, exact); scale = RN(RN(hi - lo) / 255) (two IEEE f32 operations);
//   zp = clamp(rni(RN(-lo / scale)), 0, 255); q = clamp(rni(RN(x / scale)) + zp, 0, 255) (u8 storage);
//   a row whose scale is 0 (all zeros) gets zp = 0 and q = 0.
// s8 storage is the same code shifted: q_s8 = q_u8 - 128 and zp_s8 = zp_u8 - 128, so x ≈ scale·(q - zp) in either.
// The int8 GEMM consumes s8 storage: y[m, n] = s_a[m]·s_w[n]·(Σ_k q[m, k]·w[n, k] − zp[m]·colsum[n]) + bias[n],
// colsum[n] = Σ_k w[n, k] (int32, once per weight). Including 0 in the range keeps an exact 0 representable (padding,
// ReLU zeros dequantize to 0 exactly).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

enum class AsymStorage : std::uint8_t { U8, S8 };

struct AsymmetricQuantized {
  std::int64_t rows = 0, cols = 0;
  AsymStorage storage = AsymStorage::U8;
  std::vector<std::uint8_t> q;          // [rows, cols]: u8 codes, or the s8 codes' bytes (two's complement)
  std::vector<float> scale;             // [rows]
  std::vector<std::int32_t> zero_point;  // [rows]: [0, 255] (u8) or [-128, 127] (s8)
  // The s8 view of q (storage S8 only; for U8 the codes minus 128 are the s8 codes).
  std::span<const std::int8_t> q_s8() const {
    return {reinterpret_cast<const std::int8_t*>(q.data()), q.size()};
  }
};

// One row's (scale, zero point) in the u8 domain, and one value's u8 code given them (the rule above).
struct AsymRowParams {
  float scale = 0.0f;
  std::int32_t zero_point = 0;
};
AsymRowParams asymmetric_row_params(std::span<const float> row) noexcept;
std::uint8_t quantize_u8(float x, const AsymRowParams& p) noexcept;

// Per-token asymmetric quantization of x [rows, cols] (finite values; errors name the first non-finite element).
Result<AsymmetricQuantized> quantize_rows_asymmetric(const float* x, std::int64_t rows, std::int64_t cols,
                                                     AsymStorage storage);

// colsum[n] = Σ_k w[n, k] over the int8 weight [n, k] (row stride ldw >= k): the GEMM's zero-point correction term.
Result<std::vector<std::int32_t>> weight_colsum(const std::int8_t* w, std::int64_t n, std::int64_t k,
                                                std::int64_t ldw);

// The f64 zero-point GEMM: y[m, n] = s_a[m]·s_w[n]·Σ_k (q[m, k] − zp[m])·w[n, k] + bias[n], with q, zp in s8 storage
// (exact integer sums), s_w [n] (or one value when its size is 1), bias [n] or empty.
Result<std::vector<double>> azp_gemm_reference(std::span<const std::int8_t> act_q, std::span<const float> act_scale,
                                               std::span<const std::int32_t> act_zero_point,
                                               std::span<const std::int8_t> weight, std::span<const float> weight_scale,
                                               std::span<const double> bias, std::int64_t m, std::int64_t n,
                                               std::int64_t k);

}  // namespace qjit::quant
