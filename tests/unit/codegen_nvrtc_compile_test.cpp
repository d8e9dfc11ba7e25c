// Compiles rendered kernels with the REAL NVRTC (no mock) for sm_80, sm_89 and sm_90a: every GEMM output dtype x
// bias x scale mode on one config, a spread of tile configs (aligned and predicated K, split-K, small-M tiles) per
// arch, every quantize op x input dtype, and a probe that checks the device-side parameter structs against the
// host's (sizes and offsets), all through runtime/nvrtc.h with the default options. Skips with a reason when libnvrtc
// cannot be opened.
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/embedded_templates.h"
#include "codegen/gemm_s8_sm80.h"
#include "codegen/kernel_params.h"
#include "codegen/quantize_rowwise.h"
#include "llvm/Support/FormatVariadic.h"
#include "tests/support/nvrtc_compile.h"

namespace qjit::codegen {
namespace {

using CompileOutcome = ::qjit::testing::NvrtcOutcome;
CompileOutcome compile(const std::string& text, const std::string& name, int arch) {
  return ::qjit::testing::nvrtc_compile(text, name, arch);
}

// QJIT_DUMP_DIR=<dir> also writes each rendered source there as <entry>.sm<arch>.cu (scripts/sm80-nvcc-check.sh
// assembles them with ptxas to read register counts and spills).
void dump(const Source& src, int arch) {
  const char* dir = std::getenv("QJIT_DUMP_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::ofstream(llvm::formatv("{0}/{1}.sm{2}.cu", dir, src.entry, arch).str()) << src.text;
}

void expect_compiles(const Result<Source>& src, int arch) {
  ASSERT_TRUE(src.has_value()) << src.status().to_string();
  dump(*src, arch);
  const CompileOutcome c = compile(src->text, src->entry, arch);
  EXPECT_TRUE(c.ok) << src->entry << " for " << arch_option(arch) << ":\n" << c.log;
  // NOTE: the templates must compile warning-free too: a warning usually means an unused or truncated value.
  EXPECT_EQ(c.log.find("warning"), std::string::npos) << src->entry << ":\n" << c.log;
}

KernelSpec gemm_spec(ElementKind out, std::int64_t n, std::int64_t k, bool bias, bool per_token, int arch) {
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

// NVRTC's front end has no offsetof / __builtin_offsetof, so offsets are checked by constant folding: the probe
// kernel traps when a device-side offset differs from the host's, and the folded PTX contains "trap" only then.
std::string param_probe_source(std::size_t lda_offset_expected) {
  // common.cuh (QuantizeParams) then gemm_params.h (the GEMM blocks, one definition with the host's), as codegen
  // pastes them.
  std::string probe(find_template("common.cuh"));
  probe.append("\n").append(find_template("gemm_params.h")).append("\n");
  probe += llvm::formatv("static_assert(sizeof(qjitk::GemmS8Params) == {0}, \"GemmS8Params size\");\n",
                         sizeof(GemmS8Params));
  probe += llvm::formatv("static_assert(sizeof(qjitk::QuantizeParams) == {0}, \"QuantizeParams size\");\n",
                         sizeof(QuantizeParams));
  probe +=
      "extern \"C\" __global__ void qjit_param_probe(const __grid_constant__ qjitk::GemmS8Params g, "
      "const __grid_constant__ qjitk::QuantizeParams q) {\n"
      "  const char* gb = (const char*)&g;\n  const char* qb = (const char*)&q;\n";
#define QJIT_PROBE_FIELD(var, S, f, expected) \
  probe +=                                    \
      llvm::formatv("  if ((const char*)&" #var "." #f " - " #var "b != {0}) asm volatile(\"trap;\");\n", expected);
  QJIT_PROBE_FIELD(g, GemmS8Params, a, offsetof(GemmS8Params, a))
  QJIT_PROBE_FIELD(g, GemmS8Params, b, offsetof(GemmS8Params, b))
  QJIT_PROBE_FIELD(g, GemmS8Params, a_scale, offsetof(GemmS8Params, a_scale))
  QJIT_PROBE_FIELD(g, GemmS8Params, b_scale, offsetof(GemmS8Params, b_scale))
  QJIT_PROBE_FIELD(g, GemmS8Params, bias, offsetof(GemmS8Params, bias))
  QJIT_PROBE_FIELD(g, GemmS8Params, c, offsetof(GemmS8Params, c))
  QJIT_PROBE_FIELD(g, GemmS8Params, lda, lda_offset_expected)
  QJIT_PROBE_FIELD(g, GemmS8Params, ldb, offsetof(GemmS8Params, ldb))
  QJIT_PROBE_FIELD(g, GemmS8Params, ldc, offsetof(GemmS8Params, ldc))
  QJIT_PROBE_FIELD(g, GemmS8Params, m, offsetof(GemmS8Params, m))
  QJIT_PROBE_FIELD(g, GemmS8Params, a_scale_value, offsetof(GemmS8Params, a_scale_value))
  QJIT_PROBE_FIELD(g, GemmS8Params, workspace, offsetof(GemmS8Params, workspace))
  QJIT_PROBE_FIELD(g, GemmS8Params, tile_counters, offsetof(GemmS8Params, tile_counters))
  QJIT_PROBE_FIELD(q, QuantizeParams, x, offsetof(QuantizeParams, x))
  QJIT_PROBE_FIELD(q, QuantizeParams, ldx, offsetof(QuantizeParams, ldx))
  QJIT_PROBE_FIELD(q, QuantizeParams, q, offsetof(QuantizeParams, q))
  QJIT_PROBE_FIELD(q, QuantizeParams, ldq, offsetof(QuantizeParams, ldq))
  QJIT_PROBE_FIELD(q, QuantizeParams, scale, offsetof(QuantizeParams, scale))
  QJIT_PROBE_FIELD(q, QuantizeParams, absmax_bits, offsetof(QuantizeParams, absmax_bits))
  QJIT_PROBE_FIELD(q, QuantizeParams, m, offsetof(QuantizeParams, m))
  QJIT_PROBE_FIELD(q, QuantizeParams, smooth, offsetof(QuantizeParams, smooth))
#undef QJIT_PROBE_FIELD
  probe += "}\n";
  return probe;
}

TEST(CodegenNvrtcCompile, ParamStructLayoutMatchesHostOnEveryArch) {
  QJIT_SKIP_WITHOUT_NVRTC();
  ASSERT_FALSE(find_template("common.cuh").empty());
  ASSERT_FALSE(find_template("gemm_params.h").empty());
  const std::string probe = param_probe_source(offsetof(GemmS8Params, lda));
  for (int arch : {80, 89, 90}) {
    const CompileOutcome c = compile(probe, "qjit_param_probe", arch);
    EXPECT_TRUE(c.ok) << arch_option(arch) << ":\n" << c.log;
    ASSERT_FALSE(c.ptx.empty());
    EXPECT_NE(c.ptx.find(".b8 qjit_param_probe_param_0[96]"), std::string::npos) << c.ptx;
    EXPECT_EQ(c.ptx.find("trap"), std::string::npos) << arch_option(arch) << ": a field offset differs\n" << c.ptx;
  }
  // The probe can fail: a wrong expected offset leaves a trap in the PTX.
  const CompileOutcome bad = compile(param_probe_source(offsetof(GemmS8Params, lda) + 8), "qjit_bad_probe", 90);
  ASSERT_TRUE(bad.ok) << bad.log;
  EXPECT_NE(bad.ptx.find("trap"), std::string::npos);
}

// Every output dtype x bias x scale mode, on the default large-M config, for sm_90a.
TEST(CodegenNvrtcCompile, GemmSm80EveryEpilogueVariantSm90a) {
  QJIT_SKIP_WITHOUT_NVRTC();
  for (ElementKind out : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
    for (bool bias : {false, true})
      for (bool per_token : {false, true})
        expect_compiles(
            render_gemm_s8_sm80(
                gemm_spec(out, 4096, 4096, bias, per_token, 90),
                Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 4}),
            90);
}

// A spread of configs per arch: large tiles, mid-M tiles, small-M weight-streaming tiles, split-K, and K that is
// not a multiple of 16 (the predicated byte-load path), with odd N.
struct ArchCase {
  ElementKind out;
  std::int64_t n, k;
  bool bias, per_token;
  Sm80Tile cfg;
};

void compile_cases(int arch, const std::vector<ArchCase>& cases) {
  for (const ArchCase& c : cases)
    expect_compiles(render_gemm_s8_sm80(gemm_spec(c.out, c.n, c.k, c.bias, c.per_token, arch), c.cfg), arch);
}

const std::vector<ArchCase>& spread() {
  static const std::vector<ArchCase> cases = {
      {ElementKind::BF16, 4096, 4096, true, true,
       Sm80Tile{.block_m = 256, .block_n = 128, .block_k = 64, .warps_m = 4, .warps_n = 2, .stages = 4}},
      {ElementKind::F16, 13653, 4100, false, true,
       Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 4}},
      {ElementKind::F32, 11008, 4096, true, false,
       Sm80Tile{.block_m = 64, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4}},
      {ElementKind::F64, 4096, 17, true, true,
       Sm80Tile{.block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 3}},
      {ElementKind::BF16, 4096, 4096, false, true,
       Sm80Tile{.block_m = 16, .block_n = 32, .block_k = 128, .warps_m = 1, .warps_n = 2, .stages = 8}},
      {ElementKind::F16, 1, 1, true, true,
       Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6}},
      {ElementKind::BF16, 4096, 4096, true, true,
       Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6, .split_k = 4}},
      {ElementKind::F32, 13653, 4100, false, true,
       Sm80Tile{.block_m = 32, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 5, .split_k = 2}},
  };
  return cases;
}

TEST(CodegenNvrtcCompile, GemmSm80ConfigSpreadSm80) {
  QJIT_SKIP_WITHOUT_NVRTC();
  compile_cases(80, spread());
}
TEST(CodegenNvrtcCompile, GemmSm80ConfigSpreadSm89) {
  QJIT_SKIP_WITHOUT_NVRTC();
  compile_cases(89, spread());
}
TEST(CodegenNvrtcCompile, GemmSm80ConfigSpreadSm90a) {
  QJIT_SKIP_WITHOUT_NVRTC();
  compile_cases(90, spread());
}

// The prefill tiles with the most accumulators and fragments per thread (the register-pressure worst cases of the
// mainloop), at the deepest pipelines the arch's shared memory allows, aligned and predicated K.
TEST(CodegenNvrtcCompile, GemmSm80LargeTilesSm80AndSm90a) {
  QJIT_SKIP_WITHOUT_NVRTC();
  compile_cases(90,
                {{ElementKind::BF16, 8192, 8192, true, true,
                  Sm80Tile{.block_m = 256, .block_n = 128, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 4}},
                 {ElementKind::BF16, 8192, 8192, true, true,
                  Sm80Tile{.block_m = 128, .block_n = 256, .block_k = 128, .warps_m = 2, .warps_n = 4, .stages = 4}},
                 {ElementKind::F16, 8192, 8192, false, true,
                  Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 128, .warps_m = 2, .warps_n = 4, .stages = 4}},
                 {ElementKind::F32, 8192, 8192, true, false,
                  Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 32, .warps_m = 2, .warps_n = 4, .stages = 4}},
                 {ElementKind::F64, 13653, 4100, true, true,
                  Sm80Tile{.block_m = 256, .block_n = 128, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 4}}});
  compile_cases(80,
                {{ElementKind::BF16, 8192, 8192, true, true,
                  Sm80Tile{.block_m = 256, .block_n = 128, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 3}},
                 {ElementKind::BF16, 8192, 8192, true, true,
                  Sm80Tile{.block_m = 128, .block_n = 256, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 4}},
                 {ElementKind::F16, 13653, 4100, true, true,
                  Sm80Tile{.block_m = 128, .block_n = 256, .block_k = 128, .warps_m = 2, .warps_n = 4, .stages = 3}}});
}

TEST(CodegenNvrtcCompile, GemmSm80SmemOverLimitIsAStaticAssertOnSm89) {
  QJIT_SKIP_WITHOUT_NVRTC();
  // Render for sm_90a (227 KiB allowed) and compile for sm_89 (99 KiB): the template's own budget check fires.
  auto src = render_gemm_s8_sm80(
      gemm_spec(ElementKind::F16, 4096, 4096, false, true, 90),
      Sm80Tile{.block_m = 128, .block_n = 128, .block_k = 128, .warps_m = 2, .warps_n = 4, .stages = 4});
  ASSERT_TRUE(src.has_value()) << src.status().to_string();
  const CompileOutcome c = compile(src->text, src->entry, 89);
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.log.find("shared-memory budget"), std::string::npos) << c.log;
}

TEST(CodegenNvrtcCompile, QuantizeEveryOpAndInputTypeSm90a) {
  QJIT_SKIP_WITHOUT_NVRTC();
  for (KernelOp op : {KernelOp::QuantizeRowwise, KernelOp::QuantizeAbsmax, KernelOp::QuantizeApplyScale})
    for (ElementKind in : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64}) {
      const QuantizeTile c{.rows_per_cta = 2, .threads_per_row = 128};
      expect_compiles(render_quantize(quantize_spec(op, in, 4096, 1, 90), c), 90);
    }
}

// The smoothed variants (x / smooth[k] before quantizing) of every op, input type and arch, odd K included.
TEST(CodegenNvrtcCompile, SmoothedQuantizeEveryOpInputTypeAndArch) {
  QJIT_SKIP_WITHOUT_NVRTC();
  for (int arch : {80, 89, 90})
    for (KernelOp op : {KernelOp::QuantizeRowwise, KernelOp::QuantizeAbsmax, KernelOp::QuantizeApplyScale})
      for (ElementKind in : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64}) {
        KernelSpec s = quantize_spec(op, in, arch == 90 ? 4096 : 4100, 1, arch);
        s.smooth = true;
        const QuantizeTile c{.rows_per_cta = 2, .threads_per_row = 128};
        expect_compiles(render_quantize(s, c), arch);
      }
}

TEST(CodegenNvrtcCompile, QuantizeShapesSm80AndSm89) {
  QJIT_SKIP_WITHOUT_NVRTC();
  struct Case {
    ElementKind in;
    std::int64_t k;
    int rows, tpr;
  };
  const Case cases[] = {{ElementKind::F16, 1, 32, 1},      {ElementKind::BF16, 17, 8, 32},
                        {ElementKind::F32, 4100, 1, 256},  {ElementKind::F64, 28672, 1, 1024},
                        {ElementKind::F16, 14336, 1, 256}, {ElementKind::BF16, 64, 64, 4}};
  for (int arch : {80, 89})
    for (const Case& k : cases) {
      const QuantizeTile c{.rows_per_cta = k.rows, .threads_per_row = k.tpr};
      expect_compiles(render_quantize(quantize_spec(KernelOp::QuantizeRowwise, k.in, k.k, 1, arch), c), arch);
    }
}

}  // namespace
}  // namespace qjit::codegen
