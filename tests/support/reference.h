// f64 CPU references and random test data. The references follow qjit's numerical contract exactly:
//  - per-token quantization: x -> f32, absmax over the row, scale = absmax / 127 in f32, q = rint(x / scale) in f32,
//    saturated (so GPU results must match bit for bit);
//  - GEMM: exact int64 accumulation of int8 products, then the epilogue (compared within the plan's precision
//    guarantee for f16/bf16/f32 outputs, and within a few f64 ulps for f64 output).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "qjit/element.h"

namespace qjit::testing {

// A fresh seed per call (std::random_device), printed by the caller on failure for reproduction.
std::uint64_t fresh_seed();

std::vector<std::int8_t> random_int8(std::size_t count, std::mt19937_64& rng);
std::vector<float> random_floats(std::size_t count, float lo, float hi, std::mt19937_64& rng);
// Activations with a few outlier channels (`outlier_scale` times the rest), as LLM activations have.
std::vector<float> random_activations(std::int64_t m, std::int64_t k, std::mt19937_64& rng,
                                      float outlier_scale = 20.0f);

// The unit roundoff of an output type (half an ulp at 1): 2^-11 f16, 2^-8 bf16, 2^-24 f32, 2^-53 f64.
template <class T>
double unit_roundoff() {
  if constexpr (std::is_same_v<T, f16>)
    return std::ldexp(1.0, -11);
  else if constexpr (std::is_same_v<T, bf16>)
    return std::ldexp(1.0, -8);
  else if constexpr (std::is_same_v<T, float>)
    return std::ldexp(1.0, -24);
  else
    return std::ldexp(1.0, -53);
}

template <FloatElement T>
std::vector<T> convert_from_float(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = from_float<T>(v[i]);
  return out;
}
template <FloatElement T>
std::vector<double> widen(const std::vector<T>& v) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = to_double(v[i]);
  return out;
}

// Per-token quantization reference (x given already widened from the input element; converted to f32 here).
void reference_quantize_rows(const std::vector<double>& x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                             std::vector<std::int8_t>* q, std::vector<float>* scale);

// acc[m, n] = sum_k a[m, k] * b[n, k] exactly.
std::vector<std::int64_t> reference_gemm_s8(const std::vector<std::int8_t>& a, std::int64_t lda,
                                            const std::vector<std::int8_t>& b, std::int64_t m, std::int64_t n,
                                            std::int64_t k);

}  // namespace qjit::testing
