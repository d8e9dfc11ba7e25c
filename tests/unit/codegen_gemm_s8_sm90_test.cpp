// Hopper int8 GEMM codegen without a GPU: validation errors name the field and value, rendering is deterministic
// with unique entry names, launch/workspace arithmetic, the config space and heuristic stay valid, tensor-map
// encoding passes the right dims/strides/boxes to the driver, and every output dtype x bias x scale mode of a
// prefill and a decode config compiles with the real NVRTC for sm_90a (plus a probe that checks the device-side
// parameter layout against the host struct). QJIT_DUMP_DIR=<dir> writes the rendered sources there for nvcc/ptxas.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm90.h"
#include "runtime/nvrtc.h"

namespace qjit::codegen {
namespace {

KernelSpec spec_of(ElementKind out, std::int64_t n, std::int64_t k, bool bias = false, bool per_token = true) {
  return KernelSpec{.op = KernelOp::GemmS8,
                    .in_element = ElementKind::S8,
                    .out_element = out,
                    .n = n,
                    .k = k,
                    .has_bias = bias,
                    .per_token_scale = per_token,
                    .arch = 90};
}

Sm90Tile prefill_config() { return Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2}; }
Sm90Tile decode_config() {
  return Sm90Tile{.block_m = 16, .block_n = 128, .stages = 8, .split_k = 4, .consumers = 2, .swap_ab = true};
}

void dump(const Source& src) {
  const char* dir = std::getenv("QJIT_DUMP_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::ofstream(std::string(dir) + "/" + src.entry + ".cu") << src.text;
}

// Issue 15: any K. The tensor maps give TMA the true K, so the K tail (K % 128, even K % 16 != 0) arrives zero-filled;
// only the operands' row strides must be multiples of 16 bytes, which the encoder checks at run time.
TEST(CodegenGemmS8Sm90Test, EveryKRendersTheTmaKernel) {
  for (std::int64_t k : {std::int64_t{1}, std::int64_t{17}, std::int64_t{4095}, std::int64_t{4100}, std::int64_t{13653}}) {
    SCOPED_TRACE(k);
    const KernelSpec spec = spec_of(ElementKind::F16, 4096, k);
    EXPECT_TRUE(validate_gemm_s8_sm90_spec(spec).ok());
    const Sm90Tile config =
        k < 1024 ? Sm90Tile{.block_m = 128, .block_n = 128, .stages = 4, .consumers = 2} : prefill_config();
    auto src = render_gemm_s8_sm90(spec, config);
    ASSERT_TRUE(src.has_value()) << src.error().message();
    EXPECT_NE(src->text.find("4096, " + std::to_string(k) + ","), std::string::npos) << "K is the template's kK";
  }
}

TEST(CodegenGemmS8Sm90Test, BadSpecOrConfigNamesTheField) {
  const KernelSpec good = spec_of(ElementKind::BF16, 4096, 4096);
  struct Case {
    KernelSpec spec;
    Sm90Tile config;
    const char* field;
  };
  std::vector<Case> cases;
  cases.push_back({spec_of(ElementKind::S8, 4096, 4096), prefill_config(), "spec.out_element"});
  cases.push_back({spec_of(ElementKind::F16, 0, 4096), prefill_config(), "spec.n"});
  Sm90Tile c = prefill_config();
  c.consumers = 3;
  cases.push_back({good, c, "config.consumers"});
  c = prefill_config();
  c.block_m = 96;
  cases.push_back({good, c, "config.block_m"});
  c = prefill_config();
  c.block_n = 40;
  cases.push_back({good, c, "config.block_n"});
  c = Sm90Tile{.block_m = 256, .block_n = 256, .stages = 3, .consumers = 2};  // 2 x 128 accumulators per thread
  cases.push_back({good, c, "accumulator registers"});
  c = prefill_config();
  c.stages = 6;  // 6 x 48 KiB > 227 KiB
  cases.push_back({good, c, "config.stages = 6"});
  c = prefill_config();
  c.split_k = 33;  // K = 4096 has 32 k-blocks
  cases.push_back({good, c, "config.split_k"});
  c = prefill_config();
  c.block_n = 208;  // not a multiple of the 64-column f16 epilogue chunk
  cases.push_back({spec_of(ElementKind::F16, 4096, 4096), c, "multiple of 64"});
  c = decode_config();
  c.block_n = 192;  // swap: weight rows per CTA must be consumers x 64|128
  cases.push_back({good, c, "config.block_n"});
  c = prefill_config();
  c.pingpong = true;  // 128 x 256 per consumer: 2 x 128 accumulators
  c.stages = 3;
  cases.push_back({good, c, "accumulator registers"});
  c = Sm90Tile{.block_m = 128, .block_n = 128, .stages = 4, .consumers = 1, .pingpong = true};
  cases.push_back({good, c, "config.pingpong needs consumers = 2"});
  c = Sm90Tile{.block_m = 128, .block_n = 128, .stages = 4, .split_k = 2, .consumers = 2, .pingpong = true};
  cases.push_back({good, c, "split_k = 1"});
  c = Sm90Tile{.block_m = 192, .block_n = 128, .stages = 4, .consumers = 2, .pingpong = true};
  cases.push_back({good, c, "config.block_m must be 64 or 128 with pingpong"});
  KernelSpec not_gemm = good;
  not_gemm.op = KernelOp::QuantizeRowwise;
  cases.push_back({not_gemm, prefill_config(), "spec.op must be gemm_s8"});
  KernelSpec f16_in = good;
  f16_in.in_element = ElementKind::F16;
  cases.push_back({f16_in, prefill_config(), "spec.in_element must be s8"});
  // A config of another family cannot reach this function (its type is Sm90Tile); the family object refuses one
  // naming config.family (JitFamilyRegistry.EachFamilyValidatesOnlyItsOwnConfigs).
  for (const Case& k : cases) {
    const Status s = validate_gemm_s8_sm90(k.spec, k.config);
    ASSERT_FALSE(s.ok()) << k.field;
    EXPECT_NE(s.message().find(k.field), std::string::npos) << s.message();
  }
  Sm90Tile cl = prefill_config();
  cl.cluster_m = 3;
  EXPECT_EQ(validate_gemm_s8_sm90(good, cl).code(), StatusCode::Unsupported);
  cl.cluster_m = 2;
  EXPECT_TRUE(validate_gemm_s8_sm90(good, cl).ok());
  Sm90Tile cl_swap = decode_config();
  cl_swap.cluster_m = 2;  // decode tiles split K and swap operands: no clusters there
  const Status swap_status = validate_gemm_s8_sm90(good, cl_swap);
  EXPECT_EQ(swap_status.code(), StatusCode::InvalidArgument);
  EXPECT_NE(swap_status.message().find("config.cluster_m = 2 needs"), std::string::npos) << swap_status.message();
}

// The K stage is the template's constant (Sm90Tile::kBlockK), not a field, and the family has no warp grid. In the flat
// record of a tuning database these keys remain, holding 128 and 1: any other value is refused naming the field, as
// validation refused "config.block_k = 64" before.
TEST(CodegenGemmS8Sm90Test, FlatRecordsKeepTheFixedKStageAndNoWarpGrid) {
  const TileFields fields = TileConfig(prefill_config()).fields();
  EXPECT_EQ(fields.block_k, 128);
  EXPECT_EQ(fields.warps_m, 1);
  EXPECT_EQ(fields.warps_n, 1);
  auto back = TileConfig::from_fields(KernelFamily::GemmSm90, fields);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, TileConfig(prefill_config()));
  TileFields bad = fields;
  bad.block_k = 64;
  auto refused = TileConfig::from_fields(KernelFamily::GemmSm90, bad);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("field 'block_k' must be 128 for family gemm_sm90"), std::string::npos)
      << refused.error().message();
  bad = fields;
  bad.warps_m = 2;
  refused = TileConfig::from_fields(KernelFamily::GemmSm90, bad);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("field 'warps_m' must be 1"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(sm90_entry_suffix(prefill_config()).find("_bk128_"), std::string::npos);
}

TEST(CodegenGemmS8Sm90Test, RenderIsDeterministicWithUniqueEntryNames) {
  std::set<std::string> names;
  for (bool bias : {false, true})
    for (bool tok : {false, true})
      for (const Sm90Tile& cfg : {prefill_config(), decode_config()}) {
        const KernelSpec spec = spec_of(ElementKind::F32, 11008, 4096, bias, tok);
        auto a = render_gemm_s8_sm90(spec, cfg);
        auto b = render_gemm_s8_sm90(spec, cfg);
        ASSERT_TRUE(a.has_value()) << a.error().to_string();
        EXPECT_EQ(a->text, b->text);
        EXPECT_EQ(a->entry, b->entry);
        EXPECT_TRUE(names.insert(a->entry).second) << a->entry;
        EXPECT_EQ(a->threads, 384);
        EXPECT_EQ(a->dynamic_smem_bytes, gemm_s8_sm90_smem_bytes(spec, cfg));
        EXPECT_NE(a->text.find("extern \"C\" __global__"), std::string::npos);
        EXPECT_EQ(a->text.find("#include"), std::string::npos);
      }
  auto r = render_gemm_s8_sm90(spec_of(ElementKind::F16, 4096, 4096), prefill_config());
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->text.find("wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8"), std::string::npos);
  EXPECT_EQ(r->entry, "qjit_gemm_s8_sm90_f16_n4096_k4096_tok_bm128_bn256_bk128_s4_c2_cl1x1_ab_sk1");
}

TEST(CodegenGemmS8Sm90Test, LaunchGeometryAndSplitKWorkspace) {
  const KernelSpec spec = spec_of(ElementKind::F16, 4096, 4096);
  // Prefill: 8192 / 128 = 64 row tiles x 4096 / 256 = 16 column tiles; persistent grid capped at the SM count.
  LaunchDims l = gemm_s8_sm90_launch(spec, prefill_config(), 8192, 132);
  EXPECT_EQ(l.grid[0], 132u);
  EXPECT_EQ(l.block[0], 384u);
  EXPECT_EQ(l.cluster[0], 1u);
  EXPECT_EQ(l.dynamic_smem_bytes, 4 * (128 + 256) * 128 + 2 * 64 * 144 + 16 * 4 + 8 + 1024);
  EXPECT_EQ(gemm_s8_sm90_work_units(spec, prefill_config(), 200), 2 * 16);
  EXPECT_EQ(gemm_s8_sm90_launch(spec, prefill_config(), 200, 132).grid[0], 32u);
  EXPECT_EQ(gemm_s8_sm90_workspace_bytes(spec, prefill_config(), 8192), 0u);
  // Decode: 4096 / 128 weight tiles x 1 token tile x split 4 = 128 units.
  EXPECT_EQ(gemm_s8_sm90_work_units(spec, decode_config(), 3), 128);
  EXPECT_EQ(gemm_s8_sm90_workspace_bytes(spec, decode_config(), 3), 32u * 4 * 128 * 16 * 4);
  EXPECT_EQ(gemm_s8_sm90_counter_count(spec, decode_config(), 3), 32u * 2);
  // Clusters of two: a unit is one weight tile for two adjacent token tiles; the grid is whole clusters.
  Sm90Tile pair{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 2, .pingpong = true, .cluster_m = 2};
  EXPECT_EQ(gemm_s8_sm90_work_units(spec, pair, 8192), 32 * 32);
  EXPECT_EQ(gemm_s8_sm90_work_units(spec, pair, 300), 2 * 32);  // 3 token tiles -> 2 pairs, the last half empty
  const LaunchDims lp = gemm_s8_sm90_launch(spec, pair, 8192, 133);
  EXPECT_EQ(lp.grid[0], 132u);
  EXPECT_EQ(lp.cluster[0], 2u);
  EXPECT_EQ(gemm_s8_sm90_launch(spec, pair, 100, 132).grid[0], 2u * 32);
}

TEST(CodegenGemmS8Sm90Test, CandidatesValidateAndHeuristicFollowsM) {
  for (const KernelSpec& spec : {spec_of(ElementKind::F16, 4096, 4096), spec_of(ElementKind::F64, 13696, 5120),
                                 spec_of(ElementKind::BF16, 1000, 48)}) {
    const auto candidates = sm90_candidate_configs(spec);
    EXPECT_GE(candidates.size(), 4u);
    for (const Sm90Tile& c : candidates) EXPECT_TRUE(validate_gemm_s8_sm90(spec, c).ok()) << c.to_string();
    for (std::int64_t m : {1, 7, 16, 64, 65, 512, 8192}) {
      const Sm90Tile h = sm90_heuristic_config(spec, m, 132);
      EXPECT_TRUE(validate_gemm_s8_sm90(spec, h).ok()) << h.to_string();
      EXPECT_EQ(h.swap_ab, m <= 64 || (m <= 128 && spec.n <= 8192)) << m;
    }
  }
  const KernelSpec llama = spec_of(ElementKind::F16, 4096, 4096);
  const Sm90Tile d1 = sm90_heuristic_config(llama, 1, 132);
  EXPECT_EQ(d1.block_m, 8);  // no padding of one token to 16
  // Measured on an H200: one consumer on 64 weight rows, no split (9.4 us against 11.3 us for 128 rows split 4).
  EXPECT_EQ(d1.block_n, 64);
  EXPECT_EQ(d1.consumers, 1);
  EXPECT_EQ(d1.split_k, 1);
  const Sm90Tile wide = sm90_heuristic_config(spec_of(ElementKind::BF16, 10240, 8192), 1, 132);
  EXPECT_EQ(wide.block_n, 128);  // wider weights: two consumers on 128 rows
  EXPECT_EQ(wide.consumers, 2);
  // A long K over few weight tiles still splits: 4096 x 14336 gives 64 tiles of 64 rows and 112 K blocks.
  EXPECT_EQ(sm90_heuristic_config(spec_of(ElementKind::BF16, 4096, 14336), 1, 132).split_k, 2);
  const Sm90Tile mid = sm90_heuristic_config(llama, 128, 132);  // still weight streaming at M = 128
  EXPECT_TRUE(mid.swap_ab);
  EXPECT_EQ(mid.block_m, 64);
  EXPECT_EQ(mid.split_k, 1);
  const Sm90Tile big = sm90_heuristic_config(llama, 8192, 132);
  EXPECT_TRUE(big.pingpong);  // each consumer owns a 128 x 128 tile; epilogues hide under the other's main loop
  EXPECT_EQ(big.block_m, 128);
  EXPECT_EQ(big.block_n, 128);
  EXPECT_EQ(big.split_k, 1);
  EXPECT_GE(big.stages, 6);
  EXPECT_EQ(big.cluster_m, 2);  // the weight tile multicast to a pair of CTAs
  const auto space = sm90_candidate_configs(llama);
  EXPECT_NE(std::find(space.begin(), space.end(), big), space.end())
      << "the heuristic's prefill pick must be in the tuner's space";
  // Long K amortises the epilogue: the cooperative 128 x 256 tile measured faster there.
  const Sm90Tile long_k = sm90_heuristic_config(spec_of(ElementKind::BF16, 8192, 28672), 8192, 132);
  EXPECT_FALSE(long_k.pingpong);
  EXPECT_EQ(long_k.block_n, 256);
  EXPECT_EQ(long_k.cluster_m, 1);
  // Ping-pong pairs need two token tiles and two units per CTA: not at M = 128 (one token tile) nor at M = 512 on
  // a 4096-wide weight (64 units for 132 SMs), but at M = 512 on a 12288-wide one (192 units).
  EXPECT_FALSE(sm90_heuristic_config(spec_of(ElementKind::BF16, 57344, 8192), 128, 132).pingpong);
  EXPECT_FALSE(sm90_heuristic_config(llama, 512, 132).pingpong);
  EXPECT_TRUE(sm90_heuristic_config(spec_of(ElementKind::BF16, 12288, 4096), 512, 132).pingpong);
}

struct EncodeCall {
  int data_type, interleave, swizzle, l2, oob;
  std::uint32_t rank;
  void* address;
  std::uint64_t dims[2], strides[1];
  std::uint32_t box[2];
};
std::vector<EncodeCall>* g_calls = nullptr;
int g_encode_result = 0;

int fake_encode(void* map, int data_type, std::uint32_t rank, void* address, const std::uint64_t* dims,
                const std::uint64_t* strides, const std::uint32_t* box, const std::uint32_t*, int interleave,
                int swizzle, int l2, int oob) {
  EncodeCall c{data_type,          interleave,   swizzle,         l2, oob, rank, address,
               {dims[0], dims[1]}, {strides[0]}, {box[0], box[1]}};
  g_calls->push_back(c);
  static_cast<std::uint8_t*>(map)[0] = 0xAB;
  return g_encode_result;
}

GemmS8Params fake_base(std::int32_t m, std::int64_t k, std::int64_t n) {
  GemmS8Params b{};
  b.a = reinterpret_cast<const void*>(0x10000);
  b.b = reinterpret_cast<const void*>(0x20000);
  b.b_scale = reinterpret_cast<const float*>(0x30000);
  b.c = reinterpret_cast<void*>(0x40000);
  b.lda = k;
  b.ldb = k;
  b.ldc = n;
  b.m = m;
  b.a_scale_value = 1.f;
  return b;
}

TEST(CodegenGemmS8Sm90Test, EncodePassesTmaGeometryToTheDriver) {
  std::vector<EncodeCall> calls;
  g_calls = &calls;
  g_encode_result = 0;
  const KernelSpec spec = spec_of(ElementKind::BF16, 11008, 4096);
  GemmS8Sm90Params out;
  ASSERT_TRUE(encode_gemm_s8_sm90_params(fake_encode, spec, prefill_config(), fake_base(300, 4096, 11008), &out).ok());
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].address, reinterpret_cast<void*>(0x10000));
  EXPECT_EQ(calls[0].dims[0], 4096u);
  EXPECT_EQ(calls[0].dims[1], 300u);
  EXPECT_EQ(calls[0].strides[0], 4096u);
  EXPECT_EQ(calls[0].box[0], 128u);
  EXPECT_EQ(calls[0].box[1], 128u);
  EXPECT_EQ(calls[1].dims[1], 11008u);
  EXPECT_EQ(calls[1].box[1], 256u);
  for (const EncodeCall& c : calls) {
    EXPECT_EQ(c.rank, 2u);
    EXPECT_EQ(c.data_type, 0);  // CU_TENSOR_MAP_DATA_TYPE_UINT8
    EXPECT_EQ(c.swizzle, 3);    // CU_TENSOR_MAP_SWIZZLE_128B
    EXPECT_EQ(c.oob, 0);        // zero fill
  }
  EXPECT_EQ(out.tma_a[0], 0xAB);
  EXPECT_EQ(out.base.m, 300);
  // Decode boxes: A (tokens) 128 x block_m, B (weights) 128 x block_n.
  calls.clear();
  GemmS8Params base = fake_base(3, 4096, 11008);
  base.workspace = reinterpret_cast<void*>(0x50000);
  base.tile_counters = reinterpret_cast<std::int32_t*>(0x60000);
  ASSERT_TRUE(encode_gemm_s8_sm90_params(fake_encode, spec, decode_config(), base, &out).ok());
  EXPECT_EQ(calls[0].box[1], 16u);
  EXPECT_EQ(calls[1].box[1], 128u);
  // A cluster of two: each CTA loads and multicasts half of the weight tile.
  calls.clear();
  Sm90Tile pair = prefill_config();
  pair.cluster_m = 2;
  ASSERT_TRUE(encode_gemm_s8_sm90_params(fake_encode, spec, pair, fake_base(300, 4096, 11008), &out).ok());
  EXPECT_EQ(calls[0].box[1], 128u);
  EXPECT_EQ(calls[1].box[1], 128u);
  g_calls = nullptr;
}

TEST(CodegenGemmS8Sm90Test, EncodeRejectsWhatTmaCannotTake) {
  std::vector<EncodeCall> calls;
  g_calls = &calls;
  const KernelSpec spec = spec_of(ElementKind::F16, 4096, 4096);
  GemmS8Sm90Params out;
  GemmS8Params b = fake_base(64, 4096, 4096);
  b.a = reinterpret_cast<const void*>(0x10008);
  Status s = encode_gemm_s8_sm90_params(fake_encode, spec, prefill_config(), b, &out);
  EXPECT_NE(s.message().find("base.a"), std::string::npos) << s.message();
  b = fake_base(64, 4096, 4096);
  b.ldb = 4104;  // not a multiple of 16
  s = encode_gemm_s8_sm90_params(fake_encode, spec, prefill_config(), b, &out);
  EXPECT_NE(s.message().find("base.ldb"), std::string::npos) << s.message();
  b = fake_base(64, 4096, 4096);
  s = encode_gemm_s8_sm90_params(fake_encode, spec, decode_config(), b, &out);  // split-K without a workspace
  EXPECT_NE(s.message().find("base.workspace"), std::string::npos) << s.message();
  s = encode_gemm_s8_sm90_params(fake_encode, spec_of(ElementKind::F16, 4096, 4096, true), prefill_config(), b, &out);
  EXPECT_NE(s.message().find("base.bias"), std::string::npos) << s.message();
  EXPECT_TRUE(calls.empty());
  g_encode_result = 1;  // CUDA_ERROR_INVALID_VALUE
  s = encode_gemm_s8_sm90_params(fake_encode, spec, prefill_config(), b, &out);
  EXPECT_EQ(s.code(), StatusCode::DriverError);
  EXPECT_NE(s.message().find("CUresult 1"), std::string::npos) << s.message();
  g_encode_result = 0;
  g_calls = nullptr;
}

const runtime::Nvrtc* nvrtc_or_skip() {
  auto n = runtime::nvrtc();
  return n.has_value() ? *n : nullptr;
}

void expect_compiles(const KernelSpec& spec, const Sm90Tile& config) {
  const runtime::Nvrtc* nvrtc = nvrtc_or_skip();
  ASSERT_NE(nvrtc, nullptr) << "NVRTC is required for the compile tests";
  auto src = render_gemm_s8_sm90(spec, config);
  ASSERT_TRUE(src.has_value()) << src.error().to_string();
  dump(*src);
  auto out = nvrtc->compile(src->text, src->entry + ".cu", "sm_90a", runtime::default_compile_options());
  ASSERT_TRUE(out.has_value()) << src->entry << ": " << out.error().to_string();
  EXPECT_GT(out->cubin.size(), 1000u) << src->entry;
}

void compile_every_variant(const Sm90Tile& config, std::int64_t n, std::int64_t k) {
  for (ElementKind out : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
    for (bool bias : {false, true})
      for (bool tok : {false, true}) expect_compiles(spec_of(out, n, k, bias, tok), config);
}

TEST(CodegenGemmS8Sm90Test, NvrtcCompilesPrefillEveryDtypeBiasScaleSm90a) {
  compile_every_variant(prefill_config(), 4096, 4096);
}

TEST(CodegenGemmS8Sm90Test, NvrtcCompilesPingPongEveryDtypeBiasScaleSm90a) {
  Sm90Tile pp{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 2, .pingpong = true, .cluster_m = 2};
  EXPECT_NE(sm90_entry_suffix(pp).find("_cl2x1_ab_sk1_pp"), std::string::npos);
  compile_every_variant(pp, 13653, 4112);  // odd N, K % 128 != 0
}

TEST(CodegenGemmS8Sm90Test, NvrtcCompilesDecodeSplitKEveryDtypeBiasScaleSm90a) {
  compile_every_variant(decode_config(), 13653, 4112);  // odd N, K % 128 != 0
}

// Issue 15: K % 16 != 0 on the Hopper kernel (the K tail zero-filled by TMA), decode and prefill configs.
TEST(CodegenGemmS8Sm90Test, NvrtcCompilesOddKSm90a) {
  expect_compiles(spec_of(ElementKind::BF16, 4096, 4095, true), prefill_config());
  expect_compiles(spec_of(ElementKind::F16, 5003, 13653, false, true), decode_config());
  expect_compiles(spec_of(ElementKind::BF16, 4096, 4100, false, false),
                  Sm90Tile{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 2, .pingpong = true});
}

TEST(CodegenGemmS8Sm90Test, NvrtcCompilesOtherShapesOfTheConfigSpace) {
  const KernelSpec spec = spec_of(ElementKind::BF16, 11008, 4096, true);
  expect_compiles(spec, Sm90Tile{.block_m = 256, .block_n = 128, .stages = 4, .consumers = 2});
  expect_compiles(spec, Sm90Tile{.block_m = 128, .block_n = 128, .stages = 6, .split_k = 2, .consumers = 2});
  expect_compiles(spec, Sm90Tile{.block_m = 128, .block_n = 128, .stages = 6, .consumers = 1});
  expect_compiles(spec,
                  Sm90Tile{.block_m = 8, .block_n = 256, .stages = 6, .split_k = 3, .consumers = 2, .swap_ab = true});
  expect_compiles(spec, Sm90Tile{.block_m = 64, .block_n = 64, .stages = 8, .consumers = 1, .swap_ab = true});
  Sm90Tile pp{.block_m = 64, .block_n = 256, .stages = 5, .consumers = 2, .pingpong = true};
  expect_compiles(spec, pp);
  // Cooperative, in a cluster of two.
  expect_compiles(spec, Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2, .cluster_m = 2});
}

TEST(CodegenGemmS8Sm90Test, DeviceParamLayoutMatchesHost) {
  const runtime::Nvrtc* nvrtc = nvrtc_or_skip();
  ASSERT_NE(nvrtc, nullptr);
  auto src = render_gemm_s8_sm90(spec_of(ElementKind::F16, 4096, 4096), prefill_config());
  ASSERT_TRUE(src.has_value());
  std::string probe = src->text;
  auto check = [&](const char* member, std::size_t offset) {
    // NOTE: NVRTC has no offsetof; __INTADDR__ is its front end's constant-folding address intrinsic.
    probe += "static_assert(__INTADDR__(&((qjitk::GemmS8Sm90Params*)0)->" + std::string(member) +
             ") == " + std::to_string(offset) + ", \"" + member + "\");\n";
  };
  check("tma_a", offsetof(GemmS8Sm90Params, tma_a));
  check("tma_b", offsetof(GemmS8Sm90Params, tma_b));
  check("base", offsetof(GemmS8Sm90Params, base));
  check("base.lda", offsetof(GemmS8Sm90Params, base) + offsetof(GemmS8Params, lda));
  check("base.m", offsetof(GemmS8Sm90Params, base) + offsetof(GemmS8Params, m));
  check("base.a_scale_value", offsetof(GemmS8Sm90Params, base) + offsetof(GemmS8Params, a_scale_value));
  check("base.workspace", offsetof(GemmS8Sm90Params, base) + offsetof(GemmS8Params, workspace));
  check("base.tile_counters", offsetof(GemmS8Sm90Params, base) + offsetof(GemmS8Params, tile_counters));
  probe +=
      "static_assert(sizeof(qjitk::GemmS8Sm90Params) == " + std::to_string(sizeof(GemmS8Sm90Params)) + ", \"size\");\n";
  probe += "static_assert(alignof(qjitk::GemmS8Sm90Params) == " + std::to_string(alignof(GemmS8Sm90Params)) +
           ", \"align\");\n";
  auto out = nvrtc->compile(probe, "sm90_layout_probe.cu", "sm_90a", runtime::default_compile_options());
  ASSERT_TRUE(out.has_value()) << out.error().to_string();
  // The probe can fail: a wrong offset is rejected.
  const std::string wrong =
      src->text + "static_assert(__INTADDR__(&((qjitk::GemmS8Sm90Params*)0)->base.m) == 324, \"m\");\n";
  EXPECT_FALSE(
      nvrtc->compile(wrong, "sm90_layout_probe_bad.cu", "sm_90a", runtime::default_compile_options()).has_value());
}

}  // namespace
}  // namespace qjit::codegen
