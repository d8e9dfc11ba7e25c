// A tuning record for the tests of the tuning database and its users: an sm_90 GEMM record for (N, K = 4096,
// M bucket) on `device`, with a valid config and the heuristic 1.25x slower.
#pragma once

#include <cstdint>
#include <string>

#include "autotune/tuning_db.h"

namespace qjit::autotune::testing {

// The config every record() carries (a valid decode config for N = 4096, K = 4096).
inline codegen::Sm90Tile record_tile() {
  return {.block_m = 64, .block_n = 128, .stages = 5, .split_k = 2, .consumers = 1, .swap_ab = true};
}

inline TuningRecord record(std::int64_t n, int bucket, double time_us, const std::string& device = "NVIDIA H200") {
  TuningRecord r;
  r.key.op = "gemm_s8";
  r.key.in_dtype = "s8";
  r.key.out_dtype = "bf16";
  r.key.n = n;
  r.key.k = 4096;
  r.key.m_bucket = bucket;
  r.key.device = device;
  r.key.sm_count = 132;
  r.key.arch = 90;
  r.config = record_tile();
  r.time_us = time_us;
  r.heuristic_time_us = time_us * 1.25;
  r.candidates = 17;
  return r;
}

}  // namespace qjit::autotune::testing
