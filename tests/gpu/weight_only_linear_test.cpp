// GPU tests of WeightOnlyLinearPlan<f16 | bf16> (W8A16, the w8a16_sm80 family): every scale mode (per tensor, per
// channel, per group of 64 and 128) x zero point x bias, decode and prefill M (split-K and large tiles), odd N and K
// (element-loaded tails, a partial last group), strided and misaligned views, a plan run at another M than selected,
// against the f64 reference within precision_guarantee(): quant::QuantizedLinear itself for the per-tensor and
// per-channel modes (its weight_q is checked to be the test's), a direct f64 sum for per-group scales. Fresh random
// inputs each run (the seed is printed on failure), outputs and workspace poisoned first, every element checked
// written and finite, the pad columns of a strided output untouched, a second run bit for bit the first. Also the
// refusals of can_implement / run, naming the field and the expected value. Skip with the reason without a GPU.
#include "qjit/weight_only_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codegen/kernel_params.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_binding.h"
#include "jit/kernel_family.h"
#include "llvm/Support/FormatVariadic.h"
#include "qjit/quant/quantized_linear.h"
#include "runtime/device.h"
#include "runtime/driver.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

template <class T>
struct ElementOf;
template <>
struct ElementOf<bf16> {
  static constexpr ElementKind kKind = ElementKind::BF16;
};
template <>
struct ElementOf<f16> {
  static constexpr ElementKind kKind = ElementKind::F16;
};

struct W8Case {
  std::int64_t m, n, k;
  WeightScaleMode mode = WeightScaleMode::PerChannel;
  int group = 0;  // PerGroup: 64 or 128
  bool zp = false, bias = false;
  std::int64_t act_pad = 0, weight_pad = 0, out_pad = 0, scale_pad = 0;  // row stride = cols + pad
  std::int64_t select_m = 0;                                             // the descriptor's M when not 0
  std::string to_string() const {
    return llvm::formatv("m={0} n={1} k={2} scale={3}{4}{5}{6} pads={7}/{8}/{9}/{10} select_m={11}", m, n, k,
                         mode == WeightScaleMode::PerGroup    ? "group" + std::to_string(group)
                         : mode == WeightScaleMode::PerTensor ? std::string("tensor")
                                                              : std::string("channel"),
                         zp ? " zp" : "", bias ? " bias" : "", "", act_pad, weight_pad, out_pad, scale_pad, select_m)
        .str();
  }
};

// forced: launch this config of the family directly (bound for the plan's spec, W8A16Params built from the views,
// its split-K counters zeroed on the stream as run() does) instead of the plan's choice; the plan still gives the
// precision guarantee (the family's, whatever the config).
Status launch_forced(const jit::KernelBinding& b, const W8Case& c, const void* x, const void* w, const void* s,
                     const void* z, const void* bias, void* y, void* ws, std::int64_t ldx, std::int64_t ldw,
                     std::int64_t ldy, std::int64_t lds) {
  codegen::W8A16Params p{};
  p.x = x;
  p.ldx = ldx;
  p.w = w;
  p.ldw = ldw;
  p.scale = static_cast<const float*>(s);
  p.zero_point = c.zp ? static_cast<const std::int32_t*>(z) : nullptr;
  p.ld_scale = lds;
  p.bias = c.bias ? bias : nullptr;
  p.y = y;
  p.ldy = ldy;
  p.m = static_cast<std::int32_t>(c.m);
  const jit::WorkspaceLayout layout =
      jit::FamilyRegistry::process().family(b.config.family()).workspace(b.spec, b.config, c.m);
  if (layout.bytes > 0) {
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    p.workspace = static_cast<float*>(ws);
    p.tile_counters = reinterpret_cast<std::int32_t*>(static_cast<char*>(ws) + layout.counters_offset);
    QJIT_CU(*api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(p.tile_counters), 0u,
            layout.counters_bytes / 4, nullptr);
  }
  return b.kernel->launch(jit::launch_dims(b, c.m), nullptr, &p);
}

template <class T>
::testing::AssertionResult check(const W8Case& c, const codegen::W8A16Tile* forced = nullptr) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const std::int64_t ldx = c.k + c.act_pad, ldw = c.k + c.weight_pad, ldy = c.n + c.out_pad;
  const std::int64_t s_rows = c.mode == WeightScaleMode::PerTensor ? 1 : c.n;
  const std::int64_t s_cols = c.mode == WeightScaleMode::PerGroup ? (c.k + c.group - 1) / c.group : 1;
  const std::int64_t lds = s_cols + c.scale_pad;
  // Inputs: x rounded to T (padding filled with large values that must not be read), q, scales exact in f32.
  const std::vector<float> xf = random_activations(c.m, c.k, rng, 8.0f);
  std::vector<T> x(static_cast<std::size_t>(c.m * ldx), from_float<T>(1e4f));
  for (std::int64_t i = 0; i < c.m; ++i)
    for (std::int64_t j = 0; j < c.k; ++j) x[i * ldx + j] = from_float<T>(xf[i * c.k + j]);
  std::vector<std::int8_t> q = random_int8(static_cast<std::size_t>(c.n * ldw), rng);
  std::vector<float> scale(static_cast<std::size_t>(s_rows * lds), 1e6f);
  std::vector<std::int32_t> zp(static_cast<std::size_t>(s_rows * lds), 1 << 20);
  std::uniform_real_distribution<float> su(0.002f, 0.02f);
  std::uniform_int_distribution<int> zu(-8, 8);
  for (std::int64_t r = 0; r < s_rows; ++r)
    for (std::int64_t g = 0; g < s_cols; ++g) {
      scale[r * lds + g] = su(rng);
      zp[r * lds + g] = c.zp ? zu(rng) : 0;
    }
  std::vector<T> bias(static_cast<std::size_t>(c.n));
  for (auto& b : bias) b = from_float<T>(std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng));

  DeviceBuffer dx(x.size() * sizeof(T)), dw(q.size()), ds(scale.size() * 4), dz(zp.size() * 4),
      db(bias.size() * sizeof(T)), dy(static_cast<std::size_t>(c.m * ldy) * sizeof(T));
  for (const DeviceBuffer* b : {&dx, &dw, &ds, &dz, &db, &dy})
    if (!b->status().ok()) return ::testing::AssertionFailure() << b->status().to_string();
  if (Status s = dx.upload(x); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = dw.upload(q); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = ds.upload(scale); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = dz.upload(zp); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = db.upload(bias); !s.ok()) return ::testing::AssertionFailure() << s.to_string();

  const auto desc =
      WeightOnlyLinearDescriptor::make<T>(c.select_m ? c.select_m : c.m, c.n, c.k, c.mode, c.group, c.zp, c.bias);
  auto plan = WeightOnlyLinearPlan<T>::select(Stream(), desc);
  if (!plan) return ::testing::AssertionFailure() << "select: " << plan.error().to_string();
  std::optional<jit::KernelBinding> bound;
  if (forced) {
    auto dev = runtime::current_device();
    if (!dev) return ::testing::AssertionFailure() << dev.error().to_string();
    const codegen::KernelSpec spec = codegen::w8a16_spec(
        ElementOf<T>::kKind, c.n, c.k, codegen::m_bucket_of(c.select_m ? c.select_m : c.m), jit::target_arch(*dev),
        c.bias, c.mode != WeightScaleMode::PerTensor, c.mode == WeightScaleMode::PerGroup ? c.group : 0, c.zp);
    auto b = jit::bind_kernel_with(spec, *forced, *dev);
    if (!b) return ::testing::AssertionFailure() << "bind " << forced->to_string() << ": " << b.error().to_string();
    bound = std::move(*b);
  }
  const std::size_t ws_bytes = bound ? jit::kernel_workspace_bytes(bound->spec, bound->config, c.m)
                                     : std::max(plan->workspace_size(c.m), plan->workspace_size());
  const std::string what = bound ? bound->entry + " (" + bound->config.to_string() + ")" : plan->describe();
  // NOTE: the buffer is larger than the plan needs (a workspace shared by many plans): run() may clear its own
  // split-K counters, never the bytes past what it asked for (checked after each run).
  constexpr std::size_t kTail = 4096;
  DeviceBuffer ws(ws_bytes + kTail);
  WeightOnlyLinearArgs<T> a;
  a.activation = TensorRef<T, 2>::strided(dx.get<T>(), c.m, c.k, ldx);
  a.weight = TensorRef<std::int8_t, 2>::strided(dw.get<std::int8_t>(), c.n, c.k, ldw);
  a.weight_scale = TensorRef<float, 2>::strided(ds.get<float>(), s_rows, s_cols, lds);
  if (c.zp) a.zero_point = TensorRef<std::int32_t, 2>::strided(dz.get<std::int32_t>(), s_rows, s_cols, lds);
  if (c.bias) a.bias = TensorRef<T, 1>::contiguous(db.get<T>(), {c.n});
  a.output = TensorMut<T, 2>::strided(dy.get<T>(), c.m, c.n, ldy);

  std::vector<std::vector<std::uint16_t>> runs;
  for (int run = 0; run < 2; ++run) {
    // Poison: NaN in both 16-bit types (and every workspace byte, counters included, to 0xAB).
    if (Status s = dy.fill_bytes(0xFF); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
    if (Status s = ws.fill_bytes(0xAB); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
    const Status ran = bound ? launch_forced(*bound, c, dx.get(), dw.get(), ds.get(), dz.get(), db.get(), dy.get(),
                                             ws.get(), ldx, ldw, ldy, lds)
                             : plan->run(Stream(), Workspace{ws.get(), ws_bytes + kTail}, a);
    if (!ran.ok()) return ::testing::AssertionFailure() << "run: " << ran.to_string() << " (" << what << ")";
    if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
    std::vector<std::uint8_t> tail(kTail);
    if (Status s = ws.download(tail.data(), kTail, ws_bytes); !s.ok())
      return ::testing::AssertionFailure() << s.to_string();
    for (std::size_t i = 0; i < kTail; ++i)
      if (tail[i] != 0xAB)
        return ::testing::AssertionFailure() << "workspace byte " << ws_bytes + i << " past the " << ws_bytes
                                             << " the plan needs was written (" << what << ")";
    auto y = dy.download_as<std::uint16_t>(static_cast<std::size_t>(c.m * ldy));
    if (!y) return ::testing::AssertionFailure() << y.error().to_string();
    runs.push_back(std::move(*y));
  }
  if (runs[0] != runs[1])
    return ::testing::AssertionFailure() << "a second run gave other bits (" << what << "), seed " << seed;
  const std::vector<std::uint16_t>& yb = runs[0];
  auto y_at = [&](std::int64_t i, std::int64_t j) {
    T v;
    std::memcpy(&v, &yb[static_cast<std::size_t>(i * ldy + j)], 2);
    return to_double(v);
  };
  for (std::int64_t i = 0; i < c.m; ++i) {
    for (std::int64_t j = 0; j < c.n; ++j)
      if (!std::isfinite(y_at(i, j)))
        return ::testing::AssertionFailure() << "output[" << i << ", " << j << "] not written or not finite ("
                                             << what << "), seed " << seed;
    for (std::int64_t j = c.n; j < ldy; ++j)
      if (yb[static_cast<std::size_t>(i * ldy + j)] != 0xFFFFu)
        return ::testing::AssertionFailure() << "pad column " << j << " of row " << i << " was written, seed " << seed;
  }

  // The rows compared with the f64 reference: all of them, or (large M) a sample with both ends and tile edges.
  std::vector<std::int64_t> rows;
  if (c.m <= 160) {
    for (std::int64_t i = 0; i < c.m; ++i) rows.push_back(i);
  } else {
    for (std::int64_t i : {std::int64_t{0}, std::int64_t{1}, std::int64_t{15}, std::int64_t{16}, std::int64_t{127},
                           std::int64_t{128}, c.m - 2, c.m - 1})
      rows.push_back(i);
    std::uniform_int_distribution<std::int64_t> ri(0, c.m - 1);
    for (int i = 0; i < 16; ++i) rows.push_back(ri(rng));
  }
  // w_ref = (q - zp) * scale in f64.
  auto sidx = [&](std::int64_t n, std::int64_t kk) {
    const std::int64_t r = c.mode == WeightScaleMode::PerTensor ? 0 : n;
    const std::int64_t g = c.mode == WeightScaleMode::PerGroup ? kk / c.group : 0;
    return static_cast<std::size_t>(r * lds + g);
  };
  std::vector<double> wref(static_cast<std::size_t>(c.n * c.k));
  for (std::int64_t n = 0; n < c.n; ++n)
    for (std::int64_t kk = 0; kk < c.k; ++kk)
      wref[n * c.k + kk] = (double(q[n * ldw + kk]) - zp[sidx(n, kk)]) * double(scale[sidx(n, kk)]);
  quant::MatrixF64 xs = quant::MatrixF64::zeros(static_cast<std::int64_t>(rows.size()), c.k);
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::int64_t kk = 0; kk < c.k; ++kk)
      xs.at(static_cast<std::int64_t>(r), kk) = to_double(x[rows[r] * ldx + kk]);
  // The seed's QuantizedLinear where it has the mode (per tensor / per channel): from the dequantized weight and
  // the params it re-quantizes to exactly q; its forward is then the reference.
  std::vector<double> yref(rows.size() * static_cast<std::size_t>(c.n), 0.0);
  if (c.mode != WeightScaleMode::PerGroup) {
    quant::QuantizationParams params;
    params.granularity =
        c.mode == WeightScaleMode::PerTensor ? quant::QuantGranularity::PerTensor : quant::QuantGranularity::PerChannel;
    params.symmetric = !c.zp;
    for (std::int64_t r = 0; r < s_rows; ++r) {
      params.scales.push_back(scale[r * lds]);
      params.zero_points.push_back(zp[r * lds]);
    }
    auto ql = quant::QuantizedLinear::from_fp(quant::MatrixF64{c.n, c.k, wref}, params);
    if (!ql) return ::testing::AssertionFailure() << "QuantizedLinear::from_fp: " << ql.error().to_string();
    for (std::int64_t n = 0; n < c.n; ++n)
      for (std::int64_t kk = 0; kk < c.k; ++kk)
        if (ql->weight_q()[n * c.k + kk] != q[n * ldw + kk])
          return ::testing::AssertionFailure() << "QuantizedLinear re-quantized weight[" << n << ", " << kk << "] to "
                                               << int(ql->weight_q()[n * c.k + kk]) << ", not " << int(q[n * ldw + kk]);
    if (c.bias) {
      std::vector<double> bd(static_cast<std::size_t>(c.n));
      for (std::int64_t n = 0; n < c.n; ++n) bd[n] = to_double(bias[n]);
      auto with = ql->with_bias(std::move(bd));
      if (!with) return ::testing::AssertionFailure() << with.error().to_string();
      ql = std::move(with);
    }
    auto out = ql->forward(xs);
    if (!out) return ::testing::AssertionFailure() << "QuantizedLinear::forward: " << out.error().to_string();
    yref = out->data;
  } else {
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::int64_t n = 0; n < c.n; ++n) {
        double s = c.bias ? to_double(bias[n]) : 0.0;
        for (std::int64_t kk = 0; kk < c.k; ++kk) s += xs.at(static_cast<std::int64_t>(r), kk) * wref[n * c.k + kk];
        yref[r * c.n + n] = s;
      }
  }
  const PrecisionGuarantee g = plan->precision_guarantee();
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::int64_t n = 0; n < c.n; ++n) {
      double mag = c.bias ? std::fabs(to_double(bias[n])) : 0.0;
      for (std::int64_t kk = 0; kk < c.k; ++kk)
        mag += std::fabs(xs.at(static_cast<std::int64_t>(r), kk) * wref[n * c.k + kk]);
      const double got = y_at(rows[r], n), want = yref[r * c.n + n];
      const double err = std::fabs(got - want);
      if (!(err <= g.epilogue_relative_error * mag))
        return ::testing::AssertionFailure()
               << "output[" << rows[r] << ", " << n << "] = " << got << ", reference " << want << ", error " << err
               << " > " << g.epilogue_relative_error << " x " << mag << " (" << what << "), seed " << seed;
    }
  return ::testing::AssertionSuccess();
}

constexpr struct {
  WeightScaleMode mode;
  int group;
} kModes[] = {{WeightScaleMode::PerTensor, 0},
              {WeightScaleMode::PerChannel, 0},
              {WeightScaleMode::PerGroup, 64},
              {WeightScaleMode::PerGroup, 128}};

template <class T>
void every_mode(std::int64_t m, std::int64_t n, std::int64_t k) {
  for (const auto& md : kModes)
    for (bool zp : {false, true})
      for (bool bias : {false, true}) {
        W8Case c{m, n, k, md.mode, md.group, zp, bias};
        EXPECT_TRUE(check<T>(c)) << c.to_string();
      }
}

TEST(WeightOnlyLinearGpuTest, Bf16EveryScaleModeZeroPointBiasDecode) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 16}) every_mode<bf16>(m, 1536, 2048);
}
TEST(WeightOnlyLinearGpuTest, F16EveryScaleModeZeroPointBiasDecode) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 16}) every_mode<f16>(m, 1536, 2048);
}
TEST(WeightOnlyLinearGpuTest, Bf16EveryScaleModeZeroPointBiasPrefill) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {129, 2048}) every_mode<bf16>(m, 1024, 1024);
}
TEST(WeightOnlyLinearGpuTest, F16EveryScaleModeZeroPointBiasPrefill) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {129, 2048}) every_mode<f16>(m, 1024, 1024);
}

TEST(WeightOnlyLinearGpuTest, OddNAndKEveryMode) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 16, 129}) {
    for (const auto& md : kModes) {
      EXPECT_TRUE(check<bf16>(W8Case{m, 1001, 1000, md.mode, md.group, true, true})) << m;  // odd N, K % 16 = 8
      EXPECT_TRUE(check<f16>(W8Case{m, 333, 517, md.mode, md.group, true, false})) << m;    // odd N and K
    }
    EXPECT_TRUE(check<bf16>(W8Case{m, 7, 9, WeightScaleMode::PerChannel, 0, false, true})) << m;  // tiny
  }
}

// The decode layout (swap_ab, templates/w8a16_sm80_decode.cuh), each config launched directly: M in {1, 3, 8, 9, 16}
// (one or two n8 token fragments, one or two token tiles of 8), warp grids of 16 and 32 channels a warp, warps along
// K, k blocks of 64 and 128, rings of 2 to 8, split and unsplit; on aligned shapes (the fast path), odd N and K and
// K % 128 != 0 (the generic path's tails), misaligned views; group 64 / 128 with zero points, per channel, per tensor,
// bias; bf16 and f16; a K slice whose x fills the shared memory. Configs a shape cannot take (validate) are skipped.
template <class T>
void decode_configs(std::int64_t m) {
  const int bm = m <= 8 ? 8 : 16;
  const codegen::W8A16Tile configs[] = {
      {.block_m = bm, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 4, .split_k = 1,
       .swap_ab = true},
      {.block_m = bm, .block_n = 64, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 2, .split_k = 4,
       .swap_ab = true},
      {.block_m = bm, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 8, .split_k = 2,
       .swap_ab = true},
      {.block_m = 8, .block_n = 256, .block_k = 64, .warps_m = 1, .warps_n = 8, .stages = 4, .split_k = 3,
       .swap_ab = true},
      // The wide tile unsplit: at K = 7168 and 16 tokens x of the K slice takes 224 KiB, next to sm_90a's limit (the
      // heuristic's n8192 k28672 M = 16 pick, sk4, stages the same 7168-wide slice).
      {.block_m = bm, .block_n = 256, .block_k = 64, .warps_m = 1, .warps_n = 8, .stages = 4, .split_k = 1,
       .swap_ab = true}};
  struct Shape {
    std::int64_t n, k;
    WeightScaleMode mode;
    int group;
    bool zp, bias;
    std::int64_t act_pad, weight_pad, out_pad;
  };
  const Shape shapes[] = {{1000, 1024, WeightScaleMode::PerGroup, 64, true, true, 0, 0, 0},
                          {1024, 2048, WeightScaleMode::PerGroup, 128, false, false, 0, 0, 0},
                          {333, 517, WeightScaleMode::PerChannel, 0, false, true, 0, 0, 0},
                          {520, 4160, WeightScaleMode::PerTensor, 0, true, false, 0, 0, 0},
                          {1000, 1024, WeightScaleMode::PerGroup, 128, true, true, 1, 3, 1},
                          {512, 7168, WeightScaleMode::PerChannel, 0, false, true, 0, 0, 0}};
  for (const Shape& sh : shapes) {
    W8Case c{m, sh.n, sh.k, sh.mode, sh.group, sh.zp, sh.bias};
    c.act_pad = sh.act_pad;
    c.weight_pad = sh.weight_pad;
    c.out_pad = sh.out_pad;
    for (const codegen::W8A16Tile& cfg : configs) {
      const codegen::KernelSpec spec = codegen::w8a16_spec(
          ElementOf<T>::kKind, c.n, c.k, codegen::m_bucket_of(m), 90, c.bias, c.mode != WeightScaleMode::PerTensor,
          c.mode == WeightScaleMode::PerGroup ? c.group : 0, c.zp);
      if (!codegen::validate_w8a16_sm80(spec, cfg).ok()) continue;
      EXPECT_TRUE(check<T>(c, &cfg)) << c.to_string() << " " << cfg.to_string();
    }
  }
}
TEST(WeightOnlyLinearGpuTest, Bf16DecodeLayoutConfigs) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 3, 8, 9, 16}) decode_configs<bf16>(m);
}
TEST(WeightOnlyLinearGpuTest, F16DecodeLayoutConfigs) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 3, 8, 9, 16}) decode_configs<f16>(m);
}
// The plan's own decode choice (swap_ab at M <= 16) on the benchmark shapes, split K, poisoned, against f64.
TEST(WeightOnlyLinearGpuTest, DecodeLayoutHeuristicOnLlamaShapes) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 16}) {
    EXPECT_TRUE(check<bf16>(W8Case{m, 4096, 4096, WeightScaleMode::PerChannel, 0, false, false}));
    EXPECT_TRUE(check<f16>(W8Case{m, 4096, 8192, WeightScaleMode::PerGroup, 128, true, true}));
  }
}

TEST(WeightOnlyLinearGpuTest, StridedAndMisalignedViews) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {3, 300}) {
    W8Case c{m, 1024, 2048, WeightScaleMode::PerGroup, 128, true, true};
    c.act_pad = 8;  // 16-byte rows still: cp.async
    c.weight_pad = 16;
    c.out_pad = 3;
    c.scale_pad = 5;
    EXPECT_TRUE(check<bf16>(c)) << c.to_string();
    W8Case d{m, 1000, 1024, WeightScaleMode::PerChannel, 0, true, false};
    d.act_pad = 1;     // misaligned x rows: element loads
    d.weight_pad = 3;  // misaligned q rows
    d.out_pad = 1;     // odd ldy: element stores
    d.scale_pad = 2;
    EXPECT_TRUE(check<f16>(d)) << d.to_string();
  }
}

TEST(WeightOnlyLinearGpuTest, RunAtAnotherMThanSelected) {
  QJIT_REQUIRE_GPU();
  W8Case c{300, 2048, 4096, WeightScaleMode::PerGroup, 64, true, true};
  c.select_m = 16;  // the decode config (split-K) at prefill M
  EXPECT_TRUE(check<bf16>(c)) << c.to_string();
  W8Case d{5, 4096, 1024, WeightScaleMode::PerChannel, 0, false, true};
  d.select_m = 4096;
  EXPECT_TRUE(check<f16>(d)) << d.to_string();
}

TEST(WeightOnlyLinearGpuTest, CanImplementRefusalsNameTheFieldAndExpectedValue) {
  QJIT_REQUIRE_GPU();
  const std::int64_t m = 4, n = 256, k = 512;
  auto plan = WeightOnlyLinearPlan<bf16>::select(
      Stream(), WeightOnlyLinearDescriptor::make<bf16>(m, n, k, WeightScaleMode::PerGroup, 128, true, true));
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  DeviceBuffer dx(m * k * 2), dw(n * k), ds(n * 4 * 4), dz(n * 4 * 4), db(n * 2), dy(m * n * 2);
  WeightOnlyLinearArgs<bf16> ok;
  ok.activation = TensorRef<bf16, 2>::contiguous(dx.get<bf16>(), {m, k});
  ok.weight = TensorRef<std::int8_t, 2>::contiguous(dw.get<std::int8_t>(), {n, k});
  ok.weight_scale = TensorRef<float, 2>::contiguous(ds.get<float>(), {n, 4});
  ok.zero_point = TensorRef<std::int32_t, 2>::contiguous(dz.get<std::int32_t>(), {n, 4});
  ok.bias = TensorRef<bf16, 1>::contiguous(db.get<bf16>(), {n});
  ok.output = TensorMut<bf16, 2>::contiguous(dy.get<bf16>(), {m, n});
  QJIT_ASSERT_OK(plan->can_implement(ok));
  auto refused = [&](const WeightOnlyLinearArgs<bf16>& a, const char* needle) {
    const Status s = plan->can_implement(a);
    EXPECT_EQ(s.code(), StatusCode::InvalidArgument) << needle;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
    const Status r = plan->run(Stream(), Workspace{}, a);  // run checks the same, before any launch
    EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
  };
  auto a = ok;
  a.weight_scale = TensorRef<float, 2>::contiguous(ds.get<float>(), {n, 1});
  refused(a, "weight_scale.shape must be [N=256, ceil(K / 128)=4], got [256, 1]");
  a = ok;
  a.zero_point = {};
  refused(a, "zero_point.data is null");
  a = ok;
  a.zero_point = TensorRef<std::int32_t, 2>::strided(dz.get<std::int32_t>(), n, 4, 5);
  refused(a, "zero_point.stride[0] must equal weight_scale.stride[0] = 4, got 5");
  a = ok;
  a.bias = {};
  refused(a, "bias.data is null");
  a = ok;
  a.weight = TensorRef<std::int8_t, 2>::contiguous(dw.get<std::int8_t>(), {n, k - 1});
  refused(a, "weight.shape must be [N=256, K=512], got [256, 511]");
  a = ok;
  a.output = TensorMut<bf16, 2>::contiguous(dy.get<bf16>(), {m + 1, n});
  refused(a, "output.shape must be [M=4, N=256], got [5, 256]");
  a = ok;
  a.activation = TensorRef<bf16, 2>::strided(dx.get<bf16>(), m, k, k - 1);
  refused(a, "activation.stride[0] must be >= K = 512, got 511");
  // A plan without zero points or bias refuses them.
  auto plain = WeightOnlyLinearPlan<bf16>::select(
      Stream(), WeightOnlyLinearDescriptor::make<bf16>(m, n, k, WeightScaleMode::PerChannel));
  ASSERT_TRUE(plain.has_value()) << plain.error().to_string();
  a = ok;
  a.weight_scale = TensorRef<float, 2>::contiguous(ds.get<float>(), {n, 1});
  a.bias = {};
  const Status z = plain->can_implement(a);
  EXPECT_NE(z.message().find("zero_point must be empty: the descriptor has has_zero_point = false"), std::string::npos)
      << z.message();
  a.zero_point = {};
  QJIT_ASSERT_OK(plain->can_implement(a));
  a.bias = ok.bias;
  EXPECT_NE(plain->can_implement(a).message().find("bias must be empty"), std::string::npos);
  // A split-K plan refuses a workspace that is too small, naming both sizes.
  auto decode = WeightOnlyLinearPlan<bf16>::select(
      Stream(), WeightOnlyLinearDescriptor::make<bf16>(1, 1536, 4096, WeightScaleMode::PerChannel));
  ASSERT_TRUE(decode.has_value()) << decode.error().to_string();
  if (decode->workspace_size() > 0) {
    DeviceBuffer x1(4096 * 2), w1(1536 * 4096), s1(1536 * 4), y1(1536 * 2);
    WeightOnlyLinearArgs<bf16> d;
    d.activation = TensorRef<bf16, 2>::contiguous(x1.get<bf16>(), {1, 4096});
    d.weight = TensorRef<std::int8_t, 2>::contiguous(w1.get<std::int8_t>(), {1536, 4096});
    d.weight_scale = TensorRef<float, 2>::contiguous(s1.get<float>(), {1536, 1});
    d.output = TensorMut<bf16, 2>::contiguous(y1.get<bf16>(), {1, 1536});
    const Status s = decode->run(Stream(), Workspace{nullptr, 0}, d);
    EXPECT_NE(s.message().find("workspace must hold"), std::string::npos) << s.message() << " " << decode->describe();
  }
  const PrecisionGuarantee g = plan->precision_guarantee();
  EXPECT_TRUE(g.deterministic);
  EXPECT_FALSE(g.exact_accumulation);
  EXPECT_DOUBLE_EQ(g.epilogue_relative_error, 2 * std::ldexp(1.0, -8) + (k + 4) * std::ldexp(1.0, -22));
}

}  // namespace
}  // namespace qjit::testing
