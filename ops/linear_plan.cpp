// QuantizedLinearPlan and SmoothQuantLinearPlan: descriptor validation, kernel selection, argument checks and the
// launch sequence. QuantizedLinear runs two kernels (per-token quantize, then the GEMM with per-token scales);
// SmoothQuant runs the GEMM alone with the static activation scale folded into its epilogue.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>

#include "codegen/kernel_params.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "ops/plan_cache.h"
#include "ops/plan_core.h"
#include "ops/validate.h"
#include "qjit/linear.h"
#include "runtime/driver.h"

namespace qjit {

namespace detail {

std::string descriptor_text(const QuantizedLinearDescriptor& d) {
  return llvm::formatv("quantized_linear m={0} n={1} k={2} act={3} weight={4} out={5}{6}{7}", d.m, d.n, d.k,
                       element_name(d.activation_element), element_name(d.weight_element),
                       element_name(d.output_element), d.has_bias ? " bias" : "", d.has_smooth ? " smooth" : "")
      .str();
}

std::string descriptor_text(const SmoothQuantLinearDescriptor& d) {
  return llvm::formatv("smooth_quant_linear m={0} n={1} k={2} act_scale={3} act={4} weight={5} out={6}{7}", d.m, d.n,
                       d.k, d.act_scale, element_name(d.activation_element), element_name(d.weight_element),
                       element_name(d.output_element), d.has_bias ? " bias" : "")
      .str();
}

class LinearCore {
 public:
  bool smooth_quant = false;
  std::int64_t m_hint = 0, n = 0, k = 0;
  ElementKind act_element = ElementKind::S8;
  ElementKind out_element = ElementKind::F32;
  bool has_bias = false;
  bool has_smooth = false;  // QuantizedLinear: the quantize pass divides by pre_quant_scale[k] first
  float act_scale = 1.0f;
  ops::KernelBinding quantize;  // QuantizedLinear only
  ops::KernelBinding gemm;
  // The portable GEMM for views gemm's loads cannot take (gemm.operand_align() > 1 and a TMA operand's base or row
  // stride is not a multiple of it): bound at select when K's contiguous rows are such a view (K % 16 != 0), else
  // on the first run that needs it. Same arithmetic contract, so the same bits; it needs no workspace.
  struct Portable {
    std::mutex mu;
    std::optional<ops::KernelBinding> binding;
  };
  std::shared_ptr<Portable> portable = std::make_shared<Portable>();
  runtime::DeviceInfo device;
  std::string description;
};

namespace {

Status check_output_element(ElementKind out) {
  if (out == ElementKind::F16 || out == ElementKind::BF16 || out == ElementKind::F32 || out == ElementKind::F64)
    return Status();
  return Status(
      StatusCode::InvalidArgument,
      std::string("descriptor.output_element must be f16, bf16, f32 or f64, got ") + std::string(element_name(out)));
}

ops::PlanCache<LinearCore>& linear_cache() {
  static ops::PlanCache<LinearCore> cache;
  return cache;
}

Result<std::shared_ptr<const LinearCore>> build_core(LinearCore core, PlanPreference pref,
                                                     const runtime::DeviceInfo& device) {
  ops::LinearShape shape;
  shape.smooth_quant = core.smooth_quant;
  shape.m = core.m_hint;
  shape.n = core.n;
  shape.k = core.k;
  shape.activation = core.act_element;
  shape.output = core.out_element;
  shape.has_bias = core.has_bias;
  shape.smooth = core.has_smooth;
  const ops::LinearKernelSpecs specs = ops::linear_kernel_specs(shape, ops::target_arch(device));
  if (specs.quantize) {
    QJIT_ASSIGN_OR_RETURN(core.quantize, ops::bind_kernel(*specs.quantize, pref, device));
  }
  QJIT_ASSIGN_OR_RETURN(core.gemm, ops::bind_kernel(specs.gemm, pref, device));
  core.device = device;
  core.description = core.gemm.spec.to_string() + " / " + core.gemm.config.to_string() + " -> " + core.gemm.entry;
  if (core.gemm.operand_align > 1) {
    if (jit::binds_portable_at_select(specs.gemm)) {
      QJIT_ASSIGN_OR_RETURN(ops::KernelBinding portable, ops::bind_portable(specs.gemm, device));
      core.portable->binding = std::move(portable);
    }
    core.description += llvm::formatv("; views whose int8 rows are not {0}-byte aligned: {1}", core.gemm.operand_align,
                                      core.portable->binding ? core.portable->binding->entry
                                                             : std::string("the portable family, bound on first use"))
                            .str();
  }
  if (!core.smooth_quant) core.description = core.quantize.entry + " + " + core.description;
  return std::make_shared<const LinearCore>(std::move(core));
}

std::string plan_key(const LinearCore& c, PlanPreference pref, const runtime::DeviceInfo& d) {
  return ops::KeyBuilder()
      .add(c.smooth_quant)
      .add(codegen::m_bucket_of(c.m_hint))
      .add(c.n)
      .add(c.k)
      .add(c.act_element)
      .add(c.out_element)
      .add(c.has_bias)
      .add(c.has_smooth)
      .add(c.act_scale)
      .add(pref)
      .add(d.context)
      .take();
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
  const std::string key = plan_key(core, pref, device);
  auto made = linear_cache().get_or_create(key, [&] { return build_core(core, pref, device); });
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
  const std::string key = plan_key(core, pref, device);
  auto made = linear_cache().get_or_create(key, [&] { return build_core(core, pref, device); });
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Status can_implement(const LinearCore& c, const LinearCall& a) {
  // NOTE: natural element alignment only: views the chosen family's loads cannot take run on the portable kernel.
  const unsigned align_a = 1;
  const std::int64_t m = a.output.rows;
  if (m < 1 || m >= ops::kMaxDim)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("output.shape[0] (M) must be in [1, 2^31), got {0}", m).str());
  if (c.smooth_quant) {
    QJIT_TRY(ops::check_matrix(a.activation, "act_q", m, "M", c.k, "K", ElementKind::S8, align_a));
  } else {
    QJIT_TRY(ops::check_matrix(a.activation, "activation", m, "M", c.k, "K", c.act_element, c.quantize.operand_align));
    QJIT_TRY(ops::check_matrix(a.act_q_scratch, "act_q_scratch", m, "M", c.k, "K", ElementKind::S8, align_a));
    QJIT_TRY(ops::check_vector(a.act_scale_scratch, "act_scale_scratch", m, "M", ElementKind::F32));
    if (c.has_smooth)
      QJIT_TRY(ops::check_vector(a.pre_quant_scale, "pre_quant_scale", c.k, "K", ElementKind::F32));
    else
      QJIT_TRY(ops::check_absent(a.pre_quant_scale, "pre_quant_scale", "the descriptor has has_smooth = false"));
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

namespace {

bool aligned_to(const MatrixView& v, unsigned align) {
  return (reinterpret_cast<std::uintptr_t>(v.data) % align) == 0 &&
         (static_cast<std::uint64_t>(v.row_stride) * element_size(v.kind)) % align == 0;
}

// The GEMM kernel for this call's views: the plan's own, or the portable one where a TMA operand is misaligned.
Result<const ops::KernelBinding*> gemm_for(const LinearCore& c, const LinearCall& a) {
  const unsigned align = c.gemm.operand_align;
  const MatrixView& act = c.smooth_quant ? a.activation : a.act_q_scratch;
  if (align <= 1 || (aligned_to(act, align) && aligned_to(a.weight, align))) return &c.gemm;
  std::lock_guard<std::mutex> lock(c.portable->mu);
  if (!c.portable->binding) {
    auto bound = ops::bind_portable(c.gemm.spec, c.device);
    if (!bound.has_value()) return bound.error().with_context("binding the portable GEMM for a misaligned view");
    c.portable->binding = std::move(*bound);
  }
  return &*c.portable->binding;
}

}  // namespace

std::size_t workspace_size(const LinearCore& c, std::int64_t m) {
  return ops::kernel_workspace_bytes(c.gemm.spec, c.gemm.config, m);
}

std::size_t workspace_size(const LinearCore& c) {
  // Enough for every M of the descriptor's bucket (split-K scratch grows with the token tiles).
  return workspace_size(c, std::max<std::int64_t>(codegen::m_bucket_of(c.m_hint), c.m_hint));
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
  g.description = c.smooth_quant
                      ? "int8 x int8 -> exact int32; y = (act_scale * w_scale[n]) * acc (+ bias) in f32, each step "
                        "rounded to nearest even on its own (never fused), then once to the output type; the sm80 and "
                        "sm90 kernel families give identical bits; deterministic, no atomics"
                      : "per-token int8 quantization (round half to even, saturating), int8 x int8 -> exact int32; "
                        "y = (act_scale[m] * w_scale[n]) * acc (+ bias) in f32, each step rounded to nearest even on "
                        "its own (never fused), then once to the output type; the sm80 and sm90 kernel families give "
                        "identical bits; deterministic";
  return g;
}

Status run(const LinearCore& c, const Stream& stream, Workspace ws, const LinearCall& a) {
  QJIT_TRY(can_implement(c, a));
  const std::int64_t m = a.output.rows;
  QJIT_ASSIGN_OR_RETURN(const ops::KernelBinding* gemm, gemm_for(c, a));
  const std::size_t need = ops::kernel_workspace_bytes(gemm->spec, gemm->config, m);
  if (need > ws.bytes || (need > 0 && ws.data == nullptr))
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("workspace must hold {0} bytes for M = {1}, got {2}", need, m, ws.bytes).str());
  if (!c.smooth_quant) {
    codegen::QuantizeParams qp{};
    qp.x = a.activation.data;
    qp.ldx = a.activation.row_stride;
    qp.q = static_cast<std::int8_t*>(const_cast<void*>(a.act_q_scratch.data));
    qp.ldq = a.act_q_scratch.row_stride;
    qp.scale = static_cast<float*>(const_cast<void*>(a.act_scale_scratch.data));
    qp.m = static_cast<std::int32_t>(m);
    qp.smooth = c.has_smooth ? static_cast<const float*>(a.pre_quant_scale.data) : nullptr;
    QJIT_TRY(c.quantize.kernel->launch(ops::launch_dims(c.quantize, m), stream.handle(), &qp));
  }
  codegen::GemmS8Params p{};
  p.a = c.smooth_quant ? a.activation.data : a.act_q_scratch.data;
  p.lda = c.smooth_quant ? a.activation.row_stride : a.act_q_scratch.row_stride;
  p.b = a.weight.data;
  p.ldb = a.weight.row_stride;
  p.a_scale = c.smooth_quant ? nullptr : static_cast<const float*>(a.act_scale_scratch.data);
  p.a_scale_value = c.act_scale;
  p.b_scale = static_cast<const float*>(a.weight_scale.data);
  p.bias = c.has_bias ? a.bias.data : nullptr;
  p.c = const_cast<void*>(a.output.data);
  p.ldc = a.output.row_stride;
  p.m = static_cast<std::int32_t>(m);
  p.workspace = need > 0 ? ws.data : nullptr;
  return ops::launch_gemm(*gemm, p, need, stream.handle());
}

std::string describe(const LinearCore& c) { return c.description; }

}  // namespace detail
}  // namespace qjit
