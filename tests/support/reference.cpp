// Implementation of the test references and random data.
#include "tests/support/reference.h"

#include <cmath>

namespace qjit::testing {

std::uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

std::vector<std::int8_t> random_int8(std::size_t count, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<std::int8_t> v(count);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

std::vector<float> random_floats(std::size_t count, float lo, float hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(count);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> random_activations(std::int64_t m, std::int64_t k, std::mt19937_64& rng, float outlier_scale) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(m * k));
  for (auto& x : v) x = d(rng);
  // every 97th channel is an outlier channel
  for (std::int64_t r = 0; r < m; ++r)
    for (std::int64_t c = 5; c < k; c += 97) v[r * k + c] *= outlier_scale;
  return v;
}

void reference_quantize_rows(const std::vector<double>& x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                             std::vector<std::int8_t>* q, std::vector<float>* scale) {
  q->assign(static_cast<std::size_t>(m * k), 0);
  scale->assign(static_cast<std::size_t>(m), 0.0f);
  for (std::int64_t r = 0; r < m; ++r) {
    float absmax = 0.0f;
    for (std::int64_t c = 0; c < k; ++c) absmax = std::fmax(absmax, std::fabs(static_cast<float>(x[r * ldx + c])));
    const float s = absmax / 127.0f;
    (*scale)[r] = s;
    for (std::int64_t c = 0; c < k; ++c) {
      float v = 0.0f;
      if (s != 0.0f) v = std::nearbyint(static_cast<float>(x[r * ldx + c]) / s);  // default rounding: to even
      if (std::isnan(v)) v = 0.0f;
      v = std::fmin(127.0f, std::fmax(-128.0f, v));
      (*q)[r * k + c] = static_cast<std::int8_t>(v);
    }
  }
}

std::vector<std::int64_t> reference_gemm_s8(const std::vector<std::int8_t>& a, std::int64_t lda,
                                            const std::vector<std::int8_t>& b, std::int64_t m, std::int64_t n,
                                            std::int64_t k) {
  std::vector<std::int64_t> acc(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int8_t* ar = a.data() + i * lda;
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int8_t* br = b.data() + j * k;
      std::int32_t s = 0;  // |s| <= 128*128*K fits int32 for K < 131072
      for (std::int64_t t = 0; t < k; ++t) s += static_cast<std::int32_t>(ar[t]) * br[t];
      acc[i * n + j] = s;
    }
  }
  return acc;
}

}  // namespace qjit::testing
