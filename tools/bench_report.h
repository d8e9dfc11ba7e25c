// The report of `qjit bench`: one row per (shape, M) with the four measured times, the figures derived from them
// (ratios, TOPS, GB/s, % of the device's int8 peak), the geometric-mean ratios per M range -- the ranges issue 6's
// bars are stated in (M <= 64, 128-512, >= 2048) -- and the three renderings: a markdown table for people, CSV for
// bench/plot_bench.py and spreadsheets, JSON for scripts. Pure host code, so the unit tests check it without a GPU.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llvm/Support/JSON.h"
#include "qjit/element.h"

namespace qjit::tools {

struct BenchRow {
  std::string label;  // the models/layers sharing this (N, K)
  std::int64_t n = 0, k = 0, m = 0;
  // Median microseconds; 0 = not measured (failed, or the baseline is unavailable).
  double qjit_us = 0;     // SmoothQuantLinearPlan: int8 in, per-channel weight scale, dtype out
  double lt_s8_us = 0;    // cuBLASLt s8 x s8 -> s32
  double ql_us = 0;       // QuantizedLinearPlan: FP in -> quantize -> GEMM
  double lt_bf16_us = 0;  // cuBLASLt bf16
  std::string qjit_config, ql_config, lt_s8_algo, lt_bf16_algo;
  std::string check = "n/a";  // "ok" | "MISMATCH ..." | "n/a" (qjit's output against cuBLASLt's accumulators)
  std::string error;          // non-empty: something in this row failed (the message says what)

  double ratio() const;     // lt_s8_us / qjit_us (> 1: qjit faster); 0 when either is missing
  double ql_ratio() const;  // lt_bf16_us / ql_us
  double tops() const;      // 2·M·N·K / qjit time
  // Bytes the int8 GEMM must move at least once (int8 weight + int8 activation + output) per second of qjit time.
  double gbps(ElementKind out) const;
};

struct BenchGroup {
  std::string name;  // "M<=64", "M 128-512", "M>=2048", "other M"
  int rows = 0;
  int ratio_count = 0, ql_ratio_count = 0;         // rows that had both times
  double geomean_ratio = 0, geomean_ql_ratio = 0;  // 0 when the count is 0
};

// The groups issue 6's bars name, in that order, each present even when empty; rows with M in none of them
// (65-127, 513-2047) make an "other M" group, present only when it has rows.
std::vector<BenchGroup> group_geomeans(const std::vector<BenchRow>& rows);

struct BenchContext {
  std::string device;  // DeviceInfo::name
  std::string arch;    // "sm_90a"
  int sm_count = 0;
  std::int64_t l2_bytes = 0;
  std::optional<double> peak_tops;  // dense int8; nullopt: the % of peak column is left out
  ElementKind dtype = ElementKind::BF16;
  std::string pref;  // "heuristic" | "tuned"
  int iters = 0, warmup = 0;
  std::string baseline_note;  // empty when cuBLASLt ran; else why it did not
};

std::string markdown_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                            const std::vector<BenchGroup>& groups);
// Header + one line per row; the columns plot_bench.py reads are documented in README.md.
std::string csv_report(const BenchContext& ctx, const std::vector<BenchRow>& rows);
llvm::json::Value json_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                              const std::vector<BenchGroup>& groups);

}  // namespace qjit::tools
