// GPU tests of issue 15's odd shapes through both linear plans: K or N not a multiple of 16 and legal row strides
// that are not multiples of 16 bytes, in the layouts an engine hands over -- contiguous rows (on sm_90a a misaligned
// int8 row is staged into the plan's workspace for the Hopper kernel, or, without room for it, runs the portable
// kernel) and int8 rows padded to 16 bytes (a prepacked weight, a padded act_q scratch: the Hopper TMA kernel in
// place for every K, its K tail zero-filled by the copy engine). Outputs, scratch and workspace are poisoned first;
// the pad columns of strided outputs and scratch must stay untouched, and on the staged path the workspace's staged
// rows must hold the operands bit for bit (linear_check.h), which is how these tests know the staged Hopper path ran
// where the workspace had room (and the portable kernel where it had not). Skips without a GPU.
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "qjit/linear.h"
#include "tests/gpu/linear_check.h"
#include "tests/support/device.h"

namespace qjit::testing {
namespace {

constexpr std::int64_t kMs[] = {1, 16, 128, 2048};

// Pad that rounds `k` int8 elements up to a multiple of 16 bytes.
std::int64_t pad16(std::int64_t k) { return (16 - k % 16) % 16; }

// Whether the plans on this GPU stage (the Hopper family, sm_90a, not turned off): then the staged path is asserted
// where the workspace has room; elsewhere the cases still run and are checked, staging is not required.
bool stages_here() {
  const char* off = std::getenv("QJIT_DISABLE_SM90");
  return gpu().has_value() && gpu()->arch == 90 && !(off != nullptr && std::strcmp(off, "1") == 0);
}
int must_stage(bool staged) { return stages_here() ? (staged ? 1 : 0) : -1; }

struct OddShape {
  std::int64_t n, k;
};
constexpr OddShape kOddK[] = {{4096, 4095}, {4096, 4100}, {4096, 4104}, {4096, 11009}, {1024, 13653}};
constexpr OddShape kOddN[] = {{4097, 4096}, {5003, 4096}, {13653, 4096}};

// Contiguous rows with K % 16 != 0, the workspace sized by workspace_size: both int8 operands staged, the Hopper
// kernel on the copies (QuantizedLinear's pass writes its staged region; act_q_scratch stays untouched).
TEST(OddShapesGpuTest, OddKContiguousRowsTakeTheStagedHopperPath) {
  QJIT_REQUIRE_GPU();
  for (const OddShape& s : kOddK)
    for (std::int64_t m : kMs) {
      LinearCase c{m, s.n, s.k, true};
      c.expect_staged = must_stage(true);
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq " << c.to_string();
    }
}

// The same views with one byte less workspace than staging needs (an engine that sized it before staging existed):
// the portable kernel, never a refusal, same results.
TEST(OddShapesGpuTest, OddKWithoutRoomToStageRunsThePortableKernel) {
  QJIT_REQUIRE_GPU();
  if (!stages_here()) GTEST_SKIP() << "the workspace-room cases need the staging Hopper family (sm_90a)";
  for (std::int64_t k : {4095, 4100, 4104, 11009})
    for (std::int64_t m : kMs) {
      LinearCase c{m, 4096, k, m % 2 == 0};
      c.workspace = CaseWorkspace::Short;
      c.expect_staged = 0;
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq " << c.to_string();
    }
}

// One operand padded, the other contiguous: only the misaligned one is staged (a pre-padded weight costs no copy).
TEST(OddShapesGpuTest, OddKStagesOnlyTheMisalignedOperand) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t k : {4095, 4100, 11009})
    for (std::int64_t m : {16, 2048}) {
      LinearCase c{m, 4096, k, true};
      c.weight_row_pad = pad16(k);  // pre-padded weight; QuantizedLinear's scratch and SmoothQuant's act_q contiguous
      c.scratch_row_pad = 0;
      c.expect_staged = must_stage(true);
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
      LinearCase w{m, 4096, k, false};
      w.act_row_pad = pad16(k);  // padded activation rows, contiguous weight: the weight alone is staged
      w.expect_staged = must_stage(true);
      EXPECT_TRUE(check_quantized_linear<bf16>(w)) << w.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(w)) << "sq " << w.to_string();
    }
}

TEST(OddShapesGpuTest, OddKWithPaddedInt8RowsReadsThemInPlace) {
  QJIT_REQUIRE_GPU();
  for (const OddShape& s : kOddK)
    for (std::int64_t m : kMs) {
      LinearCase c{m, s.n, s.k, true};
      c.weight_row_pad = pad16(s.k);
      c.scratch_row_pad = pad16(s.k);  // QuantizedLinear: the FP activation stays contiguous, the scratch is padded
      c.expect_staged = must_stage(false);
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
      c.expect_staged = must_stage(false);
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

// Odd N and odd K together: the staged weight region has an odd row count; outputs strided with an odd pad.
TEST(OddShapesGpuTest, OddNAndOddKStageWithStridedOutputs) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t n : {4097, 5003})
    for (std::int64_t m : kMs) {
      LinearCase c{m, n, 4100, true};
      c.out_row_pad = 5;
      c.expect_staged = must_stage(true);
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq " << c.to_string();
      if (!stages_here()) continue;
      c.workspace = CaseWorkspace::Short;
      c.expect_staged = 0;
      EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
    }
}

// K = 4096 with an activation row stride of 4104 (legal: >= K; 4104 bytes is not a multiple of 16): the plan must
// take it (issue 15: it was refused by run() naming an internal field). workspace_size has no staged rows for K % 16
// == 0, so a workspace of that size runs the portable kernel; qjit::staged_workspace_size gives room to stage.
TEST(OddShapesGpuTest, AlignedKWithMisalignedActivationStride) {
  QJIT_REQUIRE_GPU();
  for (CaseWorkspace ws : {CaseWorkspace::Plan, CaseWorkspace::Staged})
    for (std::int64_t m : kMs) {
      // One activation row is read in place (its stride is never followed); more rows stage where there is room.
      const int staged = must_stage(ws == CaseWorkspace::Staged && m > 1);
      LinearCase c{m, 4096, 4096, true, /*act_row_pad=*/8, /*out_row_pad=*/5};
      c.workspace = ws;
      c.expect_staged = staged;
      EXPECT_TRUE(check_smooth_quant_linear<bf16>(c)) << "sq " << c.to_string();
      c.scratch_row_pad = 0;  // QuantizedLinear: bf16 rows of 4104 elements are 16-byte aligned; scratch contiguous
      c.expect_staged = must_stage(false);
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      c.scratch_row_pad = 8;  // a misaligned scratch stride: staged (the pass writes the region) or portable
      c.expect_staged = staged;
      EXPECT_TRUE(check_quantized_linear<bf16>(c)) << c.to_string();
      c.scratch_row_pad = -1;
      c.weight_row_pad = 4;  // a misaligned weight stride too: staged wherever there is room
      c.expect_staged = must_stage(ws == CaseWorkspace::Staged);
      EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
      if (ws == CaseWorkspace::Staged && stages_here()) {
        c.workspace = CaseWorkspace::Short;  // one byte short of both regions: portable
        c.expect_staged = 0;
        EXPECT_TRUE(check_smooth_quant_linear<f16>(c)) << "sq " << c.to_string();
      }
    }
}

// The pre-pack helper: a contiguous odd-K weight copied to rows of preferred_row_stride(K) on the device, each row's
// K bytes exact and the destination's pad bytes left as they were (poisoned here), from misaligned sources too.
TEST(OddShapesGpuTest, PadWeightRowsCopiesRowsToPreferredStride) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t k : {4095, 4100, 11009})
    for (std::int64_t src_offset : {0, 1}) {
      const std::int64_t n = 4097, ld = preferred_row_stride(k);
      std::vector<std::int8_t> w(static_cast<std::size_t>(n * k + 1));
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::int8_t>((i * 2654435761u) >> 13);
      DeviceBuffer d_src(w.size()), d_dst(static_cast<std::size_t>(n * ld));
      QJIT_ASSERT_OK(d_src.upload(w));
      QJIT_ASSERT_OK(d_dst.fill_bytes(0x5a));
      QJIT_ASSERT_OK(
          pad_weight_rows(Stream(), d_src.get<std::int8_t>() + src_offset, n, k, k, d_dst.get<std::int8_t>()));
      QJIT_ASSERT_OK(synchronize());
      auto got = d_dst.download_as<std::int8_t>(static_cast<std::size_t>(n * ld));
      ASSERT_TRUE(got.has_value()) << got.error().to_string();
      for (std::int64_t r = 0; r < n; ++r) {
        for (std::int64_t j = 0; j < k; ++j)
          ASSERT_EQ((*got)[static_cast<std::size_t>(r * ld + j)], w[static_cast<std::size_t>(src_offset + r * k + j)])
              << "row " << r << " col " << j << " k=" << k << " src offset " << src_offset;
        for (std::int64_t j = k; j < ld; ++j)
          ASSERT_EQ((*got)[static_cast<std::size_t>(r * ld + j)], 0x5a) << "pad byte written, row " << r;
      }
    }
}

}  // namespace
}  // namespace qjit::testing
