// The fused norm + quantize kernels without a GPU: deterministic rendering with unique entries, validation messages
// that name the field, the quantize family's heuristic and candidates for them, and REAL NVRTC compiles for sm_80,
// sm_89 and sm_90a of every norm x input type x residual x scale mode, odd K and rows not kept in registers included,
// with a probe of NormQuantizeParams' device-side layout and a check that the PTX holds no approximate arithmetic.
#include <cstddef>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_params.h"
#include "codegen/norm_quantize.h"
#include "codegen/quantize_rowwise.h"
#include "jit/kernel_family.h"
#include "llvm/Support/FormatVariadic.h"
#include "runtime/nvrtc.h"
#include "tests/support/nvrtc_compile.h"

namespace qjit::codegen {
namespace {

QuantizeTile qcfg(int rows, int tpr) { return QuantizeTile{.rows_per_cta = rows, .threads_per_row = tpr}; }

KernelSpec norm(KernelOp op, ElementKind in, std::int64_t k, bool dynamic = true, bool residual = false,
                int arch = 90, int bucket = 1) {
  return norm_quantize_spec(op, in, k, bucket, arch, dynamic, residual);
}

constexpr KernelOp kOps[] = {KernelOp::RmsNormQuantize, KernelOp::LayerNormQuantize};
constexpr ElementKind kInputs[] = {ElementKind::F16, ElementKind::BF16, ElementKind::F32};

TEST(CodegenNormQuantize, RenderIsDeterministicWithUniqueEntries) {
  std::set<std::string> entries;
  int count = 0;
  for (KernelOp op : kOps)
    for (ElementKind in : kInputs)
      for (bool dynamic : {true, false})
        for (bool residual : {false, true})
          for (std::int64_t k : {1, 4096, 4100}) {
            auto a = render_norm_quantize(norm(op, in, k, dynamic, residual, 90, 1), qcfg(2, 128));
            auto b = render_norm_quantize(norm(op, in, k, dynamic, residual, 80, 64), qcfg(2, 128));
            ASSERT_TRUE(a.has_value()) << a.status().to_string();
            ASSERT_TRUE(b.has_value());
            EXPECT_EQ(a->text, b->text);  // the M bucket and arch do not change the source
            EXPECT_EQ(a->threads, 256);
            EXPECT_EQ(a->text.find("#include"), std::string::npos);
            // The quantization is quantize_rowwise.cuh's own, pasted in whole.
            EXPECT_NE(a->text.find(find_template("quantize_rowwise.cuh")), std::string::npos);
            entries.insert(a->entry);
            ++count;
          }
  EXPECT_EQ(entries.size(), static_cast<std::size_t>(count));
  auto r = render_norm_quantize(norm(KernelOp::RmsNormQuantize, ElementKind::BF16, 4096, false, true), qcfg(1, 256));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->entry, "qjit_rms_norm_quantize_bf16_k4096_r1_t256_residual_static");
  EXPECT_NE(r->text.find("NormQuantizeRowwise<qjitk::bf16, 4096, 1, 256, qjitk::kRmsNorm, true, true>"),
            std::string::npos);
  EXPECT_EQ(norm(KernelOp::LayerNormQuantize, ElementKind::F16, 5120, true, true).to_string(),
            "layer_norm_quantize f16->s8 k=5120 m<=1 residual per_token sm_90a");
}

void expect_invalid(const KernelSpec& s, const QuantizeTile& c, const std::string& text) {
  const Status st = validate_norm_quantize(s, c);
  EXPECT_FALSE(st.ok()) << s.to_string() << " " << c.to_string();
  EXPECT_NE(st.message().find(text), std::string::npos) << st.to_string();
  EXPECT_FALSE(render_norm_quantize(s, c).has_value());
}

TEST(CodegenNormQuantize, ValidationNamesTheFieldAndTheExpectedValue) {
  const KernelSpec ok = norm(KernelOp::RmsNormQuantize, ElementKind::F16, 4096);
  EXPECT_TRUE(validate_norm_quantize(ok, qcfg(2, 128)).ok());
  KernelSpec s = ok;
  s.op = KernelOp::QuantizeRowwise;
  expect_invalid(s, qcfg(2, 128), "spec.op must be rms_norm_quantize or layer_norm_quantize, got quantize_rowwise");
  s = ok;
  s.in_element = ElementKind::F64;
  expect_invalid(s, qcfg(2, 128), "spec.in_element must be f16, bf16 or f32 for rms_norm_quantize, got f64");
  s = ok;
  s.k = (std::int64_t{1} << 20) + 1;
  expect_invalid(s, qcfg(1, 1024), "spec.k must be in [1, 2^20]");
  s = ok;
  s.smooth = true;
  expect_invalid(s, qcfg(2, 128), "smooth, has_bias and n are not used");
  s = ok;
  s.arch = 75;
  expect_invalid(s, qcfg(2, 128), "spec.arch must be one of 80, 86, 87, 89, 90, got 75");
  // The family's config rules, then the norm kernels' own.
  expect_invalid(ok, qcfg(1, 2048), "config.threads_per_row must be 1, 2, 4, 8, 16 or a multiple of 32");
  expect_invalid(ok, qcfg(8, 2), "config.rows_per_cta * threads_per_row (CTA threads) must be 32..1024");
  expect_invalid(ok, qcfg(1, 160), "config.threads_per_row must be a power of two for rms_norm_quantize");
  expect_invalid(ok, qcfg(32, 1), "config.threads_per_row must be >= 4 for K = 4096");
  // Another family's config reaches the norm kernels only through the family, which refuses it.
  const Status gemm = jit::quantize_family().validate(ok, Sm80Tile{});
  EXPECT_NE(gemm.message().find("config.family must be quantize, got gemm_sm80"), std::string::npos)
      << gemm.to_string();
  EXPECT_FALSE(jit::quantize_family().render(ok, Sm80Tile{}).has_value());
  // A quantize op refuses a residual (only the norm kernels add one).
  KernelSpec q = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 1, 90);
  q.residual = true;
  EXPECT_NE(validate_quantize(q, qcfg(2, 128)).message().find("spec.residual must be false"), std::string::npos);
  EXPECT_EQ(norm_min_threads_per_row(1024), 1);
  EXPECT_EQ(norm_min_threads_per_row(65536), 64);
  EXPECT_EQ(norm_min_threads_per_row(1 << 20), 1024);
}

TEST(CodegenNormQuantize, FamilyHeuristicAndCandidatesServeTheNormOps) {
  const jit::KernelFamilyRuntime& family = jit::quantize_family();
  for (KernelOp op : kOps)
    for (ElementKind in : kInputs)
      for (std::int64_t k : {1, 17, 64, 4096, 5120, 8192, 11008, 14336, 28672, 1 << 20})
        for (int bucket : {1, 16, 256, 2048, 4096}) {
          const KernelSpec s = norm(op, in, k, true, false, 90, bucket);
          SCOPED_TRACE(s.to_string());
          EXPECT_EQ(&jit::FamilyRegistry::process().for_spec(s), &family);
          const TileConfig h = family.heuristic(s, 132);
          EXPECT_TRUE(family.validate(s, h).ok()) << h.to_string() << ": " << family.validate(s, h).message();
          // The heuristic keeps the row in registers (8 chunks a thread for 16-bit inputs, 4 for f32) when it can.
          const std::int64_t chunks = (k + 15) / 16;
          const int tpr = h.as<QuantizeTile>().threads_per_row;
          const std::int64_t per_thread = (chunks + tpr - 1) / tpr;
          if (chunks <= 1024 * 4) {
            EXPECT_LE(per_thread * static_cast<std::int64_t>(element_size(in)), 16);
          }
          const auto cands = family.candidates(s, jit::CandidateOptions{});
          ASSERT_FALSE(cands.empty());
          EXPECT_EQ(cands.front(), h);
          for (const TileConfig& c : cands) EXPECT_TRUE(family.validate(s, c).ok()) << c.to_string();
        }
  // Decode rows: about one chunk a thread; prefill: one row a CTA, about three chunks a thread (measured, H200).
  EXPECT_EQ(family.heuristic(norm(KernelOp::RmsNormQuantize, ElementKind::BF16, 4096, true, false, 90, 1), 132)
                .to_string(),
            "quantize 1x256x1 w1x1 s1 sk1");
  EXPECT_EQ(family.heuristic(norm(KernelOp::RmsNormQuantize, ElementKind::BF16, 4096, true, false, 90, 8192), 132)
                .to_string(),
            "quantize 1x128x1 w1x1 s1 sk1");
  EXPECT_EQ(family.heuristic(norm(KernelOp::RmsNormQuantize, ElementKind::BF16, 14336, true, true, 90, 2048), 132)
                .to_string(),
            "quantize 1x256x1 w1x1 s1 sk1");
  EXPECT_EQ(family.heuristic(norm(KernelOp::RmsNormQuantize, ElementKind::BF16, 28672, true, false, 90, 4096), 132)
                .to_string(),
            "quantize 1x256x1 w1x1 s1 sk1");
  EXPECT_EQ(family.heuristic(norm(KernelOp::LayerNormQuantize, ElementKind::F32, 8192, true, false, 90, 8192), 132)
                .to_string(),
            "quantize 1x256x1 w1x1 s1 sk1");
  EXPECT_EQ(family.heuristic(norm(KernelOp::RmsNormQuantize, ElementKind::BF16, 64, true, false, 90, 8192), 132)
                .to_string(),
            "quantize 32x4x1 w1x1 s1 sk1");
}

// ---- NVRTC ----

using CompileOutcome = qjit::testing::NvrtcOutcome;
using qjit::testing::nvrtc_compile;
#define SKIP_WITHOUT_NVRTC() QJIT_SKIP_WITHOUT_NVRTC()

void expect_compiles(const KernelSpec& s, const QuantizeTile& c) {
  auto src = render_norm_quantize(s, c);
  ASSERT_TRUE(src.has_value()) << src.status().to_string();
  const CompileOutcome out = nvrtc_compile(src->text, src->entry, s.arch);
  EXPECT_TRUE(out.ok) << src->entry << " for " << arch_option(s.arch) << ":\n" << out.log;
  EXPECT_EQ(out.log.find("warning"), std::string::npos) << src->entry << ":\n" << out.log;
  // Every operation rounds on its own and nothing is approximate: no rsqrt/sqrt.approx/div.approx, no flush to zero,
  // no fused multiply-add but the quantizer's exact Markstein step (whose operands are the quotient's residual).
  for (const char* bad : {"rsqrt", ".approx", ".ftz"})
    EXPECT_EQ(out.ptx.find(bad), std::string::npos) << src->entry << " has " << bad;
  EXPECT_NE(out.ptx.find("sqrt.rn.f32"), std::string::npos) << src->entry;
}

TEST(CodegenNormQuantize, NvrtcCompilesEveryVariantSm90a) {
  SKIP_WITHOUT_NVRTC();
  for (KernelOp op : kOps)
    for (ElementKind in : kInputs)
      for (bool dynamic : {true, false})
        for (bool residual : {false, true}) expect_compiles(norm(op, in, 4096, dynamic, residual, 90), qcfg(2, 128));
}

TEST(CodegenNormQuantize, NvrtcCompilesShapesSm80AndSm89) {
  SKIP_WITHOUT_NVRTC();
  struct Case {
    KernelOp op;
    ElementKind in;
    std::int64_t k;
    int rows, tpr;
    bool dynamic, residual;
  };
  // Odd K (scalar tail), one row a warp and several, rows cached and re-read (K = 8192 on 32 threads: 16 chunks a
  // thread), multi-warp rows with the shared-memory level, and the largest K.
  const Case cases[] = {
      {KernelOp::RmsNormQuantize, ElementKind::F16, 1, 32, 1, true, false},
      {KernelOp::LayerNormQuantize, ElementKind::BF16, 17, 8, 32, false, true},
      {KernelOp::RmsNormQuantize, ElementKind::F32, 4100, 1, 256, true, true},
      {KernelOp::LayerNormQuantize, ElementKind::BF16, 8192, 8, 32, true, true},
      {KernelOp::RmsNormQuantize, ElementKind::BF16, 28672, 1, 256, false, false},
      {KernelOp::LayerNormQuantize, ElementKind::F16, 14336, 1, 1024, true, false},
      {KernelOp::RmsNormQuantize, ElementKind::F32, 1 << 20, 1, 1024, true, true},
  };
  for (int arch : {80, 89})
    for (const Case& k : cases)
      expect_compiles(norm(k.op, k.in, k.k, k.dynamic, k.residual, arch), qcfg(k.rows, k.tpr));
}

// NVRTC has no offsetof: a probe kernel traps when a device-side offset differs from the host's.
std::string probe_source(std::size_t x_offset) {
  std::string probe(find_template("common.cuh"));
  probe.append("\n").append(find_template("norm_quantize_params.h")).append("\n");
  probe += llvm::formatv("static_assert(sizeof(qjitk::NormQuantizeParams) == {0}, \"size\");\n",
                         sizeof(NormQuantizeParams));
  probe +=
      "extern \"C\" __global__ void qjit_norm_param_probe(const __grid_constant__ qjitk::NormQuantizeParams p) {\n"
      "  const char* pb = (const char*)&p;\n";
#define QJIT_PROBE(f, expected) \
  probe += llvm::formatv("  if ((const char*)&p." #f " - pb != {0}) asm volatile(\"trap;\");\n", expected);
  QJIT_PROBE(x, x_offset)
  QJIT_PROBE(ldx, offsetof(NormQuantizeParams, ldx))
  QJIT_PROBE(residual, offsetof(NormQuantizeParams, residual))
  QJIT_PROBE(ld_residual, offsetof(NormQuantizeParams, ld_residual))
  QJIT_PROBE(residual_out, offsetof(NormQuantizeParams, residual_out))
  QJIT_PROBE(ld_residual_out, offsetof(NormQuantizeParams, ld_residual_out))
  QJIT_PROBE(gamma, offsetof(NormQuantizeParams, gamma))
  QJIT_PROBE(beta, offsetof(NormQuantizeParams, beta))
  QJIT_PROBE(q, offsetof(NormQuantizeParams, q))
  QJIT_PROBE(ldq, offsetof(NormQuantizeParams, ldq))
  QJIT_PROBE(scale, offsetof(NormQuantizeParams, scale))
  QJIT_PROBE(static_scale, offsetof(NormQuantizeParams, static_scale))
  QJIT_PROBE(eps, offsetof(NormQuantizeParams, eps))
  QJIT_PROBE(m, offsetof(NormQuantizeParams, m))
#undef QJIT_PROBE
  probe += "}\n";
  return probe;
}

TEST(CodegenNormQuantize, ParamStructLayoutMatchesHostOnEveryArch) {
  SKIP_WITHOUT_NVRTC();
  for (int arch : {80, 89, 90}) {
    const CompileOutcome c =
        nvrtc_compile(probe_source(offsetof(NormQuantizeParams, x)), "qjit_norm_param_probe", arch);
    ASSERT_TRUE(c.ok) << c.log;
    EXPECT_NE(c.ptx.find(".b8 qjit_norm_param_probe_param_0[104]"), std::string::npos) << c.ptx;
    EXPECT_EQ(c.ptx.find("trap"), std::string::npos) << arch_option(arch) << ": a field offset differs";
  }
  const CompileOutcome bad = nvrtc_compile(probe_source(8), "qjit_norm_bad_probe", 90);  // the probe can fail
  ASSERT_TRUE(bad.ok) << bad.log;
  EXPECT_NE(bad.ptx.find("trap"), std::string::npos);
}

}  // namespace
}  // namespace qjit::codegen
