// The measurement harness shared by `qjit bench` and the Google Benchmark suites in bench/ (this room, perf/, is a
// library both link, so the installed command depends on no bench source): device buffers, the random data of
// one GEMM case (weights rotated past the L2, activations, scales, outputs, the cuBLASLt workspace), the four
// contenders -- qjit's SmoothQuantLinearPlan and QuantizedLinearPlan, cuBLASLt int8 and bf16 -- prepared as launch
// closures on the same data (timed with autotune/timing.h, the autotuner's own CUDA-event median), a correctness check
// of qjit's int8 GEMM against cuBLASLt's int32 accumulators, and the device facts a report needs (dense int8 peak by
// device name).
// The cuBLASLt contenders exist only when the library was built with the CUDA toolkit headers
// (QJIT_HAVE_CUBLASLT); otherwise cublaslt_baseline_status() says so and qjit is still timed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autotune/timing.h"
#include "perf/interleave.h"
#include "qjit/element.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "runtime/device_memory.h"
#include "runtime/driver.h"

namespace qjit::perf {

// The cuBLASLt workspace DESIGN.md's anchors were measured with: without it cuBLASLt falls back to older kernels.
inline constexpr std::size_t kBaselineWorkspaceBytes = std::size_t{64} << 20;

// Dense (no sparsity) int8 tensor-core peak in TOPS for the device name the driver reports ("NVIDIA H100 80GB
// HBM3"), from a small table of data-sheet numbers; nullopt for parts the table does not know.
std::optional<double> dense_int8_peak_tops(std::string_view device_name);

// The int8 and bf16 weights of one (N, K), `copies` identical copies each (autotune::rotation_copies, the rule the
// autotuner uses too), plus per-channel f32 weight scales. Built once per shape and shared by every M of that shape.
struct WeightSet {
  std::int64_t n = 0, k = 0;
  std::int64_t ld = 0;  // the int8 copies' row stride (bytes, >= K; the pad bytes are zero); bf16 copies: K
  int copies = 0;
  std::vector<runtime::DeviceMemory> s8, bf16;  // bf16 empty when the baseline is not wanted
  runtime::DeviceMemory scale;                  // [N] f32
  std::vector<float> host_scale;                // for the correctness check
};
// ld: the int8 row stride (0: K).
Result<std::shared_ptr<WeightSet>> make_weights(std::int64_t n, std::int64_t k, std::int64_t l2_bytes,
                                                std::int64_t device_memory_bytes, std::uint64_t seed, bool with_bf16,
                                                std::int64_t ld = 0);

// Row strides (elements) of one case's activations; 0 means K (contiguous). Views are as an engine would hand them:
// act_fp for QuantizedLinear's input, act_s8 for SmoothQuant's and cuBLASLt int8's, act_q for QuantizedLinear's
// scratch (the layout the plan writes and its GEMM reads).
struct ActLayout {
  std::int64_t act_fp = 0, act_s8 = 0, act_q = 0;
};
// The smallest row stride >= k elements of `element_bytes` each that is a multiple of `align_bytes` (16: what TMA
// accepts; 128: what it reads at full speed, every box row one whole 128-byte line).
std::int64_t aligned_row_stride(std::int64_t k, std::size_t element_bytes, std::size_t align_bytes = 128);

// Everything one (M, N, K) case reads and writes besides the weights.
struct CaseData {
  std::shared_ptr<WeightSet> weights;
  std::int64_t m = 0;
  ElementKind dtype = ElementKind::BF16;  // qjit's FP activation and output type
  bool has_bias = false;
  float act_scale = 0.02f;         // SmoothQuant's static per-tensor activation scale
  ActLayout ld;                    // resolved: every stride >= K
  runtime::DeviceMemory act_fp;    // [M, K] dtype: QuantizedLinear's input
  runtime::DeviceMemory act_bf16;  // [M, K] bf16 for the bf16 baseline (empty when dtype is bf16: act_fp serves)
  runtime::DeviceMemory act_s8;    // [M, K] s8: SmoothQuant's and cuBLASLt int8's input
  runtime::DeviceMemory act_q_scratch, act_scale_scratch;  // QuantizedLinear's scratch: [M, K] s8, [M] f32
  runtime::DeviceMemory bias;                              // [N] dtype when has_bias
  runtime::DeviceMemory out;                               // [M, N] dtype: both qjit plans
  runtime::DeviceMemory out_bf16;                          // [M, N] bf16: the bf16 baseline
  runtime::DeviceMemory out_s32;                           // [M, N] s32: the int8 baseline
  runtime::DeviceMemory lt_workspace;                      // kBaselineWorkspaceBytes

  const void* act_bf16_ptr() const { return act_bf16.get() ? act_bf16.get() : act_fp.get(); }
};
// dtype must be f16, bf16 or f32. `with_baseline` allocates the cuBLASLt buffers (and needs weights->bf16).
Result<std::unique_ptr<CaseData>> make_case(std::shared_ptr<WeightSet> weights, std::int64_t m, ElementKind dtype,
                                            bool has_bias, bool with_baseline, std::uint64_t seed,
                                            ActLayout layout = {});

enum class Contender { QjitSmoothQuant, QjitQuantizedLinear, CublasLtS8, CublasLtBf16 };
std::string_view contender_name(Contender c);  // "qjit_smooth_quant", ..., "cublaslt_bf16"

// launch(i) enqueues call i on the stream, on weight copy i % copies; it owns the plan or cuBLASLt algorithm it
// calls. Time it with autotune::median_launch_us (the autotuner's timing, so tuning and benchmarks agree) or
// perf::time_interleaved (perf/interleave.h) beside its peers.
struct Prepared {
  Launch launch;
  std::string description;  // the plan's describe() or the cuBLASLt algorithm picked
};
// Selects the plan (with `pref`) or picks cuBLASLt's algorithm (best of its heuristic's top 8, timed on this data).
// `data` must outlive the returned launch.
Result<Prepared> prepare(Contender c, CaseData& data, PlanPreference pref, CUstream stream);

// Ok when the cuBLASLt contenders can run here; else why not (built without the toolkit headers, library absent).
Status cublaslt_baseline_status();
bool built_with_cublaslt();

// qjit's SmoothQuant output against the exact int32 accumulators, computed on the host from the int8 activation
// and weights as uploaded, put through the same epilogue (act_scale · w_scale[n] · acc, rounded once to dtype), on
// up to `rows` rows spread over M. cuBLASLt's int32 output on the same rows is held to the same exact accumulators,
// so a disagreement between the two contenders says which one is wrong. Both contenders must have run on `data`
// (any weight copy: they hold the same values).
struct CheckResult {
  std::int64_t compared = 0;
  std::int64_t mismatches = 0;  // qjit elements off by more than one output rounding
  double max_rel_error = 0;
  std::int64_t baseline_mismatches = 0;  // cuBLASLt int32 accumulators that differ from the exact ones
  bool ok() const { return compared > 0 && mismatches == 0; }
};
Result<CheckResult> check_smooth_quant_against_baseline(const CaseData& data, int rows = 16);

}  // namespace qjit::perf
