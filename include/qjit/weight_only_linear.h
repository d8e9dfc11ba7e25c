// WeightOnlyLinearPlan<T>: the seed's QuantizedLinear on the GPU (W8A16): an f16 / bf16 activation x [M, K] times an
// int8 weight q [N, K] (nn.Linear layout) dequantized in the kernel's main loop,
//   output[m, n] = RN_T( sum_k x[m, k] * w[n, k]  (+ bias[n]) ),  w[n, k] = RN_T( RN_f32( (q[n, k] - zp) * scale ) ),
// with the products summed in f32 on the tensor cores. The scale (f32) and the optional int32 zero point zp are per
// tensor ([1, 1]), per output channel ([N, 1]) or per group of 64 / 128 elements along K ([N, ceil(K / group)]), the
// same shape for both; bias [N] and output [M, N] are T. quant::QuantizedLinear (f64) is the reference;
// precision_guarantee() states the bound. Header-only over the C ABI (qjit_c.h).
#pragma once

#include <cstdint>
#include <string>

#include "qjit/detail/c_bridge.h"
#include "qjit/element.h"
#include "qjit/qjit_c.h"
#include "qjit/scaled_matmul.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit {

struct WeightOnlyLinearDescriptor {
  std::int64_t m = 0;                                  // tokens: chooses the tuning bucket; run() accepts any M >= 1
  std::int64_t n = 0;                                  // output features (rows of weight), baked into the kernel
  std::int64_t k = 0;                                  // input features, baked into the kernel
  ElementKind activation_element = ElementKind::BF16;  // f16 or bf16: activation, bias and output
  ElementKind weight_element = ElementKind::S8;
  ElementKind output_element = ElementKind::BF16;  // equal to activation_element
  bool has_bias = false;
  WeightScaleMode weight_scale = WeightScaleMode::PerChannel;  // PerChannel, PerTensor or PerGroup
  std::int32_t group_size = 0;                                 // PerGroup: 64 or 128; otherwise 0
  bool has_zero_point = false;                                 // int32 zero points of the scales' shape

  template <FloatElement T>
  static WeightOnlyLinearDescriptor make(std::int64_t m, std::int64_t n, std::int64_t k,
                                         WeightScaleMode scale = WeightScaleMode::PerChannel,
                                         std::int32_t group_size = 0, bool has_zero_point = false,
                                         bool has_bias = false) {
    return {m, n, k, kind_of<T>, ElementKind::S8, kind_of<T>, has_bias, scale, group_size, has_zero_point};
  }
  qjit_weight_only_linear_desc to_c() const {
    return {sizeof(qjit_weight_only_linear_desc),
            m,
            n,
            k,
            static_cast<std::int32_t>(activation_element),
            static_cast<std::int32_t>(weight_element),
            static_cast<std::int32_t>(output_element),
            has_bias ? 1 : 0,
            static_cast<std::int32_t>(weight_scale),
            group_size,
            has_zero_point ? 1 : 0};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string([&](char* b, std::size_t n) { return qjit_weight_only_linear_desc_to_string(&c, b, n); });
  }
};

template <FloatElement T>
struct WeightOnlyLinearArgs {
  TensorRef<T, 2> activation;             // [M, K], row stride >= K
  TensorRef<std::int8_t, 2> weight;       // [N, K], row stride >= K
  TensorRef<float, 2> weight_scale;       // [1, 1], [N, 1] or [N, ceil(K / group)]
  TensorRef<std::int32_t, 2> zero_point;  // the scales' shape when the descriptor has_zero_point, else empty
  TensorRef<T, 1> bias;                   // [N] when the descriptor has_bias, else empty
  TensorMut<T, 2> output;                 // [M, N], row stride >= N
};

template <FloatElement T>
class WeightOnlyLinearPlan {
 public:
  using Args = WeightOnlyLinearArgs<T>;

  static Result<WeightOnlyLinearPlan> select(const Stream& stream, const WeightOnlyLinearDescriptor& desc,
                                             PlanPreference pref = PlanPreference::Heuristic) {
    QJIT_TRY(detail::check_element(desc.activation_element, kind_of<T>, "descriptor.activation_element"));
    const qjit_weight_only_linear_desc c = desc.to_c();
    qjit_plan* plan = nullptr;
    QJIT_TRY(detail::status_of(
        qjit_weight_only_linear_plan_select(stream.handle(), &c, static_cast<std::int32_t>(pref), &plan)));
    return WeightOnlyLinearPlan(detail::PlanHandle(plan));
  }

  Status can_implement(const Args& a) const {
    const qjit_weight_only_linear_args c = call(a);
    return detail::status_of(qjit_weight_only_linear_plan_can_implement(plan_.get(), &c));
  }
  // Enough for every M of the descriptor's bucket (split-K partials); workspace_size(m) for one M.
  std::size_t workspace_size() const { return detail::workspace_of(plan_.get()); }
  std::size_t workspace_size(std::int64_t m) const { return detail::workspace_of(plan_.get(), m); }
  PrecisionGuarantee precision_guarantee() const { return detail::guarantee_of(plan_.get()); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const {
    const qjit_weight_only_linear_args c = call(a);
    return detail::status_of(qjit_weight_only_linear_plan_run(plan_.get(), stream.handle(), ws.data, ws.bytes, &c));
  }
  std::string describe() const { return detail::describe_of(plan_.get()); }

 private:
  explicit WeightOnlyLinearPlan(detail::PlanHandle p) : plan_(std::move(p)) {}
  static qjit_weight_only_linear_args call(const Args& a) {
    using detail::to_c;
    return {sizeof(qjit_weight_only_linear_args),
            to_c(a.activation),
            to_c(a.weight),
            to_c(a.weight_scale),
            to_c(a.zero_point),
            to_c(a.bias),
            to_c(a.output)};
  }
  detail::PlanHandle plan_;
};

}  // namespace qjit
