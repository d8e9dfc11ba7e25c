// The GEMM epilogue's arithmetic contract, checked without a GPU: both families' rendered sources compute
// y = (a_scale * b_scale) * f32(acc) (+ bias) with explicitly rounded steps (common.cuh's EpilogueMath), so the PTX
// NVRTC makes of every output type x bias variant, for both families on sm_90a, holds mul.rn / add.rn and no fused
// multiply-add of floating-point values, whatever --fmad defaults to; and the compile options qjit passes relax
// nothing (no fast-math, no flush-to-zero, no approximate division). tests/gpu/gemm_families_bitwise_test.cpp checks
// on a GPU that the two families then give the same bits.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"
#include "codegen/gemm_s8_sm90.h"
#include "runtime/nvrtc.h"

namespace qjit::codegen {
namespace {

struct Variant {
  ElementKind out;
  bool bias;
};
std::vector<Variant> variants() {
  std::vector<Variant> v;
  for (ElementKind out : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
    for (bool bias : {false, true}) v.push_back({out, bias});
  return v;
}

// Checks the epilogue instructions of one compiled variant; `what` names it in failures.
void expect_contract(const std::string& ptx, const Variant& v, const std::string& what) {
  const bool f64 = v.out == ElementKind::F64;
  EXPECT_EQ(ptx.find("fma.rn.f32"), std::string::npos) << what << ": a contracted f32 multiply-add";
  EXPECT_EQ(ptx.find("fma.rn.f64"), std::string::npos) << what << ": a contracted f64 multiply-add";
  EXPECT_EQ(ptx.find(".ftz.f32"), std::string::npos) << what << ": flush-to-zero arithmetic";
  EXPECT_NE(ptx.find(f64 ? "mul.rn.f64" : "mul.rn.f32"), std::string::npos) << what << ": no explicit mul.rn";
  if (v.bias) {
    EXPECT_NE(ptx.find(f64 ? "add.rn.f64" : "add.rn.f32"), std::string::npos) << what << ": no add.rn";
  }
}

const runtime::Nvrtc* nvrtc_or_null() {
  auto n = runtime::nvrtc();
  return n.has_value() ? *n : nullptr;
}

TEST(GemmArithContract, CompileOptionsRelaxNoFloatingPointRule) {
  for (const std::string& o : runtime::default_compile_options()) {
    for (const char* bad : {"fast_math", "fast-math", "fmad=true", "ftz=true", "prec-div=false", "prec-sqrt=false"})
      EXPECT_EQ(o.find(bad), std::string::npos) << "compile option " << o << " relaxes the arithmetic contract";
  }
}

TEST(GemmArithContract, BothFamiliesEpiloguesAreExplicitlyRoundedInPtx) {
  const runtime::Nvrtc* nvrtc = nvrtc_or_null();
  if (nvrtc == nullptr) GTEST_SKIP() << "NVRTC is not loadable here";
  for (const Variant& v : variants()) {
    // sm90 family: a staged (prefill) and a direct (swap AB, decode) epilogue.
    for (const Sm90Tile& config :
         {Sm90Tile{.block_m = 128, .block_n = 128, .stages = 4, .consumers = 2},
          Sm90Tile{.block_m = 16, .block_n = 128, .stages = 6, .consumers = 1, .swap_ab = true}}) {
      const KernelSpec spec{.out_element = v.out, .n = 4096, .k = 4096, .has_bias = v.bias, .arch = 90};
      auto src = render_gemm_s8_sm90(spec, config);
      ASSERT_TRUE(src.has_value()) << src.error().to_string();
      EXPECT_NE(src->text.find("EpilogueMath"), std::string::npos) << src->entry;
      auto out = nvrtc->compile(src->text, src->entry + ".cu", "sm_90a", runtime::default_compile_options());
      ASSERT_TRUE(out.has_value()) << out.error().to_string();
      expect_contract(out->ptx, v, src->entry);
    }
    // sm80 family, compiled for sm_90a as it runs on Hopper.
    KernelSpec spec;
    spec.op = KernelOp::GemmS8;
    spec.in_element = ElementKind::S8;
    spec.out_element = v.out;
    spec.n = 4096;
    spec.k = 4096;
    spec.has_bias = v.bias;
    spec.arch = 90;
    const Sm80Tile cfg{.block_m = 128, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4};
    auto src = render_gemm_s8_sm80(spec, cfg);
    ASSERT_TRUE(src.has_value()) << src.error().to_string();
    EXPECT_NE(src->text.find("EpilogueMath"), std::string::npos) << src->entry;
    auto out = nvrtc->compile(src->text, src->entry + ".cu", "sm_90a", runtime::default_compile_options());
    ASSERT_TRUE(out.has_value()) << out.error().to_string();
    expect_contract(out->ptx, v, src->entry);
  }
}

}  // namespace
}  // namespace qjit::codegen
