// Asymmetric activations in codegen, without a GPU: the asymmetric quantize pass (u8 / s8 codes + zero points) and
// the azp GEMM epilogue of both families render only for the specs that ask (a default spec's text has none of it:
// jit_family_pin_test pins those unchanged), get their own entry names and printed forms, refuse contradictory specs
// naming the field, and compile with the real NVRTC for sm_80, sm_89 and sm_90a (gemm_sm90: sm_90a), prefill,
// decode (swap_ab), split-K and ping-pong configs, odd N and K, every output type.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"
#include "codegen/gemm_s8_sm90.h"
#include "codegen/quantize_rowwise.h"
#include "runtime/nvrtc.h"

namespace qjit::codegen {
namespace {

KernelSpec asym_quantize(ElementKind in, ElementKind out, std::int64_t k, int arch, bool smooth = false) {
  KernelSpec s = quantize_spec(KernelOp::QuantizeRowwise, in, k, 16, arch);
  s.out_element = out;
  s.act_zero_point = true;
  s.smooth = smooth;
  return s;
}

KernelSpec azp_gemm(ElementKind out, std::int64_t n, std::int64_t k, bool bias, bool per_channel_w, int arch) {
  KernelSpec s{.op = KernelOp::GemmS8,
               .in_element = ElementKind::S8,
               .out_element = out,
               .n = n,
               .k = k,
               .has_bias = bias,
               .per_token_scale = true,
               .arch = arch};
  s.per_channel_weight_scale = per_channel_w;
  s.act_zero_point = true;
  return s;
}

Sm80Tile sm80_config() { return Sm80Tile{.block_m = 64, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2}; }
Sm80Tile sm80_split_config() {
  return Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6, .split_k = 4};
}
Sm90Tile prefill_config() { return Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2}; }
Sm90Tile decode_config() {
  return Sm90Tile{.block_m = 16, .block_n = 128, .stages = 8, .split_k = 4, .consumers = 2, .swap_ab = true};
}
Sm90Tile pingpong_config() {
  return Sm90Tile{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 2, .pingpong = true, .cluster_m = 2};
}

void expect_compiles(const Result<Source>& src, int arch) {
  auto nvrtc = runtime::nvrtc();
  ASSERT_TRUE(nvrtc.has_value()) << "NVRTC is required for the compile tests: " << nvrtc.status().to_string();
  ASSERT_TRUE(src.has_value()) << src.status().to_string();
  auto out = (*nvrtc)->compile(src->text, src->entry + ".cu", arch_option(arch), runtime::default_compile_options());
  ASSERT_TRUE(out.has_value()) << src->entry << " for " << arch_option(arch) << ": " << out.error().to_string();
  EXPECT_GT(out->cubin.size(), 1000u) << src->entry;
  EXPECT_EQ(out->log.find("warning"), std::string::npos) << src->entry << ":\n" << out->log;
}

TEST(CodegenAzp, DefaultSpecsRenderNoAzpCode) {
  KernelSpec q = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 4096, 16, 90);
  KernelSpec g = azp_gemm(ElementKind::BF16, 4096, 4096, true, true, 90);
  g.act_zero_point = false;
  auto a = render_quantize(q, QuantizeTile{.rows_per_cta = 1, .threads_per_row = 256});
  auto b = render_gemm_s8_sm80(g, sm80_config());
  auto c = render_gemm_s8_sm90(g, prefill_config());
  ASSERT_TRUE(a.has_value() && b.has_value() && c.has_value());
  for (const Source* s : {&*a, &*b, &*c}) {
    EXPECT_EQ(s->text.find("azp"), std::string::npos) << s->entry;
    EXPECT_EQ(s->text.find("Asym"), std::string::npos) << s->entry;
  }
  EXPECT_EQ(q.to_string(), "quantize_rowwise bf16->s8 k=4096 m<=16 sm_90a");
}

TEST(CodegenAzp, EntryNamesAndPrintedForms) {
  const QuantizeTile t{.rows_per_cta = 1, .threads_per_row = 256};
  std::set<std::string> entries;
  for (ElementKind out : {ElementKind::U8, ElementKind::S8}) {
    auto r = render_quantize(asym_quantize(ElementKind::F16, out, 4096, 80), t);
    ASSERT_TRUE(r.has_value()) << r.status().to_string();
    EXPECT_TRUE(entries.insert(r->entry).second) << r->entry;
    EXPECT_NE(r->text.find("QuantizeRowwiseAsym"), std::string::npos);
  }
  auto sym = render_quantize(quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 16, 80), t);
  ASSERT_TRUE(sym.has_value());
  EXPECT_TRUE(entries.insert(sym->entry).second);
  EXPECT_EQ(*entries.begin(), "qjit_quantize_rowwise_f16_k4096_r1_t256");
  EXPECT_EQ(asym_quantize(ElementKind::F16, ElementKind::U8, 4096, 80).to_string(),
            "quantize_rowwise f16->u8 k=4096 m<=16 azp sm_80");
  for (bool wpc : {true, false}) {
    auto a = render_gemm_s8_sm80(azp_gemm(ElementKind::F16, 4096, 4096, false, wpc, 80), sm80_config());
    auto b = render_gemm_s8_sm90(azp_gemm(ElementKind::F16, 4096, 4096, false, wpc, 90), prefill_config());
    ASSERT_TRUE(a.has_value()) << a.status().to_string();
    ASSERT_TRUE(b.has_value()) << b.status().to_string();
    EXPECT_TRUE(entries.insert(a->entry).second) << a->entry;
    EXPECT_TRUE(entries.insert(b->entry).second) << b->entry;
    EXPECT_NE(a->entry.find("_azp"), std::string::npos);
    EXPECT_NE(b->entry.find("_azp"), std::string::npos);
    EXPECT_NE(a->text.find("GemmS8AzpParams p"), std::string::npos);
    EXPECT_NE(b->text.find("GemmS8Sm90AzpParams p"), std::string::npos);
  }
  EXPECT_EQ(azp_gemm(ElementKind::F16, 64, 32, true, false, 80).to_string(),
            "gemm_s8 s8->f16 n=64 k=32 m<=1 bias per_token weight_scale=per_tensor azp sm_80");
}

TEST(CodegenAzp, ContradictorySpecsAreRefusedNamingTheField) {
  const QuantizeTile t{.rows_per_cta = 1, .threads_per_row = 256};
  KernelSpec u8_sym = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 64, 1, 80);
  u8_sym.out_element = ElementKind::U8;
  auto a = render_quantize(u8_sym, t);
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.status().message().find("spec.out_element must be s8, got u8"), std::string::npos);
  KernelSpec per_tensor = asym_quantize(ElementKind::F16, ElementKind::U8, 64, 80);
  per_tensor.op = KernelOp::QuantizeAbsmax;
  auto b = render_quantize(per_tensor, t);
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.status().message().find("spec.act_zero_point (asymmetric) needs op quantize_rowwise"),
            std::string::npos)
      << b.status().message();
  auto c = render_quantize(asym_quantize(ElementKind::F16, ElementKind::F16, 64, 80), t);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.status().message().find("spec.out_element must be u8 or s8 for an asymmetric quantize, got f16"),
            std::string::npos);
  KernelSpec g = azp_gemm(ElementKind::F16, 64, 64, false, true, 80);
  g.per_token_scale = false;
  auto d = render_gemm_s8_sm80(g, sm80_config());
  g.arch = 90;
  auto e = render_gemm_s8_sm90(g, prefill_config());
  for (const auto* r : {&d, &e}) {
    ASSERT_FALSE(r->has_value());
    EXPECT_NE(r->status().message().find("spec.act_zero_point"), std::string::npos) << r->status().message();
    EXPECT_NE(r->status().message().find("needs per_token_scale = true"), std::string::npos);
  }
}

TEST(CodegenAzp, AsymmetricQuantizeCompilesSm80Sm89Sm90a) {
  for (int arch : {80, 89, 90})
    for (ElementKind in : {ElementKind::F16, ElementKind::BF16, ElementKind::F32})
      expect_compiles(render_quantize(asym_quantize(in, arch == 89 ? ElementKind::S8 : ElementKind::U8, 4096, arch),
                                      QuantizeTile{.rows_per_cta = 1, .threads_per_row = 256}),
                      arch);
  // Odd K (the scalar tail), many rows per CTA, f64 input, smoothing, a multi-warp row (shared reduction).
  expect_compiles(render_quantize(asym_quantize(ElementKind::F64, ElementKind::S8, 4099, 80, true),
                                  QuantizeTile{.rows_per_cta = 4, .threads_per_row = 32}),
                  80);
  expect_compiles(render_quantize(asym_quantize(ElementKind::BF16, ElementKind::U8, 28672, 90, true),
                                  QuantizeTile{.rows_per_cta = 1, .threads_per_row = 512}),
                  90);
  expect_compiles(render_quantize(asym_quantize(ElementKind::F16, ElementKind::U8, 17, 89),
                                  QuantizeTile{.rows_per_cta = 8, .threads_per_row = 4}),
                  89);
}

TEST(CodegenAzp, Sm80AzpEpilogueCompilesSm80Sm89Sm90a) {
  for (int arch : {80, 89, 90})
    for (bool wpc : {true, false})
      expect_compiles(render_gemm_s8_sm80(azp_gemm(ElementKind::BF16, 4096, 4096, true, wpc, arch), sm80_config()),
                      arch);
  expect_compiles(render_gemm_s8_sm80(azp_gemm(ElementKind::F16, 13653, 4100, true, true, 80), sm80_split_config()),
                  80);
  expect_compiles(render_gemm_s8_sm80(azp_gemm(ElementKind::F32, 4095, 17, false, true, 89), sm80_config()), 89);
  expect_compiles(render_gemm_s8_sm80(azp_gemm(ElementKind::F64, 33, 4096, true, false, 90), sm80_config()), 90);
}

TEST(CodegenAzp, Sm90AzpEpilogueCompilesSm90a) {
  for (bool wpc : {true, false}) {
    expect_compiles(render_gemm_s8_sm90(azp_gemm(ElementKind::BF16, 4096, 4096, true, wpc, 90), prefill_config()), 90);
    expect_compiles(render_gemm_s8_sm90(azp_gemm(ElementKind::F16, 13653, 4112, false, wpc, 90), decode_config()), 90);
  }
  expect_compiles(render_gemm_s8_sm90(azp_gemm(ElementKind::F32, 4095, 4100, true, true, 90), pingpong_config()), 90);
}

}  // namespace
}  // namespace qjit::codegen
