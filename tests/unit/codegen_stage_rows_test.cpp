// The staging copy (codegen/stage_rows.h, templates/stage_rows.cuh) without a GPU: deterministic rendering with
// entries that name K and the CTA shape, validation messages that name the field, the quantize family serving it
// with its own heuristic, REAL NVRTC compiles for sm_80, sm_89 and sm_90a over K from 1 to odd lengths (every
// candidate config at one K), the programmatic-launch pair on sm_90a only, and a probe of StageRowsParams'
// device-side layout against the host's.
#include <cstddef>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_params.h"
#include "codegen/stage_rows.h"
#include "jit/kernel_family.h"
#include "llvm/Support/FormatVariadic.h"
#include "runtime/nvrtc.h"
#include "tests/support/nvrtc_compile.h"

namespace qjit::codegen {
namespace {

QuantizeTile qcfg(int rows, int tpr) { return QuantizeTile{.rows_per_cta = rows, .threads_per_row = tpr}; }

const jit::KernelFamilyRuntime& family_of(const KernelSpec& s) { return jit::FamilyRegistry::process().for_spec(s); }

TEST(CodegenStageRows, RenderIsDeterministicWithEntriesNamingKAndShape) {
  const KernelSpec s = stage_rows_spec(4100, 16, 90);
  auto a = render_stage_rows(s, qcfg(1, 256));
  auto b = render_stage_rows(s, qcfg(1, 256));
  ASSERT_TRUE(a.has_value()) << a.status().to_string();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->text, b->text);
  EXPECT_EQ(a->entry, "qjit_stage_rows_k4100_r1_t256");
  EXPECT_EQ(a->threads, 256);
  // The text depends on K and the CTA shape only, not on the M bucket or the arch.
  auto other_bucket = render_stage_rows(stage_rows_spec(4100, 2048, 80), qcfg(1, 256));
  ASSERT_TRUE(other_bucket.has_value());
  EXPECT_EQ(other_bucket->text, a->text);
  std::set<std::string> entries;
  for (std::int64_t k : {1, 4095, 4100})
    for (const QuantizeTile& t : {qcfg(1, 256), qcfg(8, 32), qcfg(64, 4)}) {
      auto r = render_stage_rows(stage_rows_spec(k, 1, 90), t);
      ASSERT_TRUE(r.has_value()) << r.status().to_string();
      EXPECT_TRUE(entries.insert(r->entry).second) << r->entry;
    }
  EXPECT_EQ(kernel_op_name(KernelOp::StageRows), "stage_rows");
  EXPECT_EQ(parse_kernel_op("stage_rows"), KernelOp::StageRows);
  EXPECT_NE(s.to_string().find("stage_rows s8->s8 k=4100"), std::string::npos) << s.to_string();
}

TEST(CodegenStageRows, ValidationNamesTheField) {
  KernelSpec s = stage_rows_spec(4100, 1, 90);
  s.in_element = ElementKind::BF16;
  EXPECT_NE(validate_stage_rows(s, qcfg(1, 256)).message().find("spec.in_element"), std::string::npos);
  s = stage_rows_spec(0, 1, 90);
  EXPECT_NE(validate_stage_rows(s, qcfg(1, 256)).message().find("spec.k must be in [1, 2^30], got 0"),
            std::string::npos);
  s = stage_rows_spec(4100, 1, 75);
  EXPECT_EQ(validate_stage_rows(s, qcfg(1, 256)).code(), StatusCode::Unsupported);
  s = stage_rows_spec(4100, 1, 90);
  s.has_bias = true;
  EXPECT_NE(validate_stage_rows(s, qcfg(1, 256)).message().find("spec.has_bias"), std::string::npos);
  EXPECT_NE(validate_stage_rows(stage_rows_spec(64, 1, 90), qcfg(3, 7)).message().find("config.threads_per_row"),
            std::string::npos);
  KernelSpec gemm;
  EXPECT_NE(validate_stage_rows(gemm, qcfg(1, 256)).message().find("spec.op must be stage_rows"), std::string::npos);
  // The family's render refuses another family's config, naming config.family.
  const Result<Source> wrong = family_of(stage_rows_spec(64, 1, 90)).render(stage_rows_spec(64, 1, 90), Sm90Tile{});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.status().message().find("config.family"), std::string::npos);
}

TEST(CodegenStageRows, TheQuantizeFamilyServesItWithOneChunkAThreadUpTo256) {
  for (std::int64_t k : {1, 17, 4096, 4100, 13653}) {
    const KernelSpec s = stage_rows_spec(k, 16, 90);
    const jit::KernelFamilyRuntime& f = family_of(s);
    EXPECT_EQ(f.id(), KernelFamily::Quantize) << k;
    const TileConfig h = f.heuristic(s, 132);
    const QuantizeTile* t = h.get_if<QuantizeTile>();
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(f.validate(s, h).ok()) << h.to_string();
    EXPECT_EQ(t->rows_per_cta * t->threads_per_row, 256) << h.to_string();
    EXPECT_GE(t->threads_per_row * 16, std::min<std::int64_t>(k, 256 * 16)) << h.to_string();
    const runtime::LaunchDims d = f.launch_dims(s, h, 2048, 132);
    EXPECT_EQ(d.grid[0], static_cast<unsigned>((2048 + t->rows_per_cta - 1) / t->rows_per_cta));
    EXPECT_TRUE(d.programmatic);
    jit::CandidateOptions o;
    for (const TileConfig& c : f.candidates(s, o)) EXPECT_TRUE(f.validate(s, c).ok()) << c.to_string();
  }
  EXPECT_FALSE(
      family_of(stage_rows_spec(64, 1, 80)).launch_dims(stage_rows_spec(64, 1, 80), qcfg(8, 32), 1, 108).programmatic);
}

// ---- NVRTC ----

using CompileOutcome = qjit::testing::NvrtcOutcome;
using qjit::testing::nvrtc_compile;
#define SKIP_WITHOUT_NVRTC() QJIT_SKIP_WITHOUT_NVRTC()

TEST(CodegenStageRows, NvrtcCompilesEveryKAndConfigOnEveryArch) {
  SKIP_WITHOUT_NVRTC();
  for (int arch : {80, 89, 90})
    for (std::int64_t k : {1, 15, 16, 4095, 4096, 4100, 11009, 13653}) {
      const KernelSpec s = stage_rows_spec(k, 16, arch);
      const TileConfig h = family_of(s).heuristic(s, 132);
      auto src = render_stage_rows(s, h.as<QuantizeTile>());
      ASSERT_TRUE(src.has_value()) << src.status().to_string();
      const CompileOutcome out = nvrtc_compile(src->text, src->entry, arch);
      EXPECT_TRUE(out.ok) << src->entry << " for " << arch_option(arch) << ":\n" << out.log;
      EXPECT_EQ(out.log.find("warning"), std::string::npos) << src->entry << ":\n" << out.log;
      // 16-byte loads and stores, and the programmatic-launch pair exactly where the arch has it.
      EXPECT_NE(out.ptx.find("ld.global.nc.v4.u32"), std::string::npos) << src->entry;
      EXPECT_NE(out.ptx.find("st.global.v4.u32"), std::string::npos) << src->entry;
      EXPECT_EQ(out.ptx.find("griddepcontrol.wait") != std::string::npos, arch >= 90) << src->entry;
    }
  const KernelSpec s = stage_rows_spec(4100, 16, 90);
  jit::CandidateOptions o;
  for (const TileConfig& c : family_of(s).candidates(s, o)) {
    auto src = render_stage_rows(s, c.as<QuantizeTile>());
    ASSERT_TRUE(src.has_value()) << src.status().to_string();
    const CompileOutcome out = nvrtc_compile(src->text, src->entry, 90);
    EXPECT_TRUE(out.ok) << src->entry << ":\n" << out.log;
  }
}

// NVRTC has no offsetof: a probe kernel traps when a device-side offset differs from the host's.
std::string probe_source(std::size_t src_offset) {
  std::string probe(find_template("common.cuh"));
  probe.append("\n").append(find_template("stage_rows.cuh")).append("\n");
  probe += llvm::formatv("static_assert(sizeof(qjitk::StageRowsParams) == {0}, \"size\");\n", sizeof(StageRowsParams));
  probe +=
      "extern \"C\" __global__ void qjit_stage_param_probe(const __grid_constant__ qjitk::StageRowsParams p) {\n"
      "  const char* pb = (const char*)&p;\n";
#define QJIT_PROBE(f, expected) \
  probe += llvm::formatv("  if ((const char*)&p." #f " - pb != {0}) asm volatile(\"trap;\");\n", expected);
  QJIT_PROBE(src, src_offset)
  QJIT_PROBE(lds, offsetof(StageRowsParams, lds))
  QJIT_PROBE(dst, offsetof(StageRowsParams, dst))
  QJIT_PROBE(ldd, offsetof(StageRowsParams, ldd))
  QJIT_PROBE(m, offsetof(StageRowsParams, m))
#undef QJIT_PROBE
  probe += "}\n";
  return probe;
}

TEST(CodegenStageRows, ParamStructLayoutMatchesHostOnEveryArch) {
  SKIP_WITHOUT_NVRTC();
  for (int arch : {80, 89, 90}) {
    const CompileOutcome c =
        nvrtc_compile(probe_source(offsetof(StageRowsParams, src)), "qjit_stage_param_probe", arch);
    ASSERT_TRUE(c.ok) << c.log;
    EXPECT_NE(c.ptx.find(".b8 qjit_stage_param_probe_param_0[40]"), std::string::npos) << c.ptx;
    EXPECT_EQ(c.ptx.find("trap"), std::string::npos) << arch_option(arch) << ": a field offset differs";
  }
  const CompileOutcome bad = nvrtc_compile(probe_source(8), "qjit_stage_bad_probe", 90);  // the probe can fail
  ASSERT_TRUE(bad.ok) << bad.log;
  EXPECT_NE(bad.ptx.find("trap"), std::string::npos);
}

}  // namespace
}  // namespace qjit::codegen
