// KernelSpec / TileConfig basics: M bucketing, arch options, shared-memory limits, printable forms.
#include <gtest/gtest.h>

#include "codegen/kernel_spec.h"

namespace qjit::codegen {
namespace {

TEST(CodegenKernelSpec, MBucketIsNextPowerOfTwoCappedAt4096) {
  EXPECT_EQ(m_bucket_of(0), 1);
  EXPECT_EQ(m_bucket_of(1), 1);
  EXPECT_EQ(m_bucket_of(2), 2);
  EXPECT_EQ(m_bucket_of(3), 4);
  EXPECT_EQ(m_bucket_of(16), 16);
  EXPECT_EQ(m_bucket_of(17), 32);
  EXPECT_EQ(m_bucket_of(127), 128);
  EXPECT_EQ(m_bucket_of(1000), 1024);
  EXPECT_EQ(m_bucket_of(4096), 4096);
  EXPECT_EQ(m_bucket_of(4097), 4096);
  EXPECT_EQ(m_bucket_of(std::int64_t{1} << 40), 4096);
}

TEST(CodegenKernelSpec, ArchOptionsAndSmemLimits) {
  EXPECT_EQ(arch_option(80), "sm_80");
  EXPECT_EQ(arch_option(89), "sm_89");
  EXPECT_EQ(arch_option(90), "sm_90a");
  EXPECT_EQ(max_dynamic_smem_bytes(80), 163 * 1024);
  EXPECT_EQ(max_dynamic_smem_bytes(89), 99 * 1024);
  EXPECT_EQ(max_dynamic_smem_bytes(90), 227 * 1024);
  EXPECT_TRUE(is_supported_arch(86));
  EXPECT_FALSE(is_supported_arch(75));
}

TEST(CodegenKernelSpec, PrintableForms) {
  KernelSpec s;
  s.op = KernelOp::GemmS8;
  s.out_element = ElementKind::BF16;
  s.n = 4096;
  s.k = 11008;
  s.m_bucket = 16;
  s.has_bias = true;
  s.arch = 90;
  EXPECT_EQ(s.to_string(), "gemm_s8 s8->bf16 n=4096 k=11008 m<=16 bias per_token sm_90a");
  TileConfig c;
  EXPECT_EQ(c.to_string(), "gemm_sm80 128x128x64 w2x4 s4 sk1");
  TileConfig d = c;
  EXPECT_EQ(c, d);
  d.stages = 3;
  EXPECT_NE(c, d);
}

TEST(CodegenKernelSpec, NamesParseBackToTheirValues) {
  for (KernelOp op :
       {KernelOp::QuantizeRowwise, KernelOp::QuantizeAbsmax, KernelOp::QuantizeApplyScale, KernelOp::GemmS8})
    EXPECT_EQ(parse_kernel_op(kernel_op_name(op)), op);
  for (KernelFamily f : {KernelFamily::Quantize, KernelFamily::GemmSm80, KernelFamily::GemmSm90})
    EXPECT_EQ(parse_kernel_family(kernel_family_name(f)), f);
  for (ElementKind e : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64, ElementKind::S8,
                        ElementKind::U8, ElementKind::S32})
    EXPECT_EQ(parse_element_name(element_name(e)), e);
  EXPECT_FALSE(parse_kernel_op("gemm"));
  EXPECT_FALSE(parse_kernel_family("GEMM_SM80"));
  EXPECT_FALSE(parse_kernel_family(""));
  EXPECT_FALSE(parse_element_name("?"));
  EXPECT_FALSE(parse_element_name("bf16 "));
}

}  // namespace
}  // namespace qjit::codegen
