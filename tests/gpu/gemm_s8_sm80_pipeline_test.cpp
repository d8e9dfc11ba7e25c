// GPU tests of the portable GEMM's mainloop at the kernel level, with forced tile configs (the plans pick configs by
// heuristic, so these reach the pipeline's edge cases directly): K of exactly one k tile, less than one, a partial
// last tile, fewer k tiles than pipeline stages, many more; BK = 32 (one mma k step per tile, the odd-buffer case),
// 2 stages, split-K; K % 16 != 0 (the predicated byte path) and misaligned operands on a K % 16 == 0 kernel (the
// out-of-line fallback path); M and N tails. The output is f64 with unit scales and no bias, so it must equal the
// exact int32 accumulation bit for bit. Skips without a GPU; configs the device's shared memory cannot hold are
// skipped with a note.
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"
#include "ops/config_choice.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

using codegen::Sm80Tile;

struct PipelineCase {
  Sm80Tile cfg;
  std::int64_t m, n, k;
  std::int64_t pad = 0;  // lda = ldb = K + pad (an odd pad misaligns rows: the byte path on a K % 16 == 0 kernel)
  std::string to_string() const {
    return cfg.to_string() + " M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k) +
           (pad ? " ld=K+" + std::to_string(pad) : "");
  }
};

// Runs one case; returns a failure naming the first wrong element (or the reason it could not run).
::testing::AssertionResult run_case(const PipelineCase& c) {
  const runtime::DeviceInfo& device = *gpu();
  codegen::KernelSpec spec;
  spec.op = codegen::KernelOp::GemmS8;
  spec.in_element = ElementKind::S8;
  spec.out_element = ElementKind::F64;
  spec.n = c.n;
  spec.k = c.k;
  spec.m_bucket = codegen::m_bucket_of(c.m);
  spec.has_bias = false;
  spec.per_token_scale = false;
  spec.arch = ops::target_arch(device);
  if (!codegen::validate_gemm_s8_sm80(spec, c.cfg).ok()) {
    std::printf("[ skipped ] %s: %s\n", c.to_string().c_str(),
                codegen::validate_gemm_s8_sm80(spec, c.cfg).to_string().c_str());
    return ::testing::AssertionSuccess();
  }
  auto bound = ops::bind_kernel_with(spec, c.cfg, device);
  if (!bound) return ::testing::AssertionFailure() << "bind: " << bound.error().to_string();

  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const std::int64_t ld = c.k + c.pad;
  std::vector<std::int8_t> a = random_int8(static_cast<std::size_t>(c.m * ld), rng);
  std::vector<std::int8_t> b_padded = random_int8(static_cast<std::size_t>(c.n * ld), rng);
  std::vector<std::int8_t> b(static_cast<std::size_t>(c.n * c.k));
  for (std::int64_t j = 0; j < c.n; ++j)
    for (std::int64_t t = 0; t < c.k; ++t) b[j * c.k + t] = b_padded[j * ld + t];
  const std::vector<float> ones(static_cast<std::size_t>(c.n), 1.0f);

  // One extra byte in front of each operand: with an odd pad the rows are misaligned anyway; the offset makes the
  // base pointers misaligned too in that case, and is 16 otherwise (aligned).
  const std::size_t front = c.pad % 2 ? 1 : 16;
  DeviceBuffer da(front + a.size()), db(front + b_padded.size()), dscale(ones.size() * 4),
      dc(static_cast<std::size_t>(c.m * c.n) * 8);
  const std::size_t ws_bytes = ops::kernel_workspace_bytes(spec, c.cfg, c.m);
  DeviceBuffer dws(std::max<std::size_t>(ws_bytes, 16));
  for (const DeviceBuffer* buf : {&da, &db, &dscale, &dc, &dws})
    if (!buf->status().ok()) return ::testing::AssertionFailure() << buf->status().to_string();
  if (Status s = da.upload(a.data(), a.size(), front); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = db.upload(b_padded.data(), b_padded.size(), front); !s.ok())
    return ::testing::AssertionFailure() << s.to_string();
  if (Status s = dscale.upload(ones); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = dc.fill_bytes(0xFF); !s.ok()) return ::testing::AssertionFailure() << s.to_string();  // NaN poison

  codegen::GemmS8Params p{};
  p.a = da.get<char>() + front;
  p.b = db.get<char>() + front;
  p.lda = ld;
  p.ldb = ld;
  p.a_scale = nullptr;
  p.a_scale_value = 1.0f;
  p.b_scale = dscale.get<float>();
  p.bias = nullptr;
  p.c = dc.get();
  p.ldc = c.n;
  p.m = static_cast<std::int32_t>(c.m);
  p.workspace = ws_bytes > 0 ? dws.get() : nullptr;
  const bool fast = codegen::gemm_s8_sm80_takes_fast_path(spec, p.a, p.b, p.lda, p.ldb);
  if (fast != (c.k % 16 == 0 && c.pad % 16 == 0))
    return ::testing::AssertionFailure() << "the case does not take the intended path (fast=" << fast << ")";
  if (Status s = ops::launch_gemm(*bound, p, ws_bytes, nullptr); !s.ok())
    return ::testing::AssertionFailure() << "launch: " << s.to_string();
  if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto out = dc.download_as<double>(static_cast<std::size_t>(c.m * c.n));
  if (!out) return ::testing::AssertionFailure() << out.error().to_string();

  const std::vector<std::int64_t> ref = reference_gemm_s8(a, ld, b, c.m, c.n, c.k);
  for (std::int64_t i = 0; i < c.m; ++i)
    for (std::int64_t j = 0; j < c.n; ++j) {
      const double got = (*out)[static_cast<std::size_t>(i * c.n + j)];
      const double want = static_cast<double>(ref[static_cast<std::size_t>(i * c.n + j)]);
      if (got != want)  // NOTE: exact: unit scales and f64 output make the epilogue the identity on int32
        return ::testing::AssertionFailure() << "output[" << i << "," << j << "] = " << got << ", want " << want << " ("
                                             << (fast ? "vector" : "byte") << " path, seed " << seed << ")";
    }
  return ::testing::AssertionSuccess();
}

// K values around one config's k tile: less than one, exactly one, two, a partial last tile, more tiles than
// stages, plus one K % 16 != 0 (byte path).
std::vector<std::int64_t> ks_around(const Sm80Tile& cfg) {
  const std::int64_t bk = cfg.block_k;
  return {bk / 2, bk, 2 * bk, 3 * bk + 16, (cfg.stages + 2) * bk, bk + 7};
}

void run_config(const Sm80Tile& cfg, std::int64_t m, std::int64_t n) {
  for (std::int64_t k : ks_around(cfg)) {
    const PipelineCase c{cfg, m, n, k};
    EXPECT_TRUE(run_case(c)) << c.to_string();
  }
  // Misaligned rows and bases on the K % 16 == 0 kernel: the out-of-line byte path.
  const PipelineCase mis{cfg, m, n, 2 * cfg.block_k, 3};
  EXPECT_TRUE(run_case(mis)) << mis.to_string();
}

TEST(GemmS8Sm80PipelineGpuTest, LargeTile256x128x128FourStages) {
  QJIT_REQUIRE_GPU();
  // Two M tiles (one partial), two N tiles (one partial).
  run_config(Sm80Tile{.block_m = 256, .block_n = 128, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 4}, 300,
             200);
}

TEST(GemmS8Sm80PipelineGpuTest, LargeTile128x256x128ThreeStages) {
  QJIT_REQUIRE_GPU();
  run_config(Sm80Tile{.block_m = 128, .block_n = 256, .block_k = 128, .warps_m = 2, .warps_n = 4, .stages = 3}, 130,
             300);
}

TEST(GemmS8Sm80PipelineGpuTest, Tile128x128x64AndTwoStages) {
  QJIT_REQUIRE_GPU();
  run_config(Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 4}, 129,
             131);
  run_config(Sm80Tile{.block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 2}, 65, 63);
}

TEST(GemmS8Sm80PipelineGpuTest, OneMmaKStepPerTile_BK32) {
  QJIT_REQUIRE_GPU();
  run_config(Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 32, .warps_m = 2, .warps_n = 4, .stages = 4}, 100,
             129);
  run_config(Sm80Tile{.block_m = 64, .block_n = 64, .block_k = 32, .warps_m = 2, .warps_n = 2, .stages = 3}, 17, 70);
}

TEST(GemmS8Sm80PipelineGpuTest, SmallMTilesAndSplitK) {
  QJIT_REQUIRE_GPU();
  run_config(Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6}, 3, 200);
  run_config(Sm80Tile{.block_m = 16, .block_n = 32, .block_k = 128, .warps_m = 1, .warps_n = 2, .stages = 8}, 1, 100);
  // Split-K needs a K tile per split: K = 8 tiles of 128 over 4 splits, and the byte path with 3 splits.
  for (const PipelineCase& c :
       {PipelineCase{
            Sm80Tile{
                .block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6, .split_k = 4},
            5, 130, 1024},
        PipelineCase{
            Sm80Tile{
                .block_m = 32, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 5, .split_k = 2},
            33, 64, 1000},
        PipelineCase{
            Sm80Tile{
                .block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6, .split_k = 3},
            2, 100, 1024, 5}})
    EXPECT_TRUE(run_case(c)) << c.to_string();
}

}  // namespace
}  // namespace qjit::testing
