// The SASS summary's parsers on captured cuobjdump output (CUDA 13, an sm_90a quantize kernel): instruction
// mnemonics counted by their base name with predicates and encoding-only lines skipped, and the resource usage of
// the named function picked out of several.
#if QJIT_HAVE_TOOLS
#include <gtest/gtest.h>

#include "tools/sass_summary.h"

namespace qjit {
namespace {

constexpr const char* kSass = R"sass(
	code for sm_90a
	.target	sm_90a

		Function : qjit_quantize_rowwise_bf16_k4096_r2_t128
	.headerflags	@"EF_CUDA_ACCELERATORS EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
        /*0000*/                   LDC R1, c[0x0][0x28] ;                                 /* 0x00000a00ff017b82 */
                                                                                          /* 0x000fe20000000800 */
        /*0010*/                   S2R R46, SR_TID.X ;                                    /* 0x00000000002e7919 */
                                                                                          /* 0x000e220000002100 */
        /*0020*/                   ULDC UR4, c[0x0][0x220] ;                              /* 0x0000880000047ab9 */
        /*0060*/                   ULDC.64 UR6, c[0x0][0x218] ;                           /* 0x0000860000067ab9 */
        /*0260*/               @P1 BRA 0x1060 ;                                           /* 0x0000000c007c1947 */
        /*0270*/              @!PT IGMMA.64x128x32.S8.S8 R24, gdesc[UR4], R24 ;           /* 0x0000000c007c1947 */
        /*13c0*/               @P1 EXIT ;                                                 /* 0x000000000000194d */
        .L_x_3:
        /*13d0*/                   BRA `(.L_x_3) ;
)sass";

constexpr const char* kUsage = R"(
Resource usage:
 Common:
  GLOBAL:21 CONSTANT[4]:48
 Function qjit_other_kernel:
  REG:32 STACK:0 SHARED:0 LOCAL:0 CONSTANT[0]:584 TEXTURE:0 SURFACE:0 SAMPLER:0
 Function qjit_quantize_rowwise_bf16_k4096_r2_t128:
  REG:56 STACK:8 SHARED:1056 LOCAL:24 CONSTANT[0]:584 TEXTURE:0 SURFACE:0 SAMPLER:0
)";

TEST(ToolsSassSummaryTest, CountsBaseMnemonicsSkippingEncodingsAndPredicates) {
  tools::SassSummary s;
  tools::count_sass_mnemonics(kSass, &s);
  EXPECT_EQ(s.instructions, 8);
  EXPECT_EQ(s.count("ULDC"), 2);  // ULDC and ULDC.64
  EXPECT_EQ(s.count("BRA"), 2);   // "@P1 BRA" and the unpredicated one
  EXPECT_EQ(s.count("IGMMA"), 1);
  EXPECT_EQ(s.count("EXIT"), 1);
  EXPECT_EQ(s.count("LDC"), 1);
  EXPECT_EQ(s.count("S2R"), 1);
  ASSERT_FALSE(s.mnemonics.empty());
  EXPECT_EQ(s.mnemonics[0].second, 2);  // most frequent first
}

TEST(ToolsSassSummaryTest, ResourceUsageOfTheNamedFunction) {
  tools::SassSummary s;
  tools::parse_resource_usage(kUsage, "qjit_quantize_rowwise_bf16_k4096_r2_t128", &s);
  ASSERT_TRUE(s.registers.has_value());
  EXPECT_EQ(*s.registers, 56);
  EXPECT_EQ(s.local_bytes, 24);
  EXPECT_EQ(s.stack_bytes, 8);
  tools::SassSummary none;
  tools::parse_resource_usage(kUsage, "qjit_missing", &none);
  EXPECT_FALSE(none.registers.has_value());
}

}  // namespace
}  // namespace qjit
#endif  // QJIT_HAVE_TOOLS
