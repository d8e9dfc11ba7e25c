// The two W8A8 linear plans, y[M, N] = x[M, K] · W[N, K]ᵀ with W in PyTorch nn.Linear layout:
//  - QuantizedLinearPlan<TIn>: FP activation -> per-token dynamic int8 quantization (into caller-owned scratch) ->
//    int8 GEMM with the fused epilogue y = act_scale[m] · weight_scale[n] · acc + bias[n].
//  - SmoothQuantLinearPlan<TIn>: already smoothed and quantized int8 activation with the descriptor's static
//    per-tensor scale -> the same GEMM. The static scale is folded into the epilogue (no [M] scale buffer is filled,
//    no extra launch), which is why its args have no act_scale_scratch.
// TIn is the output (and bias) element type: f16, bf16, f32, or f64 (validation). Scales are f32 in device memory.
// The int32 accumulation is exact, so results are deterministic and bit-stable on a given device.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "qjit/detail/views.h"
#include "qjit/element.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit {

struct QuantizedLinearDescriptor {
  std::int64_t m = 0;  // tokens: chooses the tuning bucket; run() accepts any M >= 1
  std::int64_t n = 0;  // output features (rows of weight_q), baked into the kernel
  std::int64_t k = 0;  // input features, baked into the kernel
  ElementKind activation_element = ElementKind::F32;  // FP activation == output element
  ElementKind weight_element = ElementKind::S8;
  ElementKind output_element = ElementKind::F32;
  bool has_bias = false;

  template <FloatElement TIn>
  static QuantizedLinearDescriptor make(std::int64_t m, std::int64_t n, std::int64_t k, bool has_bias = false) {
    return {m, n, k, kind_of<TIn>, ElementKind::S8, kind_of<TIn>, has_bias};
  }
  std::string to_string() const;
};

struct SmoothQuantLinearDescriptor {
  std::int64_t m = 0, n = 0, k = 0;
  float act_scale = 1.0f;  // static per-tensor activation scale from calibration (real = q · act_scale)
  ElementKind activation_element = ElementKind::S8;
  ElementKind weight_element = ElementKind::S8;
  ElementKind output_element = ElementKind::F32;
  bool has_bias = false;

  template <FloatElement TIn>
  static SmoothQuantLinearDescriptor make(std::int64_t m, std::int64_t n, std::int64_t k, float act_scale,
                                          bool has_bias = false) {
    return {m, n, k, act_scale, ElementKind::S8, ElementKind::S8, kind_of<TIn>, has_bias};
  }
  std::string to_string() const;
};

template <FloatElement TIn, class TWQ = std::int8_t>
struct QuantizedLinearArgs {
  TensorRef<TIn, 2> activation;            // [M, K], row stride >= K
  TensorRef<TWQ, 2> weight_q;              // [N, K], contiguous rows (row stride >= K)
  TensorRef<float, 1> weight_scale;        // [N]
  TensorRef<TIn, 1> bias;                  // [N] when the descriptor has_bias, else empty
  TensorMut<TIn, 2> output;                // [M, N], row stride >= N
  TensorMut<std::int8_t, 2> act_q_scratch; // [M, K] caller-owned, reused across launches
  TensorMut<float, 1> act_scale_scratch;   // [M] caller-owned: the per-token scales after run()
};

template <FloatElement TIn, class TWQ = std::int8_t>
struct SmoothQuantLinearArgs {
  TensorRef<std::int8_t, 2> act_q;         // [M, K] smoothed, quantized with the descriptor's act_scale
  TensorRef<TWQ, 2> weight_q;              // [N, K]
  TensorRef<float, 1> weight_scale;        // [N]
  TensorRef<TIn, 1> bias;                  // [N] when has_bias
  TensorMut<TIn, 2> output;                // [M, N]
};

namespace detail {
class LinearCore;
struct LinearCall {
  MatrixView activation;  // FP (QuantizedLinear) or S8 (SmoothQuant)
  MatrixView weight;
  VectorView weight_scale;
  VectorView bias;
  MatrixView output;
  MatrixView act_q_scratch;      // QuantizedLinear only
  VectorView act_scale_scratch;  // QuantizedLinear only
};
Result<std::shared_ptr<const LinearCore>> select_quantized_linear(const Stream&, const QuantizedLinearDescriptor&,
                                                                  PlanPreference);
Result<std::shared_ptr<const LinearCore>> select_smooth_quant_linear(const Stream&, const SmoothQuantLinearDescriptor&,
                                                                     PlanPreference);
Status can_implement(const LinearCore&, const LinearCall&);
std::size_t workspace_size(const LinearCore&);
PrecisionGuarantee precision_guarantee(const LinearCore&);
Status run(const LinearCore&, const Stream&, Workspace, const LinearCall&);
std::string describe(const LinearCore&);
Status check_element(ElementKind got, ElementKind want, const char* field);
}  // namespace detail

template <FloatElement TIn, class TWQ = std::int8_t>
class QuantizedLinearPlan {
 public:
  using Args = QuantizedLinearArgs<TIn, TWQ>;

  static Result<QuantizedLinearPlan> select(const Stream& stream, const QuantizedLinearDescriptor& desc,
                                            PlanPreference pref = PlanPreference::Heuristic) {
    QJIT_TRY(detail::check_element(desc.activation_element, kind_of<TIn>, "descriptor.activation_element"));
    QJIT_TRY(detail::check_element(desc.output_element, kind_of<TIn>, "descriptor.output_element"));
    QJIT_TRY(detail::check_element(desc.weight_element, kind_of<TWQ>, "descriptor.weight_element"));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_quantized_linear(stream, desc, pref));
    return QuantizedLinearPlan(std::move(core));
  }
  Status can_implement(const Args& a) const { return detail::can_implement(*core_, call(a)); }
  std::size_t workspace_size() const { return detail::workspace_size(*core_); }
  PrecisionGuarantee precision_guarantee() const { return detail::precision_guarantee(*core_); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const { return detail::run(*core_, stream, ws, call(a)); }
  std::string describe() const { return detail::describe(*core_); }

 private:
  explicit QuantizedLinearPlan(std::shared_ptr<const detail::LinearCore> c) : core_(std::move(c)) {}
  static detail::LinearCall call(const Args& a) {
    using detail::view;
    return {view(a.activation), view(a.weight_q), view(a.weight_scale), view(a.bias),
            view(a.output),     view(a.act_q_scratch), view(a.act_scale_scratch)};
  }
  std::shared_ptr<const detail::LinearCore> core_;
};

template <FloatElement TIn, class TWQ = std::int8_t>
class SmoothQuantLinearPlan {
 public:
  using Args = SmoothQuantLinearArgs<TIn, TWQ>;

  static Result<SmoothQuantLinearPlan> select(const Stream& stream, const SmoothQuantLinearDescriptor& desc,
                                              PlanPreference pref = PlanPreference::Heuristic) {
    QJIT_TRY(detail::check_element(desc.output_element, kind_of<TIn>, "descriptor.output_element"));
    QJIT_TRY(detail::check_element(desc.weight_element, kind_of<TWQ>, "descriptor.weight_element"));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_smooth_quant_linear(stream, desc, pref));
    return SmoothQuantLinearPlan(std::move(core));
  }
  Status can_implement(const Args& a) const { return detail::can_implement(*core_, call(a)); }
  std::size_t workspace_size() const { return detail::workspace_size(*core_); }
  PrecisionGuarantee precision_guarantee() const { return detail::precision_guarantee(*core_); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const { return detail::run(*core_, stream, ws, call(a)); }
  std::string describe() const { return detail::describe(*core_); }

 private:
  explicit SmoothQuantLinearPlan(std::shared_ptr<const detail::LinearCore> c) : core_(std::move(c)) {}
  static detail::LinearCall call(const Args& a) {
    using detail::view;
    return {view(a.act_q), view(a.weight_q), view(a.weight_scale), view(a.bias), view(a.output), {}, {}};
  }
  std::shared_ptr<const detail::LinearCore> core_;
};

}  // namespace qjit
