// GPU tests of ScaledMatmulPlan: every act-scale x weight-scale mode (per-tensor scales as device [1] tensors) x
// f16 / bf16 / f32 output, with and without bias, decode and prefill M (the Hopper swap_ab / split-K and the staged
// epilogues), odd N and K, misaligned int8 rows (staged into the workspace on sm_90a) and strided outputs, against the f64 reference
// with poisoned outputs; per-tensor modes also bit for bit against the per-token / per-channel plan run with the
// scales broadcast (linear_check.h). Skip with the reason without a GPU.
#include <gtest/gtest.h>

#include "tests/gpu/linear_check.h"
#include "tests/support/device.h"

namespace qjit::testing {
namespace {

struct Modes {
  ActScaleMode act;
  WeightScaleMode weight;
};
constexpr Modes kModes[] = {{ActScaleMode::PerToken, WeightScaleMode::PerChannel},
                            {ActScaleMode::PerToken, WeightScaleMode::PerTensor},
                            {ActScaleMode::PerTensor, WeightScaleMode::PerChannel},
                            {ActScaleMode::PerTensor, WeightScaleMode::PerTensor}};

std::string modes_text(Modes m) {
  return std::string(m.act == ActScaleMode::PerToken ? " act=per_token" : " act=per_tensor") +
         (m.weight == WeightScaleMode::PerChannel ? " weight=per_channel" : " weight=per_tensor");
}

template <class T>
void check_all_modes(const LinearCase& c) {
  for (Modes m : kModes) EXPECT_TRUE(check_scaled_matmul<T>(c, m.act, m.weight)) << c.to_string() << modes_text(m);
}

TEST(ScaledMatmulGpuTest, EveryScaleModeF16Bf16F32DecodeAndPrefill) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 7, 64, 300, 2048})
    for (bool bias : {false, true}) {
      const LinearCase c{m, 4096, 4096, bias};
      check_all_modes<f16>(c);
      check_all_modes<bf16>(c);
      check_all_modes<float>(c);
    }
}

TEST(ScaledMatmulGpuTest, EveryScaleModeOddNAndK) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 16, 129, 1024}) {
    check_all_modes<bf16>(LinearCase{m, 5003, 4096, true});   // odd N
    check_all_modes<f16>(LinearCase{m, 4096, 4095, false});   // odd K (staged on sm_90a: contiguous rows)
    check_all_modes<float>(LinearCase{m, 1001, 4100, true});  // both
    check_all_modes<bf16>(LinearCase{m, 33, 17, true});       // tiny
  }
}

TEST(ScaledMatmulGpuTest, EveryScaleModeStridedAndMisalignedViews) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {3, 512}) {
    LinearCase c{m, 4096, 4096, true};
    c.act_row_pad = 1;  // int8 rows not 16-byte aligned: the portable kernel on sm_90a (K % 16 == 0: no room)
    c.out_row_pad = 3;
    check_all_modes<bf16>(c);
    LinearCase p{m, 4096, 4095, true};
    p.act_row_pad = 1;     // K + 1 = 4096: aligned
    p.weight_row_pad = 1;  // a prepacked weight
    check_all_modes<f16>(p);
  }
}

TEST(ScaledMatmulGpuTest, EveryScaleModeRunAtAnotherMThanSelected) {
  QJIT_REQUIRE_GPU();
  LinearCase c{3000, 4096, 4096, true};
  c.select_m = 16;  // a decode config (split-K on some) run at prefill M
  check_all_modes<bf16>(c);
  LinearCase d{5, 11008, 4096, false};
  d.select_m = 4096;
  check_all_modes<f16>(d);
}

}  // namespace
}  // namespace qjit::testing
