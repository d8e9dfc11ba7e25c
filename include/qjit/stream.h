// The small value types every plan shares: the caller's stream, the caller's workspace, how a plan should pick its
// configuration, and what a plan promises about its numbers.
#pragma once

#include <cstddef>
#include <string_view>

// Same declaration as cuda.h's, so an engine may include both headers.
struct CUstream_st;
typedef struct CUstream_st* CUstream;  // NOLINT(modernize-use-using)

namespace qjit {

// The caller's CUDA stream (nullptr is the legacy default stream). qjit launches on it and never synchronises it.
class Stream {
 public:
  Stream() = default;
  explicit Stream(CUstream handle) : handle_(handle) {}
  CUstream handle() const noexcept { return handle_; }

 private:
  CUstream handle_ = nullptr;
};

// Caller-owned device memory a plan may use during run(); plan.workspace_size() says how much it needs.
struct Workspace {
  void* data = nullptr;
  std::size_t bytes = 0;
};

enum class PlanPreference {
  Heuristic,  // the built-in choice per M bucket; no device timing
  Tuned,      // the tuning database's entry for this device and shape, else the heuristic
  Autotune,   // time the candidate configurations on this device now (and record the winner)
};

enum class QuantGranularity { PerToken, PerTensor };

// What a plan promises about its numbers.
struct PrecisionGuarantee {
  bool deterministic = true;       // same inputs, same device -> the same bits, run after run
  bool exact_accumulation = true;  // the int8 x int8 products are summed exactly in int32
  // Bound on |y - y_ref| / (|scale_a * scale_w| * sum_k |a*w|) for the scaled epilogue, from one f32 rounding
  // of the scale product, one of the conversion of the accumulator, one of the bias add, one of the output cast.
  // Every GEMM kernel rounds each of these steps on its own (to nearest even, never fused into an FMA), so the
  // kernel families qjit picks between (sm_80 mma.sync, sm_90a wgmma) give the same bits for the same inputs.
  double epilogue_relative_error = 0.0;
  std::string_view description;
};

}  // namespace qjit
