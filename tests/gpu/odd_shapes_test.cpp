// GPU tests of issue 15's odd shapes through both linear plans: K or N not a multiple of 16 and legal row strides
// that are not multiples of 16 bytes, in the two layouts an engine hands over -- contiguous rows (on sm_90a a
// misaligned int8 row runs the portable kernel) and int8 rows padded to 16 bytes (a prepacked weight, a padded
// act_q scratch: the Hopper TMA kernel for every K, its K tail zero-filled by the copy engine). Outputs and scratch
// are poisoned first; the pad columns of strided outputs and scratch must stay untouched (linear_check.h).
#include <gtest/gtest.h>

#include "tests/gpu/linear_check.h"
#include "tests/support/device.h"

namespace qjit::testing {
namespace {

constexpr std::int64_t kMs[] = {1, 16, 128, 2048};

// Pad that rounds `k` int8 elements up to a multiple of 16 bytes.
std::int64_t pad16(std::int64_t k) { return (16 - k % 16) % 16; }

struct OddShape {
  std::int64_t n, k;
};
constexpr OddShape kOddK[] = {{4096, 4095}, {4096, 4100}, {4096, 4104}, {4096, 11009}, {1024, 13653}};
constexpr OddShape kOddN[] = {{4097, 4096}, {5003, 4096}, {13653, 4096}};

TEST(OddShapesGpuTest, OddKContiguousRows) {
  QJIT_REQUIRE_GPU();
  for (const OddShape& s : kOddK)
    for (std::int64_t m : kMs) {
      const LinearCase c{m, s.n, s.k, true};
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq " << c.to_string();
    }
}

TEST(OddShapesGpuTest, OddKWithPaddedInt8Rows) {
  QJIT_REQUIRE_GPU();
  for (const OddShape& s : kOddK)
    for (std::int64_t m : kMs) {
      LinearCase c{m, s.n, s.k, true};
      c.weight_row_pad = pad16(s.k);
      c.scratch_row_pad = pad16(s.k);  // QuantizedLinear: the FP activation stays contiguous, the scratch is padded
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      c.act_row_pad = pad16(s.k);  // SmoothQuant: the engine's int8 activation padded too
      EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
    }
}

TEST(OddShapesGpuTest, OddNWithStridedOutputs) {
  QJIT_REQUIRE_GPU();
  for (const OddShape& s : kOddN)
    for (std::int64_t m : kMs) {
      LinearCase c{m, s.n, s.k, m % 2 == 0};
      c.out_row_pad = m == 16 ? 3 : 0;  // an odd output row stride, pad columns checked untouched
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<float>(c)) << "sq " << c.to_string();
      // f16 and f64 through the realigned epilogue too (odd N: no output row is 16-byte aligned throughout; M = 2048
      // takes the staged, non-swapped epilogue).
      if (m == 2048) {
        EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq f16 " << c.to_string();
        EXPECT_TRUE(check_smooth_quant_linear<double>(c)) << "sq f64 " << c.to_string();
      }
    }
}

// K = 4096 with an activation row stride of 4104 (legal: >= K; 4104 bytes is not a multiple of 16): the plan must
// take it (issue 15: it was refused by run() naming an internal field), and misaligned bases too.
TEST(OddShapesGpuTest, AlignedKWithMisalignedActivationStride) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : kMs) {
    LinearCase c{m, 4096, 4096, true, /*act_row_pad=*/8, /*out_row_pad=*/5};
    EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq " << c.to_string();
    c.scratch_row_pad = 0;  // QuantizedLinear: bf16 rows of 4104 elements are 16-byte aligned; scratch contiguous
    EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
    c.scratch_row_pad = 8;  // and a misaligned scratch stride (the portable GEMM reads it)
    EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
    c.scratch_row_pad = -1;
    c.weight_row_pad = 4;  // a misaligned weight stride
    EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
  }
}

}  // namespace
}  // namespace qjit::testing
