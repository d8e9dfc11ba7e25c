// KernelSpec / TileConfig basics: M bucketing, arch options, shared-memory limits, printable forms, and TileConfig
// holding one family's own config type: the family follows from the type, equality and printing are the held
// config's, every family has a type, and the flat TileFields record maps back to the same config.
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
  d = Sm80Tile{.stages = 3};
  EXPECT_NE(c, d);
  // The printed forms of the flat struct, byte for byte (tuning records, `qjit inspect` and logs show them).
  EXPECT_EQ(TileConfig(Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2}).to_string(),
            "gemm_sm90 128x256x128 c2 s4 sk1");
  EXPECT_EQ(TileConfig(Sm90Tile{.block_m = 8, .block_n = 64, .stages = 8, .consumers = 1, .swap_ab = true}).to_string(),
            "gemm_sm90 8x64x128 c1 swap_ab s8 sk1");
  const Sm90Tile pair{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 2, .pingpong = true, .cluster_m = 2};
  EXPECT_EQ(pair.to_string(), "gemm_sm90 128x128x128 c2 pingpong cluster2x1 s6 sk1");
  EXPECT_EQ(TileConfig(QuantizeTile{.rows_per_cta = 1, .threads_per_row = 160}).to_string(),
            "quantize 1x160x1 w1x1 s1 sk1");
}

TEST(CodegenKernelSpec, TileConfigHoldsOneFamilysConfig) {
  const TileConfig sm80 = Sm80Tile{.block_m = 64, .block_n = 64, .warps_n = 2};
  const TileConfig sm90 = Sm90Tile{.block_m = 64, .block_n = 64};
  const TileConfig quantize = QuantizeTile{.rows_per_cta = 2, .threads_per_row = 128};
  EXPECT_EQ(sm80.family(), KernelFamily::GemmSm80);
  EXPECT_EQ(sm90.family(), KernelFamily::GemmSm90);
  EXPECT_EQ(quantize.family(), KernelFamily::Quantize);
  EXPECT_TRUE(sm90.holds<Sm90Tile>());
  EXPECT_FALSE(sm90.holds<Sm80Tile>());
  ASSERT_NE(sm90.get_if<Sm90Tile>(), nullptr);
  EXPECT_EQ(sm90.get_if<Sm90Tile>()->block_m, 64);
  EXPECT_EQ(sm90.get_if<Sm80Tile>(), nullptr);
  EXPECT_EQ(quantize.as<QuantizeTile>().threads_per_row, 128);
  // Configs of two families never compare equal, even where their flat records share values.
  EXPECT_NE(sm80, sm90);
  EXPECT_EQ(sm80, TileConfig(Sm80Tile{.block_m = 64, .block_n = 64, .warps_n = 2}));
}

TEST(CodegenKernelSpec, EveryFamilyHasAConfigTypeAndItsFlatRecordRoundTrips) {
  for (const TileConfig& c : {TileConfig(Sm80Tile{.block_m = 16, .block_n = 32, .block_k = 128, .split_k = 4}),
                              TileConfig(Sm90Tile{.block_m = 128, .block_n = 128, .consumers = 2, .cluster_m = 2}),
                              TileConfig(QuantizeTile{.rows_per_cta = 8, .threads_per_row = 32})}) {
    auto back = TileConfig::from_fields(c.family(), c.fields());
    ASSERT_TRUE(back.has_value()) << c.to_string() << ": " << back.error().message();
    EXPECT_EQ(*back, c);
  }
  for (KernelFamily f : {KernelFamily::Quantize, KernelFamily::GemmSm80, KernelFamily::GemmSm90}) {
    auto some = TileConfig::from_fields(f, TileFields{.block_m = 16, .block_n = 64});
    // A family whose fixed fields differ from the defaults refuses the record naming one; none lacks a type.
    if (some) {
      EXPECT_EQ(some->family(), f);
    } else {
      EXPECT_EQ(some.error().message().find("has no config type"), std::string::npos) << some.error().message();
    }
  }
  // The flat record of gemm_sm80 carries no Hopper fields: consumers 0, no swap, no ping-pong, no cluster.
  EXPECT_EQ(TileConfig(Sm80Tile{}).fields(), (TileFields{.block_m = 128,
                                                         .block_n = 128,
                                                         .block_k = 64,
                                                         .warps_m = 2,
                                                         .warps_n = 4,
                                                         .stages = 4,
                                                         .split_k = 1,
                                                         .consumers = 0}));
  auto refused = TileConfig::from_fields(KernelFamily::GemmSm80, TileFields{.block_k = 64, .consumers = 2});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message(),
            "field 'consumers' must be 0 for family gemm_sm80 (it has no such field), got 2");
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
