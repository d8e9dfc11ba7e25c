// The family registry (jit/kernel_family.h) and the tuning rules its portable families own: the registry serves each
// spec with the family the plans used before it existed (Hopper on sm_90a when K suits TMA, else the portable GEMM,
// quantize for the quantization passes) and says why; the heuristic tile choices per M bucket and the candidate
// spaces: every choice and every candidate passes the family's validation, small M streams the weight with BM = 16
// tiles, large M takes the big tiles, sm_89's smaller shared memory is respected, split-K only appears when allowed.
#include <algorithm>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"
#include "codegen/gemm_s8_sm90.h"
#include "codegen/quantize_rowwise.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "ops/config_choice.h"

namespace qjit::jit {
namespace {

using codegen::KernelOp;
using codegen::KernelSpec;
using codegen::QuantizeTile;
using codegen::Sm80Tile;
using codegen::Sm90Tile;
using codegen::TileConfig;
using qjit::ElementKind;

KernelSpec gemm(std::int64_t n, std::int64_t k, int bucket, int arch = 90) {
  KernelSpec s;
  s.op = KernelOp::GemmS8;
  s.in_element = ElementKind::S8;
  s.out_element = ElementKind::BF16;
  s.n = n;
  s.k = k;
  s.m_bucket = bucket;
  s.arch = arch;
  return s;
}

// The portable families' rules (the gemm_sm80 family serves GEMMs on every arch when the Hopper one declines), in
// each family's own config type.
template <class Tile>
std::vector<Tile> as_tiles(const std::vector<TileConfig>& configs) {
  std::vector<Tile> out;
  for (const TileConfig& c : configs) out.push_back(c.as<Tile>());
  return out;
}
Sm80Tile gemm_heuristic(const KernelSpec& s, int sm_count) {
  return gemm_sm80_family().heuristic(s, sm_count).as<Sm80Tile>();
}
std::vector<Sm80Tile> gemm_candidates(const KernelSpec& s, const CandidateOptions& o) {
  return as_tiles<Sm80Tile>(gemm_sm80_family().candidates(s, o));
}
QuantizeTile quantize_heuristic(const KernelSpec& s) { return quantize_family().heuristic(s, 132).as<QuantizeTile>(); }
std::vector<QuantizeTile> quantize_candidates(const KernelSpec& s) {
  return as_tiles<QuantizeTile>(quantize_family().candidates(s, {}));
}

TEST(JitFamilyRegistry, EveryFamilyIsRegisteredOnceUnderItsId) {
  const FamilyRegistry& r = FamilyRegistry::process();
  ASSERT_EQ(r.families().size(), 4u);
  for (codegen::KernelFamily f : {codegen::KernelFamily::Quantize, codegen::KernelFamily::GemmSm80,
                                  codegen::KernelFamily::GemmSm90, codegen::KernelFamily::W8A16Sm80}) {
    EXPECT_EQ(r.family(f).id(), f);
    EXPECT_EQ(r.family(f).name(), codegen::kernel_family_name(f));
  }
  EXPECT_EQ(r.families().front()->id(), codegen::KernelFamily::GemmSm90);  // preferred where it accepts
}

// can_implement refuses what launch would: TMA needs 16-byte operands; the others check alignment at run time.
TEST(JitFamilyRegistry, OperandAlignmentIsTheFamilysRequirement) {
  const FamilyRegistry& r = FamilyRegistry::process();
  EXPECT_EQ(r.family(codegen::KernelFamily::GemmSm90).operand_align(), 16u);
  EXPECT_EQ(r.family(codegen::KernelFamily::GemmSm80).operand_align(), 1u);
  EXPECT_EQ(r.family(codegen::KernelFamily::Quantize).operand_align(), 1u);
  EXPECT_EQ(r.family(codegen::KernelFamily::W8A16Sm80).operand_align(), 1u);
}

TEST(JitFamilyRegistry, ServesEachSpecWithTheFamilyAndReasonOfBefore) {
  const FamilyRegistry& r = FamilyRegistry::process();
  EXPECT_EQ(r.for_spec(gemm(4096, 4096, 16, 90)).id(), codegen::KernelFamily::GemmSm90);
  EXPECT_EQ(ops::family_reason(gemm(4096, 4096, 16, 90)).rfind("sm_90a: the wgmma + TMA pipeline (any K=4096", 0), 0u);
  EXPECT_EQ(r.for_spec(gemm(4096, 4096, 16, 89)).id(), codegen::KernelFamily::GemmSm80);
  EXPECT_EQ(ops::family_reason(gemm(4096, 4096, 16, 89)),
            "sm_89 has no wgmma/TMA, so the portable mma.sync family (the Hopper family needs sm_90a)");
  // Issue 15: K % 16 != 0 is Hopper's too; the views its TMA cannot take get the portable family.
  const KernelSpec odd_k = gemm(4096, 4100, 16, 90);
  EXPECT_EQ(r.for_spec(odd_k).id(), codegen::KernelFamily::GemmSm90);
  EXPECT_EQ(r.portable_for(odd_k).id(), codegen::KernelFamily::GemmSm80);
  EXPECT_EQ(r.portable_for(gemm(4096, 4096, 16, 89)).id(), codegen::KernelFamily::GemmSm80);
  const KernelSpec q = codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 1, 90);
  EXPECT_EQ(r.for_spec(q).id(), codegen::KernelFamily::Quantize);
  EXPECT_EQ(ops::family_reason(q), "not a GEMM: one quantize family serves every arch");
  EXPECT_FALSE(gemm_sm90_family().accepts(q).ok());
  EXPECT_FALSE(gemm_sm80_family().accepts(q).ok());
  EXPECT_FALSE(quantize_family().accepts(gemm(4096, 4096, 16, 90)).ok());
}

TEST(JitFamilyRegistry, EachFamilyValidatesOnlyItsOwnConfigs) {
  const KernelSpec g = gemm(4096, 4096, 256, 90);
  for (const KernelFamilyRuntime* f : FamilyRegistry::process().families()) {
    const KernelSpec s =
        f->id() == codegen::KernelFamily::Quantize
            ? codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 256, 90)
        : f->id() == codegen::KernelFamily::W8A16Sm80
            ? codegen::w8a16_spec(ElementKind::BF16, 4096, 4096, 256, 90, false, true, 128, true)
            : g;
    const TileConfig own = f->heuristic(s, 132);
    EXPECT_EQ(own.family(), f->id());
    EXPECT_TRUE(f->validate(s, own).ok()) << f->name();
    for (const KernelFamilyRuntime* other : FamilyRegistry::process().families()) {
      if (other == f) continue;
      const TileConfig foreign = other->heuristic(s, 132);
      const std::string expected =
          "config.family must be " + std::string(f->name()) + ", got " + std::string(other->name());
      const Status st = f->validate(s, foreign);
      EXPECT_EQ(st.code(), StatusCode::InvalidArgument) << f->name() << " took a " << other->name() << " config";
      EXPECT_NE(st.message().find(expected), std::string::npos) << st.message();
      auto rendered = f->render(s, foreign);  // the typed step is never reached with another family's config
      ASSERT_FALSE(rendered.has_value()) << f->name() << " rendered a " << other->name() << " config";
      EXPECT_NE(rendered.error().message().find(expected), std::string::npos) << rendered.error().message();
    }
  }
}

TEST(JitFamilyRegistry, SplitKWorkspaceLayoutPutsZeroedCountersAfterThePartials) {
  const KernelSpec g80 = gemm(4096, 4096, 16, 89);
  const Sm80Tile c80{
      .block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 4, .split_k = 4};
  ASSERT_TRUE(gemm_sm80_family().validate(g80, c80).ok());
  const WorkspaceLayout w80 = gemm_sm80_family().workspace(g80, c80, 16);
  EXPECT_EQ(w80.bytes, codegen::gemm_s8_sm80_workspace_bytes(g80, c80, 16));
  EXPECT_EQ(w80.counters_offset, codegen::gemm_s8_sm80_counters_offset(g80, c80, 16));
  // Exactly the launch's tile counters (16 rows of M, 4096 / 64 columns): 64 of them.
  EXPECT_EQ(w80.counters_bytes, 64u * 4);
  EXPECT_EQ(w80.bytes, w80.counters_offset + w80.counters_bytes);
  Sm80Tile one = c80;
  one.split_k = 1;
  EXPECT_EQ(gemm_sm80_family().workspace(g80, one, 16).bytes, 0u);

  const KernelSpec g90 = gemm(4096, 4096, 256, 90);
  const std::vector<TileConfig> space = gemm_sm90_family().candidates(g90, {});
  const auto split =
      std::find_if(space.begin(), space.end(), [](const TileConfig& c) { return c.as<Sm90Tile>().split_k > 1; });
  if (split != space.end()) {
    const WorkspaceLayout w90 = gemm_sm90_family().workspace(g90, *split, 256);
    EXPECT_EQ(w90.counters_offset % 16, 0u);
    EXPECT_GT(w90.counters_bytes, 0u);
    EXPECT_EQ(w90.bytes, w90.counters_offset + w90.counters_bytes);
  }
  EXPECT_EQ(gemm_sm90_family().workspace(g90, gemm_sm90_family().heuristic(g90, 132), 256).bytes, 0u);
  const KernelSpec q = codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 256, 90);
  EXPECT_EQ(quantize_family().workspace(q, quantize_family().heuristic(q, 132), 256).bytes, 0u);
}

// A caller may pass one large workspace shared by many plans: a split-K launch clears its own tile counters (one per
// tile at the run's M, at the run's offset), never the rest of the buffer. Checked on the layout the launch memsets
// from (jit/kernel_binding.cpp and the weight-only plan zero exactly counters_bytes), for every M of a bucket, and
// a launch given less than its M needs is refused before anything reaches the stream.
TEST(JitFamilyRegistry, SplitKCountersAreExactlyTheLaunchsTilesWhateverTheBuffer) {
  const KernelSpec g80 = gemm(4096, 4096, 64, 89);
  const Sm80Tile c80{
      .block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 4, .split_k = 4};
  const KernelSpec w = codegen::w8a16_spec(ElementKind::BF16, 4096, 4096, 64, 90, false, true, 128, true);
  const codegen::W8A16Tile cw{
      .block_m = 16, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 4, .split_k = 4};
  ASSERT_TRUE(gemm_sm80_family().validate(g80, c80).ok());
  ASSERT_TRUE(w8a16_sm80_family().validate(w, cw).ok());
  for (std::int64_t m : {1, 16, 17, 40, 64}) {
    const std::size_t tiles = static_cast<std::size_t>((m + 15) / 16 * (4096 / 64));
    for (const auto& [layout, partials] :
         {std::pair{gemm_sm80_family().workspace(g80, c80, m), 4 * tiles * 16 * 64 * 4},
          std::pair{w8a16_sm80_family().workspace(w, cw, m), 4 * tiles * 16 * 64 * 4}}) {
      EXPECT_EQ(layout.counters_offset, partials) << "m = " << m;
      EXPECT_EQ(layout.counters_bytes, tiles * 4) << "m = " << m;
      EXPECT_EQ(layout.bytes, layout.counters_offset + layout.counters_bytes) << "m = " << m;
    }
  }
  // The binding refuses a workspace smaller than this M's layout (naming both), before touching the driver.
  jit::KernelBinding b;
  b.spec = g80;
  b.config = c80;
  codegen::GemmS8Params p{};
  p.m = 16;
  char fake = 0;
  p.workspace = &fake;
  const std::size_t need = gemm_sm80_family().workspace(g80, c80, 16).bytes;
  const Status st = jit::launch_gemm(b, p, need - 1, nullptr);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument) << st.to_string();
  EXPECT_NE(st.message().find("workspace must hold " + std::to_string(need) + " bytes"), std::string::npos)
      << st.message();
}

TEST(JitFamilyRegistry, ProgrammaticLaunchIsTheFamilysChoice) {
  const KernelSpec g90 = gemm(4096, 4096, 16, 90), g80 = gemm(4096, 4096, 16, 89);
  EXPECT_TRUE(gemm_sm90_family().launch_dims(g90, gemm_sm90_family().heuristic(g90, 132), 16, 132).programmatic);
  EXPECT_FALSE(gemm_sm80_family().launch_dims(g80, gemm_sm80_family().heuristic(g80, 132), 16, 132).programmatic);
  for (int arch : {89, 90}) {
    const KernelSpec q = codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 16, arch);
    EXPECT_EQ(quantize_family().launch_dims(q, quantize_family().heuristic(q, 132), 16, 132).programmatic, arch >= 90);
  }
}

TEST(JitFamilyHeuristic, GemmChoicePerBucketIsValid) {
  for (int arch : {80, 89, 90})
    for (std::int64_t n : {1, 4096, 11008, 13653, 32000})
      for (std::int64_t k : {1, 17, 4096, 4100, 11008})
        for (int bucket = 1; bucket <= 4096; bucket *= 2) {
          const KernelSpec s = gemm(n, k, bucket, arch);
          const Sm80Tile c = gemm_heuristic(s, 132);
          EXPECT_TRUE(codegen::validate_gemm_s8_sm80(s, c).ok()) << s.to_string() << " " << c.to_string();
          EXPECT_EQ(c.split_k, 1);
        }
}

TEST(JitFamilyHeuristic, GemmSmallMStreamsTheWeightLargeMUsesBigTiles) {
  const Sm80Tile decode = gemm_heuristic(gemm(4096, 4096, 1), 132);
  EXPECT_EQ(decode.block_m, 16);
  EXPECT_GE((4096 + decode.block_n - 1) / decode.block_n, 128);  // about one CTA per SM or more
  EXPECT_GE(decode.stages * decode.block_k, 512);                // deep pipeline: >= 512 bytes of K in flight
  EXPECT_EQ(gemm_heuristic(gemm(4096, 4096, 16), 132).block_m, 16);
  EXPECT_EQ(gemm_heuristic(gemm(4096, 4096, 32), 132).block_m, 32);
  const Sm80Tile big = gemm_heuristic(gemm(4096, 4096, 4096), 132);
  EXPECT_EQ(big.block_m * big.block_n, 256 * 128);
  EXPECT_EQ(big.block_k, 128);
  EXPECT_EQ(gemm_heuristic(gemm(8192, 8192, 1), 132).block_n, 64);  // 128 tiles of 64: about one per SM
  // M = 128 with N = 4096: a 128x128 tile gives only 32 CTAs, so a smaller tile is chosen.
  const Sm80Tile mid = gemm_heuristic(gemm(4096, 4096, 128), 132);
  EXPECT_LT(mid.block_m * mid.block_n, 128 * 128);
  EXPECT_EQ(gemm_heuristic(gemm(4096, 4096, 1), 0), decode);  // unknown SM count = 132
}

TEST(JitFamilyHeuristic, QuantizeChoiceFitsK) {
  for (ElementKind in : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
    for (std::int64_t k : {1, 16, 17, 4096, 4100, 14336, 28672, 1 << 20})
      for (int bucket : {1, 128, 256, 2048, 4096}) {
        const KernelSpec s = codegen::quantize_spec(KernelOp::QuantizeRowwise, in, k, bucket, 90);
        const QuantizeTile c = quantize_heuristic(s);
        EXPECT_TRUE(codegen::validate_quantize(s, c).ok()) << s.to_string() << " " << c.to_string();
      }
  const QuantizeTile c =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 1, 90));
  EXPECT_EQ(c.threads_per_row, 256);  // decode: one 16-element chunk per thread, the whole row in flight
  EXPECT_EQ(c.rows_per_cta, 1);
  const QuantizeTile prefill =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 8192, 90));
  EXPECT_EQ(prefill.threads_per_row, 128);  // 128 threads a row for M > 2048
  EXPECT_EQ(prefill.rows_per_cta, 2);
  const QuantizeTile mid =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 14336, 2048, 90));
  EXPECT_EQ(mid.threads_per_row, 224);  // 896 chunks split evenly: 4 a thread
  const QuantizeTile wide =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 28672, 8192, 90));
  EXPECT_EQ(wide.threads_per_row, 256);  // long rows at large M: about seven chunks a thread, at most 256 threads
  // A row that splits into exactly four chunks a thread over at most 384 threads stays in registers.
  const QuantizeTile even =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 20480, 8192, 90));
  EXPECT_EQ(even.threads_per_row, 320);
  EXPECT_EQ(even.rows_per_cta, 1);
  const QuantizeTile uneven =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 11008, 8192, 90));
  EXPECT_EQ(uneven.threads_per_row, 128);  // 688 chunks: no multiple of 32 in [128, 384] divides them
  const QuantizeTile k5120 =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 5120, 2048, 90));
  EXPECT_EQ(k5120.threads_per_row, 160);  // 320 chunks, two a thread
  const QuantizeTile k8192 =
      quantize_heuristic(codegen::quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 8192, 2048, 90));
  EXPECT_EQ(k8192.threads_per_row, 256);  // the base rule already splits evenly (2 a thread): kept
}

TEST(JitFamilyCandidates, EveryCandidateIsValidAndTheHeuristicLeads) {
  for (int arch : {80, 89, 90})
    for (int bucket : {1, 16, 64, 256, 4096}) {
      const KernelSpec s = gemm(13653, 4100, bucket, arch);
      for (bool split : {false, true}) {
        const auto list = gemm_candidates(s, CandidateOptions{.allow_split_k = split, .sm_count = 132});
        ASSERT_FALSE(list.empty());
        EXPECT_EQ(list.front(), gemm_heuristic(s, 132));
        for (const Sm80Tile& c : list) {
          EXPECT_TRUE(codegen::validate_gemm_s8_sm80(s, c).ok()) << c.to_string();
          EXPECT_LE(c.block_m, std::max(16, bucket));
          if (!split || bucket > 64) {
            EXPECT_EQ(c.split_k, 1) << c.to_string();
          }
        }
      }
    }
  const auto with_split =
      gemm_candidates(gemm(4096, 4096, 1), CandidateOptions{.allow_split_k = true, .sm_count = 132});
  EXPECT_TRUE(std::any_of(with_split.begin(), with_split.end(), [](const Sm80Tile& c) { return c.split_k > 1; }));
  for (ElementKind in : {ElementKind::F16, ElementKind::F64}) {
    const KernelSpec q = codegen::quantize_spec(KernelOp::QuantizeRowwise, in, 4096, 1, 90);
    const auto list = quantize_candidates(q);
    EXPECT_GE(list.size(), 3u);
    for (const QuantizeTile& c : list) EXPECT_TRUE(codegen::validate_quantize(q, c).ok()) << c.to_string();
  }
}

}  // namespace
}  // namespace qjit::jit
