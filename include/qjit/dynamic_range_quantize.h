// DynamicRangeQuantizePlan: FP activation [M, K] -> int8 [M, K] plus scales, per token (scale[m] = absmax of row m
// / 127) or per tensor (one scale). q = round-half-to-even(x / scale), saturated to [-128, 127]; a row (or tensor)
// of zeros gets scale 0 and q = 0. NaN inputs are ignored by the absmax and quantize to 0.
// Header-only over the C ABI (qjit_c.h).
#pragma once

#include <cstdint>
#include <string>

#include "qjit/detail/c_bridge.h"
#include "qjit/element.h"
#include "qjit/qjit_c.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit {

struct DynamicRangeQuantizeDescriptor {
  std::int64_t m = 0;  // tokens (chooses the tuning bucket; run() accepts any M >= 1)
  std::int64_t k = 0;  // features, baked into the kernel
  ElementKind input_element = ElementKind::F32;
  QuantGranularity granularity = QuantGranularity::PerToken;
  bool has_smooth = false;  // multiply x[m, k] by pre_quant_scale[k] (one f32 mul.rn) first; see linear.h

  template <FloatElement TIn>
  static DynamicRangeQuantizeDescriptor make(std::int64_t m, std::int64_t k,
                                             QuantGranularity g = QuantGranularity::PerToken) {
    return {m, k, kind_of<TIn>, g, false};
  }
  qjit_dynamic_range_quantize_desc to_c() const {
    return {sizeof(qjit_dynamic_range_quantize_desc),
            m,
            k,
            static_cast<std::int32_t>(input_element),
            granularity == QuantGranularity::PerToken ? QJIT_PER_TOKEN : QJIT_PER_TENSOR,
            has_smooth ? 1 : 0};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string(
        [&](char* b, std::size_t n) { return qjit_dynamic_range_quantize_desc_to_string(&c, b, n); });
  }
};

template <FloatElement TIn>
struct DynamicRangeQuantizeArgs {
  TensorRef<TIn, 2> input;              // [M, K], row stride >= K
  TensorMut<std::int8_t, 2> output;     // [M, K], row stride >= K
  TensorMut<float, 1> scale;            // [M] per token, [1] per tensor
  TensorRef<float, 1> pre_quant_scale;  // [K] when the descriptor has_smooth, else empty
};

template <FloatElement TIn>
class DynamicRangeQuantizePlan {
 public:
  using Args = DynamicRangeQuantizeArgs<TIn>;

  static Result<DynamicRangeQuantizePlan> select(const Stream& stream, const DynamicRangeQuantizeDescriptor& desc,
                                                 PlanPreference pref = PlanPreference::Heuristic) {
    if (desc.input_element != kind_of<TIn>)
      return Status(StatusCode::InvalidArgument, "descriptor.input_element must be " +
                                                     std::string(element_name(kind_of<TIn>)) + " for this plan, got " +
                                                     std::string(element_name(desc.input_element)));
    const qjit_dynamic_range_quantize_desc c = desc.to_c();
    qjit_plan* plan = nullptr;
    QJIT_TRY(detail::status_of(
        qjit_dynamic_range_quantize_plan_select(stream.handle(), &c, static_cast<std::int32_t>(pref), &plan)));
    return DynamicRangeQuantizePlan(detail::PlanHandle(plan));
  }
  Status can_implement(const Args& a) const {
    const qjit_quantize_args c = call(a);
    return detail::status_of(qjit_quantize_plan_can_implement(plan_.get(), &c));
  }
  // Per tensor: a few bytes for the running absmax; per token: 0.
  std::size_t workspace_size() const { return detail::workspace_of(plan_.get()); }
  PrecisionGuarantee precision_guarantee() const { return detail::guarantee_of(plan_.get()); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const {
    const qjit_quantize_args c = call(a);
    return detail::status_of(qjit_quantize_plan_run(plan_.get(), stream.handle(), ws.data, ws.bytes, &c));
  }
  std::string describe() const { return detail::describe_of(plan_.get()); }

 private:
  explicit DynamicRangeQuantizePlan(detail::PlanHandle p) : plan_(std::move(p)) {}
  static qjit_quantize_args call(const Args& a) {
    return {sizeof(qjit_quantize_args), detail::to_c(a.input), detail::to_c(a.output), detail::to_c(a.scale),
            detail::to_c(a.pre_quant_scale)};
  }
  detail::PlanHandle plan_;
};

}  // namespace qjit
