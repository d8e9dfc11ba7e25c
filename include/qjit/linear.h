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
#include <cstddef>
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
// accepted. On sm_90a the Hopper kernel's TMA reads int8 rows whose base and stride are multiples of 16 bytes; any
// other int8 view is staged into the plan's workspace at this stride (below), else runs the portable kernel (7-15x
// slower on an H200); a stride that is a multiple of 16 but not of 128 costs TMA up to 1.5x at large M (docs/PERF.md,
// issue 15). Weights are constant: pad them once (what a pre-pack does) and pass the padded stride, so no call
// copies them.
constexpr std::int64_t preferred_row_stride(std::int64_t cols, std::int64_t element_bytes = 1) {
  const std::int64_t per_line = element_bytes >= 1 && element_bytes <= 128 ? 128 / element_bytes : 1;
  return (cols + per_line - 1) / per_line * per_line;
}
static_assert(preferred_row_stride(4095) == 4096 && preferred_row_stride(4100) == 4224 &&
              preferred_row_stride(4096) == 4096 && preferred_row_stride(1) == 128);

// The staged Hopper path (issue 15). On sm_90a an int8 operand of QuantizedLinear, SmoothQuantLinear or ScaledMatmul
// whose base or row stride is not a multiple of 16 bytes (every contiguous [*, K] view of two or more rows when K %
// 16 != 0; a sliced or padded view such as an act_q row stride of 4104; a one-row view's stride is never followed, so
// only its base counts) is copied (by qjit's staging kernel, on the call's stream) into the
// plan's workspace at preferred_row_stride(K), and the Hopper kernel reads the copy; QuantizedLinear's quantize pass
// writes its int8 activation straight into that region (no copy). The workspace at M = m is laid out as
//   [the plan's own bytes: zero points, split-K scratch][staged activation: staged_rows_bytes(m, K)]
//   [staged weight: staged_rows_bytes(N, K)]
// each region 256-byte aligned, and a call uses only the regions its views need (packed in that order). The pad
// columns [K, stride) are never read (the copy writes zeros up to the next multiple of 16 and nothing past it): the kernel's tensor maps end at K and TMA zero-fills beyond. A workspace that
// is not 16-byte aligned or too small for the regions a call needs is not an error: that call runs the portable
// kernel (same bits, slower). The region of one staged operand, in bytes:
constexpr std::size_t staged_rows_bytes(std::int64_t rows, std::int64_t k) {
  if (rows < 1 || k < 1) return 0;
  const std::size_t bytes = static_cast<std::size_t>(rows) * static_cast<std::size_t>(preferred_row_stride(k));
  return (bytes + 255) / 256 * 256;
}
// The workspace a linear plan needs at M = m to stage both of its int8 operands, from `plan_workspace`, the plan's
// workspace_size(m) (or workspace_size() for every M of its bucket, with m the bucket's largest M). When K % 16 != 0
// workspace_size already counts both regions (contiguous rows are misaligned, so every call stages): this returns
// it unchanged. When K % 16 == 0 only a misaligned view stages, and this adds the two regions to the plan's own
// bytes (rounded up to 256). Engines that pre-pad their weights (row stride a multiple of 16) need
// staged_rows_bytes(N, K) less.
constexpr std::size_t staged_workspace_size(std::size_t plan_workspace, std::int64_t m, std::int64_t n,
                                            std::int64_t k) {
  if (k % 16 != 0) return plan_workspace;
  return (plan_workspace + 255) / 256 * 256 + staged_rows_bytes(m, k) + staged_rows_bytes(n, k);
}
// Pre-pack (the weight's side of the staged path): copies an int8 weight [n, k] in device memory (row stride
// src_row_stride >= k, e.g. contiguous rows of an odd K) into `dst` at dst_row_stride (0: preferred_row_stride(k);
// else >= k and a multiple of 16), asynchronously on `stream`; dst holds n * dst_row_stride bytes, 16-byte aligned.
// Weights are constant: pad them once at load time and pass the padded view as weight_q, so no call copies the
// weight (docs/PERF.md, "Odd shapes: staged Hopper path"). The pad bytes are left as they were (never read).
inline Status pad_weight_rows(const Stream& stream, const std::int8_t* src, std::int64_t n, std::int64_t k,
                              std::int64_t src_row_stride, std::int8_t* dst, std::int64_t dst_row_stride = 0) {
  if (dst_row_stride == 0) dst_row_stride = preferred_row_stride(k);
  return detail::status_of(qjit_pad_int8_rows(stream.handle(), src, n, k, src_row_stride, dst, dst_row_stride));
}

static_assert(staged_rows_bytes(16, 4100) == 16 * 4224 && staged_rows_bytes(1, 4095) == 4096 &&
              staged_rows_bytes(3, 1) == 512 && staged_workspace_size(100, 2, 4, 4096) == 256 + 8192 + 16384 &&
              staged_workspace_size(100, 2, 4, 4100) == 100);

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
  // [M, K] caller-owned, reused across launches: the quantized activation after run(), except on the staged Hopper
  // path (sm_90a, rows whose base or stride is not a multiple of 16 bytes, the workspace holds the staged region;
  // see staged_rows_bytes): the pass then writes the plan's workspace at preferred_row_stride(K) and act_q_scratch is
  // left untouched. Pass rows of preferred_row_stride(K) to read it back on every path.
  TensorMut<std::int8_t, 2> act_q_scratch;
  TensorMut<float, 1> act_scale_scratch;    // [M] caller-owned: the per-token scales after run() (on every path)
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
