// Codegen for gemm_sm80 without compiling: rendering is deterministic and embeds the template, entry names are
// unique per (spec, config), every validation error path names its field, launch geometry and split-K workspace.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"

namespace qjit::codegen {
namespace {

KernelSpec spec(ElementKind out = ElementKind::BF16, std::int64_t n = 4096, std::int64_t k = 4096, bool bias = true,
                bool per_token = true, int arch = 90) {
  KernelSpec s;
  s.op = KernelOp::GemmS8;
  s.in_element = ElementKind::S8;
  s.out_element = out;
  s.n = n;
  s.k = k;
  s.has_bias = bias;
  s.per_token_scale = per_token;
  s.arch = arch;
  return s;
}

TEST(CodegenGemmS8Sm80, RenderIsDeterministicAndSelfContained) {
  auto a = render_gemm_s8_sm80(spec(), Sm80Tile{});
  auto b = render_gemm_s8_sm80(spec(), Sm80Tile{});
  ASSERT_TRUE(a.has_value()) << a.status().to_string();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->text, b->text);
  EXPECT_EQ(a->entry, "qjit_gemm_s8_sm80_n4096_k4096_bm128_bn128_bk64_wm2_wn4_s4_sk1_bf16_bias_pt");
  EXPECT_EQ(a->threads, 256);
  EXPECT_EQ(a->dynamic_smem_bytes, 4 * 256 * 64);
  EXPECT_EQ(a->text.find("#include"), std::string::npos);
  EXPECT_NE(a->text.find("extern \"C\" __global__"), std::string::npos);
  EXPECT_NE(a->text.find(a->entry + "(const __grid_constant__ qjitk::GemmS8Params p)"), std::string::npos);
  EXPECT_NE(a->text.find("GemmS8Sm80<4096, 4096, 128, 128, 64, 2, 4, 4, 1, qjitk::bf16, true, true>"),
            std::string::npos);
}

TEST(CodegenGemmS8Sm80, SourceIgnoresMBucketAndArchButNotAnythingElse) {
  KernelSpec s = spec();
  auto base = render_gemm_s8_sm80(s, Sm80Tile{});
  s.m_bucket = 64;
  s.arch = 80;
  auto same = render_gemm_s8_sm80(s, Sm80Tile{});
  ASSERT_TRUE(base.has_value() && same.has_value());
  EXPECT_EQ(base->text, same->text);
}

TEST(CodegenGemmS8Sm80, EntryNamesAreUniquePerSpecAndConfig) {
  std::set<std::string> entries, texts;
  int count = 0;
  for (ElementKind out : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
    for (bool bias : {false, true})
      for (bool pt : {false, true})
        for (std::int64_t n : {4096, 13653})
          for (std::int64_t k : {4096, 4100})
            for (const Sm80Tile& c :
                 {Sm80Tile{}, Sm80Tile{.block_m = 64, .block_n = 64, .warps_n = 2},
                  Sm80Tile{.block_m = 64, .block_n = 64, .block_k = 128, .warps_n = 2},
                  Sm80Tile{.block_m = 64, .block_n = 64, .warps_m = 1, .warps_n = 2},
                  Sm80Tile{.block_m = 64, .block_n = 64, .warps_n = 2, .stages = 3},
                  Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .stages = 6, .split_k = 2}}) {
              auto r = render_gemm_s8_sm80(spec(out, n, k, bias, pt), c);
              ASSERT_TRUE(r.has_value()) << r.status().to_string();
              entries.insert(r->entry);
              texts.insert(r->text);
              ++count;
            }
  EXPECT_EQ(entries.size(), static_cast<std::size_t>(count));
  EXPECT_EQ(texts.size(), static_cast<std::size_t>(count));
}

void expect_invalid(const KernelSpec& s, const Sm80Tile& c, const std::string& field, StatusCode code) {
  const Status st = validate_gemm_s8_sm80(s, c);
  EXPECT_EQ(st.code(), code) << st.to_string();
  EXPECT_NE(st.message().find(field), std::string::npos) << st.to_string();
  EXPECT_FALSE(render_gemm_s8_sm80(s, c).has_value());
}

TEST(CodegenGemmS8Sm80, ValidationNamesTheField) {
  EXPECT_TRUE(validate_gemm_s8_sm80(spec(), Sm80Tile{}).ok());
  KernelSpec s = spec();
  s.op = KernelOp::QuantizeRowwise;
  expect_invalid(s, Sm80Tile{}, "spec.op", StatusCode::InvalidArgument);
  s = spec();
  s.in_element = ElementKind::F16;
  expect_invalid(s, Sm80Tile{}, "spec.in_element", StatusCode::InvalidArgument);
  expect_invalid(spec(ElementKind::S32), Sm80Tile{}, "spec.out_element", StatusCode::InvalidArgument);
  expect_invalid(spec(ElementKind::F16, 0), Sm80Tile{}, "spec.n", StatusCode::InvalidArgument);
  expect_invalid(spec(ElementKind::F16, 64, 0), Sm80Tile{}, "spec.k", StatusCode::InvalidArgument);
  expect_invalid(spec(ElementKind::F16, 64, 64, false, true, 75), Sm80Tile{}, "spec.arch", StatusCode::Unsupported);
  // A config of another family cannot reach this function (its type is Sm80Tile); the family object refuses one
  // naming config.family (JitFamilyRegistry.EachFamilyValidatesOnlyItsOwnConfigs).
  expect_invalid(spec(), Sm80Tile{.block_k = 48}, "config.block_k", StatusCode::InvalidArgument);
  expect_invalid(spec(), Sm80Tile{.block_m = 40}, "config.block_m", StatusCode::InvalidArgument);
  expect_invalid(spec(), Sm80Tile{.block_n = 72}, "config.block_n", StatusCode::InvalidArgument);
  expect_invalid(spec(), Sm80Tile{.warps_m = 0}, "config.warps_m", StatusCode::InvalidArgument);
  expect_invalid(spec(), Sm80Tile{.block_m = 256, .block_n = 256}, "accumulators per thread",
                 StatusCode::InvalidArgument);
  expect_invalid(spec(), Sm80Tile{.stages = 1}, "config.stages", StatusCode::InvalidArgument);
  expect_invalid(spec(), Sm80Tile{.split_k = 0}, "config.split_k", StatusCode::InvalidArgument);
  // K = 4096 has 64 tiles of 64: split 64 is fine, but K = 17 has one tile, so split 2 leaves one empty.
  EXPECT_TRUE(validate_gemm_s8_sm80(spec(), Sm80Tile{.block_m = 16, .block_n = 64, .warps_m = 1, .split_k = 64}).ok());
  expect_invalid(spec(ElementKind::F16, 64, 17), Sm80Tile{.block_m = 16, .block_n = 64, .warps_m = 1, .split_k = 2},
                 "config.split_k", StatusCode::InvalidArgument);
  // 128x128x128 x 4 stages = 128 KiB: fine on sm_90a and sm_80, too much for sm_89's 99 KiB.
  EXPECT_TRUE(
      validate_gemm_s8_sm80(spec(ElementKind::F16, 4096, 4096, false, true, 80), Sm80Tile{.block_k = 128}).ok());
  expect_invalid(spec(ElementKind::F16, 4096, 4096, false, true, 89), Sm80Tile{.block_k = 128}, "shared memory",
                 StatusCode::OutOfResources);
}

TEST(CodegenGemmS8Sm80, LaunchGeometryPutsMOnX) {
  const LaunchDims d = gemm_s8_sm80_launch(spec(ElementKind::F16, 13653), Sm80Tile{}, 1000);
  EXPECT_EQ(d.grid[0], 8u);    // ceil(1000 / 128)
  EXPECT_EQ(d.grid[1], 107u);  // ceil(13653 / 128)
  EXPECT_EQ(d.grid[2], 1u);
  EXPECT_EQ(d.block[0], 256u);
  EXPECT_EQ(d.block[1], 1u);
  EXPECT_EQ(d.dynamic_smem_bytes, 65536u);
  const LaunchDims big = gemm_s8_sm80_launch(spec(), Sm80Tile{}, (std::int64_t{1} << 31) - 1);
  EXPECT_EQ(big.grid[0], 16777216u);
  EXPECT_EQ(
      gemm_s8_sm80_launch(
          spec(), Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .stages = 6, .split_k = 4}, 1)
          .grid[2],
      4u);
}

TEST(CodegenGemmS8Sm80, SplitKWorkspaceHoldsPartialsThenCounters) {
  EXPECT_EQ(gemm_s8_sm80_workspace_bytes(spec(), Sm80Tile{}, 4096), 0u);
  const Sm80Tile c = Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .stages = 6, .split_k = 4};
  // M = 1: one M tile, 64 N tiles; 4 splits of 16x64 int32 partials, then 64 counters.
  const std::size_t partials = 4u * 64u * 16u * 64u * 4u;
  EXPECT_EQ(gemm_s8_sm80_counters_offset(spec(), c, 1), partials);
  EXPECT_EQ(gemm_s8_sm80_workspace_bytes(spec(), c, 1), partials + 64u * 4u);
  EXPECT_GT(gemm_s8_sm80_workspace_bytes(spec(), c, 17), gemm_s8_sm80_workspace_bytes(spec(), c, 16));
}

TEST(CodegenGemmS8Sm80, AlignmentRequirementsAndFastPath) {
  const GemmAlignment a = gemm_s8_sm80_requirements(spec(ElementKind::F32, 13653, 4100), Sm80Tile{});
  EXPECT_EQ(a.c_align_bytes, 4u);
  EXPECT_EQ(a.min_lda, 4100);
  EXPECT_EQ(a.min_ldc, 13653);
  EXPECT_FALSE(a.k_allows_fast_path);
  EXPECT_TRUE(gemm_s8_sm80_requirements(spec(), Sm80Tile{}).k_allows_fast_path);
  alignas(16) static char buf[64];
  EXPECT_TRUE(gemm_s8_sm80_takes_fast_path(spec(), buf, buf + 16, 4096, 4096));
  EXPECT_FALSE(gemm_s8_sm80_takes_fast_path(spec(), buf + 1, buf, 4096, 4096));
  EXPECT_FALSE(gemm_s8_sm80_takes_fast_path(spec(), buf, buf, 4104, 4096));
  EXPECT_FALSE(gemm_s8_sm80_takes_fast_path(spec(ElementKind::F16, 64, 4100), buf, buf, 4112, 4112));
}

}  // namespace
}  // namespace qjit::codegen
