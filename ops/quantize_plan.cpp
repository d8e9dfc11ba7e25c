// DynamicRangeQuantizePlan: per-token quantization is one kernel; per-tensor is three steps on the caller's stream
// (zero a 4-byte absmax in the workspace, reduce the absmax with atomicMax, quantize with the resulting scale).
// Asymmetric (per token only) is one kernel too, writing a zero point per token as well (quantize_rowwise_asym.cuh).
#include "codegen/kernel_params.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/config_choice.h"
#include "ops/plan_cache.h"
#include "ops/plan_core.h"
#include "ops/validate.h"
#include "qjit/dynamic_range_quantize.h"
#include "runtime/driver.h"

namespace qjit {

namespace detail {

std::string descriptor_text(const DynamicRangeQuantizeDescriptor& d) {
  return llvm::formatv("dynamic_range_quantize m={0} k={1} in={2} {3}{4}{5}", d.m, d.k, element_name(d.input_element),
                       d.granularity == QuantGranularity::PerToken ? "per-token" : "per-tensor",
                       d.has_smooth ? " smooth" : "",
                       d.asymmetric ? llvm::formatv(" asymmetric out={0}", element_name(d.output_element)).str()
                                    : std::string())
      .str();
}

class QuantizeCore {
 public:
  std::int64_t m_hint = 0, k = 0;
  ElementKind in_element = ElementKind::F32;
  QuantGranularity granularity = QuantGranularity::PerToken;
  bool has_smooth = false;
  bool asymmetric = false;
  ElementKind out_element = ElementKind::S8;  // the codes (u8 only when asymmetric)
  ops::KernelBinding main;    // rowwise quantize, or per-tensor pass 2 (apply scale)
  ops::KernelBinding absmax;  // per-tensor pass 1
  std::string description;
};

namespace {

constexpr std::size_t kPerTensorWorkspace = 256;  // one u32 absmax, padded to an allocation granule

codegen::KernelSpec quantize_spec(codegen::KernelOp op, const QuantizeCore& c, int arch) {
  codegen::KernelSpec s{};
  s.op = op;
  s.in_element = c.in_element;
  s.out_element = ElementKind::S8;
  s.k = c.k;
  s.m_bucket = codegen::m_bucket_of(c.m_hint);
  s.arch = arch;
  s.smooth = c.has_smooth;
  s.act_zero_point = c.asymmetric;
  s.out_element = c.out_element;
  return s;
}

}  // namespace

Result<std::shared_ptr<const QuantizeCore>> select_quantize(const Stream&, const DynamicRangeQuantizeDescriptor& d,
                                                            PlanPreference pref) {
  QJIT_TRY(ops::check_dims(d.m, 1, d.k));
  if (!is_floating(d.input_element))
    return Status(StatusCode::Unsupported, "descriptor.input_element must be f16, bf16, f32 or f64, got " +
                                               std::string(element_name(d.input_element)));
  if (d.asymmetric) {
    if (d.granularity != QuantGranularity::PerToken)
      return Status(StatusCode::InvalidArgument,
                    "descriptor.granularity must be per_token (QJIT_PER_TOKEN) for an asymmetric quantize, got "
                    "per_tensor");
    if (d.output_element != ElementKind::U8 && d.output_element != ElementKind::S8)
      return Status(StatusCode::InvalidArgument,
                    "descriptor.output_element must be u8 or s8 for an asymmetric quantize, got " +
                        std::string(element_name(d.output_element)));
  }
  const ElementKind out_element = d.asymmetric ? d.output_element : ElementKind::S8;
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceInfo device, runtime::current_device());
  static ops::PlanCache<QuantizeCore> cache;
  const std::string key = ops::KeyBuilder()
                              .add(codegen::m_bucket_of(d.m))
                              .add(d.k)
                              .add(d.input_element)
                              .add(d.granularity)
                              .add(d.has_smooth)
                              .add(d.asymmetric)
                              .add(out_element)
                              .add(pref)
                              .add(device.context)
                              .take();
  auto made = cache.get_or_create(key, [&]() -> Result<std::shared_ptr<const QuantizeCore>> {
    QuantizeCore c;
    c.m_hint = d.m;
    c.k = d.k;
    c.in_element = d.input_element;
    c.granularity = d.granularity;
    c.has_smooth = d.has_smooth;
    c.asymmetric = d.asymmetric;
    c.out_element = out_element;
    const int arch = ops::target_arch(device);
    if (d.granularity == QuantGranularity::PerToken) {
      QJIT_ASSIGN_OR_RETURN(c.main,
                            ops::bind_kernel(quantize_spec(codegen::KernelOp::QuantizeRowwise, c, arch), pref, device));
      c.description = c.main.entry;
    } else {
      QJIT_ASSIGN_OR_RETURN(c.absmax,
                            ops::bind_kernel(quantize_spec(codegen::KernelOp::QuantizeAbsmax, c, arch), pref, device));
      QJIT_ASSIGN_OR_RETURN(
          c.main, ops::bind_kernel(quantize_spec(codegen::KernelOp::QuantizeApplyScale, c, arch), pref, device));
      c.description = c.absmax.entry + " + " + c.main.entry;
    }
    return std::make_shared<const QuantizeCore>(std::move(c));
  });
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Status can_implement(const QuantizeCore& c, const QuantizeCall& a) {
  const std::int64_t m = a.input.rows;
  QJIT_TRY(ops::check_matrix(a.input, "input", -1, "M", c.k, "K", c.in_element, c.main.operand_align));
  QJIT_TRY(ops::check_matrix(a.output, "output", m, "M", c.k, "K", c.out_element, 1));
  const std::int64_t scales = c.granularity == QuantGranularity::PerToken ? m : 1;
  QJIT_TRY(ops::check_vector(a.scale, "scale", scales,
                             c.granularity == QuantGranularity::PerToken ? "M" : "1 (per tensor)", ElementKind::F32));
  if (c.has_smooth)
    QJIT_TRY(ops::check_vector(a.pre_quant_scale, "pre_quant_scale", c.k, "K", ElementKind::F32));
  else
    QJIT_TRY(ops::check_absent(a.pre_quant_scale, "pre_quant_scale", "the descriptor has has_smooth = false"));
  if (c.asymmetric)
    QJIT_TRY(ops::check_vector(a.zero_point, "zero_point", m, "M", ElementKind::S32));
  else
    QJIT_TRY(ops::check_absent(a.zero_point, "zero_point", "the descriptor has asymmetric = false"));
  return Status();
}

std::size_t workspace_size(const QuantizeCore& c) {
  return c.granularity == QuantGranularity::PerTensor ? kPerTensorWorkspace : 0;
}

PrecisionGuarantee precision_guarantee(const QuantizeCore& c) {
  PrecisionGuarantee g;
  g.deterministic = true;
  g.exact_accumulation = true;
  g.epilogue_relative_error = 0;
  g.description =
      "bit-exact: scale = absmax / 127 (IEEE f32 division), q = round-half-even(x / scale) saturated to "
      "[-128, 127]; matches qjit::quant::quantize_rows_per_token bit for bit";
  if (c.asymmetric)
    g.description =
        "bit-exact: lo = min(0, min x), hi = max(0, max x), scale = (hi - lo) / 255, zero_point = clamp(rni(-lo / "
        "scale), 0, 255), q = clamp(rni(x / scale) + zero_point, 0, 255) (IEEE f32 operations, round half to even; "
        "s8 codes and zero points are those minus 128); matches qjit::quant::quantize_rows_asymmetric bit for bit";
  return g;
}

Status run(const QuantizeCore& c, const Stream& stream, Workspace ws, const QuantizeCall& a) {
  QJIT_TRY(can_implement(c, a));
  const std::int64_t m = a.input.rows;
  codegen::QuantizeParams p{};
  p.x = a.input.data;
  p.ldx = a.input.row_stride;
  p.q = static_cast<std::int8_t*>(const_cast<void*>(a.output.data));
  p.ldq = a.output.row_stride;
  p.scale = static_cast<float*>(const_cast<void*>(a.scale.data));
  p.m = static_cast<std::int32_t>(m);
  p.smooth = c.has_smooth ? static_cast<const float*>(a.pre_quant_scale.data) : nullptr;
  if (c.asymmetric) {
    codegen::QuantizeAsymParams ap{p, static_cast<std::int32_t*>(const_cast<void*>(a.zero_point.data))};
    return c.main.kernel->launch(ops::launch_dims(c.main, m), stream.handle(), &ap);
  }
  if (c.granularity == QuantGranularity::PerTensor) {
    if (ws.data == nullptr || ws.bytes < 4)
      return Status(
          StatusCode::InvalidArgument,
          llvm::formatv("workspace must hold {0} bytes (per-tensor absmax), got {1}", kPerTensorWorkspace, ws.bytes)
              .str());
    if (reinterpret_cast<std::uintptr_t>(ws.data) % 4 != 0)
      return Status(StatusCode::InvalidArgument, "workspace.data must be 4-byte aligned");
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    p.absmax_bits = static_cast<std::uint32_t*>(ws.data);
    QJIT_CU(*api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(ws.data), 0u, 1, stream.handle());
    QJIT_TRY(c.absmax.kernel->launch(ops::launch_dims(c.absmax, m), stream.handle(), &p));
  }
  return c.main.kernel->launch(ops::launch_dims(c.main, m), stream.handle(), &p);
}

std::string describe(const QuantizeCore& c) { return c.description; }

}  // namespace detail
}  // namespace qjit
