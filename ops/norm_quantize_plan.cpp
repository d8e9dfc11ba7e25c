// RmsNormQuantizePlan / LayerNormQuantizePlan (include/qjit/norm_quantize.h): one kernel of the quantize family
// (KernelOp::RmsNormQuantize / LayerNormQuantize, templates/norm_quantize.cuh) per plan, no workspace. select
// validates the descriptor and binds the kernel for the M bucket; can_implement checks every argument against the
// descriptor, including that residual_out is either exactly input or residual (in place) or overlaps neither.
#include <cmath>
#include <cstdio>
#include <cstdint>

#include "codegen/kernel_params.h"
#include "codegen/norm_quantize.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/config_choice.h"
#include "ops/plan_cache.h"
#include "ops/plan_core.h"
#include "ops/validate.h"

namespace qjit {

namespace detail {

namespace {

const char* norm_name(NormKind n) { return n == NormKind::RmsNorm ? "rms_norm" : "layer_norm"; }

std::string g_text(float v) {  // "1e-06", "0.25", "-1", "inf"
  char b[32];
  std::snprintf(b, sizeof b, "%g", static_cast<double>(v));
  return b;
}

}  // namespace

std::string descriptor_text(const NormQuantizeDescriptor& d) {
  std::string s = llvm::formatv("{0}_quantize m={1} k={2} in={3} eps={4}", norm_name(d.norm), d.m, d.k,
                                element_name(d.input_element), g_text(d.eps))
                      .str();
  s += d.granularity == QuantGranularity::PerToken ? std::string(" per-token")
                                                   : " static-scale=" + g_text(d.static_scale);
  if (d.has_residual) s += " residual";
  return s;
}

class NormQuantizeCore {
 public:
  NormQuantizeDescriptor desc;
  ops::KernelBinding main;
  std::string description;
};

namespace {

Status invalid_arg(std::string m) { return Status(StatusCode::InvalidArgument, std::move(m)); }

Status check_descriptor(const NormQuantizeDescriptor& d) {
  QJIT_TRY(ops::check_dims(d.m, 1, d.k));
  if (d.k > codegen::kMaxNormK)
    return Status(StatusCode::Unsupported, llvm::formatv("descriptor.k must be <= 2^20 for {0}_quantize, got {1}",
                                                         norm_name(d.norm), d.k)
                                               .str());
  if (d.norm != NormKind::RmsNorm && d.norm != NormKind::LayerNorm)
    return invalid_arg(llvm::formatv("descriptor.norm must be RmsNorm or LayerNorm, got {0}", static_cast<int>(d.norm)));
  if (d.input_element != ElementKind::F16 && d.input_element != ElementKind::BF16 &&
      d.input_element != ElementKind::F32)
    return Status(StatusCode::Unsupported, "descriptor.input_element must be f16, bf16 or f32, got " +
                                               std::string(element_name(d.input_element)));
  if (!std::isfinite(d.eps) || d.eps < 0)
    return invalid_arg("descriptor.eps must be finite and >= 0, got " + g_text(d.eps));
  if (d.granularity == QuantGranularity::PerTensor) {
    if (!std::isfinite(d.static_scale) || !(d.static_scale > 0))
      return invalid_arg("descriptor.static_scale must be finite and > 0 with a static (per-tensor) scale, got " +
                         g_text(d.static_scale));
  } else if (d.static_scale != 0) {
    return invalid_arg("descriptor.static_scale must be 0 with per-token (dynamic) scales, got " +
                       g_text(d.static_scale));
  }
  return Status();
}

Status check_absent_matrix(const MatrixView& v, const char* name, const char* why) {
  if (v.data != nullptr || v.rows != 0 || v.cols != 0)
    return invalid_arg(llvm::formatv("{0} must be empty: {1}", name, why).str());
  return Status();
}

// [first, last) bytes a view spans.
std::pair<std::uintptr_t, std::uintptr_t> span_of(const MatrixView& v) {
  const auto begin = reinterpret_cast<std::uintptr_t>(v.data);
  const auto bytes = static_cast<std::uintptr_t>(((v.rows - 1) * v.row_stride + v.cols) *
                                                 static_cast<std::int64_t>(element_size(v.kind)));
  return {begin, begin + bytes};
}

Status check_in_place(const MatrixView& out, const MatrixView& in, const char* in_name) {
  const auto [a0, a1] = span_of(out);
  const auto [b0, b1] = span_of(in);
  if (a0 >= b1 || b0 >= a1) return Status();
  if (out.data == in.data && out.row_stride == in.row_stride) return Status();
  return invalid_arg(llvm::formatv("residual_out must be exactly {0} (same data and stride[0], updated in place) or "
                                   "not overlap it; it overlaps {0} at another offset or stride",
                                   in_name)
                         .str());
}

}  // namespace

Result<std::shared_ptr<const NormQuantizeCore>> select_norm_quantize(const Stream&, const NormQuantizeDescriptor& d,
                                                                     PlanPreference pref) {
  QJIT_TRY(check_descriptor(d));
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceInfo device, runtime::current_device());
  static ops::PlanCache<NormQuantizeCore> cache;
  const std::string key = ops::KeyBuilder()
                              .add(codegen::m_bucket_of(d.m))
                              .add(d.k)
                              .add(d.norm)
                              .add(d.input_element)
                              .add(d.granularity)
                              .add(d.has_residual)
                              .add(d.eps)
                              .add(d.static_scale)
                              .add(pref)
                              .add(device.context)
                              .take();
  auto made = cache.get_or_create(key, [&]() -> Result<std::shared_ptr<const NormQuantizeCore>> {
    NormQuantizeCore c;
    c.desc = d;
    const codegen::KernelSpec spec = codegen::norm_quantize_spec(
        d.norm == NormKind::RmsNorm ? codegen::KernelOp::RmsNormQuantize : codegen::KernelOp::LayerNormQuantize,
        d.input_element, d.k, codegen::m_bucket_of(d.m), ops::target_arch(device),
        d.granularity == QuantGranularity::PerToken, d.has_residual);
    QJIT_ASSIGN_OR_RETURN(c.main, ops::bind_kernel(spec, pref, device));
    c.description = c.main.entry + " (" + c.main.config.to_string() + ")";
    return std::make_shared<const NormQuantizeCore>(std::move(c));
  });
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Status can_implement(const NormQuantizeCore& c, const NormQuantizeCall& a) {
  const NormQuantizeDescriptor& d = c.desc;
  const ElementKind in = d.input_element;
  QJIT_TRY(ops::check_matrix(a.input, "input", -1, "M", d.k, "K", in, c.main.operand_align));
  const std::int64_t m = a.input.rows;
  if (d.has_residual) {
    QJIT_TRY(ops::check_matrix(a.residual, "residual", m, "M", d.k, "K", in, c.main.operand_align));
    QJIT_TRY(ops::check_matrix(a.residual_out, "residual_out", m, "M", d.k, "K", in, c.main.operand_align));
    QJIT_TRY(check_in_place(a.residual_out, a.input, "input"));
    QJIT_TRY(check_in_place(a.residual_out, a.residual, "residual"));
  } else {
    QJIT_TRY(check_absent_matrix(a.residual, "residual", "the descriptor has has_residual = false"));
    QJIT_TRY(check_absent_matrix(a.residual_out, "residual_out", "the descriptor has has_residual = false"));
  }
  QJIT_TRY(ops::check_vector(a.gamma, "gamma", d.k, "K", in));
  if (d.norm == NormKind::LayerNorm)
    QJIT_TRY(ops::check_vector(a.beta, "beta", d.k, "K", in));
  else
    QJIT_TRY(ops::check_absent(a.beta, "beta", "RMSNorm has no beta"));
  QJIT_TRY(ops::check_matrix(a.output, "output", m, "M", d.k, "K", ElementKind::S8, 1));
  if (d.granularity == QuantGranularity::PerToken)
    QJIT_TRY(ops::check_vector(a.scale, "scale", m, "M", ElementKind::F32));
  else
    QJIT_TRY(ops::check_absent(a.scale, "scale", "the descriptor has a static scale (granularity per-tensor)"));
  return Status();
}

std::size_t workspace_size(const NormQuantizeCore&) { return 0; }

PrecisionGuarantee precision_guarantee(const NormQuantizeCore& c) {
  PrecisionGuarantee g;
  g.deterministic = true;
  g.exact_accumulation = false;
  // RMSNorm: |v - v_exact| <= (ceil(log2 K) + 8) * 2^-24 * |v_exact| to first order (the tree's depth, the squares'
  // rounding for f32 input, the division by K, + eps, sqrt, 1 / x and the two products).
  int depth = 0;
  while ((std::int64_t{1} << depth) < c.desc.k) ++depth;
  g.epilogue_relative_error = (depth + 8) * 0x1p-24;
  g.description =
      c.desc.norm == NormKind::RmsNorm
          ? "deterministic, independent of the config: h (x + residual rounded to the input type) widened to f32; "
            "sum(h^2) as the perfect binary tree over k (neighbours first, -0 padding to a power of two), each add "
            "rounded to nearest even; rstd = 1 / sqrt(sum / K + eps) (IEEE div and sqrt); v = (h * rstd) * gamma, "
            "each product rounded; |v - v_exact| <= (ceil(log2 K) + 8) * 2^-24 * |v_exact|; then bit-exact "
            "quantization: scale = absmax(v) / 127 (or the static scale), q = round-half-even(v / scale) saturated, "
            "identical to DynamicRangeQuantizePlan<float> on v"
          : "deterministic, independent of the config: h (x + residual rounded to the input type) widened to f32; "
            "mu = sum(h) / K, then sum((h - mu)^2), each sum the perfect binary tree over k (neighbours first, -0 "
            "padding to a power of two) with every add rounded to nearest even; rstd = 1 / sqrt(var + eps) (IEEE); "
            "v = ((h - mu) * rstd) * gamma + beta, each step rounded; |v - v_exact| <= (ceil(log2 K) + 10) * 2^-24 * "
            "(|v_exact - beta| + |gamma| * rstd * mean(|h|)) + 2^-24 * |beta|; then bit-exact quantization: scale = "
            "absmax(v) / 127 (or the static scale), q = round-half-even(v / scale) saturated, identical to "
            "DynamicRangeQuantizePlan<float> on v";
  return g;
}

Status run(const NormQuantizeCore& c, const Stream& stream, Workspace, const NormQuantizeCall& a) {
  QJIT_TRY(can_implement(c, a));
  codegen::NormQuantizeParams p{};
  p.x = a.input.data;
  p.ldx = a.input.row_stride;
  if (c.desc.has_residual) {
    p.residual = a.residual.data;
    p.ld_residual = a.residual.row_stride;
    p.residual_out = const_cast<void*>(a.residual_out.data);
    p.ld_residual_out = a.residual_out.row_stride;
  }
  p.gamma = a.gamma.data;
  p.beta = c.desc.norm == NormKind::LayerNorm ? a.beta.data : nullptr;
  p.q = static_cast<signed char*>(const_cast<void*>(a.output.data));
  p.ldq = a.output.row_stride;
  p.scale = static_cast<float*>(const_cast<void*>(a.scale.data));
  p.static_scale = c.desc.static_scale;
  p.eps = c.desc.eps;
  p.m = static_cast<int>(a.input.rows);
  return c.main.kernel->launch(ops::launch_dims(c.main, a.input.rows), stream.handle(), &p);
}

std::string describe(const NormQuantizeCore& c) { return c.description; }
NormKind norm_kind(const NormQuantizeCore& c) { return c.desc.norm; }

}  // namespace detail
}  // namespace qjit
