// The plans' untyped implementation, as the C ABI (ops/c_api.cpp) calls it: one core per plan kind, immutable after
// select and shared by every handle to it. The public headers never see these: they sit on qjit_c.h, and the C ABI
// converts its structs into the views below and calls these functions.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "ops/views.h"
#include "qjit/dynamic_range_quantize.h"
#include "qjit/linear.h"
#include "qjit/norm_quantize.h"
#include "qjit/scaled_matmul.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/weight_only_linear.h"

namespace qjit::detail {

class LinearCore;
struct LinearCall {
  MatrixView activation;  // FP (QuantizedLinear) or S8 (SmoothQuant)
  MatrixView weight;
  VectorView weight_scale;
  VectorView bias;
  MatrixView output;
  MatrixView act_q_scratch;      // QuantizedLinear only
  VectorView act_scale_scratch;  // QuantizedLinear only
  VectorView pre_quant_scale;    // QuantizedLinear with has_smooth only
  VectorView weight_colsum;      // QuantizedLinear with asymmetric only: [N] s32
};
Result<std::shared_ptr<const LinearCore>> select_quantized_linear(const Stream&, const QuantizedLinearDescriptor&,
                                                                  PlanPreference);
Result<std::shared_ptr<const LinearCore>> select_smooth_quant_linear(const Stream&, const SmoothQuantLinearDescriptor&,
                                                                     PlanPreference);
Status can_implement(const LinearCore&, const LinearCall&);
// Enough for every M of the descriptor's bucket; the second form for one M.
std::size_t workspace_size(const LinearCore&);
std::size_t workspace_size(const LinearCore&, std::int64_t m);
PrecisionGuarantee precision_guarantee(const LinearCore&);
Status run(const LinearCore&, const Stream&, Workspace, const LinearCall&);
std::string describe(const LinearCore&);

// ScaledMatmulPlan: the same core (its GEMM with the caller's device scales); workspace_size, precision_guarantee
// and describe are the LinearCore ones above.
struct ScaledMatmulCall {
  MatrixView act_q, weight_q;
  VectorView act_scale, weight_scale, bias;
  MatrixView output;
  VectorView act_zero_point, weight_colsum;  // with has_act_zero_point only
};
Result<std::shared_ptr<const LinearCore>> select_scaled_matmul(const Stream&, const ScaledMatmulDescriptor&,
                                                               PlanPreference);
Status can_implement(const LinearCore&, const ScaledMatmulCall&);
Status run(const LinearCore&, const Stream&, Workspace, const ScaledMatmulCall&);

class QuantizeCore;
struct QuantizeCall {
  MatrixView input, output;
  VectorView scale;
  VectorView pre_quant_scale;  // with has_smooth only
  VectorView zero_point;       // asymmetric only: [M] s32, written
};
Result<std::shared_ptr<const QuantizeCore>> select_quantize(const Stream&, const DynamicRangeQuantizeDescriptor&,
                                                            PlanPreference);
Status can_implement(const QuantizeCore&, const QuantizeCall&);
std::size_t workspace_size(const QuantizeCore&);  // the same for every M
PrecisionGuarantee precision_guarantee(const QuantizeCore&);
Status run(const QuantizeCore&, const Stream&, Workspace, const QuantizeCall&);
std::string describe(const QuantizeCore&);

class NormQuantizeCore;
struct NormQuantizeCall {
  MatrixView input, residual, residual_out;
  VectorView gamma, beta;
  MatrixView output;
  VectorView scale;
};
Result<std::shared_ptr<const NormQuantizeCore>> select_norm_quantize(const Stream&, const NormQuantizeDescriptor&,
                                                                     PlanPreference);
Status can_implement(const NormQuantizeCore&, const NormQuantizeCall&);
std::size_t workspace_size(const NormQuantizeCore&);  // 0
PrecisionGuarantee precision_guarantee(const NormQuantizeCore&);
Status run(const NormQuantizeCore&, const Stream&, Workspace, const NormQuantizeCall&);
std::string describe(const NormQuantizeCore&);
NormKind norm_kind(const NormQuantizeCore&);

class WeightOnlyLinearCore;
struct WeightOnlyLinearCall {
  MatrixView activation, weight;
  MatrixView weight_scale, zero_point;  // [1, 1], [N, 1] or [N, groups]; zero_point empty without zero points
  VectorView bias;
  MatrixView output;
};
Result<std::shared_ptr<const WeightOnlyLinearCore>> select_weight_only_linear(const Stream&,
                                                                              const WeightOnlyLinearDescriptor&,
                                                                              PlanPreference);
Status can_implement(const WeightOnlyLinearCore&, const WeightOnlyLinearCall&);
std::size_t workspace_size(const WeightOnlyLinearCore&);
std::size_t workspace_size(const WeightOnlyLinearCore&, std::int64_t m);
PrecisionGuarantee precision_guarantee(const WeightOnlyLinearCore&);
Status run(const WeightOnlyLinearCore&, const Stream&, Workspace, const WeightOnlyLinearCall&);
std::string describe(const WeightOnlyLinearCore&);

// The descriptors as the C++ API prints them (their to_string() reaches these through the C ABI).
std::string descriptor_text(const QuantizedLinearDescriptor&);
std::string descriptor_text(const SmoothQuantLinearDescriptor&);
std::string descriptor_text(const DynamicRangeQuantizeDescriptor&);
std::string descriptor_text(const NormQuantizeDescriptor&);
std::string descriptor_text(const ScaledMatmulDescriptor&);
std::string descriptor_text(const WeightOnlyLinearDescriptor&);

}  // namespace qjit::detail
