// A tuning record for the tests of the tuning database and its users: an sm_90 GEMM record for (N, K = 4096,
// M bucket) on `device`, with a valid config and the heuristic 1.25x slower.
#pragma once

#include <cstdint>
#include <string>

#include "autotune/tuning_db.h"

namespace qjit::autotune::testing {

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
  r.config.family = codegen::KernelFamily::GemmSm90;
  r.config.block_m = 64;
  r.config.block_n = 128;
  r.config.block_k = 128;
  r.config.warps_m = 1;
  r.config.warps_n = 1;
  r.config.stages = 5;
  r.config.split_k = 2;
  r.config.consumers = 1;
  r.config.swap_ab = true;
  r.time_us = time_us;
  r.heuristic_time_us = time_us * 1.25;
  r.candidates = 17;
  return r;
}

}  // namespace qjit::autotune::testing
