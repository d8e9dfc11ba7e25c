// GPU tests of the staging copy (templates/stage_rows.cuh): the kernel the linear plans launch for each int8 operand
// the Hopper GEMM's TMA cannot read in place. Random int8 rows at every base offset within 16 bytes and at row
// strides that are not multiples of 16 (odd ones too), K from 1 to odd lengths past one CTA's reach, every config of
// the quantize family's candidate list for one K. The destination is poisoned first: each row must hold the source's
// K bytes, then zeros up to the next multiple of 16, then the poison (nothing past it is written). Skips without a
// GPU; the plans' use of it is held by odd_shapes_test.cpp.
#include "codegen/stage_rows.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/kernel_params.h"
#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "qjit/linear.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

constexpr std::uint8_t kPoison = 0xA5;

struct CopyCase {
  std::int64_t k, rows, src_stride;
  int offset;  // the source base's offset past a 256-byte aligned allocation
  std::string to_string() const {
    return "K=" + std::to_string(k) + " rows=" + std::to_string(rows) + " src_stride=" + std::to_string(src_stride) +
           " offset=" + std::to_string(offset);
  }
};

::testing::AssertionResult check_copy(const CopyCase& c, const codegen::QuantizeTile* tile = nullptr) {
  const codegen::KernelSpec spec = codegen::stage_rows_spec(c.k, codegen::m_bucket_of(c.rows), gpu()->arch);
  const jit::KernelFamilyRuntime& family = jit::FamilyRegistry::process().for_spec(spec);
  const codegen::TileConfig config = tile ? codegen::TileConfig(*tile) : family.heuristic(spec, gpu()->sm_count);
  auto bound = jit::bind_kernel_with(spec, config, *gpu());
  if (!bound) return ::testing::AssertionFailure() << "binding: " << bound.error().to_string();
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const std::size_t src_bytes = static_cast<std::size_t>(c.offset + (c.rows - 1) * c.src_stride + c.k);
  std::vector<std::uint8_t> src(src_bytes);
  for (auto& b : src) b = static_cast<std::uint8_t>(rng());
  const std::int64_t ldd = preferred_row_stride(c.k);
  const std::size_t dst_bytes = static_cast<std::size_t>(c.rows * ldd);
  DeviceBuffer d_src(src_bytes), d_dst(dst_bytes);
  if (!d_src.status().ok() || !d_dst.status().ok()) return ::testing::AssertionFailure() << "allocation failed";
  Status s = d_src.upload(src);
  if (s.ok()) s = d_dst.fill_bytes(kPoison);
  codegen::StageRowsParams p{};
  p.src = d_src.get<std::uint8_t>() + c.offset;
  p.lds = c.src_stride;
  p.dst = d_dst.get();
  p.ldd = ldd;
  p.m = static_cast<std::int32_t>(c.rows);
  if (s.ok()) s = bound->kernel->launch(jit::launch_dims(*bound, c.rows), nullptr, &p);
  if (s.ok()) s = synchronize();
  if (!s.ok()) return ::testing::AssertionFailure() << "launch: " << s.to_string();
  auto dst = d_dst.download_as<std::uint8_t>(dst_bytes);
  if (!dst) return ::testing::AssertionFailure() << "download: " << dst.error().to_string();
  const std::int64_t padded = (c.k + 15) / 16 * 16;
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (std::int64_t j = 0; j < ldd; ++j) {
      const std::uint8_t got = (*dst)[static_cast<std::size_t>(r * ldd + j)];
      const std::uint8_t want = j < c.k      ? src[static_cast<std::size_t>(c.offset + r * c.src_stride + j)]
                                : j < padded ? 0
                                             : kPoison;
      if (got != want)
        return ::testing::AssertionFailure() << bound->entry << " " << c.to_string() << ": dst[" << r << "," << j
                                             << "] = " << int(got) << ", want " << int(want)
                                             << (j < c.k      ? " (the source byte)"
                                                 : j < padded ? " (zero to the 16-byte chunk's end)"
                                                              : " (untouched)")
                                             << ", seed " << seed;
    }
  return ::testing::AssertionSuccess();
}

TEST(StageRowsGpuTest, EveryOffsetAndStrideCopiesTheRowsAndNothingElse) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t k : {1, 15, 16, 17, 100, 4095, 4096, 4100, 11009})
    for (int offset : {0, 1, 3, 8, 15})
      for (std::int64_t extra : {0, 1, 8, 16, 37}) {
        const std::int64_t rows = k > 4096 ? 9 : 33;
        EXPECT_TRUE(check_copy({k, rows, k + extra, offset}));
      }
  // Issue 15's sliced act_q: K = 4096 at row stride 4104, decode and prefill row counts; a one-row view.
  for (std::int64_t rows : {1, 16, 128, 2048}) EXPECT_TRUE(check_copy({4096, rows, 4104, 0}));
  EXPECT_TRUE(check_copy({13653, 1, 13653, 5}));
}

TEST(StageRowsGpuTest, EveryCandidateConfigCopiesTheSameBytes) {
  QJIT_REQUIRE_GPU();
  const codegen::KernelSpec spec = codegen::stage_rows_spec(4100, 16, gpu()->arch);
  jit::CandidateOptions options;
  options.sm_count = gpu()->sm_count;
  const auto candidates = jit::FamilyRegistry::process().for_spec(spec).candidates(spec, options);
  ASSERT_GE(candidates.size(), 3u);
  for (const codegen::TileConfig& c : candidates) {
    const auto* tile = c.get_if<codegen::QuantizeTile>();
    ASSERT_NE(tile, nullptr) << c.to_string();
    EXPECT_TRUE(check_copy({4100, 37, 4103, 7}, tile)) << c.to_string();
  }
}

}  // namespace
}  // namespace qjit::testing
