// The tuning cost model (autotune/cost_model.h): positive and finite, bandwidth-bound at decode and compute-bound at
// prefill as the roofline says, monotonic in the sizes and the candidate count, independent of the machine it runs
// on, and calibrated: the repo's whole shape file x M in {1, ..., 8192} comes to the few minutes one H200 took
// (docs/PERF.md v3/v4: 140-150 kernels in 247-290 s).
#include <cmath>

#include <gtest/gtest.h>

#include "autotune/autotuner.h"
#include "autotune/cost_model.h"
#include "autotune/shapes.h"
#include "ops/linear_specs.h"

namespace qjit::autotune {
namespace {

KernelWork gemm(std::int64_t n, std::int64_t k, std::int64_t m, int candidates = 24) {
  KernelWork w;
  w.spec.op = codegen::KernelOp::GemmS8;
  w.spec.in_element = ElementKind::S8;
  w.spec.out_element = ElementKind::BF16;
  w.spec.n = n;
  w.spec.k = k;
  w.spec.m_bucket = codegen::m_bucket_of(m);
  w.spec.arch = 90;
  w.m = m;
  w.candidates = candidates;
  return w;
}

TEST(AutotuneCostModel, RooflineBoundsEachLaunch) {
  const CostModel c;
  // Decode: the 8192 x 57344 weight (448 MiB) streamed once at DRAM bandwidth.
  const double decode = estimate_launch_seconds(gemm(57344, 8192, 1), c);
  EXPECT_NEAR(decode, 57344.0 * 8192 / c.dram_bytes_per_s + c.launch_floor_s, 2e-6);
  // Prefill: 2 M N K operations at the int8 rate.
  const double prefill = estimate_launch_seconds(gemm(57344, 8192, 8192), c);
  EXPECT_NEAR(prefill, 2.0 * 8192 * 57344 * 8192 / c.int8_ops_per_s + c.launch_floor_s, 1e-4);
  // A tiny kernel costs its launch floor.
  EXPECT_NEAR(estimate_launch_seconds(gemm(16, 16, 1), c), c.launch_floor_s, 1e-8);
}

TEST(AutotuneCostModel, MonotonicInSizeAndCandidates) {
  double last = 0;
  for (std::int64_t m : {1, 16, 64, 128, 512, 2048, 8192}) {
    const double t = estimate_tune_seconds(gemm(12288, 4096, m));
    EXPECT_TRUE(std::isfinite(t));
    EXPECT_GT(t, last) << "m=" << m;
    last = t;
  }
  EXPECT_LT(estimate_tune_seconds(gemm(4096, 4096, 2048)), estimate_tune_seconds(gemm(8192, 4096, 2048)));
  EXPECT_LT(estimate_tune_seconds(gemm(4096, 4096, 2048, 10)), estimate_tune_seconds(gemm(4096, 4096, 2048, 30)));
  KernelWork q = gemm(0, 4096, 16);
  q.spec.op = codegen::KernelOp::QuantizeRowwise;
  q.spec.in_element = ElementKind::BF16;
  q.spec.out_element = ElementKind::S8;
  q.family = codegen::KernelFamily::Quantize;
  EXPECT_GT(estimate_tune_seconds(q), 0);
  EXPECT_LT(estimate_tune_seconds(q), estimate_tune_seconds(gemm(4096, 4096, 16)));
  // Degenerate input still gives a positive, finite cost.
  KernelWork zero = gemm(0, 0, 0, 0);
  EXPECT_GT(estimate_tune_seconds(zero), 0);
  EXPECT_TRUE(std::isfinite(estimate_tune_seconds(zero)));
}

// A fused norm with a residual reads twice the bytes and writes residual_out, which every candidate's output check
// downloads and compares: its estimate must exceed the same norm without one, at decode and at prefill.
TEST(AutotuneCostModel, ANormsResidualIsPartOfItsCost) {
  for (std::int64_t m : {16, 8192}) {
    KernelWork plain = gemm(0, 14336, m, 13);
    plain.spec.op = codegen::KernelOp::RmsNormQuantize;
    plain.spec.in_element = ElementKind::BF16;
    plain.spec.out_element = ElementKind::S8;
    plain.family = codegen::KernelFamily::Quantize;
    KernelWork residual = plain;
    residual.spec.residual = true;
    EXPECT_GT(estimate_launch_seconds(residual), estimate_launch_seconds(plain)) << "m=" << m;
    EXPECT_GT(estimate_tune_seconds(residual), estimate_tune_seconds(plain)) << "m=" << m;
  }
}

TEST(AutotuneCostModel, RepsScaleTheTimingTerm) {
  CostModel more;
  more.reps = 40;
  const KernelWork w = gemm(57344, 8192, 8192);
  const double base = estimate_tune_seconds(w), longer = estimate_tune_seconds(w, more);
  // Prefill is mostly timing; setup, compile and the output checks do not scale with --reps.
  EXPECT_GT(longer, 1.3 * base);
  EXPECT_LT(longer, 2.0 * base);
}

TEST(AutotuneCostModel, WholeShapeFileComesToTheMeasuredMinutes) {
  auto shapes = load_shapes(std::string(QJIT_SOURCE_DIR) + "/data/llm_linear_shapes.csv");
  ASSERT_TRUE(shapes) << shapes.error().to_string();
  runtime::DeviceInfo h200;
  h200.arch = 90;
  h200.sm_count = 132;
  double total = 0, largest = 0;
  int kernels = 0;
  for (const auto& item : work_items(*shapes, {1, 16, 64, 128, 512, 2048, 8192})) {
    ops::LinearShape s;
    s.m = item.m;
    s.n = item.n;
    s.k = item.k;
    const auto specs = ops::linear_kernel_specs(s, 90);
    KernelWork w = gemm(item.n, item.k, item.m);
    w.candidates = static_cast<int>(autotune::tuning_candidates(specs.gemm, h200).size());
    ASSERT_GT(w.candidates, 1);
    const double t = estimate_tune_seconds(w);
    total += t;
    largest = std::max(largest, t);
    ++kernels;
  }
  EXPECT_EQ(kernels, 119);  // 17 distinct (N, K) x 7 M; the 56 quantize kernels add little
  EXPECT_GT(total, 200);
  EXPECT_LT(total, 500);
  // No single kernel dominates: 8 GPUs can split the sweep (the largest is under an eighth of the total).
  EXPECT_LT(largest, total / 8);
}

}  // namespace
}  // namespace qjit::autotune
