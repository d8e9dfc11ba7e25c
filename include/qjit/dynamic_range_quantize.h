// DynamicRangeQuantizePlan: FP activation [M, K] -> int8 [M, K] plus scales, per token (scale[m] = absmax of row m
// / 127) or per tensor (one scale). q = round-half-to-even(x / scale), saturated to [-128, 127]; a row (or tensor)
// of zeros gets scale 0 and q = 0. NaN inputs are ignored by the absmax and quantize to 0.
// Asymmetric (per token, `asymmetric = true`): scale[m] = (hi − lo) / 255 over lo = min(0, min x), hi = max(0, max x),
// zero_point[m] = clamp(rni(−lo / scale), 0, 255), q = clamp(rni(x / scale) + zp, 0, 255) as u8 codes, or as s8
// codes q − 128 with zp − 128 (output_element S8: what ScaledMatmulPlan's act_zero_point reads). Bit for bit
// qjit::quant::quantize_rows_asymmetric; docs/QUANT.md says when it is worth it (one-sided activations).
// Header-only over the C ABI (qjit_c.h).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

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
  bool asymmetric = false;  // per-token scale and zero point (per token only)
  ElementKind output_element = ElementKind::S8;  // the codes: s8, or u8 (asymmetric only)

  template <FloatElement TIn>
  static DynamicRangeQuantizeDescriptor make(std::int64_t m, std::int64_t k,
                                             QuantGranularity g = QuantGranularity::PerToken) {
    return {m, k, kind_of<TIn>, g, false};
  }
  // Asymmetric per-token quantization with TQ codes (std::uint8_t or std::int8_t).
  template <FloatElement TIn, class TQ = std::uint8_t>
  static DynamicRangeQuantizeDescriptor make_asymmetric(std::int64_t m, std::int64_t k) {
    return {m, k, kind_of<TIn>, QuantGranularity::PerToken, false, true, kind_of<TQ>};
  }
  qjit_dynamic_range_quantize_desc to_c() const {
    return {sizeof(qjit_dynamic_range_quantize_desc),
            m,
            k,
            static_cast<std::int32_t>(input_element),
            granularity == QuantGranularity::PerToken ? QJIT_PER_TOKEN : QJIT_PER_TENSOR,
            has_smooth ? 1 : 0,
            asymmetric ? 1 : 0,
            static_cast<std::int32_t>(output_element)};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string(
        [&](char* b, std::size_t n) { return qjit_dynamic_range_quantize_desc_to_string(&c, b, n); });
  }
};

// TQ: the codes' type, std::int8_t (symmetric, or asymmetric s8) or std::uint8_t (asymmetric u8).
template <FloatElement TIn, class TQ = std::int8_t>
struct DynamicRangeQuantizeArgs {
  static_assert(std::is_same_v<TQ, std::int8_t> || std::is_same_v<TQ, std::uint8_t>, "codes are int8 or uint8");
  TensorRef<TIn, 2> input;              // [M, K], row stride >= K
  TensorMut<TQ, 2> output;              // [M, K], row stride >= K
  TensorMut<float, 1> scale;            // [M] per token, [1] per tensor
  TensorRef<float, 1> pre_quant_scale;  // [K] when the descriptor has_smooth, else empty
  TensorMut<std::int32_t, 1> zero_point;  // [M] when the descriptor is asymmetric, else empty
};

template <FloatElement TIn, class TQ = std::int8_t>
class DynamicRangeQuantizePlan {
 public:
  using Args = DynamicRangeQuantizeArgs<TIn, TQ>;

  static Result<DynamicRangeQuantizePlan> select(const Stream& stream, const DynamicRangeQuantizeDescriptor& desc,
                                                 PlanPreference pref = PlanPreference::Heuristic) {
    if (desc.input_element != kind_of<TIn>)
      return Status(StatusCode::InvalidArgument, "descriptor.input_element must be " +
                                                     std::string(element_name(kind_of<TIn>)) + " for this plan, got " +
                                                     std::string(element_name(desc.input_element)));
    QJIT_TRY(detail::check_element(desc.asymmetric ? desc.output_element : ElementKind::S8, kind_of<TQ>,
                                   "descriptor.output_element (the plan's code type)"));
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
            detail::to_c(a.pre_quant_scale), detail::to_c(a.zero_point)};
  }
  detail::PlanHandle plan_;
};

}  // namespace qjit
