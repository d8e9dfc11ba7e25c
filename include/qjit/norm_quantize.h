// RmsNormQuantizePlan and LayerNormQuantizePlan: x [M, K] (optionally plus a residual, whose sum with x, rounded to
// the input type, is written back: vLLM's fused_add_rms_norm), normalised in f32 and quantized to int8 [M, K] in one
// pass, with a per-token scale [M] (absmax / 127, dynamic) or a static per-tensor scale (the descriptor's).
//   RMSNorm:   v = (h * rstd) * gamma,              rstd = 1 / sqrt(sum(h^2) / K + eps)
//   LayerNorm: v = ((h - mu) * rstd) * gamma + beta, rstd = 1 / sqrt(sum((h - mu)^2) / K + eps), mu = sum(h) / K
// q = round-half-even(v / scale) saturated to [-128, 127]: bit for bit what DynamicRangeQuantizePlan<float> gives for
// the same v (per token) or with the same scale (per tensor). precision_guarantee() states the order of the sums.
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

enum class NormKind { RmsNorm, LayerNorm };

struct NormQuantizeDescriptor {
  NormKind norm = NormKind::RmsNorm;
  std::int64_t m = 0;  // tokens (chooses the tuning bucket; run() accepts any M >= 1)
  std::int64_t k = 0;  // features, baked into the kernel
  ElementKind input_element = ElementKind::F32;  // f16, bf16 or f32: x, residual, gamma, beta
  // PerToken: dynamic scale[m] = absmax(v[m, :]) / 127; PerTensor: the static scale below (real = q * static_scale).
  QuantGranularity granularity = QuantGranularity::PerToken;
  bool has_residual = false;  // h = x + residual, written to residual_out, then normalised
  float eps = 1e-6f;
  float static_scale = 0.0f;  // PerTensor only: finite, > 0

  template <FloatElement TIn>
  static NormQuantizeDescriptor rms_norm(std::int64_t m, std::int64_t k, float eps = 1e-6f,
                                         bool has_residual = false) {
    return {NormKind::RmsNorm, m, k, kind_of<TIn>, QuantGranularity::PerToken, has_residual, eps, 0.0f};
  }
  template <FloatElement TIn>
  static NormQuantizeDescriptor layer_norm(std::int64_t m, std::int64_t k, float eps = 1e-5f,
                                           bool has_residual = false) {
    return {NormKind::LayerNorm, m, k, kind_of<TIn>, QuantGranularity::PerToken, has_residual, eps, 0.0f};
  }
  // The same descriptor with a static per-tensor scale instead of per-token scales.
  NormQuantizeDescriptor with_static_scale(float scale) const {
    NormQuantizeDescriptor d = *this;
    d.granularity = QuantGranularity::PerTensor;
    d.static_scale = scale;
    return d;
  }
  qjit_norm_quantize_desc to_c() const {
    return {sizeof(qjit_norm_quantize_desc),
            m,
            k,
            norm == NormKind::RmsNorm ? QJIT_RMS_NORM : QJIT_LAYER_NORM,
            static_cast<std::int32_t>(input_element),
            granularity == QuantGranularity::PerToken ? QJIT_PER_TOKEN : QJIT_PER_TENSOR,
            has_residual ? 1 : 0,
            eps,
            static_scale};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string([&](char* b, std::size_t n) { return qjit_norm_quantize_desc_to_string(&c, b, n); });
  }
};

template <FloatElement TIn>
struct NormQuantizeArgs {
  TensorRef<TIn, 2> input;         // [M, K], row stride >= K
  TensorRef<TIn, 2> residual;      // [M, K] when the descriptor has_residual, else empty
  TensorMut<TIn, 2> residual_out;  // [M, K] when has_residual (may be the very input or residual), else empty
  TensorRef<TIn, 1> gamma;         // [K]
  TensorRef<TIn, 1> beta;          // [K] for LayerNorm, empty for RMSNorm
  TensorMut<std::int8_t, 2> output;  // [M, K], row stride >= K
  TensorMut<float, 1> scale;       // [M] per token; empty with a static scale
};

namespace detail {

template <FloatElement TIn, NormKind kNorm>
class NormQuantizePlan {
 public:
  using Args = NormQuantizeArgs<TIn>;

  static Result<NormQuantizePlan> select(const Stream& stream, const NormQuantizeDescriptor& desc,
                                         PlanPreference pref = PlanPreference::Heuristic) {
    if (desc.norm != kNorm)
      return Status(StatusCode::InvalidArgument,
                    std::string("descriptor.norm must be ") + (kNorm == NormKind::RmsNorm ? "RmsNorm" : "LayerNorm") +
                        " for this plan, got " + (desc.norm == NormKind::RmsNorm ? "RmsNorm" : "LayerNorm"));
    if (desc.input_element != kind_of<TIn>)
      return Status(StatusCode::InvalidArgument, "descriptor.input_element must be " +
                                                     std::string(element_name(kind_of<TIn>)) + " for this plan, got " +
                                                     std::string(element_name(desc.input_element)));
    const qjit_norm_quantize_desc c = desc.to_c();
    qjit_plan* plan = nullptr;
    QJIT_TRY(status_of(qjit_norm_quantize_plan_select(stream.handle(), &c, static_cast<std::int32_t>(pref), &plan)));
    return NormQuantizePlan(PlanHandle(plan));
  }
  Status can_implement(const Args& a) const {
    const qjit_norm_quantize_args c = call(a);
    return status_of(qjit_norm_quantize_plan_can_implement(plan_.get(), &c));
  }
  std::size_t workspace_size() const { return workspace_of(plan_.get()); }  // 0
  PrecisionGuarantee precision_guarantee() const { return guarantee_of(plan_.get()); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const {
    const qjit_norm_quantize_args c = call(a);
    return status_of(qjit_norm_quantize_plan_run(plan_.get(), stream.handle(), ws.data, ws.bytes, &c));
  }
  std::string describe() const { return describe_of(plan_.get()); }

 private:
  explicit NormQuantizePlan(PlanHandle p) : plan_(std::move(p)) {}
  static qjit_norm_quantize_args call(const Args& a) {
    return {sizeof(qjit_norm_quantize_args), to_c(a.input), to_c(a.residual), to_c(a.residual_out), to_c(a.gamma),
            to_c(a.beta),                    to_c(a.output), to_c(a.scale)};
  }
  PlanHandle plan_;
};

}  // namespace detail

template <FloatElement TIn>
using RmsNormQuantizePlan = detail::NormQuantizePlan<TIn, NormKind::RmsNorm>;
template <FloatElement TIn>
using LayerNormQuantizePlan = detail::NormQuantizePlan<TIn, NormKind::LayerNorm>;
template <FloatElement TIn>
using RmsNormQuantizeArgs = NormQuantizeArgs<TIn>;
template <FloatElement TIn>
using LayerNormQuantizeArgs = NormQuantizeArgs<TIn>;

}  // namespace qjit
