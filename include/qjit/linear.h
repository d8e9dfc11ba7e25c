// The two W8A8 linear plans, y[M, N] = x[M, K] · W[N, K]ᵀ with W in PyTorch nn.Linear layout:
//  - QuantizedLinearPlan<TIn>: FP activation -> per-token dynamic int8 quantization (into caller-owned scratch) ->
//    int8 GEMM with the fused epilogue y = act_scale[m] · weight_scale[n] · acc + bias[n].
//  - SmoothQuantLinearPlan<TIn>: already smoothed and quantized int8 activation with the descriptor's static
//    per-tensor scale -> the same GEMM. The static scale is folded into the epilogue (no [M] scale buffer is filled,
//    no extra launch), which is why its args have no act_scale_scratch.
// TIn is the output (and bias) element type: f16, bf16, f32, or f64 (validation). Scales are f32 in device memory.
// The int32 accumulation is exact, so results are deterministic and bit-stable on a given device.
// Header-only over the C ABI (qjit_c.h): an engine built with any compiler or standard library links libqjit.so.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "qjit/detail/c_bridge.h"
#include "qjit/element.h"
#include "qjit/qjit_c.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit {

// The row stride, in elements of `element_bytes`, at which qjit's int8 operands (weight_q, act_q, act_q_scratch) run
// at full speed for rows of `cols` elements: the smallest multiple of 128 bytes >= cols. Every stride >= cols is
// accepted; on sm_90a an int8 row stride or base that is not a multiple of 16 bytes runs the portable kernel (7-15x
// slower on an H200), and one that is a multiple of 16 but not of 128 costs TMA up to 1.5x at large M (docs/PERF.md,
// issue 15). Weights are constant: pad them once (what a pre-pack does) and pass the padded stride.
constexpr std::int64_t preferred_row_stride(std::int64_t cols, std::int64_t element_bytes = 1) {
  const std::int64_t per_line = element_bytes >= 1 && element_bytes <= 128 ? 128 / element_bytes : 1;
  return (cols + per_line - 1) / per_line * per_line;
}
static_assert(preferred_row_stride(4095) == 4096 && preferred_row_stride(4100) == 4224 &&
              preferred_row_stride(4096) == 4096 && preferred_row_stride(1) == 128);

struct QuantizedLinearDescriptor {
  std::int64_t m = 0;                                 // tokens: chooses the tuning bucket; run() accepts any M >= 1
  std::int64_t n = 0;                                 // output features (rows of weight_q), baked into the kernel
  std::int64_t k = 0;                                 // input features, baked into the kernel
  ElementKind activation_element = ElementKind::F32;  // FP activation == output element
  ElementKind weight_element = ElementKind::S8;
  ElementKind output_element = ElementKind::F32;
  bool has_bias = false;
  // SmoothQuant for any linear: the quantize pass multiplies x[m, k] by pre_quant_scale[k] = 1/s[k] (one f32 mul.rn)
  // before quantizing, so the weight given must be the smoothed one, W · diag(s) (what `qjit quantize` writes, with
  // <module>.pre_quant_scale). A multiply, not a division: the pass stays memory-bound (docs/PERF.md).
  bool has_smooth = false;
  // Asymmetric per-token activations (docs/QUANT.md "when it helps": inputs of down/fc2 projections after GELU / SiLU
  // / ReLU): the quantize pass writes s8 codes, scales and zero points (in the workspace), and the GEMM computes
  // act_scale[m]·weight_scale[n]·(acc − zp[m]·colsum[n]) (+ bias). The args' weight_colsum [N] is required:
  // qjit::weight_colsum (qjit/scaled_matmul.h) once per weight, or `qjit quantize --weight-colsum`.
  bool asymmetric = false;

  template <FloatElement TIn>
  static QuantizedLinearDescriptor make(std::int64_t m, std::int64_t n, std::int64_t k, bool has_bias = false) {
    return {m, n, k, kind_of<TIn>, ElementKind::S8, kind_of<TIn>, has_bias};
  }
  qjit_quantized_linear_desc to_c() const {
    return {sizeof(qjit_quantized_linear_desc),
            m,
            n,
            k,
            static_cast<std::int32_t>(activation_element),
            static_cast<std::int32_t>(weight_element),
            static_cast<std::int32_t>(output_element),
            has_bias ? 1 : 0,
            has_smooth ? 1 : 0,
            asymmetric ? 1 : 0};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string([&](char* b, std::size_t n) { return qjit_quantized_linear_desc_to_string(&c, b, n); });
  }
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
  qjit_smooth_quant_linear_desc to_c() const {
    return {sizeof(qjit_smooth_quant_linear_desc),
            m,
            n,
            k,
            act_scale,
            static_cast<std::int32_t>(activation_element),
            static_cast<std::int32_t>(weight_element),
            static_cast<std::int32_t>(output_element),
            has_bias ? 1 : 0};
  }
  std::string to_string() const {
    const auto c = to_c();
    return detail::c_string([&](char* b, std::size_t n) { return qjit_smooth_quant_linear_desc_to_string(&c, b, n); });
  }
};

template <FloatElement TIn, class TWQ = std::int8_t>
struct QuantizedLinearArgs {
  TensorRef<TIn, 2> activation;             // [M, K], row stride >= K
  TensorRef<TWQ, 2> weight_q;               // [N, K], contiguous rows (row stride >= K)
  TensorRef<float, 1> weight_scale;         // [N]
  TensorRef<TIn, 1> bias;                   // [N] when the descriptor has_bias, else empty
  TensorMut<TIn, 2> output;                 // [M, N], row stride >= N
  TensorMut<std::int8_t, 2> act_q_scratch;  // [M, K] caller-owned, reused across launches
  TensorMut<float, 1> act_scale_scratch;    // [M] caller-owned: the per-token scales after run()
  TensorRef<float, 1> pre_quant_scale;      // [K] when the descriptor has_smooth, else empty
  TensorRef<std::int32_t, 1> weight_colsum;  // [N] Σ_k weight_q[n, k] when the descriptor is asymmetric, else empty
};

template <FloatElement TIn, class TWQ = std::int8_t>
struct SmoothQuantLinearArgs {
  TensorRef<std::int8_t, 2> act_q;   // [M, K] smoothed, quantized with the descriptor's act_scale
  TensorRef<TWQ, 2> weight_q;        // [N, K]
  TensorRef<float, 1> weight_scale;  // [N]
  TensorRef<TIn, 1> bias;            // [N] when has_bias
  TensorMut<TIn, 2> output;          // [M, N]
};

namespace detail {
// What both linear plans offer after select, over one retained qjit_plan*: Plan::call turns its typed Args into the
// C struct (the one thing the plans do differently).
template <class Plan, class Args>
class LinearPlanPhases {
 public:
  Status can_implement(const Args& a) const {
    const qjit_linear_args c = Plan::call(a);
    return status_of(qjit_linear_plan_can_implement(plan_.get(), &c));
  }
  // Enough for every M of the descriptor's bucket; workspace_size(m) for one M (e.g. above the top bucket's).
  std::size_t workspace_size() const { return workspace_of(plan_.get()); }
  std::size_t workspace_size(std::int64_t m) const { return workspace_of(plan_.get(), m); }
  PrecisionGuarantee precision_guarantee() const { return guarantee_of(plan_.get()); }
  Status run(const Stream& stream, Workspace ws, const Args& a) const {
    const qjit_linear_args c = Plan::call(a);
    return status_of(qjit_linear_plan_run(plan_.get(), stream.handle(), ws.data, ws.bytes, &c));
  }
  std::string describe() const { return describe_of(plan_.get()); }

 protected:
  explicit LinearPlanPhases(PlanHandle p) : plan_(std::move(p)) {}

 private:
  PlanHandle plan_;
};
}  // namespace detail

template <FloatElement TIn, class TWQ = std::int8_t>
class QuantizedLinearPlan
    : public detail::LinearPlanPhases<QuantizedLinearPlan<TIn, TWQ>, QuantizedLinearArgs<TIn, TWQ>> {
 public:
  using Args = QuantizedLinearArgs<TIn, TWQ>;

  static Result<QuantizedLinearPlan> select(const Stream& stream, const QuantizedLinearDescriptor& desc,
                                            PlanPreference pref = PlanPreference::Heuristic) {
    QJIT_TRY(detail::check_element(desc.activation_element, kind_of<TIn>, "descriptor.activation_element"));
    QJIT_TRY(detail::check_element(desc.output_element, kind_of<TIn>, "descriptor.output_element"));
    QJIT_TRY(detail::check_element(desc.weight_element, kind_of<TWQ>, "descriptor.weight_element"));
    const qjit_quantized_linear_desc c = desc.to_c();
    qjit_plan* plan = nullptr;
    QJIT_TRY(detail::status_of(
        qjit_quantized_linear_plan_select(stream.handle(), &c, static_cast<std::int32_t>(pref), &plan)));
    return QuantizedLinearPlan(detail::PlanHandle(plan));
  }

 private:
  friend class detail::LinearPlanPhases<QuantizedLinearPlan, Args>;
  explicit QuantizedLinearPlan(detail::PlanHandle p)
      : detail::LinearPlanPhases<QuantizedLinearPlan, Args>(std::move(p)) {}
  static qjit_linear_args call(const Args& a) {
    using detail::to_c;
    return {sizeof(qjit_linear_args),
            to_c(a.activation),
            to_c(a.weight_q),
            to_c(a.weight_scale),
            to_c(a.bias),
            to_c(a.output),
            to_c(a.act_q_scratch),
            to_c(a.act_scale_scratch),
            to_c(a.pre_quant_scale),
            to_c(a.weight_colsum)};
  }
};

template <FloatElement TIn, class TWQ = std::int8_t>
class SmoothQuantLinearPlan
    : public detail::LinearPlanPhases<SmoothQuantLinearPlan<TIn, TWQ>, SmoothQuantLinearArgs<TIn, TWQ>> {
 public:
  using Args = SmoothQuantLinearArgs<TIn, TWQ>;

  static Result<SmoothQuantLinearPlan> select(const Stream& stream, const SmoothQuantLinearDescriptor& desc,
                                              PlanPreference pref = PlanPreference::Heuristic) {
    QJIT_TRY(detail::check_element(desc.output_element, kind_of<TIn>, "descriptor.output_element"));
    QJIT_TRY(detail::check_element(desc.weight_element, kind_of<TWQ>, "descriptor.weight_element"));
    const qjit_smooth_quant_linear_desc c = desc.to_c();
    qjit_plan* plan = nullptr;
    QJIT_TRY(detail::status_of(
        qjit_smooth_quant_linear_plan_select(stream.handle(), &c, static_cast<std::int32_t>(pref), &plan)));
    return SmoothQuantLinearPlan(detail::PlanHandle(plan));
  }

 private:
  friend class detail::LinearPlanPhases<SmoothQuantLinearPlan, Args>;
  explicit SmoothQuantLinearPlan(detail::PlanHandle p)
      : detail::LinearPlanPhases<SmoothQuantLinearPlan, Args>(std::move(p)) {}
  static qjit_linear_args call(const Args& a) {
    using detail::to_c;
    return {sizeof(qjit_linear_args),
            to_c(a.act_q),
            to_c(a.weight_q),
            to_c(a.weight_scale),
            to_c(a.bias),
            to_c(a.output),
            {},
            {},
            {}};
  }
};

}  // namespace qjit
