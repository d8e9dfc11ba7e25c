// The arithmetic contract on the GPU: on sm_90 the portable (sm80, mma.sync) and Hopper (sm90, wgmma + TMA)
// families, given the same int8 operands, scales and bias, write bit-identical outputs, because both epilogues are
// common.cuh's EpilogueMath ((a_s * b_s) * acc (+ bias), each step rounded on its own, never an FMA; the int32
// accumulation is exact in both). Covers f16, bf16 and f32 outputs, bias and none, per-token and per-tensor scales,
// M = 1, 64 and 300, and for the Hopper family its heuristic config (swap-AB direct epilogue for small M, staged for
// large) plus a fixed cooperative and a split-K one. Skips without a GPU, or on a GPU that is not sm_90.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/gemm_s8_sm80.h"
#include "ops/config_choice.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

struct Case {
  ElementKind out;
  bool bias;
  bool per_token;
  std::int64_t m, n, k;
  std::string to_string() const {
    return std::string(element_name(out)) + (bias ? " bias" : " nobias") + (per_token ? " per_token" : " per_tensor") +
           " M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k);
  }
};

std::vector<std::uint8_t> bias_bytes(ElementKind out, const std::vector<float>& v) {
  std::vector<std::uint8_t> bytes(v.size() * element_size(out));
  if (out == ElementKind::F32) {
    std::memcpy(bytes.data(), v.data(), bytes.size());
  } else if (out == ElementKind::F16) {
    const auto h = convert_from_float<f16>(v);
    std::memcpy(bytes.data(), h.data(), bytes.size());
  } else {
    const auto h = convert_from_float<bf16>(v);
    std::memcpy(bytes.data(), h.data(), bytes.size());
  }
  return bytes;
}

// Runs `binding` on the case's inputs and returns the output bytes.
Result<std::vector<std::uint8_t>> run(const ops::KernelBinding& binding, const Case& c, const DeviceBuffer& a,
                                      const DeviceBuffer& b, const DeviceBuffer& a_scale, const DeviceBuffer& b_scale,
                                      const DeviceBuffer& bias, float a_scale_value) {
  const std::size_t out_bytes = static_cast<std::size_t>(c.m * c.n) * element_size(c.out);
  DeviceBuffer dc(out_bytes);
  const std::size_t ws_bytes = ops::kernel_workspace_bytes(binding.spec, binding.config, c.m);
  DeviceBuffer dws(ws_bytes > 0 ? ws_bytes : 16);
  QJIT_TRY(dc.status());
  QJIT_TRY(dws.status());
  QJIT_TRY(dc.fill_bytes(0xFF));  // NaN poison: an unwritten element cannot match by accident
  if (ws_bytes > 0) QJIT_TRY(dws.fill_bytes(0));
  codegen::GemmS8Params p{};
  p.a = a.get();
  p.b = b.get();
  p.lda = c.k;
  p.ldb = c.k;
  p.a_scale = c.per_token ? a_scale.get<float>() : nullptr;
  p.a_scale_value = a_scale_value;
  p.b_scale = b_scale.get<float>();
  p.bias = c.bias ? bias.get() : nullptr;
  p.c = dc.get();
  p.ldc = c.n;
  p.m = static_cast<int>(c.m);
  p.workspace = ws_bytes > 0 ? dws.get() : nullptr;
  QJIT_TRY(ops::launch_gemm(binding, p, ws_bytes, nullptr));
  QJIT_TRY(synchronize());
  return dc.download_as<std::uint8_t>(out_bytes);
}

::testing::AssertionResult check_case(const Case& c) {
  const runtime::DeviceInfo& device = *gpu();
  codegen::KernelSpec spec;
  spec.op = codegen::KernelOp::GemmS8;
  spec.in_element = ElementKind::S8;
  spec.out_element = c.out;
  spec.n = c.n;
  spec.k = c.k;
  spec.m_bucket = codegen::m_bucket_of(c.m);
  spec.has_bias = c.bias;
  spec.per_token_scale = c.per_token;
  spec.arch = ops::target_arch(device);

  // The portable family, forced (it runs on Hopper too).
  const codegen::TileConfig sm80_cfg =
      codegen::Sm80Tile{.block_m = 64, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4};
  auto sm80 = ops::bind_kernel_with(spec, sm80_cfg, device);
  if (!sm80) return ::testing::AssertionFailure() << "bind sm80: " << sm80.error().to_string();
  // The Hopper family: its heuristic pick for this M, a cooperative prefill config and a split-K decode config.
  std::vector<codegen::TileConfig> sm90_cfgs;
  auto heuristic = ops::choose_config(spec, PlanPreference::Heuristic, device);
  if (!heuristic) return ::testing::AssertionFailure() << "choose_config: " << heuristic.error().to_string();
  if (heuristic->family() != codegen::KernelFamily::GemmSm90)
    return ::testing::AssertionFailure() << "the heuristic picked " << heuristic->to_string()
                                         << ", not the Hopper family: " << ops::family_reason(spec);
  sm90_cfgs.push_back(*heuristic);
  sm90_cfgs.push_back(codegen::Sm90Tile{.block_m = 128, .block_n = 128, .stages = 4, .consumers = 2});
  if (c.m <= 16)
    sm90_cfgs.push_back(
        codegen::Sm90Tile{.block_m = 16, .block_n = 128, .stages = 6, .split_k = 2, .consumers = 1, .swap_ab = true});

  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const auto a = random_int8(static_cast<std::size_t>(c.m * c.k), rng);
  const auto b = random_int8(static_cast<std::size_t>(c.n * c.k), rng);
  const auto a_scale = random_floats(static_cast<std::size_t>(c.m), 1e-3f, 3e-2f, rng);
  const auto b_scale = random_floats(static_cast<std::size_t>(c.n), 1e-3f, 3e-2f, rng);
  const auto bias = bias_bytes(c.out, random_floats(static_cast<std::size_t>(c.n), -4.0f, 4.0f, rng));
  const float a_scale_value = 0.0123f;
  DeviceBuffer da(a.size()), db(b.size()), das(a_scale.size() * 4), dbs(b_scale.size() * 4), dbias(bias.size());
  for (const DeviceBuffer* buf : {&da, &db, &das, &dbs, &dbias})
    if (!buf->status().ok()) return ::testing::AssertionFailure() << buf->status().to_string();
  for (Status s : {da.upload(a), db.upload(b), das.upload(a_scale), dbs.upload(b_scale), dbias.upload(bias)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();

  auto want = run(*sm80, c, da, db, das, dbs, dbias, a_scale_value);
  if (!want) return ::testing::AssertionFailure() << "sm80 run: " << want.error().to_string();
  const std::size_t esize = element_size(c.out);
  for (const codegen::TileConfig& cfg : sm90_cfgs) {
    auto sm90 = ops::bind_kernel_with(spec, cfg, device);
    if (!sm90) return ::testing::AssertionFailure() << "bind " << cfg.to_string() << ": " << sm90.error().to_string();
    auto got = run(*sm90, c, da, db, das, dbs, dbias, a_scale_value);
    if (!got) return ::testing::AssertionFailure() << cfg.to_string() << " run: " << got.error().to_string();
    for (std::size_t i = 0; i < want->size(); i += esize)
      if (std::memcmp(want->data() + i, got->data() + i, esize) != 0) {
        const std::size_t e = i / esize;
        std::uint64_t wb = 0, gb = 0;
        std::memcpy(&wb, want->data() + i, esize);
        std::memcpy(&gb, got->data() + i, esize);
        return ::testing::AssertionFailure()
               << cfg.to_string() << " vs " << sm80_cfg.to_string() << ": output[" << e / c.n << "," << e % c.n
               << "] bits 0x" << std::hex << gb << ", sm80 0x" << wb << std::dec << " (seed " << seed << ")";
      }
  }
  return ::testing::AssertionSuccess();
}

TEST(GemmFamiliesBitwise, Sm80AndSm90GiveIdenticalBitsOnHopper) {
  QJIT_REQUIRE_GPU();
  if (gpu()->arch != 90) GTEST_SKIP() << "needs an sm_90 GPU (both families), this one is sm_" << gpu()->arch;
  if (const char* v = std::getenv("QJIT_DISABLE_SM90"); v && std::string(v) == "1")
    GTEST_SKIP() << "QJIT_DISABLE_SM90=1 turns the Hopper family off in this process";
  int cases = 0;
  for (ElementKind out : {ElementKind::F16, ElementKind::BF16, ElementKind::F32})
    for (bool bias : {false, true})
      for (bool per_token : {true, false})
        for (std::int64_t m : {1, 64, 300}) {
          const Case c{out, bias, per_token, m, 1000, 1024};  // N = 1000: a partial last tile on every config
          EXPECT_TRUE(check_case(c)) << c.to_string();
          ++cases;
        }
  std::printf(
      "[ info    ] %d cases, each compared against the Hopper family's heuristic, cooperative and (M <= 16) "
      "split-K configs\n",
      cases);
}

}  // namespace
}  // namespace qjit::testing
