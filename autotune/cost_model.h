// How long `qjit tune` will spend on one kernel, estimated before any GPU is touched, so the work can be spread over
// devices and shards by cost instead of by count (one Llama-3-70B gate_up GEMM at M = 8192 costs as much as a
// dozen decode kernels). The model follows the tuning loop in autotune/autotuner.cpp phase by phase:
//
//   setup     random operands generated on the host and uploaded: (M*K*in + N*K) bytes
//   compile   ceil(candidates / compile_threads) rounds of one NVRTC compile each
//   check     per candidate: a module load, one launch, the output downloaded and compared with the reference
//   timing    per candidate: (warmup + reps * batch) launches of the kernel plus one event round trip per batch;
//             plus, for half of the kernels on average, the six confirmation rounds of a winner over the heuristic
//
// A launch costs the larger of its bytes over DRAM bandwidth and its int8 operations over the tensor-core rate, plus
// a launch floor. The constants describe an H200 on the machine the tuner was measured on (docs/PERF.md: 4.05 TB/s
// decode, ~1.6 POPS int8 prefill, 0.4 s per sm_90a NVRTC compile); they are fixed, not read from the local machine,
// because every shard of an array job must compute the same costs to agree on the same split.
#pragma once

#include <cstdint>

#include "codegen/kernel_spec.h"

namespace qjit::autotune {

struct CostModel {
  double dram_bytes_per_s = 4.0e12;
  double int8_ops_per_s = 1.5e15;
  double launch_floor_s = 3e-6;
  double event_round_trip_s = 20e-6;  // per timed batch: record, synchronise, read the events
  double host_bytes_per_s = 2e9;      // host-side random generation and output comparison
  double pcie_bytes_per_s = 20e9;     // uploads and downloads
  double module_load_s = 3e-4;        // cuModuleLoadData + shared-memory opt-in per candidate
  double compile_s_sm90 = 0.4, compile_s_sm80 = 0.5, compile_s_quantize = 0.25;  // one NVRTC compile
  int compile_threads = 16;              // the compile pool the estimate assumes (the lent H200 machine's cores)
  int warmup = 3, reps = 20, batch = 5;  // autotune::TimingOptions' defaults; reps follows `qjit tune --reps`
  double confirm_fraction = 0.5;         // share of kernels whose best candidate is re-timed against the heuristic
};

// One kernel to tune: its spec, the M it is timed at and how many candidate configs it has (the heuristic's
// included). `family` is the heuristic's family (decides the compile cost of a GEMM).
struct KernelWork {
  codegen::KernelSpec spec;
  std::int64_t m = 1;
  int candidates = 1;
  codegen::KernelFamily family = codegen::KernelFamily::GemmSm90;
};

// Estimated seconds of one launch of the kernel at `work.m` (roofline plus the launch floor).
double estimate_launch_seconds(const KernelWork& work, const CostModel& model = {});
// Estimated seconds `qjit tune` spends on the kernel, all phases. Always > 0, finite, and a pure function of its
// arguments (the same on every machine).
double estimate_tune_seconds(const KernelWork& work, const CostModel& model = {});

}  // namespace qjit::autotune
