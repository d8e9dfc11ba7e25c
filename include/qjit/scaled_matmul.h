// ScaledMatmulPlan<TOut>: the scaled int8 GEMM an engine with its own quantization calls (vLLM's cutlass_scaled_mm),
//   output[m, n] = act_scale[m | 0] · weight_scale[n | 0] · Σ_k act_q[m, k] · weight_q[n, k]  (+ bias[n]),
// act_q [M, K] int8 with a per-token [M] or per-tensor [1] f32 scale, weight_q [N, K] int8 (nn.Linear layout) with a
// per-channel [N] or per-tensor [1] f32 scale, every scale in device memory (so a run is graph-capturable and never
// reads the host). TOut (output and bias): f16, bf16 or f32. One launch of the GEMM the linear plans use, with the
// same epilogue arithmetic (f32, each step rounded on its own, one rounding to TOut); a per-tensor scale gives the
// same bits as a per-token / per-channel one filled with that value. Header-only over the C ABI (qjit_c.h).
// With has_act_zero_point (asymmetric activations, s8 codes with a per-token zero point; per-token scales only):
//   output[m, n] = act_scale[m] · weight_scale[n | 0] · (Σ_k act_q[m, k] · weight_q[n, k] − azp[m] · colsum[n]) (+ bias),
// colsum = qjit::weight_colsum(weight_q) computed once per weight (below).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qjit/detail/c_bridge.h"
#include "qjit/element.h"
#include "qjit/qjit_c.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit {

enum class ActScaleMode : std::int32_t { PerToken = QJIT_ACT_SCALE_PER_TOKEN, PerTensor = QJIT_ACT_SCALE_PER_TENSOR };
enum class WeightScaleMode : std::int32_t {
  PerChannel = QJIT_WEIGHT_SCALE_PER_CHANNEL,
  PerTensor = QJIT_WEIGHT_SCALE_PER_TENSOR,
  PerGroup = QJIT_WEIGHT_SCALE_PER_GROUP  // WeightOnlyLinearPlan only (per group of K elements)
};

struct ScaledMatmulDescriptor {
  std::int64_t m = 0;  // tokens: chooses the tuning bucket; run() accepts any M >= 1
  std::int64_t n = 0;  // output features (rows of weight_q), baked into the kernel
  std::int64_t k = 0;  // input features, baked into the kernel
  ElementKind activation_element = ElementKind::S8;
  ElementKind weight_element = ElementKind::S8;
  ElementKind output_element = ElementKind::BF16;
  bool has_bias = false;
  ActScaleMode act_scale = ActScaleMode::PerToken;
  WeightScaleMode weight_scale = WeightScaleMode::PerChannel;
  bool has_act_zero_point = false;  // args' act_zero_point [M] and weight_colsum [N] (needs ActScaleMode::PerToken)

  template <FloatElement TOut>
  static ScaledMatmulDescriptor make(std::int64_t m, std::int64_t n, std::int64_t k, bool has_bias = false,
                                     ActScaleMode act = ActScaleMode::PerToken,
                                     WeightScaleMode weight = WeightScaleMode::PerChannel) {
    return {m, n, k, ElementKind::S8, ElementKind::S8, kind_of<TOut>, has_bias, act, weight};
  }
  qjit_scaled_matmul_desc to_c() const {
    return {sizeof(qjit_scaled_matmul_desc),
            m,
            n,
            k,
            static_cast<std::int32_t>(activation_element),
            static_cast<std::int32_t>(weight_element),
            static_cast<std::int32_t>(output_element),
            has_bias ? 1 : 0,
            static_cast<std::int32_t>(act_scale),
            static_cast<std::int32_t>(weight_scale),
            has_act_zero_point ? 1 : 0};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string([&](char* b, std::size_t n) { return qjit_scaled_matmul_desc_to_string(&c, b, n); });
  }
};

template <FloatElement TOut>
struct ScaledMatmulArgs {
  TensorRef<std::int8_t, 2> act_q;     // [M, K], row stride >= K
  TensorRef<std::int8_t, 2> weight_q;  // [N, K], row stride >= K
  TensorRef<float, 1> act_scale;       // [M] per token, [1] per tensor
  TensorRef<float, 1> weight_scale;    // [N] per channel, [1] per tensor
  TensorRef<TOut, 1> bias;             // [N] when the descriptor has_bias, else empty
  TensorMut<TOut, 2> output;           // [M, N], row stride >= N
  TensorRef<std::int32_t, 1> act_zero_point;  // [M] (s8 domain) when the descriptor has_act_zero_point, else empty
  TensorRef<std::int32_t, 1> weight_colsum;   // [N] when the descriptor has_act_zero_point, else empty
};

template <FloatElement TOut>
class ScaledMatmulPlan {
 public:
  using Args = ScaledMatmulArgs<TOut>;

  static Result<ScaledMatmulPlan> select(const Stream& stream, const ScaledMatmulDescriptor& desc,
                                         PlanPreference pref = PlanPreference::Heuristic) {
    QJIT_TRY(detail::check_element(desc.output_element, kind_of<TOut>, "descriptor.output_element"));
    const qjit_scaled_matmul_desc c = desc.to_c();
    qjit_plan* plan = nullptr;
    QJIT_TRY(detail::status_of(
        qjit_scaled_matmul_plan_select(stream.handle(), &c, static_cast<std::int32_t>(pref), &plan)));
    return ScaledMatmulPlan(detail::PlanHandle(plan));
  }

  Status can_implement(const Args& a) const {
    const qjit_scaled_matmul_args c = call(a);
    return detail::status_of(qjit_scaled_matmul_plan_can_implement(plan_.get(), &c));
  }
  // Enough for every M of the descriptor's bucket; workspace_size(m) for one M.
  std::size_t workspace_size() const { return detail::workspace_of(plan_.get()); }
  std::size_t workspace_size(std::int64_t m) const { return detail::workspace_of(plan_.get(), m); }
  PrecisionGuarantee precision_guarantee() const { return detail::guarantee_of(plan_.get()); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const {
    const qjit_scaled_matmul_args c = call(a);
    return detail::status_of(qjit_scaled_matmul_plan_run(plan_.get(), stream.handle(), ws.data, ws.bytes, &c));
  }
  std::string describe() const { return detail::describe_of(plan_.get()); }

 private:
  explicit ScaledMatmulPlan(detail::PlanHandle p) : plan_(std::move(p)) {}
  static qjit_scaled_matmul_args call(const Args& a) {
    using detail::to_c;
    return {sizeof(qjit_scaled_matmul_args), to_c(a.act_q),  to_c(a.weight_q),       to_c(a.act_scale),
            to_c(a.weight_scale),            to_c(a.bias),   to_c(a.output),         to_c(a.act_zero_point),
            to_c(a.weight_colsum)};
  }
  detail::PlanHandle plan_;
};

// colsum[n] = Σ_k weight[n, k] of an int8 weight [N, K] in host memory (row_stride >= K): the zero-point
// epilogue's correction term. Once per weight at load time; copy the result to the device for the plans.
inline Result<std::vector<std::int32_t>> weight_colsum(const std::int8_t* weight, std::int64_t n, std::int64_t k,
                                                       std::int64_t row_stride) {
  // NOTE: sized only for an n the library accepts (it refuses the rest naming n), never allocated from a bad n.
  const bool n_ok = n > 0 && n < (std::int64_t{1} << 31);
  std::vector<std::int32_t> out(n_ok ? static_cast<std::size_t>(n) : 0);
  QJIT_TRY(detail::status_of(qjit_weight_colsum(weight, n, k, row_stride, out.data())));
  return out;
}

}  // namespace qjit
