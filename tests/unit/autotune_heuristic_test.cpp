// Heuristic tile choices per M bucket and the candidate spaces: every choice and every candidate passes the
// family's validation, small M streams the weight with BM = 16 tiles, large M takes the big tiles, sm_89's smaller
// shared memory is respected, split-K only appears when allowed.
#include <gtest/gtest.h>

#include <algorithm>

#include "autotune/candidates.h"
#include "autotune/heuristic.h"
#include "codegen/gemm_s8_sm80.h"
#include "codegen/quantize_rowwise.h"

namespace qjit::autotune {
namespace {

using qjit::ElementKind;
using codegen::KernelOp;
using codegen::KernelSpec;
using codegen::TileConfig;

KernelSpec gemm(std::int64_t n, std::int64_t k, int bucket, int arch = 90) {
  KernelSpec s;
  s.op = KernelOp::GemmS8;
  s.in_element = ElementKind::S8;
  s.out_element = ElementKind::BF16;
  s.n = n;
  s.k = k;
  s.m_bucket = bucket;
  s.arch = arch;
  return s;
}

TEST(AutotuneHeuristic, GemmChoicePerBucketIsValid) {
  for (int arch : {80, 89, 90})
    for (std::int64_t n : {1, 4096, 11008, 13653, 32000})
      for (std::int64_t k : {1, 17, 4096, 4100, 11008})
        for (int bucket = 1; bucket <= 4096; bucket *= 2) {
          const KernelSpec s = gemm(n, k, bucket, arch);
          const TileConfig c = heuristic_config(s, 132);
          EXPECT_TRUE(codegen::validate_gemm_s8_sm80(s, c).ok()) << s.to_string() << " " << c.to_string();
          EXPECT_EQ(c.split_k, 1);
        }
}

TEST(AutotuneHeuristic, GemmSmallMStreamsTheWeightLargeMUsesBigTiles) {
  const TileConfig decode = heuristic_config(gemm(4096, 4096, 1), 132);
  EXPECT_EQ(decode.block_m, 16);
  EXPECT_GE((4096 + decode.block_n - 1) / decode.block_n, 128);  // about one CTA per SM or more
  EXPECT_GE(decode.stages * decode.block_k, 512);                 // deep pipeline: >= 512 bytes of K in flight
  EXPECT_EQ(heuristic_config(gemm(4096, 4096, 16), 132).block_m, 16);
  EXPECT_EQ(heuristic_config(gemm(4096, 4096, 32), 132).block_m, 32);
  const TileConfig big = heuristic_config(gemm(4096, 4096, 4096), 132);
  EXPECT_EQ(big.block_m * big.block_n, 256 * 128);
  EXPECT_EQ(big.block_k, 128);
  EXPECT_EQ(heuristic_config(gemm(8192, 8192, 1), 132).block_n, 64);  // 128 tiles of 64: about one per SM
  // M = 128 with N = 4096: a 128x128 tile gives only 32 CTAs, so a smaller tile is chosen.
  const TileConfig mid = heuristic_config(gemm(4096, 4096, 128), 132);
  EXPECT_LT(mid.block_m * mid.block_n, 128 * 128);
  EXPECT_EQ(heuristic_config(gemm(4096, 4096, 1), 0), decode);  // unknown SM count = 132
}

TEST(AutotuneHeuristic, QuantizeChoiceFitsK) {
  for (ElementKind in : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
    for (std::int64_t k : {1, 16, 17, 4096, 4100, 14336, 28672, 1 << 20})
      for (int bucket : {1, 128, 256, 2048, 4096}) {
        const KernelSpec s = codegen::quantize_spec(KernelOp::QuantizeRowwise, in, k, bucket, 90);
        const TileConfig c = heuristic_config(s, 132);
        EXPECT_TRUE(codegen::validate_quantize(s, c).ok()) << s.to_string() << " " << c.to_string();
      }
  const TileConfig c = heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 1, 90), 132);
  EXPECT_EQ(c.block_n, 256);  // decode: one 16-element chunk per thread, the whole row in flight
  EXPECT_EQ(c.block_m, 1);
  const TileConfig prefill =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 8192, 90), 132);
  EXPECT_EQ(prefill.block_n, 128);  // 128 threads a row for M > 2048
  EXPECT_EQ(prefill.block_m, 2);
  const TileConfig mid =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 14336, 2048, 90), 132);
  EXPECT_EQ(mid.block_n, 224);  // 896 chunks split evenly: 4 a thread
  const TileConfig wide =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 28672, 8192, 90), 132);
  EXPECT_EQ(wide.block_n, 256);  // long rows at large M: about seven chunks a thread, at most 256 threads
  // A row that splits into exactly four chunks a thread over at most 384 threads stays in registers.
  const TileConfig even =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 20480, 8192, 90), 132);
  EXPECT_EQ(even.block_n, 320);
  EXPECT_EQ(even.block_m, 1);
  const TileConfig uneven =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 11008, 8192, 90), 132);
  EXPECT_EQ(uneven.block_n, 128);  // 688 chunks: no multiple of 32 in [128, 384] divides them
  const TileConfig k5120 =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 5120, 2048, 90), 132);
  EXPECT_EQ(k5120.block_n, 160);  // 320 chunks, two a thread
  const TileConfig k8192 =
      heuristic_config(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 8192, 2048, 90), 132);
  EXPECT_EQ(k8192.block_n, 256);  // the base rule already splits evenly (2 a thread): kept
}

TEST(AutotuneCandidates, EveryCandidateIsValidAndTheHeuristicLeads) {
  for (int arch : {80, 89, 90})
    for (int bucket : {1, 16, 64, 256, 4096}) {
      const KernelSpec s = gemm(13653, 4100, bucket, arch);
      for (bool split : {false, true}) {
        const auto list = candidate_configs(s, CandidateOptions{split, 132});
        ASSERT_FALSE(list.empty());
        EXPECT_EQ(list.front(), heuristic_config(s, 132));
        for (const TileConfig& c : list) {
          EXPECT_TRUE(codegen::validate_gemm_s8_sm80(s, c).ok()) << c.to_string();
          EXPECT_LE(c.block_m, std::max(16, bucket));
          if (!split || bucket > 64) {
            EXPECT_EQ(c.split_k, 1) << c.to_string();
          }
        }
      }
    }
  const auto with_split = candidate_configs(gemm(4096, 4096, 1), CandidateOptions{true, 132});
  EXPECT_TRUE(std::any_of(with_split.begin(), with_split.end(), [](const TileConfig& c) { return c.split_k > 1; }));
  for (ElementKind in : {ElementKind::F16, ElementKind::F64}) {
    const KernelSpec q = codegen::quantize_spec(KernelOp::QuantizeRowwise, in, 4096, 1, 90);
    const auto list = candidate_configs(q);
    EXPECT_GE(list.size(), 3u);
    for (const TileConfig& c : list) EXPECT_TRUE(codegen::validate_quantize(q, c).ok()) << c.to_string();
  }
}

}  // namespace
}  // namespace qjit::autotune
