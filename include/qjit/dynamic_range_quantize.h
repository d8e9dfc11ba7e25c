// DynamicRangeQuantizePlan: FP activation [M, K] -> int8 [M, K] plus scales, per token (scale[m] = absmax of row m
// / 127) or per tensor (one scale). q = round-half-to-even(x / scale), saturated to [-128, 127]; a row (or tensor)
// of zeros gets scale 0 and q = 0. NaN inputs are ignored by the absmax and quantize to 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "qjit/detail/views.h"
#include "qjit/element.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit {

struct DynamicRangeQuantizeDescriptor {
  std::int64_t m = 0;  // tokens (chooses the tuning bucket; run() accepts any M >= 1)
  std::int64_t k = 0;  // features, baked into the kernel
  ElementKind input_element = ElementKind::F32;
  QuantGranularity granularity = QuantGranularity::PerToken;

  template <FloatElement TIn>
  static DynamicRangeQuantizeDescriptor make(std::int64_t m, std::int64_t k,
                                             QuantGranularity g = QuantGranularity::PerToken) {
    return {m, k, kind_of<TIn>, g};
  }
  std::string to_string() const;
};

template <FloatElement TIn>
struct DynamicRangeQuantizeArgs {
  TensorRef<TIn, 2> input;            // [M, K], row stride >= K
  TensorMut<std::int8_t, 2> output;   // [M, K], row stride >= K
  TensorMut<float, 1> scale;          // [M] per token, [1] per tensor
};

namespace detail {
class QuantizeCore;
struct QuantizeCall {
  MatrixView input, output;
  VectorView scale;
};
Result<std::shared_ptr<const QuantizeCore>> select_quantize(const Stream&, const DynamicRangeQuantizeDescriptor&,
                                                            PlanPreference);
Status can_implement(const QuantizeCore&, const QuantizeCall&);
std::size_t workspace_size(const QuantizeCore&);
PrecisionGuarantee precision_guarantee(const QuantizeCore&);
Status run(const QuantizeCore&, const Stream&, Workspace, const QuantizeCall&);
std::string describe(const QuantizeCore&);
}  // namespace detail

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
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_quantize(stream, desc, pref));
    return DynamicRangeQuantizePlan(std::move(core));
  }
  Status can_implement(const Args& a) const { return detail::can_implement(*core_, call(a)); }
  // Per tensor: a few bytes for the running absmax; per token: 0.
  std::size_t workspace_size() const { return detail::workspace_size(*core_); }
  PrecisionGuarantee precision_guarantee() const { return detail::precision_guarantee(*core_); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const { return detail::run(*core_, stream, ws, call(a)); }
  std::string describe() const { return detail::describe(*core_); }

 private:
  explicit DynamicRangeQuantizePlan(std::shared_ptr<const detail::QuantizeCore> c) : core_(std::move(c)) {}
  static detail::QuantizeCall call(const Args& a) {
    return {detail::view(a.input), detail::view(a.output), detail::view(a.scale)};
  }
  std::shared_ptr<const detail::QuantizeCore> core_;
};

}  // namespace qjit
