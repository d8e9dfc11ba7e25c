// Shared driver for the linear-plan GPU tests: builds fresh random inputs, poisons outputs, scratch and workspace,
// runs a plan, and compares everything against the f64 CPU reference (quantized activations bit for bit, outputs
// within the plan's precision guarantee, every element written, and the pad columns of strided outputs and scratch
// untouched). Where the plan stages misaligned int8 rows into its workspace (issue 15, sm_90a), the staged copies
// are read back at the documented layout's offsets and must hold the operands bit for bit. Large problems compare a
// sample of rows against the reference (all rows are still checked for unwritten / non-finite values).
#pragma once

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "qjit/element.h"
#include "qjit/scaled_matmul.h"
#include "qjit/stream.h"

namespace qjit::testing {

// The workspace a case gives the plan (issue 15's staged Hopper path, qjit/linear.h): Plan = max(workspace_size(),
// workspace_size(M)), what callers size by; Staged = qjit::staged_workspace_size of that (room to stage both int8
// operands also when K % 16 == 0); Short = one byte less than the call's staged regions need (the portable kernel).
enum class CaseWorkspace { Plan, Staged, Short };

struct LinearCase {
  std::int64_t m, n, k;
  bool bias = false;
  std::int64_t act_row_pad = 0;  // activation / act_q row stride = K + pad
  std::int64_t out_row_pad = 0;  // output row stride = N + pad
  PlanPreference pref = PlanPreference::Heuristic;
  std::int64_t select_m = 0;  // the descriptor's M when not 0 (the plan then runs at m, another M)
  bool smooth = false;        // QuantizedLinear: a pre_quant_scale [K] (x * it before quantizing)
  std::int64_t weight_row_pad = 0;    // weight row stride = K + pad (a prepacked weight: pad to 16 bytes)
  std::int64_t scratch_row_pad = -1;  // QuantizedLinear: act_q_scratch row stride = K + pad (-1: act_row_pad)
  CaseWorkspace workspace = CaseWorkspace::Plan;
  // 1: the staged Hopper path must run (its copies are read back from the workspace; QuantizedLinear's act_q_scratch
  // must stay untouched), 0: it must not, -1: either, as the plan's documented layout predicts for the views.
  int expect_staged = -1;
  std::string to_string() const;
};

template <class T>
::testing::AssertionResult check_quantized_linear(const LinearCase& c);
template <class T>
::testing::AssertionResult check_smooth_quant_linear(const LinearCase& c);

// ScaledMatmulPlan<T> with the given scale modes (device [1] tensors for per_tensor): the output against the f64
// reference as above, and, for a per-tensor mode, bit for bit against the per-token / per-channel plan run with the
// scale broadcast to [M] / [N] (the kernels' scale modes change only where the scale is read from).
template <class T>
::testing::AssertionResult check_scaled_matmul(const LinearCase& c, ActScaleMode act, WeightScaleMode weight);

}  // namespace qjit::testing
