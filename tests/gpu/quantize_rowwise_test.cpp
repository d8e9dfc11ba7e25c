// GPU tests of DynamicRangeQuantizePlan: per-token and per-tensor, every input dtype, odd K, strided rows, rows of
// zeros. Results must match the CPU reference bit for bit (scales and int8 values). Skips without a GPU.
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "qjit/dynamic_range_quantize.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

// smooth: 0 = none; 1 = a pre_quant_scale [K] (x * it before quantizing); 2 = the same from a pointer that is
// only 4-byte aligned, which forces the scalar path. q_ld: q's row stride (0: the same as x's, k + pad).
template <class T>
void check_quantize(std::int64_t m, std::int64_t k, std::int64_t pad, QuantGranularity g, int smooth = 0,
                    std::int64_t q_ld = 0) {
  const std::uint64_t seed = fresh_seed();
  SCOPED_TRACE("M=" + std::to_string(m) + " K=" + std::to_string(k) + " pad=" + std::to_string(pad) +
               (g == QuantGranularity::PerToken ? " per-token" : " per-tensor") + " smooth=" + std::to_string(smooth) +
               " q_ld=" + std::to_string(q_ld) + " seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::int64_t ld = k + pad;
  const std::int64_t qld = q_ld != 0 ? q_ld : ld;
  auto xf = random_activations(m, ld, rng);
  if (m > 2)  // one row of zeros: scale 0, q 0
    for (std::int64_t j = 0; j < ld; ++j) xf[1 * ld + j] = 0.0f;
  const auto x = convert_from_float<T>(xf);
  const std::int64_t n_scales = g == QuantGranularity::PerToken ? m : 1;
  DeviceBuffer d_x(x.size() * sizeof(T)), d_q(static_cast<std::size_t>(m * qld)), d_s(n_scales * 4);
  QJIT_ASSERT_OK(d_x.upload(x));
  QJIT_ASSERT_OK(d_q.fill_bytes(0x55));
  QJIT_ASSERT_OK(d_s.fill_bytes(0xff));
  // Smoothing factors as SmoothQuant makes them: spread over [1/8, 8], so x * (1/s) is rarely exact.
  const auto sm = random_floats(static_cast<std::size_t>(k), -3.0f, 3.0f, rng);
  std::vector<float> s_vec(static_cast<std::size_t>(k) + 1);
  for (std::int64_t j = 0; j < k; ++j) s_vec[j + (smooth == 2 ? 1 : 0)] = std::exp2(sm[j]);
  DeviceBuffer d_sm(s_vec.size() * 4);
  QJIT_ASSERT_OK(d_sm.upload(s_vec));
  auto desc = DynamicRangeQuantizeDescriptor::make<T>(m, k, g);
  desc.has_smooth = smooth != 0;
  auto plan = DynamicRangeQuantizePlan<T>::select(Stream(), desc);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  DynamicRangeQuantizeArgs<T> args{TensorRef<T, 2>::strided(d_x.get<T>(), m, k, ld),
                                   TensorMut<std::int8_t, 2>::strided(d_q.get<std::int8_t>(), m, k, qld),
                                   TensorMut<float, 1>::contiguous(d_s.get<float>(), {n_scales})};
  if (smooth != 0)
    args.pre_quant_scale = TensorRef<float, 1>::contiguous(d_sm.get<float>() + (smooth == 2 ? 1 : 0), {k});
  DeviceBuffer ws(plan->workspace_size());
  QJIT_ASSERT_OK(plan->run(Stream(), Workspace{ws.get(), plan->workspace_size()}, args));
  auto q = d_q.download_as<std::int8_t>(static_cast<std::size_t>(m * qld));
  auto s = d_s.download_as<float>(static_cast<std::size_t>(n_scales));
  ASSERT_TRUE(q.has_value() && s.has_value());

  std::vector<std::int8_t> q_ref;
  std::vector<float> s_ref;
  auto xd = widen(x);
  if (smooth != 0)  // v = RN_f32(f32(x) * pre_quant_scale[k]): what the kernel quantizes
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < k; ++j)
        xd[i * ld + j] = static_cast<float>(static_cast<float>(xd[i * ld + j]) * s_vec[j + (smooth == 2 ? 1 : 0)]);
  if (g == QuantGranularity::PerToken) {
    reference_quantize_rows(xd, m, k, ld, &q_ref, &s_ref);
  } else {
    // Per tensor: the same rule with one absmax over all rows -> quantize the tensor as one long row.
    std::vector<double> flat;
    for (std::int64_t i = 0; i < m; ++i) flat.insert(flat.end(), xd.begin() + i * ld, xd.begin() + i * ld + k);
    reference_quantize_rows(flat, 1, m * k, m * k, &q_ref, &s_ref);
  }
  for (std::int64_t i = 0; i < n_scales; ++i)
    ASSERT_EQ(std::memcmp(&(*s)[i], &s_ref[i], 4), 0) << "scale[" << i << "] = " << (*s)[i] << " vs " << s_ref[i];
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < k; ++j) ASSERT_EQ((*q)[i * qld + j], q_ref[i * k + j]) << "q[" << i << "," << j << "]";
  // The padding between rows is never written.
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = k; j < qld; ++j)
      ASSERT_EQ((*q)[i * qld + j], 0x55) << "padding written at " << i << "," << j;
}

TEST(QuantizeGpuTest, PerTokenEveryInputDtype) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 3, 17, 1000})
    for (std::int64_t k : {1, 17, 4096, 4100}) {
      check_quantize<f16>(m, k, 0, QuantGranularity::PerToken);
      check_quantize<bf16>(m, k, 0, QuantGranularity::PerToken);
      check_quantize<float>(m, k, 0, QuantGranularity::PerToken);
      check_quantize<double>(m, k, 0, QuantGranularity::PerToken);
    }
}

TEST(QuantizeGpuTest, SmoothedEveryInputDtypeBothGranularitiesVectorAndScalarPaths) {
  QJIT_REQUIRE_GPU();
  for (int smooth : {1, 2})
    for (std::int64_t k : {17, 4096, 4100}) {
      check_quantize<f16>(17, k, 0, QuantGranularity::PerToken, smooth);
      check_quantize<bf16>(64, k, 8, QuantGranularity::PerToken, smooth);
      check_quantize<float>(3, k, 0, QuantGranularity::PerToken, smooth);
      check_quantize<double>(5, k, 0, QuantGranularity::PerToken, smooth);
      check_quantize<bf16>(33, k, 0, QuantGranularity::PerTensor, smooth);
    }
  check_quantize<bf16>(2048, 14336, 0, QuantGranularity::PerToken, 1);
  // The quad layout of the 16-bit smoothed vector path with a K tail (K % 16 != 0, rows 16-byte aligned), long rows
  // that are not cached between the passes, and per-tensor.
  check_quantize<bf16>(40, 4100, 4, QuantGranularity::PerToken, 1);
  check_quantize<f16>(9, 4100, 12, QuantGranularity::PerToken, 1);
  check_quantize<f16>(300, 14336, 0, QuantGranularity::PerToken, 1);
  check_quantize<bf16>(3, 28672, 0, QuantGranularity::PerToken, 1);
  check_quantize<f16>(70, 4100, 4, QuantGranularity::PerTensor, 1);
}

TEST(QuantizeGpuTest, PerTokenStridedRowsAndLargeK) {
  QJIT_REQUIRE_GPU();
  check_quantize<bf16>(64, 4096, 24, QuantGranularity::PerToken);
  check_quantize<f16>(5, 28672, 8, QuantGranularity::PerToken);
  check_quantize<float>(4096, 4096, 0, QuantGranularity::PerToken);
}

// x rows that are only element-aligned (contiguous rows of an odd K: every 16-byte offset occurs) with q at
// 16-byte aligned rows, as QuantizedLinear's pass writes its staged activation: the realigned vector path
// (load_chunk_realigned), cached and re-read rows, smoothed and not, per token and per tensor.
TEST(QuantizeGpuTest, ElementAlignedRowsIntoAlignedQ) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t k : {4095, 4100, 11009, 13653, 33}) {
    const std::int64_t q_ld = (k + 127) / 128 * 128;
    check_quantize<bf16>(67, k, 0, QuantGranularity::PerToken, 0, q_ld);
    check_quantize<f16>(19, k, 0, QuantGranularity::PerToken, 1, q_ld);
    check_quantize<float>(9, k, 0, QuantGranularity::PerToken, 0, q_ld);
    check_quantize<double>(5, k, 0, QuantGranularity::PerToken, 0, q_ld);
    check_quantize<bf16>(13, k, 0, QuantGranularity::PerTensor, 0, q_ld);
  }
  check_quantize<bf16>(2048, 4100, 0, QuantGranularity::PerToken, 0, 4224);
  check_quantize<bf16>(40, 28673, 0, QuantGranularity::PerToken, 1, 28800);  // rows re-read, not cached
}

TEST(QuantizeGpuTest, PerTensor) {
  QJIT_REQUIRE_GPU();
  check_quantize<bf16>(1, 4096, 0, QuantGranularity::PerTensor);
  check_quantize<f16>(127, 4100, 4, QuantGranularity::PerTensor);
  check_quantize<float>(1000, 1024, 0, QuantGranularity::PerTensor);
  check_quantize<double>(3, 17, 0, QuantGranularity::PerTensor);
}

}  // namespace
}  // namespace qjit::testing

namespace qjit::testing {
namespace {

// Rows whose scale is exactly 1 (absmax 127) or 0.5 (absmax 63.5), filled with exact half-integer quotients (ties:
// round half to even), quotients one ulp either side of a tie, and subnormal-scale rows: the kernel's
// multiply-by-reciprocal fast path must hand all of them to the exact division and agree bit for bit.
TEST(QuantizeGpuTest, TiesAndNearTiesRoundExactlyLikeTheDivision) {
  QJIT_REQUIRE_GPU();
  const std::int64_t m = 4, k = 256;
  std::vector<float> x(static_cast<std::size_t>(m * k));
  for (std::int64_t j = 0; j < k; ++j) {
    const float tie = static_cast<float>((j % 254) - 127) + 0.5f;                // -126.5 .. 126.5
    x[j] = j == 0 ? 127.0f : tie;                                                // scale 1
    x[k + j] = j == 0 ? 63.5f : tie / 2;                                         // scale 0.5
    x[2 * k + j] = j == 0 ? 127.0f : std::nextafter(tie, j % 2 ? 1e9f : -1e9f);  // one ulp off a tie
    x[3 * k + j] = j == 0 ? 1e-39f : (j % 2 ? 3e-40f : -7e-40f);                 // subnormal scale: exact path
  }
  DeviceBuffer d_x(x.size() * 4), d_q(static_cast<std::size_t>(m * k)), d_s(static_cast<std::size_t>(m) * 4);
  QJIT_ASSERT_OK(d_x.upload(x));
  QJIT_ASSERT_OK(d_q.fill_bytes(0x55));
  auto plan = DynamicRangeQuantizePlan<float>::select(Stream(), DynamicRangeQuantizeDescriptor::make<float>(m, k));
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  DynamicRangeQuantizeArgs<float> args{TensorRef<float, 2>::contiguous(d_x.get<float>(), {m, k}),
                                       TensorMut<std::int8_t, 2>::contiguous(d_q.get<std::int8_t>(), {m, k}),
                                       TensorMut<float, 1>::contiguous(d_s.get<float>(), {m})};
  QJIT_ASSERT_OK(plan->run(Stream(), Workspace{}, args));
  auto q = d_q.download_as<std::int8_t>(static_cast<std::size_t>(m * k));
  ASSERT_TRUE(q.has_value());
  std::vector<std::int8_t> q_ref;
  std::vector<float> s_ref;
  std::vector<double> xd(x.begin(), x.end());
  reference_quantize_rows(xd, m, k, k, &q_ref, &s_ref);
  EXPECT_EQ(s_ref[0], 1.0f);
  EXPECT_EQ(s_ref[1], 0.5f);
  for (std::int64_t i = 0; i < m * k; ++i)
    ASSERT_EQ((*q)[i], q_ref[i]) << "q[" << i / k << "," << i % k << "] for x = " << x[i];
  EXPECT_EQ((*q)[1], -126);  // -125.5 rounds to even
  EXPECT_EQ((*q)[2], -124);  // -124.5 rounds to even
}

}  // namespace
}  // namespace qjit::testing
