// The report of `qjit bench` (and the CSV bench/peers.py writes with the same columns): one row per (shape, M, load
// regime, launch mode) with every side's median time, SM clock and board power, the figures derived from them (the
// ratios peer time / qjit time, TOPS, TOPS per GHz, TOPS per watt, GB/s, % of the device's int8 peak), the
// geometric-mean ratios per regime, mode and M range -- the ranges issue 16's bars are stated in (M <= 64, 128-512,
// >= 2048) -- and the three renderings: a markdown table for people, CSV for bench/plot_bench.py and spreadsheets,
// JSON for scripts. Pure host code, so the unit tests check it without a GPU.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llvm/Support/JSON.h"
#include "qjit/element.h"

namespace qjit::tools {

// Every side a row can hold. qjit's two plans are the references; each peer is compared with one of them.
enum class Impl : int {
  Qjit,          // SmoothQuantLinearPlan: int8 in, per-token x per-channel scale epilogue, dtype out
  CublasLtS8,    // cuBLASLt s8 x s8 -> s32 (qjit bench)
  TorchIntMm,    // torch._int_mm + the same scaling epilogue in PyTorch (bench/peers.py)
  TritonS8,      // a Triton scaled int8 GEMM with the same fused epilogue (bench/peers.py)
  Ql,            // QuantizedLinearPlan: FP in -> quantize -> GEMM
  CublasLtBf16,  // cuBLASLt bf16 (qjit bench)
  TorchBf16,     // torch.nn.functional.linear in bf16 (bench/peers.py)
  // An odd shape's aligned neighbour (BenchRow::aligned_n x aligned_k, contiguous, same M), timed interleaved with
  // the odd shape itself: its ratio is neighbour time / this shape's time (issue 15's bar: >= 1 / 1.15).
  QjitAligned,  // SmoothQuantLinearPlan on the neighbour
  QlAligned,    // QuantizedLinearPlan on the neighbour
};
inline constexpr int kImplCount = 9;
struct ImplInfo {
  Impl impl;
  const char* column;        // CSV prefix: <column>_us, <column>_mhz, <column>_w
  const char* ratio_column;  // CSV column of this peer's time / its reference's time; "" for qjit's own sides
  Impl reference;
};
const ImplInfo& impl_info(Impl impl);

struct Side {
  double us = 0;     // median microseconds per launch; 0 = not measured (failed, or the peer is unavailable)
  double mhz = 0;    // mean SM clock over its timed batches; 0 = not read (no NVML)
  double watts = 0;  // mean board power over its timed batches; 0 = not read
  std::string what;  // the plan's config or the peer's algorithm
};

struct BenchRow {
  std::string label;  // the models/layers sharing this (N, K)
  std::int64_t n = 0, k = 0, m = 0;
  std::int64_t act_stride = 0;             // the activation's row stride when the shape file gives one (0: none)
  std::int64_t aligned_n = 0, aligned_k = 0;  // the aligned neighbour timed beside an odd shape (0: none)
  std::string regime = "burst";  // "sustained" | "burst"
  std::string mode = "stream";   // "stream" | "graph"
  int rounds = 0;
  std::array<Side, kImplCount> sides;
  std::string check = "n/a";  // "ok" | "MISMATCH ..." | "n/a" (qjit's output against the exact accumulators)
  // cuBLASLt s8's own accumulators failed the exact check (its one algorithm for K % 4 != 0 at M >= 128 on the
  // H100, session 17): its time stays in the row, its ratio leaves the geomeans (a wrong answer is not a bar).
  bool s8_peer_wrong = false;
  std::string error;          // non-empty: something in this row failed (the message says what)

  Side& side(Impl i) { return sides[static_cast<int>(i)]; }
  const Side& side(Impl i) const { return sides[static_cast<int>(i)]; }
  double ratio(Impl peer) const;  // peer time / its reference's time (> 1: qjit faster); 0 when either is missing
  double ratio() const { return ratio(Impl::CublasLtS8); }
  double ql_ratio() const { return ratio(Impl::CublasLtBf16); }
  double tops(Impl i = Impl::Qjit) const;          // 2·M·N·K / time
  double tops_per_ghz(Impl i = Impl::Qjit) const;  // 0 without a clock reading
  double tops_per_watt(Impl i = Impl::Qjit) const;
  // Bytes the int8 GEMM must move at least once (int8 weight + int8 activation + output) per second of qjit time.
  double gbps(ElementKind out) const;
};

struct BenchGroup {
  std::string regime, mode;
  std::string name;  // "M<=64", "M 128-512", "M>=2048", "other M"
  int rows = 0;
  int ratio_count = 0, ql_ratio_count = 0;         // rows that had both times
  double geomean_ratio = 0, geomean_ql_ratio = 0;  // 0 when the count is 0
  std::array<double, kImplCount> geomean{};        // per peer (index = Impl); 0 when no row had it
  std::array<int, kImplCount> count{};
};

// Per (regime, mode) in the order the rows first show them: the groups issue 16's bars name, in that order, each
// present even when empty; rows with M in none of them (65-127, 513-2047) make an "other M" group, present only
// when it has rows.
std::vector<BenchGroup> group_geomeans(const std::vector<BenchRow>& rows);

struct BenchContext {
  std::string device;  // DeviceInfo::name
  std::string arch;    // "sm_90a"
  int sm_count = 0;
  std::int64_t l2_bytes = 0;
  std::optional<double> peak_tops;  // dense int8; nullopt: the % of peak column is left out
  ElementKind dtype = ElementKind::BF16;
  std::string pref;  // "heuristic" | "tuned"
  int iters = 0, warmup = 0, rounds = 0;
  std::string method;         // one line: the interleaving, regimes and modes as run
  std::string layout = "aligned";  // "aligned" (int8 rows padded to 16 bytes) | "contiguous" (rows exactly K)
  std::string baseline_note;  // empty when cuBLASLt ran; else why it did not
  std::string nvml_note;      // empty when NVML read the clock and power; else why not
};

std::string markdown_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                            const std::vector<BenchGroup>& groups);
// The CSV header: label,n,k,m,dtype,regime,mode,rounds, then per side <column>_us,_mhz,_w (+ its ratio column),
// qjit's derived figures after its side, then check, configs, device, error, act_stride, aligned_n, aligned_k,
// layout. README.md documents the columns;
// bench/peers.py writes the same header (a unit test compares them).
std::string csv_header();
std::string csv_report(const BenchContext& ctx, const std::vector<BenchRow>& rows);
llvm::json::Value json_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                              const std::vector<BenchGroup>& groups);

}  // namespace qjit::tools
