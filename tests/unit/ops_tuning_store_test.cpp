// When a tuned record may stand in for today's heuristic (tuned_record_applies), and that the heuristic a record was
// measured against survives the database's JSON round trip: a record tuned against an older heuristic is stale and
// must not be used (it was never compared with today's rules), one of another family is refused, and one written
// before records carried their heuristic is trusted.
#include <gtest/gtest.h>

#include "autotune/tuning_db.h"
#include "codegen/norm_quantize.h"
#include "codegen/quantize_rowwise.h"
#include "jit/kernel_family.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "ops/tuning_store.h"

namespace qjit::ops {
namespace {

codegen::TileConfig sm90(int bm, int bn, int consumers, bool swap, int split) {
  return codegen::Sm90Tile{
      .block_m = bm, .block_n = bn, .stages = 8, .split_k = split, .consumers = consumers, .swap_ab = swap};
}

autotune::TuningRecord record_with(const codegen::TileConfig& config, std::optional<codegen::TileConfig> heuristic) {
  autotune::TuningRecord r;
  r.key.op = "gemm_s8";
  r.key.in_dtype = "s8";
  r.key.out_dtype = "bf16";
  r.key.n = 4096;
  r.key.k = 4096;
  r.key.m_bucket = 1;
  r.key.device = "NVIDIA H200";
  r.key.sm_count = 132;
  r.key.arch = 90;
  r.config = config;
  r.heuristic = heuristic;
  r.time_us = 9.4;
  r.heuristic_time_us = 11.3;
  r.candidates = 40;
  return r;
}

TEST(OpsTuningStore, RecordAppliesOnlyAgainstTodaysHeuristicAndFamily) {
  const codegen::TileConfig today = sm90(8, 64, 1, true, 1);
  const codegen::TileConfig old_rules = sm90(8, 128, 2, true, 4);
  const codegen::TileConfig tuned = sm90(8, 128, 2, true, 1);
  std::string why;
  EXPECT_TRUE(tuned_record_applies(record_with(tuned, today), today, &why)) << why;
  EXPECT_TRUE(tuned_record_applies(record_with(tuned, std::nullopt), today, &why)) << why;

  EXPECT_FALSE(tuned_record_applies(record_with(tuned, old_rules), today, &why));
  EXPECT_NE(why.find(old_rules.to_string()), std::string::npos) << why;
  EXPECT_NE(why.find("re-run qjit tune"), std::string::npos) << why;

  const codegen::TileConfig portable =
      codegen::Sm80Tile{.block_m = 8, .block_n = 128, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 8};
  EXPECT_FALSE(tuned_record_applies(record_with(tuned, today), portable, &why));
  EXPECT_NE(why.find("gemm_sm80"), std::string::npos) << why;
}

TEST(OpsTuningStore, HeuristicConfigSurvivesTheJsonRoundTrip) {
  const codegen::TileConfig today = sm90(8, 64, 1, true, 1);
  autotune::TuningDb db;
  db.put(record_with(sm90(8, 128, 2, true, 1), today));
  auto again = autotune::TuningDb::parse(db.to_json(), "round-trip");
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  ASSERT_EQ(again->size(), 1u);
  ASSERT_TRUE(again->records()[0].heuristic.has_value());
  EXPECT_EQ(*again->records()[0].heuristic, today);

  autotune::TuningDb legacy;
  legacy.put(record_with(sm90(8, 128, 2, true, 1), std::nullopt));
  const std::string text = legacy.to_json();
  EXPECT_EQ(text.find("heuristic_config"), std::string::npos);
  auto parsed = autotune::TuningDb::parse(text, "legacy");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_FALSE(parsed->records()[0].heuristic.has_value());
}

// The Hopper tuning space per bucket: decode token tiles cover the bucket (a smaller one re-reads every weight tile)
// without exceeding twice it; prefill buckets get no swapped configs.
TEST(OpsTuningStore, HopperTuningSpaceTokenTilesCoverTheBucket) {
  for (int bucket : {1, 2, 8, 16, 32, 64, 128, 256, 4096}) {
    LinearShape shape;
    shape.m = bucket;
    shape.n = 8192;
    shape.k = 8192;
    const auto spec = linear_kernel_specs(shape, 90).gemm;
    const auto space = jit::gemm_sm90_family().candidates(spec, {});
    EXPECT_FALSE(space.empty()) << bucket;
    for (const codegen::TileConfig& config : space) {
      const auto& c = config.as<codegen::Sm90Tile>();
      if (!c.swap_ab) continue;
      EXPECT_LE(bucket, 128) << c.to_string();
      EXPECT_LE(c.block_m, 2 * std::max(bucket, 8)) << bucket << " " << c.to_string();
      if (bucket <= 64) {
        EXPECT_GE(c.block_m, std::max(bucket, 8)) << bucket << " " << c.to_string();
      }
    }
  }
}

// `qjit tune --resume` skips exactly the kernels whose record Tuned would use today: same key on this device, and
// measured against today's heuristic. Another device, another M bucket or a stale heuristic means "tune again".
TEST(OpsTuningStore, HasCurrentRecordOnlyForThisDeviceAndTodaysHeuristic) {
  runtime::DeviceInfo h200;
  h200.arch = 90;
  h200.sm_count = 132;
  h200.max_smem_optin = 232448;
  h200.name = "NVIDIA H200";
  LinearShape shape;
  shape.m = 8192;
  shape.n = 4096;
  shape.k = 4096;
  const codegen::KernelSpec spec = linear_kernel_specs(shape, 90).gemm;
  auto today = choose_config(spec, PlanPreference::Heuristic, h200);
  ASSERT_TRUE(today.has_value()) << today.error().to_string();

  autotune::TuningRecord r;
  r.key = autotune::tuning_key(spec, h200.name, h200.sm_count);
  r.config = *today;
  r.heuristic = *today;
  r.time_us = r.heuristic_time_us = 200;
  r.candidates = 20;
  autotune::TuningDb db;
  EXPECT_FALSE(has_current_record(db, spec, h200));
  db.put(r);
  EXPECT_TRUE(has_current_record(db, spec, h200));

  runtime::DeviceInfo h100 = h200;
  h100.name = "NVIDIA H100 80GB HBM3";
  EXPECT_FALSE(has_current_record(db, spec, h100));
  shape.m = 16;
  EXPECT_FALSE(has_current_record(db, linear_kernel_specs(shape, 90).gemm, h200)) << "another M bucket";

  autotune::TuningRecord stale = r;
  stale.heuristic = sm90(128, 256, 2, false, 1);  // the cooperative tile the prefill heuristic used to pick
  autotune::TuningDb old_db;
  old_db.put(stale);
  EXPECT_FALSE(has_current_record(old_db, spec, h200)) << "measured against an older heuristic: tune again";
}

// `qjit tune --plans rmsnorm,layernorm` tunes the per-token norm passes; a static-scale plan of the same shape takes
// that record (same loads, reductions and configs), and a plain quantize pass never borrows across scale modes.
TEST(OpsTuningStore, StaticScaleNormPassFindsThePerTokenRecord) {
  for (codegen::KernelOp op : {codegen::KernelOp::RmsNormQuantize, codegen::KernelOp::LayerNormQuantize}) {
    const codegen::KernelSpec dynamic = codegen::norm_quantize_spec(op, ElementKind::BF16, 4096, 2048, 90, true, true);
    const codegen::KernelSpec fixed = codegen::norm_quantize_spec(op, ElementKind::BF16, 4096, 2048, 90, false, true);
    ASSERT_NE(dynamic.per_token_scale, fixed.per_token_scale);
    autotune::TuningRecord r;
    r.key = autotune::tuning_key(dynamic, "NVIDIA H200", 132);
    r.config = codegen::QuantizeTile{.rows_per_cta = 1, .threads_per_row = 128};
    r.time_us = 20.0;
    autotune::TuningDb db;
    ASSERT_TRUE(db.put(r));
    const autotune::TuningRecord* found = find_tuned_record(db, fixed, "NVIDIA H200", 132);
    ASSERT_NE(found, nullptr) << codegen::kernel_op_name(op);
    EXPECT_EQ(found->config, r.config);
    EXPECT_EQ(find_tuned_record(db, fixed, "NVIDIA H100", 132), nullptr);  // another device: nothing
  }
  const codegen::KernelSpec q =
      codegen::quantize_spec(codegen::KernelOp::QuantizeRowwise, ElementKind::BF16, 4096, 2048, 90);
  autotune::TuningRecord r;
  r.key = autotune::tuning_key(q, "NVIDIA H200", 132);
  r.key.per_token_scale = !r.key.per_token_scale;
  r.config = codegen::QuantizeTile{.rows_per_cta = 1, .threads_per_row = 128};
  autotune::TuningDb db;
  ASSERT_TRUE(db.put(r));
  EXPECT_EQ(find_tuned_record(db, q, "NVIDIA H200", 132), nullptr);
}

}  // namespace
}  // namespace qjit::ops
