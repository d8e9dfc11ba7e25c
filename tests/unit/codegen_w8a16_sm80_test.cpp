// The weight-only int8 GEMM family (w8a16_sm80) without a GPU: validation names the field and the expected value,
// the heuristic and every candidate validate, the workspace layout, the parameter block's device layout against the
// host's, and the REAL NVRTC compiles every variant (f16 / bf16 x scale mode x zero point x bias, aligned and odd
// shapes, split-K) for sm_80, sm_89 and sm_90a warning-free, with PTX that keeps the arithmetic contract (no fused
// multiply-add, no flush-to-zero, no approximate ops; explicit sub.rn / mul.rn for the dequantization). Also the
// plan's descriptor checks (WeightOnlyLinearPlan, through the C ABI), which come before any driver call.
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_params.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_family.h"
#include "llvm/Support/FormatVariadic.h"
#include "qjit/weight_only_linear.h"
#include "runtime/cubin_info.h"
#include "tests/support/nvrtc_compile.h"

namespace qjit::codegen {
namespace {

using Compiled = ::qjit::testing::NvrtcOutcome;
Compiled compile(const std::string& text, const std::string& name, int arch) {
  return ::qjit::testing::nvrtc_compile(text, name, arch);
}

// QJIT_DUMP_DIR=<dir> writes each rendered source as <entry>.sm<arch>.cu (for ptxas register / spill checks).
void dump(const Source& src, int arch) {
  const char* dir = std::getenv("QJIT_DUMP_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::ofstream(llvm::formatv("{0}/{1}.sm{2}.cu", dir, src.entry, arch).str()) << src.text;
}

// The contract: w = RN_T(RN_f32((q - zp) * scale)), f32 sums, RN_T(acc (+ bias)); nothing fused or flushed.
void expect_contract(const std::string& ptx, const std::string& what) {
  EXPECT_EQ(ptx.find("fma.rn.f32"), std::string::npos) << what << ": a contracted f32 multiply-add";
  EXPECT_EQ(ptx.find(".ftz"), std::string::npos) << what << ": flush-to-zero arithmetic";
  EXPECT_EQ(ptx.find(".approx"), std::string::npos) << what << ": an approximate operation";
  EXPECT_NE(ptx.find("mul.rn.f32"), std::string::npos) << what << ": no explicit mul.rn (the scale)";
  EXPECT_NE(ptx.find("sub.rn.f32"), std::string::npos) << what << ": no explicit sub.rn (the zero point / magic)";
  EXPECT_NE(ptx.find("mma.sync.aligned.m16n8k16.row.col.f32"), std::string::npos)
      << what << ": no f32-accumulating mma";
}

KernelSpec spec_of(ElementKind t, std::int64_t n, std::int64_t k, int bucket, int arch, int mode, bool zp, bool bias) {
  return w8a16_spec(t, n, k, bucket, arch, bias, mode != 0, mode == 2 ? 128 : 0, zp);
}

void expect_compiles(const KernelSpec& spec, const W8A16Tile& cfg, bool check_contract) {
  auto src = render_w8a16_sm80(spec, cfg);
  ASSERT_TRUE(src.has_value()) << spec.to_string() << " " << cfg.to_string() << ": " << src.error().to_string();
  dump(*src, spec.arch);
  const Compiled c = compile(src->text, src->entry, spec.arch);
  ASSERT_TRUE(c.ok) << src->entry << " for " << arch_option(spec.arch) << ":\n" << c.log;
  EXPECT_EQ(c.log.find("warning"), std::string::npos) << src->entry << ":\n" << c.log;
  if (check_contract) expect_contract(c.ptx, src->entry + " " + arch_option(spec.arch));
}

TEST(CodegenW8A16Sm80, ValidationNamesTheFieldAndExpectedValue) {
  const KernelSpec ok = spec_of(ElementKind::BF16, 4096, 4096, 16, 90, 1, false, false);
  const W8A16Tile good{.block_m = 16, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 6};
  EXPECT_TRUE(validate_w8a16_sm80(ok, good).ok());
  auto bad = [&](KernelSpec s, W8A16Tile c, const char* needle) {
    const Status st = validate_w8a16_sm80(s, c);
    ASSERT_FALSE(st.ok()) << needle;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  W8A16Tile c = good;
  c.block_k = 16;
  bad(ok, c, "config.block_k must be 32, 64 or 128");
  c = good;
  c.block_k = 128;
  KernelSpec g64 = ok;
  g64.weight_group = 64;
  bad(g64, c, "config.block_k = 128 must divide spec.weight_group = 64");
  c = good;
  c.block_m = 64;
  c.block_k = 128;
  bad(ok, c, "(block_m / warps_m) * block_k = 8192 exceeds 4096");
  c = good;
  c.block_m = 24;
  bad(ok, c, "config.block_m must be a multiple of 16 * warps_m = 16");
  c = good;
  c.stages = 1;
  bad(ok, c, "config.stages must be in [2, 8], got 1");
  c = good;
  c.split_k = 128;
  bad(ok, c, "config.split_k must be in [1, 16]");
  KernelSpec s = ok;
  s.k = 64;
  c = good;
  c.split_k = 2;
  bad(s, c, "leaves a split without K tiles");
  s = ok;
  s.in_element = ElementKind::F32;
  s.out_element = ElementKind::F32;
  bad(s, good, "spec.in_element must be f16 or bf16, got f32");
  s = ok;
  s.out_element = ElementKind::F16;
  bad(s, good, "spec.out_element must be the activation's bf16, got f16");
  s = ok;
  s.weight_group = 32;
  bad(s, good, "spec.weight_group must be 0, 64 or 128, got 32");
  s = ok;
  s.op = KernelOp::GemmS8;
  bad(s, good, "spec.op must be w8a16_gemm");
  c = good;
  c.stages = 8;
  c.block_n = 256;
  c.block_m = 128;
  c.warps_m = 2;
  c.warps_n = 8;
  s = ok;
  s.arch = 89;
  const Status smem = validate_w8a16_sm80(s, c);
  EXPECT_EQ(smem.code(), StatusCode::OutOfResources) << smem.to_string();
}

TEST(CodegenW8A16Sm80, RegistryServesOnlyWeightOnlyGemmsAndEveryCandidateValidates) {
  const jit::FamilyRegistry& reg = jit::FamilyRegistry::process();
  for (int arch : {80, 89, 90}) {
    for (int bucket : {1, 16, 32, 64, 256, 2048, 4096}) {
      const KernelSpec s = spec_of(ElementKind::F16, 4096, 4096, bucket, arch, 2, true, true);
      const jit::KernelFamilyRuntime& f = reg.for_spec(s);
      EXPECT_EQ(f.id(), KernelFamily::W8A16Sm80) << s.to_string();
      const TileConfig h = f.heuristic(s, 132);
      EXPECT_TRUE(f.validate(s, h).ok()) << h.to_string() << ": " << f.validate(s, h).message();
      const auto cands = f.candidates(s, jit::CandidateOptions{.allow_split_k = true, .sm_count = 132});
      EXPECT_FALSE(cands.empty());
      for (const TileConfig& c : cands) EXPECT_TRUE(f.validate(s, c).ok()) << c.to_string();
      // Workspace: split-K configs reserve f32 partials then exactly one counter a tile; a buffer for M serves every
      // M' <= M.
      const jit::WorkspaceLayout w = f.workspace(s, h, bucket);
      if (h.fields().split_k > 1) {
        EXPECT_GT(w.bytes, w.counters_offset);
        EXPECT_EQ(w.counters_bytes, w.bytes - w.counters_offset);
        const W8A16Tile& t = h.as<W8A16Tile>();
        EXPECT_EQ(
            w.counters_bytes,
            static_cast<std::size_t>((bucket + t.block_m - 1) / t.block_m * ((4096 + t.block_n - 1) / t.block_n)) * 4);
        EXPECT_LE(f.workspace(s, h, 1).bytes, w.bytes);
      } else {
        EXPECT_EQ(w.bytes, 0u);
      }
    }
  }
  // The other families refuse the op, and this one refuses theirs.
  const KernelSpec w = spec_of(ElementKind::BF16, 4096, 4096, 16, 90, 1, false, false);
  EXPECT_FALSE(jit::gemm_sm90_family().accepts(w).ok());
  EXPECT_FALSE(jit::gemm_sm80_family().accepts(w).ok());
  EXPECT_FALSE(jit::quantize_family().accepts(w).ok());
  KernelSpec g;
  g.op = KernelOp::GemmS8;
  EXPECT_FALSE(jit::w8a16_sm80_family().accepts(g).ok());
  // A config of another family is refused naming config.family.
  const Status other = jit::w8a16_sm80_family().validate(w, TileConfig(Sm80Tile{}));
  EXPECT_NE(other.message().find("config.family must be w8a16_sm80"), std::string::npos) << other.message();
  // The decode heuristic takes the swap_ab layout and splits K on a 132-SM part (64 CTAs of 64 channels, x 2).
  const TileConfig d = jit::w8a16_sm80_family().heuristic(w, 132);
  EXPECT_EQ(d.to_string(), "w8a16_sm80 16x64x128 w2x4 swap_ab s4 sk2");
  // The sweep winners the rule reproduces (docs/PERF.md, sessions 13-14): the grid splits within one wave, and x of the
  // CTA's K slice may take the arch's whole shared memory.
  const struct {
    std::int64_t n, k, m;
    const char* want;
  } winners[] = {{4096, 4096, 1, "8x64x128 w2x4 swap_ab s4 sk2"},    {4096, 14336, 1, "8x64x128 w2x4 swap_ab s4 sk2"},
                 {4096, 11008, 1, "8x64x128 w2x4 swap_ab s4 sk2"},   {28672, 8192, 1, "8x256x64 w1x8 swap_ab s4 sk1"},
                 {28672, 8192, 16, "16x256x64 w1x8 swap_ab s4 sk2"}, {8192, 28672, 1, "8x256x64 w1x8 swap_ab s4 sk4"},
                 {8192, 28672, 16, "16x256x64 w1x8 swap_ab s4 sk4"}, {4096, 14336, 16, "16x64x64 w1x4 s6 sk4"}};
  for (const auto& t : winners)
    EXPECT_EQ(jit::w8a16_sm80_family()
                  .heuristic(spec_of(ElementKind::BF16, t.n, t.k, t.m, 90, 1, false, false), 132)
                  .to_string(),
              std::string("w8a16_sm80 ") + t.want)
        << "n" << t.n << " k" << t.k << " m" << t.m;
  // The printed config round-trips through the flat record the tuning database stores.
  auto back = TileConfig::from_fields(KernelFamily::W8A16Sm80, d.fields());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, d);
}

TEST(CodegenW8A16Sm80, SpecPrintsItsScaleModeAndEntryNamesIt) {
  const KernelSpec s = spec_of(ElementKind::BF16, 4096, 11008, 16, 90, 2, true, true);
  EXPECT_EQ(s.to_string(), "w8a16_gemm bf16->bf16 n=4096 k=11008 m<=16 bias scale=group128 zp sm_90a");
  const W8A16Tile c{.block_m = 16, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 6, .split_k = 4};
  auto src = render_w8a16_sm80(s, c);
  ASSERT_TRUE(src.has_value()) << src.error().to_string();
  EXPECT_EQ(src->entry, "qjit_w8a16_sm80_bf16_n4096_k11008_bm16_bn64_bk64_wm1_wn4_s6_sk4_g128_zp_bias");
  EXPECT_EQ(src->threads, 128);
  EXPECT_EQ(src->dynamic_smem_bytes, 6 * (16 * 144 + 64 * 64 + 64 * 8));  // x, q, group scales + zero points
  const LaunchDims d = w8a16_sm80_launch(s, c, 3);
  EXPECT_EQ(d.grid[0], 1u);
  EXPECT_EQ(d.grid[1], 64u);
  EXPECT_EQ(d.grid[2], 4u);
  EXPECT_EQ(spec_of(ElementKind::F16, 7, 9, 1, 80, 0, false, false).to_string(),
            "w8a16_gemm f16->f16 n=7 k=9 m<=1 nobias scale=tensor sm_80");
}

TEST(CodegenW8A16Sm80, ParamStructLayoutMatchesHostOnEveryArch) {
  QJIT_SKIP_WITHOUT_NVRTC();
  std::string probe(find_template("common.cuh"));
  probe.append("\n").append(find_template("w8a16_params.h")).append("\n");
  probe +=
      "extern \"C\" __global__ void qjit_w8a16_probe(const __grid_constant__ qjitk::W8A16Params p) {\n"
      "  const char* b = (const char*)&p;\n";
#define QJIT_PROBE(f) \
  probe +=            \
      llvm::formatv("  if ((const char*)&p." #f " - b != {0}) asm volatile(\"trap;\");\n", offsetof(W8A16Params, f));
  QJIT_PROBE(x)
  QJIT_PROBE(w)
  QJIT_PROBE(scale)
  QJIT_PROBE(zero_point)
  QJIT_PROBE(bias)
  QJIT_PROBE(y)
  QJIT_PROBE(ldx)
  QJIT_PROBE(ldw)
  QJIT_PROBE(ldy)
  QJIT_PROBE(ld_scale)
  QJIT_PROBE(m)
  QJIT_PROBE(workspace)
  QJIT_PROBE(tile_counters)
#undef QJIT_PROBE
  probe += "}\n";
  for (int arch : {80, 89, 90}) {
    const Compiled c = compile(probe, "qjit_w8a16_probe", arch);
    ASSERT_TRUE(c.ok) << c.log;
    EXPECT_NE(c.ptx.find(".b8 qjit_w8a16_probe_param_0[104]"), std::string::npos) << c.ptx;
    EXPECT_EQ(c.ptx.find("trap"), std::string::npos) << arch_option(arch) << ": a field offset differs";
  }
}

// Every element type x scale mode x zero point x bias on the decode heuristic (split-K), for sm_90a, with the PTX
// contract checked.
TEST(CodegenW8A16Sm80, EveryVariantCompilesSm90aWithTheArithmeticContract) {
  QJIT_SKIP_WITHOUT_NVRTC();
  for (ElementKind t : {ElementKind::F16, ElementKind::BF16})
    for (int mode : {0, 1, 2})
      for (bool zp : {false, true})
        for (bool bias : {false, true}) {
          const KernelSpec s = spec_of(t, 4096, 4096, 16, 90, mode, zp, bias);
          expect_compiles(s, jit::w8a16_sm80_family().heuristic(s, 132).as<W8A16Tile>(), true);
        }
}

// A spread of configs and shapes per arch: the heuristic at each bucket, odd N and K (element-loaded tails), group 64
// with K not a multiple of the group, BK = 32 and 64, split-K.
void config_spread(int arch) {
  struct Case {
    ElementKind t;
    std::int64_t n, k;
    int bucket, mode, group;
    bool zp, bias;
  };
  const Case cases[] = {{ElementKind::BF16, 4096, 4096, 1, 1, 0, false, false},
                        {ElementKind::F16, 11008, 4096, 2048, 2, 128, true, true},
                        {ElementKind::BF16, 4097, 4100, 129, 2, 64, true, false},
                        {ElementKind::F16, 333, 517, 16, 0, 0, true, true},
                        {ElementKind::BF16, 4096, 4104, 4096, 1, 0, false, true}};
  for (const Case& c : cases) {
    const KernelSpec s = w8a16_spec(c.t, c.n, c.k, c.bucket, arch, c.bias, c.mode != 0, c.group, c.zp);
    const jit::KernelFamilyRuntime& f = jit::w8a16_sm80_family();
    expect_compiles(s, f.heuristic(s, 132).as<W8A16Tile>(), true);
  }
  const KernelSpec s = w8a16_spec(ElementKind::BF16, 1000, 1000, 64, arch, true, true, 64, true);
  for (const W8A16Tile& cfg :
       {W8A16Tile{.block_m = 64, .block_n = 128, .block_k = 32, .warps_m = 2, .warps_n = 2, .stages = 3, .split_k = 2},
        W8A16Tile{.block_m = 32, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 4, .split_k = 8},
        W8A16Tile{.block_m = 16, .block_n = 32, .block_k = 64, .warps_m = 1, .warps_n = 2, .stages = 2},
        W8A16Tile{.block_m = 32, .block_n = 64, .block_k = 32, .warps_m = 2, .warps_n = 2, .stages = 4}})
    expect_compiles(s, cfg, false);
  // block_k = 128 (the decode candidates' widest slice: two 16-byte reads of q, four of x a lane) needs group 128.
  for (const KernelSpec& s128 : {w8a16_spec(ElementKind::F16, 1000, 1000, 16, arch, true, true, 128, true),
                                  w8a16_spec(ElementKind::BF16, 4096, 4096, 1, arch, false, true, 0, false)})
    for (const W8A16Tile& cfg :
         {W8A16Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 4, .split_k = 2},
          W8A16Tile{.block_m = 32, .block_n = 128, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 3}})
      expect_compiles(s128, cfg, true);
}
// The decode layout (swap_ab, templates/w8a16_sm80_decode.cuh) on one arch: the heuristic at M buckets 1, 8, 16 on
// the benchmark shapes and on odd N / K (the generic path's tails), every scale mode, and the candidate menu's corners
// (k block 128, warps along K, 32 tokens, the deepest rings), each compiled, with the arithmetic contract and
// spill-free. Prints each kernel's registers (occupancy: 65536 / (registers * threads) CTAs an SM).
void decode_spread(int arch) {
  struct Case {
    ElementKind t;
    std::int64_t n, k;
    int bucket, mode, group;
    bool zp, bias;
  };
  const Case cases[] = {{ElementKind::BF16, 4096, 4096, 1, 1, 0, false, false},
                        {ElementKind::BF16, 4096, 4096, 16, 1, 0, false, false},
                        {ElementKind::F16, 28672, 8192, 8, 1, 0, false, false},
                        {ElementKind::BF16, 28672, 8192, 16, 2, 128, true, true},
                        {ElementKind::F16, 4097, 4100, 16, 2, 64, true, false},
                        {ElementKind::BF16, 333, 517, 4, 0, 0, true, true}};
  std::vector<std::pair<KernelSpec, W8A16Tile>> kernels;
  for (const Case& c : cases) {
    const KernelSpec s = w8a16_spec(c.t, c.n, c.k, c.bucket, arch, c.bias, c.mode != 0, c.group, c.zp);
    const W8A16Tile h = jit::w8a16_sm80_family().heuristic(s, 132).as<W8A16Tile>();
    EXPECT_TRUE(h.swap_ab) << s.to_string() << ": " << h.to_string();
    kernels.push_back({s, h});
  }
  const KernelSpec g64 = w8a16_spec(ElementKind::F16, 1000, 1000, 16, arch, true, true, 64, true);
  const KernelSpec ch = w8a16_spec(ElementKind::BF16, 4096, 4096, 32, arch, false, true, 0, false);
  for (const W8A16Tile& cfg : {
           W8A16Tile{.block_m = 16, .block_n = 128, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 2,
                     .split_k = 2, .swap_ab = true},
           W8A16Tile{.block_m = 8, .block_n = 64, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 2,
                     .split_k = 4, .swap_ab = true},
           W8A16Tile{.block_m = 16, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 8,
                     .split_k = 1, .swap_ab = true},
           W8A16Tile{.block_m = 8, .block_n = 256, .block_k = 64, .warps_m = 1, .warps_n = 8, .stages = 4,
                     .split_k = 2, .swap_ab = true}})
    kernels.push_back({g64, cfg});
  kernels.push_back({ch, W8A16Tile{.block_m = 32, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 4,
                                   .stages = 4, .split_k = 8, .swap_ab = true}});
  for (const auto& [s, cfg] : kernels) {
    auto src = render_w8a16_sm80(s, cfg);
    ASSERT_TRUE(src.has_value()) << s.to_string() << " " << cfg.to_string() << ": " << src.error().to_string();
    EXPECT_NE(src->entry.find("qjit_w8a16_sm80_swab_"), std::string::npos) << src->entry;
    dump(*src, arch);
    const Compiled c = compile(src->text, src->entry, arch);
    ASSERT_TRUE(c.ok) << src->entry << " for " << arch_option(arch) << ":\n" << c.log;
    EXPECT_EQ(c.log.find("warning"), std::string::npos) << src->entry << ":\n" << c.log;
    expect_contract(c.ptx, src->entry + " " + arch_option(arch));
    EXPECT_NE(c.ptx.find("ld.global.nc.L1::no_allocate.L2::256B.v4.u32"), std::string::npos)
        << src->entry << ": the weight stream's 16-byte loads";
    auto r = runtime::read_cubin_resources(c.cubin, src->entry);
    ASSERT_TRUE(r.has_value()) << src->entry << ": " << r.status().to_string();
    EXPECT_TRUE(r->spill_free()) << src->entry << " " << arch_option(arch) << ": " << r->frame_bytes << " B frame, "
                                 << r->stack_bytes << " B stack";
    EXPECT_LE(r->registers, 255) << src->entry;
    std::printf("%s %s: %d registers, frame %d B, %d threads, %d B shared\n", arch_option(arch).c_str(),
                cfg.to_string().c_str(), r->registers, r->frame_bytes, src->threads, src->dynamic_smem_bytes);
  }
}
TEST(CodegenW8A16Sm80, DecodeLayoutSpreadSm80) {
  QJIT_SKIP_WITHOUT_NVRTC();
  decode_spread(80);
}
TEST(CodegenW8A16Sm80, DecodeLayoutSpreadSm89) {
  QJIT_SKIP_WITHOUT_NVRTC();
  decode_spread(89);
}
TEST(CodegenW8A16Sm80, DecodeLayoutSpreadSm90a) {
  QJIT_SKIP_WITHOUT_NVRTC();
  decode_spread(90);
}

// swap_ab prints as a word between the warp grid and the stages (configs without it print as before), round-trips
// through the tuning database's fields, and its own rules name the field.
TEST(CodegenW8A16Sm80, DecodeLayoutConfigPrintsRoundTripsAndValidates) {
  const W8A16Tile old{
      .block_m = 16, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 6, .split_k = 4};
  EXPECT_EQ(old.to_string(), "w8a16_sm80 16x64x64 w1x4 s6 sk4");
  EXPECT_FALSE(old.fields().swap_ab);
  W8A16Tile d = old;
  d.swap_ab = true;
  d.block_n = 128;
  d.warps_m = 2;
  d.stages = 4;
  EXPECT_EQ(d.to_string(), "w8a16_sm80 16x128x64 w2x4 swap_ab s4 sk4");
  auto back = TileConfig::from_fields(KernelFamily::W8A16Sm80, d.fields());
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(back->as<W8A16Tile>(), d);
  const KernelSpec s = spec_of(ElementKind::BF16, 4096, 4096, 16, 90, 1, false, false);
  EXPECT_TRUE(validate_w8a16_sm80(s, d).ok()) << validate_w8a16_sm80(s, d).message();
  auto refuse = [&](W8A16Tile c, const char* needle, KernelSpec spec) {
    const Status st = validate_w8a16_sm80(spec, c);
    EXPECT_FALSE(st.ok()) << c.to_string();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  W8A16Tile c = d;
  c.block_k = 32;
  refuse(c, "block_k must be 64 or 128 with swap_ab", s);
  c = d;
  c.block_m = 64;
  refuse(c, "block_m must be 8, 16 or 32 tokens", s);
  c = d;
  c.block_n = 96;
  refuse(c, "block_n must be warps_n * 16 or warps_n * 32", s);
  c = d;
  c.stages = 8;
  refuse(c, "weight registers a lane exceed 64", s);
  c = d;
  c.split_k = 1;
  refuse(c, "needs", spec_of(ElementKind::BF16, 4096, 16384, 16, 89, 1, false, false));  // x of K = 16384: 512 KiB
  c = d;
  c.split_k = 16;
  refuse(c, "leaves a split without K blocks", spec_of(ElementKind::BF16, 4096, 640, 16, 90, 1, false, false));
  // The heuristic takes it at M <= 16 only; the candidate space offers it up to M = 32 (split-K ones only when
  // allowed), never above.
  const jit::KernelFamilyRuntime& f = jit::w8a16_sm80_family();
  for (int bucket : {1, 2, 4, 8, 16, 32, 64}) {
    const KernelSpec b = spec_of(ElementKind::BF16, 28672, 8192, bucket, 90, 2, true, true);
    EXPECT_EQ(f.heuristic(b, 132).as<W8A16Tile>().swap_ab, bucket <= 16) << bucket;
    int swapped = 0;
    for (const TileConfig& t : f.candidates(b, jit::CandidateOptions{.allow_split_k = true, .sm_count = 132}))
      swapped += t.as<W8A16Tile>().swap_ab ? 1 : 0;
    if (bucket <= 32)
      EXPECT_GT(swapped, 10) << bucket;
    else
      EXPECT_EQ(swapped, 0) << bucket;
    for (const TileConfig& t : f.candidates(b, jit::CandidateOptions{.allow_split_k = false, .sm_count = 132}))
      EXPECT_EQ(t.as<W8A16Tile>().split_k, 1) << t.to_string();
  }
}

TEST(CodegenW8A16Sm80, ConfigSpreadSm80) {
  QJIT_SKIP_WITHOUT_NVRTC();
  config_spread(80);
}
TEST(CodegenW8A16Sm80, ConfigSpreadSm89) {
  QJIT_SKIP_WITHOUT_NVRTC();
  config_spread(89);
}
TEST(CodegenW8A16Sm80, ConfigSpreadSm90a) {
  QJIT_SKIP_WITHOUT_NVRTC();
  config_spread(90);
}

}  // namespace
}  // namespace qjit::codegen

namespace qjit {
namespace {

// The plan's descriptor checks run before the driver is touched, so they answer on any machine.
TEST(WeightOnlyLinearPlanDescriptor, BadDescriptorsNameTheFieldAndExpectedValue) {
  auto refused = [](const WeightOnlyLinearDescriptor& d, const char* needle) {
    auto p = WeightOnlyLinearPlan<bf16>::select(Stream(), d);
    ASSERT_FALSE(p.has_value()) << needle;
    EXPECT_EQ(p.error().code(), StatusCode::InvalidArgument) << p.error().to_string();
    EXPECT_NE(p.error().message().find(needle), std::string::npos) << p.error().message();
  };
  const auto ok = WeightOnlyLinearDescriptor::make<bf16>(16, 4096, 4096, WeightScaleMode::PerGroup, 128, true, true);
  auto d = ok;
  d.group_size = 32;
  refused(d, "descriptor.group_size must be 64 or 128 with per_group scales, got 32");
  d = ok;
  d.weight_scale = WeightScaleMode::PerChannel;
  refused(d, "descriptor.group_size must be 0 with per_channel scales, got 128");
  d = ok;
  d.k = 0;
  refused(d, "descriptor.k must be in [1, 2^31), got 0");
  // The kernel's limit (2^30) is the descriptor's, named as the caller's field (not a later "spec.n" from codegen).
  d = ok;
  d.n = (std::int64_t{1} << 30) + 1;
  refused(d, "descriptor.n must be in [1, 2^30] for weight_only_linear, got 1073741825");
  d = ok;
  d.k = (std::int64_t{1} << 30) + 1;
  refused(d, "descriptor.k must be in [1, 2^30] for weight_only_linear, got 1073741825");
  d = ok;
  d.weight_element = ElementKind::U8;
  refused(d, "descriptor.weight_element must be s8, got u8");
  d = ok;
  d.output_element = ElementKind::F32;
  refused(d, "descriptor.output_element must be the activation's bf16, got f32");
  d = ok;
  d.activation_element = ElementKind::F16;
  d.output_element = ElementKind::F16;
  refused(d, "descriptor.activation_element must be bf16");  // the typed wrapper's own check
  d = ok;
  d.weight_scale = static_cast<WeightScaleMode>(5);
  refused(d, "descriptor.weight_scale must be QJIT_WEIGHT_SCALE_PER_CHANNEL (0)");
  // Through the C ABI directly: f32 activations are refused by the library, naming the field.
  qjit_weight_only_linear_desc c = ok.to_c();
  c.activation_element = QJIT_F32;
  c.output_element = QJIT_F32;
  qjit_plan* plan = reinterpret_cast<qjit_plan*>(1);
  EXPECT_EQ(qjit_weight_only_linear_plan_select(nullptr, &c, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_EQ(plan, nullptr);
  EXPECT_NE(std::string(qjit_last_error_message()).find("descriptor.activation_element must be f16 or bf16, got f32"),
            std::string::npos)
      << qjit_last_error_message();
  c = ok.to_c();
  c.struct_size = 8;
  EXPECT_EQ(qjit_weight_only_linear_plan_select(nullptr, &c, QJIT_PREF_HEURISTIC, &plan), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qjit_last_error_message()).find("desc->struct_size must be >="), std::string::npos);
  // Autotune is refused as Unsupported (no tuner for this family yet), after the descriptor checks.
  c = ok.to_c();
  EXPECT_EQ(qjit_weight_only_linear_plan_select(nullptr, &c, QJIT_PREF_AUTOTUNE, &plan), QJIT_UNSUPPORTED);
  // Plan calls of the other kinds refuse to take this kind and vice versa (NULL plan here: named).
  qjit_weight_only_linear_args a{};
  a.struct_size = sizeof a;
  EXPECT_EQ(qjit_weight_only_linear_plan_can_implement(nullptr, &a), QJIT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qjit_last_error_message()).find("plan must not be NULL"), std::string::npos);
}

TEST(WeightOnlyLinearPlanDescriptor, PrintsAsTheLibraryPrintsIt) {
  EXPECT_EQ(
      WeightOnlyLinearDescriptor::make<bf16>(16, 4096, 4096, WeightScaleMode::PerGroup, 128, true, true).to_string(),
      "weight_only_linear m=16 n=4096 k=4096 act=bf16 weight=s8 out=bf16 weight_scale=per_group(128) zero_point "
      "bias");
  EXPECT_EQ(WeightOnlyLinearDescriptor::make<f16>(1, 7, 9, WeightScaleMode::PerTensor).to_string(),
            "weight_only_linear m=1 n=7 k=9 act=f16 weight=s8 out=f16 weight_scale=per_tensor");
}

}  // namespace
}  // namespace qjit
