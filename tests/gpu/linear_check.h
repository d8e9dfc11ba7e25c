// Shared driver for the linear-plan GPU tests: builds fresh random inputs, poisons outputs and scratch, runs a plan,
// and compares everything against the f64 CPU reference (quantized activations bit for bit, outputs within the
// plan's precision guarantee, every element written, and the pad columns of strided outputs and scratch untouched). Large problems compare a sample of rows against the
// reference (all rows are still checked for unwritten / non-finite values).
#pragma once

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "qjit/element.h"
#include "qjit/scaled_matmul.h"
#include "qjit/stream.h"

namespace qjit::testing {

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
