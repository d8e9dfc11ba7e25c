// The staged Hopper path (issue 15, ops/staging.h) without a GPU: the public layout helpers (qjit::staged_rows_bytes,
// qjit::staged_workspace_size) against the plans' workspace_size and the route's offsets; the route one call takes
// for each kind of view (in place, staged, portable) and what it needs of the workspace; the agreement between
// can_implement and run (every view can_implement accepts is routed, a workspace sized by workspace_size -- or by
// staged_workspace_size where K % 16 == 0 -- always takes the Hopper kernel); and run()'s workspace messages, which
// name the caller's fields (workspace.bytes, workspace.data), never an internal one. The cores here are built by
// hand with no kernel loaded: every run() below fails in its workspace check, before any driver call.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/config_choice.h"
#include "ops/linear_core.h"
#include "ops/linear_specs.h"
#include "ops/plan_core.h"
#include "ops/staging.h"
#include "ops/validate.h"
#include "qjit/linear.h"

namespace qjit {
namespace {

using ops::GemmPath;
using ops::GemmRouteRequest;
using ops::Int8View;

const void* at(std::uintptr_t address) { return reinterpret_cast<const void*>(address); }

TEST(OpsStaging, PublicHelpersLayOutWholeLinesOn256ByteBoundaries) {
  EXPECT_EQ(staged_rows_bytes(16, 4100), 16u * 4224u);
  EXPECT_EQ(staged_rows_bytes(1, 4095), 4096u);
  EXPECT_EQ(staged_rows_bytes(1, 100), 256u);  // one 128-byte row, rounded up to the region boundary
  EXPECT_EQ(staged_rows_bytes(0, 4096), 0u);
  EXPECT_EQ(staged_rows_bytes(4097, 4100) % 256, 0u);
  // K % 16 != 0: the plan's workspace_size already counts both regions.
  EXPECT_EQ(staged_workspace_size(12345, 16, 4096, 4100), 12345u);
  // K % 16 == 0: the plan's own bytes rounded up, then both regions.
  EXPECT_EQ(staged_workspace_size(0, 16, 4096, 4096), 16u * 4096u + 4096u * 4096u);
  EXPECT_EQ(staged_workspace_size(257, 1, 1, 4096), 512u + 4096u + 4096u);
}

TEST(OpsStaging, WorkspaceBytesCountStagingOnlyWhereEveryContiguousViewNeedsIt) {
  // A family that reads any view never stages.
  EXPECT_EQ(ops::linear_workspace_bytes(1, 1000, 16, 4096, 4100), 1000u);
  // The Hopper family: K % 16 == 0 -> its own bytes; else those rounded up and both regions.
  EXPECT_EQ(ops::linear_workspace_bytes(16, 1000, 16, 4096, 4096), 1000u);
  EXPECT_EQ(ops::linear_workspace_bytes(16, 1000, 16, 4096, 4100),
            1024u + staged_rows_bytes(16, 4100) + staged_rows_bytes(4096, 4100));
  EXPECT_TRUE(ops::stages_by_default(16, 4095));
  EXPECT_FALSE(ops::stages_by_default(16, 4096));
  EXPECT_FALSE(ops::stages_by_default(1, 4095));
}

TEST(OpsStaging, TmaReadsOnlySixteenByteBasesAndStridesOfAtLeastK) {
  EXPECT_TRUE(ops::tma_readable({at(0x10000), 16, 4096}, 4096, 16));
  EXPECT_TRUE(ops::tma_readable({at(0x10000), 16, 4112}, 4100, 16));  // padded rows
  EXPECT_FALSE(ops::tma_readable({at(0x10000), 16, 4100}, 4100, 16));
  EXPECT_FALSE(ops::tma_readable({at(0x10000), 16, 4104}, 4096, 16));  // issue 15's act_q stride
  EXPECT_FALSE(ops::tma_readable({at(0x10008), 16, 4096}, 4096, 16));  // base
  // One row: the stride is never followed (bindings normalise it to K), only the base counts.
  EXPECT_TRUE(ops::tma_readable({at(0x10000), 1, 4100}, 4100, 16));
  EXPECT_TRUE(ops::tma_readable({at(0x10000), 1, 0}, 4096, 16));
  EXPECT_FALSE(ops::tma_readable({at(0x10008), 1, 4096}, 4096, 16));
  EXPECT_TRUE(ops::tma_readable({at(0x10001), 3, 5}, 5, 1));
}

GemmRouteRequest request(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t lda, std::int64_t ldb,
                         std::size_t gemm_bytes, Workspace ws) {
  GemmRouteRequest r;
  r.align = 16;
  r.m = m;
  r.n = n;
  r.k = k;
  r.act = {at(0x100000), m, lda};
  r.weight = {at(0x8000000), n, ldb};
  r.gemm_bytes = gemm_bytes;
  r.ws = ws;
  return r;
}

TEST(OpsStaging, OddKStagesBothOperandsBehindThePlansOwnBytes) {
  const std::int64_t m = 16, n = 4096, k = 4100;
  const std::size_t gemm = 70000;
  const std::size_t size = ops::linear_workspace_bytes(16, gemm, m, n, k);
  auto route = ops::route_gemm(request(m, n, k, k, k, gemm, {reinterpret_cast<void*>(0x40000000), size}));
  ASSERT_TRUE(route.has_value()) << route.error().to_string();
  EXPECT_EQ(route->path, GemmPath::Staged);
  EXPECT_TRUE(route->stage_act && route->stage_weight);
  EXPECT_EQ(route->gemm_offset, 0u);
  EXPECT_EQ(route->act_offset, ops::round_up_staging(gemm));
  EXPECT_EQ(route->weight_offset, route->act_offset + staged_rows_bytes(m, k));
  EXPECT_EQ(route->staged_stride, 4224);
  EXPECT_EQ(route->need, size);
  // What a test reads back: the staged act region is workspace_size(m) minus both regions.
  EXPECT_EQ(route->act_offset, size - staged_rows_bytes(m, k) - staged_rows_bytes(n, k));
}

TEST(OpsStaging, APrePaddedWeightIsReadInPlaceAndNeedsNoWeightRegion) {
  const std::int64_t m = 300, n = 5003, k = 4095;
  auto route = ops::route_gemm(
      request(m, n, k, k, preferred_row_stride(k), 0, {reinterpret_cast<void*>(0x40000000), staged_rows_bytes(m, k)}));
  ASSERT_TRUE(route.has_value()) << route.error().to_string();
  EXPECT_EQ(route->path, GemmPath::Staged);
  EXPECT_TRUE(route->stage_act);
  EXPECT_FALSE(route->stage_weight);
  EXPECT_EQ(route->act_offset, 0u);
  EXPECT_EQ(route->need, staged_rows_bytes(m, k));
}

// Issue 15's second case: K = 4096 with an activation row stride of 4104. The plan's workspace_size has no staged
// rows (K % 16 == 0): the portable kernel, never a refusal; with staged_workspace_size: the Hopper kernel.
TEST(OpsStaging, AlignedKWithAMisalignedStrideStagesWhenTheWorkspaceHasRoom) {
  const std::int64_t m = 16, n = 4096, k = 4096;
  const std::size_t gemm = 4000;
  void* const base = reinterpret_cast<void*>(0x40000000);
  auto small = ops::route_gemm(request(m, n, k, 4104, k, gemm, {base, gemm}));
  ASSERT_TRUE(small.has_value()) << small.error().to_string();
  EXPECT_EQ(small->path, GemmPath::Portable);
  EXPECT_FALSE(small->stage_act || small->stage_weight);
  EXPECT_NE(small->why_portable.find("qjit::staged_workspace_size"), std::string::npos) << small->why_portable;
  auto roomy = ops::route_gemm(request(m, n, k, 4104, k, gemm, {base, staged_workspace_size(gemm, m, n, k)}));
  ASSERT_TRUE(roomy.has_value()) << roomy.error().to_string();
  EXPECT_EQ(roomy->path, GemmPath::Staged);
  EXPECT_TRUE(roomy->stage_act);
  EXPECT_FALSE(roomy->stage_weight);
  EXPECT_EQ(roomy->act_offset, 4096u);
  EXPECT_EQ(roomy->staged_stride, 4096);
  // One byte short of the act region: portable again.
  auto short_one = ops::route_gemm(request(m, n, k, 4104, k, gemm, {base, 4096 + staged_rows_bytes(m, k) - 1}));
  ASSERT_TRUE(short_one.has_value());
  EXPECT_EQ(short_one->path, GemmPath::Portable);
}

TEST(OpsStaging, AMisalignedWorkspaceRunsPortableAndSaysWhy) {
  auto r = ops::route_gemm(request(16, 256, 100, 100, 100, 0, {reinterpret_cast<void*>(0x40000008), 1 << 20}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, GemmPath::Portable);
  EXPECT_NE(r->why_portable.find("16-byte aligned workspace.data"), std::string::npos) << r->why_portable;
}

TEST(OpsStaging, DirectRouteErrorsNameTheCallersWorkspaceFields) {
  const std::int64_t m = 16, n = 4096, k = 4096;
  auto shortfall = ops::route_gemm(request(m, n, k, k, k, 5000, {reinterpret_cast<void*>(0x40000000), 4999}));
  ASSERT_FALSE(shortfall.has_value());
  EXPECT_EQ(shortfall.error().code(), StatusCode::InvalidArgument);
  EXPECT_NE(shortfall.error().message().find("workspace.bytes must be >= 5000 for M = 16"), std::string::npos)
      << shortfall.error().message();
  auto null = ops::route_gemm(request(m, n, k, k, k, 5000, {nullptr, 0}));
  ASSERT_FALSE(null.has_value());
  EXPECT_NE(null.error().message().find("workspace.data must be a device buffer of >= 5000 bytes"), std::string::npos)
      << null.error().message();
  auto odd = ops::route_gemm(request(m, n, k, k, k, 5000, {reinterpret_cast<void*>(0x40000004), 8000}));
  ASSERT_FALSE(odd.has_value());
  EXPECT_NE(odd.error().message().find("workspace.data must be 16-byte aligned"), std::string::npos);
  // Nothing to hold: any workspace, even none.
  auto none = ops::route_gemm(request(m, n, k, k, k, 0, {nullptr, 0}));
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->path, GemmPath::Direct);
  EXPECT_EQ(none->need, 0u);
}

// The portable route still needs the head (QuantizedLinear asymmetric's zero points).
TEST(OpsStaging, ThePortableRouteStillNeedsTheZeroPoints) {
  auto r = request(16, 256, 100, 100, 100, 0, {reinterpret_cast<void*>(0x40000000), 100});
  r.head_bytes = 256;
  auto route = ops::route_gemm(r);
  ASSERT_FALSE(route.has_value());
  EXPECT_NE(route.error().message().find("workspace.bytes must be >= 256 for M = 16 (zero points"), std::string::npos)
      << route.error().message();
  r.ws.bytes = 256;
  route = ops::route_gemm(r);
  ASSERT_TRUE(route.has_value());
  EXPECT_EQ(route->path, GemmPath::Portable);
}

// can_implement accepts natural element alignment and row strides >= K. For every such view, base and workspace of
// a sweep: route_gemm never errors when the workspace holds the plan's own bytes; the staged regions lie inside the
// workspace, apart from each other and from the plan's bytes, 256-byte aligned; a workspace of workspace_size(m)
// (K % 16 != 0) or staged_workspace_size (K % 16 == 0) always takes the Hopper kernel, and of any M up to the one it
// was sized for (split-K scratch grows with M: modelled here as 2048 bytes a row).
TEST(OpsStaging, EveryViewCanImplementAcceptsIsRoutedAndSizedWorkspacesAlwaysStage) {
  auto gemm_bytes = [](std::int64_t m) { return static_cast<std::size_t>(m) * 2048 + 16; };
  int cases = 0;
  for (std::int64_t k : {1, 15, 16, 100, 4095, 4096, 4100, 4104, 11009})
    for (std::int64_t n : {1, 17, 4097})
      for (std::int64_t m : {1, 2, 16, 300})
        for (std::int64_t pad : {0, 1, 8, 16, 24})
          for (std::uintptr_t misalign : {0, 1, 8})
            for (std::size_t head : {std::size_t{0}, std::size_t{512}}) {
              detail::MatrixView act{at(0x100000 + misalign), m, k, k + pad, 1, ElementKind::S8};
              detail::MatrixView weight{at(0x9000000), n, k, k + (pad + 8) % 24, 1, ElementKind::S8};
              if (!ops::check_matrix(act, "act_q", m, "M", k, "K", ElementKind::S8, 1).ok()) continue;
              ASSERT_TRUE(ops::check_matrix(weight, "weight_q", n, "N", k, "K", ElementKind::S8, 1).ok());
              const std::int64_t sized_for = 300;
              const std::size_t own = head + gemm_bytes(sized_for);
              const std::size_t plan_ws = ops::linear_workspace_bytes(16, own, sized_for, n, k);
              const std::size_t staged_ws = staged_workspace_size(plan_ws, sized_for, n, k);
              for (std::size_t bytes : {head + gemm_bytes(m), plan_ws, staged_ws}) {
                GemmRouteRequest r;
                r.align = 16;
                r.m = m;
                r.n = n;
                r.k = k;
                r.act = {act.data, act.rows, act.row_stride};
                r.weight = {weight.data, weight.rows, weight.row_stride};
                r.head_bytes = head;
                r.gemm_bytes = gemm_bytes(m);
                r.ws = {reinterpret_cast<void*>(0x40000000), bytes};
                auto route = ops::route_gemm(r);
                ASSERT_TRUE(route.has_value()) << route.error().to_string() << " k=" << k << " m=" << m;
                ++cases;
                EXPECT_LE(route->need, bytes);
                if (bytes == staged_ws) {
                  EXPECT_NE(route->path, GemmPath::Portable) << "k=" << k << " m=" << m;
                }
                if (bytes == plan_ws && k % 16 != 0) {
                  EXPECT_NE(route->path, GemmPath::Portable) << "k=" << k;
                }
                if (route->path != GemmPath::Staged) continue;
                const std::size_t own_m = head + gemm_bytes(m);
                EXPECT_GE(route->act_offset, own_m);
                EXPECT_EQ(route->act_offset % 256, 0u);
                EXPECT_EQ(route->weight_offset % 256, 0u);
                const std::size_t act_end = route->act_offset + (route->stage_act ? staged_rows_bytes(m, k) : 0);
                EXPECT_LE(act_end, route->weight_offset);
                if (route->stage_weight) {
                  EXPECT_LE(route->weight_offset + staged_rows_bytes(n, k), route->need);
                }
                EXPECT_EQ(route->stage_act, !ops::tma_readable(r.act, k, 16));
                EXPECT_EQ(route->stage_weight, !ops::tma_readable(r.weight, k, 16));
                EXPECT_EQ(route->staged_stride % 128, 0);
              }
            }
  EXPECT_GT(cases, 1000);
}

// ---- run() on cores built by hand: its messages name the caller's fields ----

// A Hopper core for (n, k) with a split-K decode config, so the GEMM needs workspace of its own.
detail::LinearCore hopper_core(bool smooth_quant, std::int64_t n, std::int64_t k, bool asymmetric = false) {
  detail::LinearCore c;
  c.smooth_quant = smooth_quant;
  c.m_hint = 16;
  c.n = n;
  c.k = k;
  c.act_element = smooth_quant ? ElementKind::S8 : ElementKind::BF16;
  c.out_element = ElementKind::BF16;
  c.act_zero_point = asymmetric;
  ops::LinearShape shape{
      .smooth_quant = smooth_quant, .m = 16, .n = n, .k = k, .activation = c.act_element, .output = ElementKind::BF16};
  shape.act_zero_point = asymmetric;
  c.gemm.spec = ops::linear_kernel_specs(shape, 90).gemm;
  c.gemm.config =
      codegen::Sm90Tile{.block_m = 16, .block_n = 128, .stages = 6, .split_k = 2, .consumers = 1, .swap_ab = true};
  c.gemm.operand_align = ops::operand_align(c.gemm.config);
  c.quantize.operand_align = 1;
  return c;
}

struct Buffers {
  std::uint16_t out[1];
  float scales[1];
};

detail::LinearCall smooth_quant_call(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t lda) {
  static Buffers b;
  detail::LinearCall a;
  a.activation = {at(0x100000), m, k, lda, 1, ElementKind::S8};
  a.weight = {at(0x9000000), n, k, k, 1, ElementKind::S8};
  a.weight_scale = {b.scales, n, 1, ElementKind::F32};
  a.output = {b.out, m, n, n, 1, ElementKind::BF16};
  return a;
}

TEST(OpsStaging, RunNamesWorkspaceBytesNotAnInternalField) {
  const detail::LinearCore c = hopper_core(true, 4096, 4096);
  ASSERT_EQ(c.gemm.operand_align, 16u);
  const std::size_t own = ops::kernel_workspace_bytes(c.gemm.spec, c.gemm.config, 16);
  ASSERT_GT(own, 0u) << "a split-K config must need workspace";
  EXPECT_EQ(detail::workspace_size(c, 16), own);  // K % 16 == 0: no staged rows counted
  const auto call = smooth_quant_call(16, 4096, 4096, 4096);
  ASSERT_TRUE(detail::can_implement(c, call).ok());
  const Status s = detail::run(c, Stream(), Workspace{reinterpret_cast<void*>(0x40000000), own - 1}, call);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_NE(s.message().find("workspace.bytes must be >= " + std::to_string(own) + " for M = 16"), std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find("base."), std::string::npos) << s.message();
  const Status null = detail::run(c, Stream(), Workspace{nullptr, 0}, call);
  EXPECT_NE(null.message().find("workspace.data"), std::string::npos) << null.message();
}

// Issue 15's refused view: K = 4096, act_q row stride 4104. can_implement takes it; so must the route (there is no
// longer a "base.lda must be a multiple of 16" on this path), staged or portable by the workspace it is given.
TEST(OpsStaging, CanImplementAndTheRouteAgreeOnIssue15sActivationStride) {
  const detail::LinearCore c = hopper_core(true, 4096, 4096);
  const auto call = smooth_quant_call(16, 4096, 4096, 4104);
  ASSERT_TRUE(detail::can_implement(c, call).ok());
  const std::size_t own = detail::workspace_size(c, 16);
  for (std::size_t bytes : {own, staged_workspace_size(own, 16, 4096, 4096)}) {
    GemmRouteRequest r;
    r.align = c.gemm.operand_align;
    r.m = 16;
    r.n = c.n;
    r.k = c.k;
    r.act = {call.activation.data, 16, 4104};
    r.weight = {call.weight.data, c.n, c.k};
    r.gemm_bytes = ops::kernel_workspace_bytes(c.gemm.spec, c.gemm.config, 16);
    r.ws = {reinterpret_cast<void*>(0x40000000), bytes};
    auto route = ops::route_gemm(r);
    ASSERT_TRUE(route.has_value()) << route.error().to_string();
    EXPECT_EQ(route->path, bytes == own ? GemmPath::Portable : GemmPath::Staged);
  }
  // A caller's stride below K is still can_implement's to refuse, naming the caller's field.
  const Status narrow = detail::can_implement(c, smooth_quant_call(16, 4096, 4096, 4000));
  EXPECT_NE(narrow.message().find("act_q.stride[0] must be >= K = 4096, got 4000"), std::string::npos)
      << narrow.message();
}

TEST(OpsStaging, OddKWorkspaceSizeCountsBothStagedRegions) {
  for (bool sq : {true, false}) {
    const detail::LinearCore c = hopper_core(sq, 4096, 4100);
    const std::size_t own = ops::kernel_workspace_bytes(c.gemm.spec, c.gemm.config, 16);
    EXPECT_EQ(detail::workspace_size(c, 16),
              ops::round_up_staging(own) + staged_rows_bytes(16, 4100) + staged_rows_bytes(4096, 4100));
    EXPECT_EQ(staged_workspace_size(detail::workspace_size(c, 16), 16, 4096, 4100), detail::workspace_size(c, 16));
  }
  // The asymmetric QuantizedLinear's zero points lead: 16 int32 rounded up to 256 bytes.
  const detail::LinearCore azp = hopper_core(false, 4096, 4100, true);
  const std::size_t own = 256 + ops::kernel_workspace_bytes(azp.gemm.spec, azp.gemm.config, 16);
  EXPECT_EQ(detail::workspace_size(azp, 16),
            ops::round_up_staging(own) + staged_rows_bytes(16, 4100) + staged_rows_bytes(4096, 4100));
}

// QuantizedLinear asymmetric with a misaligned act_q_scratch and a workspace too small even for the zero points:
// refused naming workspace.bytes (the portable route still needs them), before anything is launched.
TEST(OpsStaging, QuantizedLinearZeroPointsNameWorkspaceBytes) {
  const detail::LinearCore c = hopper_core(false, 256, 100, true);
  static float scales[256];
  static std::int32_t colsum[256];
  static std::uint16_t out[16 * 256], x[16 * 100];
  detail::LinearCall a;
  a.activation = {x, 16, 100, 100, 1, ElementKind::BF16};
  a.act_q_scratch = {at(0x100000), 16, 100, 100, 1, ElementKind::S8};
  a.act_scale_scratch = {scales, 16, 1, ElementKind::F32};
  a.weight = {at(0x9000000), 256, 100, 100, 1, ElementKind::S8};
  a.weight_scale = {scales, 256, 1, ElementKind::F32};
  a.weight_colsum = {colsum, 256, 1, ElementKind::S32};
  a.output = {out, 16, 256, 256, 1, ElementKind::BF16};
  ASSERT_TRUE(detail::can_implement(c, a).ok()) << detail::can_implement(c, a).to_string();
  const Status s = detail::run(c, Stream(), Workspace{reinterpret_cast<void*>(0x40000000), 100}, a);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_NE(s.message().find("workspace.bytes must be >= 256 for M = 16 (zero points"), std::string::npos)
      << s.message();
}

// The pre-pack helper refuses what would not give the Hopper kernel an aligned weight, naming the argument, before
// any driver call (so these run without a GPU).
TEST(OpsStaging, PadWeightRowsRefusalsNameTheArgument) {
  auto* dst = reinterpret_cast<std::int8_t*>(0x40000000);
  const auto* src = reinterpret_cast<const std::int8_t*>(0x100001);
  auto msg = [](const Status& s) { return s.message(); };
  EXPECT_NE(msg(pad_weight_rows(Stream(), src, 4096, 4100, 4100, dst, 4104))
                .find("dst_row_stride must be >= cols = "
                      "4100 and a multiple of 16 (best "
                      "qjit::preferred_row_stride(cols) = "
                      "4224), got 4104"),
            std::string::npos);
  EXPECT_NE(msg(pad_weight_rows(Stream(), src, 4096, 4100, 4099, dst)).find("src_row_stride must be >= cols = 4100"),
            std::string::npos);
  EXPECT_NE(msg(pad_weight_rows(Stream(), src, 4096, 4100, 4100, dst + 8)).find("dst must be 16-byte aligned"),
            std::string::npos);
  EXPECT_NE(msg(pad_weight_rows(Stream(), nullptr, 4096, 4100, 4100, dst)).find("src must be a non-NULL"),
            std::string::npos);
  EXPECT_NE(msg(pad_weight_rows(Stream(), src, 0, 4100, 4100, dst)).find("rows must be in [1, 2^31), got 0"),
            std::string::npos);
  EXPECT_EQ(pad_weight_rows(Stream(), src, 4096, 0, 4100, dst).code(), StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace qjit
