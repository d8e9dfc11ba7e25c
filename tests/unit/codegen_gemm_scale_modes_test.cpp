// ScaledMatmul's scale modes in both GEMM families without a GPU: a per-tensor weight scale (b_scale[0]) and a
// per-tensor activation scale read from the device (a_scale[0]) render a flag-gated epilogue only for the specs that
// ask (the default specs' text has none of it: jit_family_pin_test pins those unchanged), get their own entry names
// and printed forms, refuse a contradictory spec naming the field, and compile with the real NVRTC for sm_80, sm_89
// and sm_90a (gemm_sm80) and sm_90a (gemm_sm90), prefill and decode / split-K configs, odd N and K.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"
#include "codegen/gemm_s8_sm90.h"
#include "runtime/nvrtc.h"

namespace qjit::codegen {
namespace {

struct Mode {
  bool per_token, device_act, per_channel_w;
};
// Every combination ScaledMatmulPlan launches besides the families' own (per_token + per_channel).
constexpr Mode kModes[] = {{true, false, false}, {false, true, true}, {false, true, false}};

KernelSpec spec_of(ElementKind out, std::int64_t n, std::int64_t k, bool bias, Mode m, int arch) {
  KernelSpec s{.op = KernelOp::GemmS8,
               .in_element = ElementKind::S8,
               .out_element = out,
               .n = n,
               .k = k,
               .has_bias = bias,
               .per_token_scale = m.per_token,
               .arch = arch};
  s.device_act_scale = m.device_act;
  s.per_channel_weight_scale = m.per_channel_w;
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

void expect_compiles(const Result<Source>& src, int arch) {
  auto nvrtc = runtime::nvrtc();
  ASSERT_TRUE(nvrtc.has_value()) << "NVRTC is required for the compile tests: " << nvrtc.status().to_string();
  ASSERT_TRUE(src.has_value()) << src.status().to_string();
  auto out = (*nvrtc)->compile(src->text, src->entry + ".cu", arch_option(arch), runtime::default_compile_options());
  ASSERT_TRUE(out.has_value()) << src->entry << " for " << arch_option(arch) << ": " << out.error().to_string();
  EXPECT_GT(out->cubin.size(), 1000u) << src->entry;
  EXPECT_EQ(out->log.find("warning"), std::string::npos) << src->entry << ":\n" << out->log;
}

TEST(CodegenGemmScaleModes, DefaultSpecsRenderNoScaleModeCode) {
  const Mode def{true, false, true};
  auto a = render_gemm_s8_sm80(spec_of(ElementKind::BF16, 4096, 4096, true, def, 80), sm80_config());
  auto b = render_gemm_s8_sm90(spec_of(ElementKind::BF16, 4096, 4096, true, def, 90), prefill_config());
  ASSERT_TRUE(a.has_value() && b.has_value());
  for (const Source* s : {&*a, &*b}) {
    EXPECT_EQ(s->text.find("scale modes"), std::string::npos) << s->entry;
    EXPECT_EQ(s->text.find("_scalar_w"), std::string::npos) << s->entry;
    EXPECT_EQ(s->text.find("gemm_s8_sm80_epilogue_scales"), std::string::npos) << s->entry;
  }
  EXPECT_EQ(spec_of(ElementKind::BF16, 4096, 4096, true, def, 90).to_string(),
            "gemm_s8 s8->bf16 n=4096 k=4096 m<=1 bias per_token sm_90a");
}

TEST(CodegenGemmScaleModes, ModesGetTheirOwnEntryNamesAndPrintedForms) {
  std::set<std::string> entries;
  for (Mode m : {Mode{true, false, true}, Mode{false, false, true}, kModes[0], kModes[1], kModes[2]}) {
    auto a = render_gemm_s8_sm80(spec_of(ElementKind::F16, 4096, 4096, false, m, 80), sm80_config());
    auto b = render_gemm_s8_sm90(spec_of(ElementKind::F16, 4096, 4096, false, m, 90), prefill_config());
    ASSERT_TRUE(a.has_value()) << a.status().to_string();
    ASSERT_TRUE(b.has_value()) << b.status().to_string();
    EXPECT_TRUE(entries.insert(a->entry).second) << a->entry;
    EXPECT_TRUE(entries.insert(b->entry).second) << b->entry;
  }
  EXPECT_EQ(spec_of(ElementKind::F16, 64, 32, false, kModes[2], 80).to_string(),
            "gemm_s8 s8->f16 n=64 k=32 m<=1 nobias per_tensor act_scale=device weight_scale=per_tensor sm_80");
  EXPECT_EQ(spec_of(ElementKind::F16, 64, 32, false, kModes[0], 80).to_string(),
            "gemm_s8 s8->f16 n=64 k=32 m<=1 nobias per_token weight_scale=per_tensor sm_80");
}

TEST(CodegenGemmScaleModes, DeviceActScaleWithPerTokenIsRefusedNamingTheField) {
  const Mode bad{true, true, true};
  auto a = render_gemm_s8_sm80(spec_of(ElementKind::F16, 64, 64, false, bad, 80), sm80_config());
  auto b = render_gemm_s8_sm90(spec_of(ElementKind::F16, 64, 64, false, bad, 90), prefill_config());
  for (const auto* r : {&a, &b}) {
    ASSERT_FALSE(r->has_value());
    EXPECT_EQ(r->status().code(), StatusCode::InvalidArgument);
    EXPECT_NE(r->status().message().find("spec.device_act_scale"), std::string::npos) << r->status().message();
    EXPECT_NE(r->status().message().find("per_token_scale = false"), std::string::npos) << r->status().message();
  }
}

TEST(CodegenGemmScaleModes, Sm80FamilyCompilesEveryModeSm80Sm89Sm90a) {
  for (int arch : {80, 89, 90})
    for (Mode m : kModes) {
      expect_compiles(render_gemm_s8_sm80(spec_of(ElementKind::BF16, 4096, 4096, true, m, arch), sm80_config()), arch);
    }
  // Odd N and K (the predicated load path), split-K, every output type once.
  expect_compiles(render_gemm_s8_sm80(spec_of(ElementKind::F16, 13653, 4100, true, kModes[2], 80), sm80_split_config()),
                  80);
  expect_compiles(render_gemm_s8_sm80(spec_of(ElementKind::F32, 4095, 17, false, kModes[0], 89), sm80_config()), 89);
  expect_compiles(render_gemm_s8_sm80(spec_of(ElementKind::F64, 33, 4096, true, kModes[1], 90), sm80_config()), 90);
}

TEST(CodegenGemmScaleModes, Sm90FamilyCompilesEveryModeSm90a) {
  for (Mode m : kModes) {
    expect_compiles(render_gemm_s8_sm90(spec_of(ElementKind::BF16, 4096, 4096, true, m, 90), prefill_config()), 90);
    expect_compiles(render_gemm_s8_sm90(spec_of(ElementKind::F16, 13653, 4112, false, m, 90), decode_config()), 90);
  }
  expect_compiles(render_gemm_s8_sm90(spec_of(ElementKind::F32, 4095, 4100, true, kModes[2], 90),
                                      Sm90Tile{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 2,
                                               .pingpong = true}),
                  90);
}

}  // namespace
}  // namespace qjit::codegen
