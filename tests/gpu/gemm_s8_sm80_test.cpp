// GPU tests of the linear plans on the portable (mma.sync) path and whatever path the heuristic picks on the device:
// every output dtype, with and without bias, M from 1 to 4096, odd N and K, the Llama-2-7B shapes, and strided views.
// Each case draws fresh random inputs and poisons outputs first (see linear_check.h). Skips without a GPU.
#include <gtest/gtest.h>

#include "tests/gpu/linear_check.h"
#include "tests/support/device.h"

namespace qjit::testing {
namespace {

constexpr std::int64_t kMs[] = {1, 2, 3, 16, 17, 64, 127, 128, 1000, 4096};

TEST(LinearGpuTest, QuantizedLinearBf16BiasEveryMOnOddShape_N13653_K4100) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : kMs) {
    const LinearCase c{m, 13653, 4100, true};
    EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
  }
}

TEST(LinearGpuTest, QuantizedLinearF16EveryMOnAlignedShape_N4096_K4096) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : kMs) {
    const LinearCase c{m, 4096, 4096, false};
    EXPECT_TRUE(check_quantized_linear<f16>(c)) << c.to_string();
  }
}

// A plan's M picks its bucket; run() takes any M. workspace_size() must cover every M of the bucket (split-K decode
// configs need scratch that grows with the token tiles), and workspace_size(M) any other M.
TEST(LinearGpuTest, APlanRunsEveryMOfItsBucketAndBeyondWithTheWorkspaceItReports) {
  QJIT_REQUIRE_GPU();
  const std::int64_t runs[][2] = {{9, 16}, {9, 13}, {3, 4}, {17, 32}, {129, 256}, {16, 200}, {2049, 8192}};
  for (const auto& r : runs)
    for (std::int64_t k : {std::int64_t{4096}, std::int64_t{4100}}) {
      LinearCase c{r[1], 4096, k, true};
      c.select_m = r[0];
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
    }
}

// SmoothQuant for any linear: the quantize pass divides by the smoothing vector; act_q and the scales match the
// reference bit for bit and the output is within the guarantee, on aligned and odd K, decode and prefill M.
TEST(LinearGpuTest, QuantizedLinearWithASmoothingVector) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {std::int64_t{1}, std::int64_t{16}, std::int64_t{1000}})
    for (std::int64_t k : {std::int64_t{4096}, std::int64_t{4100}}) {
      LinearCase c{m, 1024, k, true};
      c.smooth = true;
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_quantized_linear<f16>(c)) << c.to_string();
    }
}

TEST(LinearGpuTest, EveryOutputDtypeWithAndWithoutBias) {
  QJIT_REQUIRE_GPU();
  for (bool bias : {false, true})
    for (std::int64_t m : {std::int64_t{17}, std::int64_t{1000}}) {
      const LinearCase c{m, 1000, 1024, bias};
      EXPECT_TRUE(check_quantized_linear<f16>(c)) << "f16 " << c.to_string();
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << "bf16 " << c.to_string();
      EXPECT_TRUE(check_quantized_linear<float>(c)) << "f32 " << c.to_string();
      EXPECT_TRUE(check_quantized_linear<double>(c)) << "f64 " << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq f16 " << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq bf16 " << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<float>(c)) << "sq f32 " << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<double>(c)) << "sq f64 " << c.to_string();
    }
}

TEST(LinearGpuTest, F64OutputMatchesExactInt32ProductTimesScales) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {std::int64_t{1}, std::int64_t{127}, std::int64_t{4096}}) {
    const LinearCase c{m, 4096, 4096, false};
    EXPECT_TRUE(check_smooth_quant_linear<double>(c)) << c.to_string();
  }
}

TEST(LinearGpuTest, DegenerateAndOddShapes) {
  QJIT_REQUIRE_GPU();
  const LinearCase cases[] = {{1, 1, 1, true},        {3, 7, 1, false},       {17, 33, 17, true},   {64, 1, 4100, true},
                              {127, 255, 130, false}, {2, 13653, 4100, true}, {1000, 129, 48, true}};
  for (const auto& c : cases) {
    EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
    EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << c.to_string();
  }
}

TEST(LinearGpuTest, StridedActivationAndOutputViews) {
  QJIT_REQUIRE_GPU();
  const LinearCase cases[] = {
      {17, 4096, 4096, true, 64, 8}, {128, 1000, 1024, false, 16, 3}, {5, 13653, 4100, true, 7, 1}};
  for (const auto& c : cases) {
    EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
    EXPECT_TRUE(check_smooth_quant_linear<float>(c)) << c.to_string();
  }
}

// Llama-2-7B linear shapes (data/llm_linear_shapes.csv): qkv 12288x4096, o 4096x4096, gate_up 22016x4096,
// down 4096x11008.
TEST(LinearGpuTest, Llama2_7bShapes) {
  QJIT_REQUIRE_GPU();
  const std::int64_t shapes[][2] = {{12288, 4096}, {4096, 4096}, {22016, 4096}, {4096, 11008}};
  for (const auto& s : shapes)
    for (std::int64_t m : {std::int64_t{1}, std::int64_t{16}, std::int64_t{128}, std::int64_t{2048}}) {
      const LinearCase c{m, s[0], s[1], true};
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
    }
}

}  // namespace
}  // namespace qjit::testing
