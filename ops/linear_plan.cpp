// QuantizedLinearPlan and SmoothQuantLinearPlan: descriptor validation, kernel selection, argument checks and the
// launch sequence, over the GEMM core they share with ScaledMatmulPlan (linear_core.h). QuantizedLinear runs two
// kernels (per-token quantize, then the GEMM with per-token scales); SmoothQuant runs the GEMM alone with the static
// activation scale folded into its epilogue. workspace_size / precision_guarantee / describe serve all three.
#include <algorithm>
#include <cmath>

#include "codegen/kernel_params.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/linear_core.h"
#include "ops/plan_core.h"
#include "ops/validate.h"
#include "qjit/linear.h"
#include "runtime/driver.h"

namespace qjit {

namespace detail {

std::string descriptor_text(const QuantizedLinearDescriptor& d) {
  return llvm::formatv("quantized_linear m={0} n={1} k={2} act={3} weight={4} out={5}{6}{7}{8}", d.m, d.n, d.k,
                       element_name(d.activation_element), element_name(d.weight_element),
                       element_name(d.output_element), d.has_bias ? " bias" : "", d.has_smooth ? " smooth" : "",
                       d.asymmetric ? " asymmetric" : "")
      .str();
}

std::string descriptor_text(const SmoothQuantLinearDescriptor& d) {
  return llvm::formatv("smooth_quant_linear m={0} n={1} k={2} act_scale={3} act={4} weight={5} out={6}{7}", d.m, d.n,
                       d.k, d.act_scale, element_name(d.activation_element), element_name(d.weight_element),
                       element_name(d.output_element), d.has_bias ? " bias" : "")
      .str();
}

namespace {

Status check_output_element(ElementKind out) {
  if (out == ElementKind::F16 || out == ElementKind::BF16 || out == ElementKind::F32 || out == ElementKind::F64)
    return Status();
  return Status(
      StatusCode::InvalidArgument,
      std::string("descriptor.output_element must be f16, bf16, f32 or f64, got ") + std::string(element_name(out)));
}

// QuantizedLinear asymmetric: the zero points [M] int32 the quantize pass writes lead the workspace, padded so the
// GEMM's own workspace behind them stays 256-byte aligned.
std::size_t zero_point_bytes(const LinearCore& c, std::int64_t m) {
  if (!c.act_zero_point || c.smooth_quant || m < 1) return 0;
  return (static_cast<std::size_t>(m) * 4 + 255) / 256 * 256;
}

}  // namespace

Result<std::shared_ptr<const LinearCore>> select_quantized_linear(const Stream&, const QuantizedLinearDescriptor& d,
                                                                  PlanPreference pref) {
  QJIT_TRY(ops::check_dims(d.m, d.n, d.k));
  QJIT_TRY(check_output_element(d.output_element));
  QJIT_TRY(check_element(d.activation_element, d.output_element, "descriptor.activation_element"));
  QJIT_TRY(check_element(d.weight_element, ElementKind::S8, "descriptor.weight_element"));
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceInfo device, runtime::current_device());
  LinearCore core;
  core.smooth_quant = false;
  core.m_hint = d.m;
  core.n = d.n;
  core.k = d.k;
  core.act_element = d.activation_element;
  core.out_element = d.output_element;
  core.has_bias = d.has_bias;
  core.has_smooth = d.has_smooth;
  core.act_zero_point = d.asymmetric;
  auto made = get_or_build_core(core, pref, device);
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Result<std::shared_ptr<const LinearCore>> select_smooth_quant_linear(const Stream&,
                                                                     const SmoothQuantLinearDescriptor& d,
                                                                     PlanPreference pref) {
  QJIT_TRY(ops::check_dims(d.m, d.n, d.k));
  QJIT_TRY(check_output_element(d.output_element));
  QJIT_TRY(check_element(d.activation_element, ElementKind::S8, "descriptor.activation_element"));
  QJIT_TRY(check_element(d.weight_element, ElementKind::S8, "descriptor.weight_element"));
  if (!std::isfinite(d.act_scale) || d.act_scale <= 0.0f)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("descriptor.act_scale must be finite and > 0, got {0}", d.act_scale).str());
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceInfo device, runtime::current_device());
  LinearCore core;
  core.smooth_quant = true;
  core.m_hint = d.m;
  core.n = d.n;
  core.k = d.k;
  core.act_element = ElementKind::S8;
  core.out_element = d.output_element;
  core.has_bias = d.has_bias;
  core.act_scale = d.act_scale;
  auto made = get_or_build_core(core, pref, device);
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Status can_implement(const LinearCore& c, const LinearCall& a) {
  // NOTE: natural element alignment only: views the chosen family's loads cannot take are staged into the
  // workspace or run on the portable kernel (ops/staging.h); run() refuses none of them.
  const unsigned align_a = 1;
  const std::int64_t m = a.output.rows;
  if (m < 1 || m >= ops::kMaxDim)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("output.shape[0] (M) must be in [1, 2^31), got {0}", m).str());
  if (c.smooth_quant) {
    QJIT_TRY(ops::check_matrix(a.activation, "act_q", m, "M", c.k, "K", ElementKind::S8, align_a));
    QJIT_TRY(ops::check_absent(a.weight_colsum, "weight_colsum", "a smooth_quant_linear plan has no zero points"));
  } else {
    QJIT_TRY(ops::check_matrix(a.activation, "activation", m, "M", c.k, "K", c.act_element, c.quantize.operand_align));
    QJIT_TRY(ops::check_matrix(a.act_q_scratch, "act_q_scratch", m, "M", c.k, "K", ElementKind::S8, align_a));
    QJIT_TRY(ops::check_vector(a.act_scale_scratch, "act_scale_scratch", m, "M", ElementKind::F32));
    if (c.has_smooth)
      QJIT_TRY(ops::check_vector(a.pre_quant_scale, "pre_quant_scale", c.k, "K", ElementKind::F32));
    else
      QJIT_TRY(ops::check_absent(a.pre_quant_scale, "pre_quant_scale", "the descriptor has has_smooth = false"));
    if (c.act_zero_point)
      QJIT_TRY(ops::check_vector(a.weight_colsum, "weight_colsum", c.n, "N", ElementKind::S32));
    else
      QJIT_TRY(ops::check_absent(a.weight_colsum, "weight_colsum", "the descriptor has asymmetric = false"));
  }
  QJIT_TRY(ops::check_matrix(a.weight, "weight_q", c.n, "N", c.k, "K", ElementKind::S8, align_a));
  QJIT_TRY(ops::check_vector(a.weight_scale, "weight_scale", c.n, "N", ElementKind::F32));
  if (c.has_bias)
    QJIT_TRY(ops::check_vector(a.bias, "bias", c.n, "N", c.out_element));
  else
    QJIT_TRY(ops::check_absent(a.bias, "bias", "the descriptor has has_bias = false"));
  QJIT_TRY(ops::check_matrix(a.output, "output", m, "M", c.n, "N", c.out_element, 1));
  return Status();
}

std::size_t workspace_size(const LinearCore& c, std::int64_t m) {
  return linear_workspace_size(c, zero_point_bytes(c, m), m);
}

std::size_t workspace_size(const LinearCore& c) {
  // Enough for every M of the descriptor's bucket (split-K scratch grows with the token tiles).
  return workspace_size(c, std::max<std::int64_t>(codegen::m_bucket_of(c.m_hint), c.m_hint));
}

// NOTE: const char*, never std::string: PrecisionGuarantee::description is a string_view the C ABI hands out as a
// pointer, so it must view a literal (a temporary std::string here dangled: every description read as garbage).
static const char* linear_description(const LinearCore& c) {
  if (c.act_zero_point && c.scaled_matmul)
    return "int8 x int8 -> exact int32; y = (act_scale[m] * w_scale[n] (or w_scale[0])) * (acc - zp[m] * colsum[n]) "
           "(+ bias) in f32: the correction in int32 (exact while the true sum fits), then each step rounded to "
           "nearest even on its own (never fused), then once to the output type; the sm80 and sm90 kernel families "
           "give identical bits; deterministic";
  if (c.act_zero_point)
    return "asymmetric per-token int8 quantization (bit for bit qjit::quant::quantize_rows_asymmetric, s8 codes), "
           "int8 x int8 -> exact int32; y = (act_scale[m] * w_scale[n]) * (acc - zp[m] * colsum[n]) (+ bias) in f32: "
           "the correction in int32 (exact while the true sum fits), then each step rounded to nearest even on its "
           "own (never fused), then once to the output type; the sm80 and sm90 kernel families give identical bits; "
           "deterministic";
  if (c.scaled_matmul)
    return "int8 x int8 -> exact int32; y = (act_scale[m] (or act_scale[0]) * w_scale[n] (or w_scale[0])) * acc (+ "
           "bias) in f32, each step rounded to nearest even on its own (never fused), then once to the output type; "
           "the sm80 and sm90 kernel families give identical bits, and a per-tensor scale the same bits as a "
           "per-token / per-channel one holding that value; deterministic";
  if (c.smooth_quant)
    return "int8 x int8 -> exact int32; y = (act_scale * w_scale[n]) * acc (+ bias) in f32, each step rounded to "
           "nearest even on its own (never fused), then once to the output type; the sm80 and sm90 kernel families "
           "give identical bits; deterministic, no atomics";
  return "per-token int8 quantization (round half to even, saturating), int8 x int8 -> exact int32; y = "
         "(act_scale[m] * w_scale[n]) * acc (+ bias) in f32, each step rounded to nearest even on its own (never "
         "fused), then once to the output type; the sm80 and sm90 kernel families give identical bits; deterministic";
}

PrecisionGuarantee precision_guarantee(const LinearCore& c) {
  PrecisionGuarantee g;
  g.deterministic = true;
  g.exact_accumulation = true;
  // f32 epilogue: scale product, accumulator conversion, product, bias add (4 roundings of 2^-24) plus the output
  // cast (2^-11 for f16, 2^-8 for bf16). f64 output: the epilogue is done in f64.
  const double eps_out = c.out_element == ElementKind::F16    ? std::ldexp(1.0, -11)
                         : c.out_element == ElementKind::BF16 ? std::ldexp(1.0, -8)
                         : c.out_element == ElementKind::F32  ? std::ldexp(1.0, -24)
                                                              : 0.0;
  const double eps_epi = c.out_element == ElementKind::F64 ? 4 * std::ldexp(1.0, -53) : 4 * std::ldexp(1.0, -24);
  g.epilogue_relative_error = eps_epi + eps_out;
  // NOTE: the arithmetic contract is templates/common.cuh's EpilogueMath, shared by every GEMM family (explicit
  // mul.rn / add.rn, so no FMA contraction whatever NVRTC's --fmad); tests/gpu/gemm_families_bitwise_test.cpp.
  g.description = linear_description(c);
  return g;
}

Status run(const LinearCore& c, const Stream& stream, Workspace ws, const LinearCall& a) {
  QJIT_TRY(can_implement(c, a));
  const std::int64_t m = a.output.rows;
  const std::size_t zp_bytes = zero_point_bytes(c, m);
  // The route of the int8 operands (ops/staging.h); its copies are enqueued first. QuantizedLinear's pass writes A
  // where the GEMM reads it: the caller's act_q_scratch, or the staged region (act_q_scratch then untouched).
  QJIT_ASSIGN_OR_RETURN(const GemmOperands g, prepare_gemm(c, m, c.smooth_quant ? a.activation : a.act_q_scratch,
                                                           !c.smooth_quant, a.weight, zp_bytes, ws, stream.handle()));
  auto* zero_points = static_cast<std::int32_t*>(ws.data);
  if (!c.smooth_quant) {
    codegen::QuantizeParams qp{};
    qp.x = a.activation.data;
    qp.ldx = a.activation.row_stride;
    qp.q = static_cast<std::int8_t*>(const_cast<void*>(g.a));
    qp.ldq = g.lda;
    qp.scale = static_cast<float*>(const_cast<void*>(a.act_scale_scratch.data));
    qp.m = static_cast<std::int32_t>(m);
    qp.smooth = c.has_smooth ? static_cast<const float*>(a.pre_quant_scale.data) : nullptr;
    if (c.act_zero_point) {
      codegen::QuantizeAsymParams ap{qp, zero_points};
      QJIT_TRY(c.quantize.kernel->launch(ops::launch_dims(c.quantize, m), stream.handle(), &ap));
    } else {
      QJIT_TRY(c.quantize.kernel->launch(ops::launch_dims(c.quantize, m), stream.handle(), &qp));
    }
  }
  codegen::GemmS8Params p{};
  p.a = g.a;
  p.lda = g.lda;
  p.b = g.b;
  p.ldb = g.ldb;
  p.a_scale = c.smooth_quant ? nullptr : static_cast<const float*>(a.act_scale_scratch.data);
  p.a_scale_value = c.act_scale;
  p.b_scale = static_cast<const float*>(a.weight_scale.data);
  p.bias = c.has_bias ? a.bias.data : nullptr;
  p.c = const_cast<void*>(a.output.data);
  p.ldc = gemm_ldc(a.output, c.n);
  p.m = static_cast<std::int32_t>(m);
  p.workspace = g.workspace;
  if (c.act_zero_point) {
    const codegen::GemmAzpArgs azp{zero_points, static_cast<const std::int32_t*>(a.weight_colsum.data)};
    return ops::launch_gemm(*g.gemm, p, g.workspace_bytes, stream.handle(), &azp);
  }
  return ops::launch_gemm(*g.gemm, p, g.workspace_bytes, stream.handle());
}

std::string describe(const LinearCore& c) { return c.description; }

}  // namespace detail
}  // namespace qjit
