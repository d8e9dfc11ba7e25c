// Hot loops of the offline toolkit, written so the compiler vectorises them: integer max over |x| bit patterns
// (ordered like the values for non-negative floats, and larger than any finite value for inf/NaN), a per-column
// probe instead of a scalar reduction, and rounding to nearest even by the 1.5·2^23 trick after clamping to the
// int8 range (exact for |v| < 2^22, which the clamp guarantees). target_clones builds an AVX2 copy next to the
// baseline one; results are bit-identical between them because every operation is an exactly rounded IEEE op.
#include "quant/kernels.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QJIT_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define QJIT_MULTIVERSION
#endif

namespace qjit::quant::detail {

QJIT_MULTIVERSION
void column_absmax_bits(const float* m, std::int64_t r0, std::int64_t r1, std::int64_t cols, std::uint32_t* max_bits) {
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* row = m + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int32_t b = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(row[j]) & 0x7fffffffu);
      const std::int32_t cur = static_cast<std::int32_t>(max_bits[j]);
      max_bits[j] = static_cast<std::uint32_t>(b > cur ? b : cur);
    }
  }
}

QJIT_MULTIVERSION
bool scale_columns(float* m, const float* s, std::int64_t r0, std::int64_t r1, std::int64_t cols, bool divide) {
  std::vector<std::int32_t> probe(static_cast<std::size_t>(cols), 0);
  std::int32_t* p = probe.data();
  for (std::int64_t r = r0; r < r1; ++r) {
    float* row = m + r * cols;
    // NOTE: scale, then probe the row while it is still in L1. A single fused loop measured ~1.6x slower (GCC
    // 12 vectorises it worse), so the row is walked twice from cache and once from memory.
    if (divide) {
      for (std::int64_t j = 0; j < cols; ++j) row[j] = row[j] / s[j];
    } else {
      for (std::int64_t j = 0; j < cols; ++j) row[j] = row[j] * s[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int32_t b = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(row[j]) & 0x7fffffffu);
      p[j] = b > p[j] ? b : p[j];
    }
  }
  return std::all_of(probe.begin(), probe.end(),
                     [](std::int32_t b) { return static_cast<std::uint32_t>(b) < kNonFiniteBits; });
}

QJIT_MULTIVERSION
bool quantize_rows_s8(const float* x, std::int64_t r0, std::int64_t r1, std::int64_t cols, std::int8_t* q,
                      float* scale) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * cols;
    std::int32_t mb = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int32_t b = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(row[j]) & 0x7fffffffu);
      mb = b > mb ? b : mb;
    }
    if (static_cast<std::uint32_t>(mb) >= kNonFiniteBits) return false;
    const float s = std::bit_cast<float>(static_cast<std::uint32_t>(mb)) / 127.0f;
    scale[r] = s;
    std::int8_t* qr = q + r * cols;
    if (s == 0.0f) {
      std::memset(qr, 0, static_cast<std::size_t>(cols));
      continue;
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      float v = row[j] / s;  // NOTE: an IEEE division, as the kernels do; finite because the row is
      v = v < -128.0f ? -128.0f : v;
      v = v > 127.0f ? 127.0f : v;
      v = (v + kRound) - kRound;  // round half to even (default rounding mode), exact for |v| <= 128
      qr[j] = static_cast<std::int8_t>(static_cast<std::int32_t>(v));
    }
  }
  return true;
}

}  // namespace qjit::quant::detail
