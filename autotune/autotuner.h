// PlanPreference::Autotune and `qjit tune`: time every candidate config of a kernel on this device and keep the
// fastest. The candidate spaces and heuristics are the families' (jit/kernel_family.h); the loop renders, compiles,
// loads and launches candidates through the same binding the plans use (jit/kernel_binding.h), so a tuned kernel is
// exactly the kernel a plan will run. Depends on jit/, never on ops/.
//
// The loop: compile all candidates in parallel (LLVM ThreadPool; a failed compile rejects the candidate); run the
// heuristic's kernel once on fresh random operands as the reference; run each candidate on the same operands into a
// poisoned output and require its bytes to equal the reference's (the int32 accumulation is exact, so any
// difference is a bug, and the candidate is rejected and reported); an out-of-resources launch rejects it too. Then
// time each survivor with CUDA events (warm-up, median of >= 20 batches) while rotating through copies of the
// weight (or input) big enough to keep the working set out of L2.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autotune/timing.h"
#include "autotune/tuning_db.h"
#include "codegen/kernel_spec.h"
#include "qjit/status.h"
#include "runtime/device.h"
#include "runtime/driver.h"

namespace qjit::autotune {

struct TuneOptions {
  TimingOptions timing;
  int jobs = 0;            // parallel compiles; 0 = the machine's hardware threads
  double min_gain = 0.02;  // a candidate must beat the heuristic by this fraction to replace it (noise guard)
  int max_candidates = 0;  // 0 = all; else the heuristic plus the first max_candidates - 1 others
  // Called after each compile and each timing: (phase "compile" | "time", done, total).
  std::function<void(const char* phase, int done, int total)> progress;
};

struct CandidateOutcome {
  codegen::TileConfig config;
  double us = -1;        // median per launch; < 0 when rejected
  std::string rejected;  // why, when rejected ("compile failed: ...", "output differs from the heuristic ...")
};

struct TuneOutcome {
  TuningRecord record;  // the winner (the heuristic when nothing beat it)
  codegen::TileConfig heuristic;
  std::vector<CandidateOutcome> candidates;  // heuristic first
  double compile_seconds = 0, check_seconds = 0, timing_seconds = 0;
  int mismatches = 0;  // candidates whose output differed from the heuristic's: each is a kernel bug
};

// The configs the autotuner tries for `spec` on `device`: the family the plan would use (Hopper or portable),
// its candidate space restricted to the spec's M bucket, the heuristic's choice first.
std::vector<codegen::TileConfig> tuning_candidates(const codegen::KernelSpec& spec, const runtime::DeviceInfo& device);

// Tunes `spec` (a GEMM or quantize kernel) at M = `m` on the current context's device, on a private stream.
Result<TuneOutcome> autotune_kernel(const codegen::KernelSpec& spec, std::int64_t m, const runtime::DeviceInfo& device,
                                    const TuneOptions& options);

}  // namespace qjit::autotune
