// The linear plans' shared GEMM core (see linear_core.h): kernel binding per descriptor, memoised; the portable
// fallback for misaligned int8 views; the workspace check every plan's run makes before its first launch.
#include "ops/linear_core.h"

#include "llvm/Support/FormatVariadic.h"
#include "ops/linear_specs.h"
#include "ops/plan_cache.h"

namespace qjit::detail {
namespace {

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
  shape.scaled_matmul = core.scaled_matmul;
  shape.act_scale_per_tensor = core.act_per_tensor;
  shape.weight_scale_per_tensor = core.weight_per_tensor;
  shape.act_zero_point = core.act_zero_point;
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
      .add(c.scaled_matmul)
      .add(c.act_per_tensor)
      .add(c.weight_per_tensor)
      .add(c.act_zero_point)
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

bool aligned_to(const MatrixView& v, unsigned align) {
  return (reinterpret_cast<std::uintptr_t>(v.data) % align) == 0 &&
         (static_cast<std::uint64_t>(v.row_stride) * element_size(v.kind)) % align == 0;
}

}  // namespace

Result<const ops::KernelBinding*> gemm_for(const LinearCore& c, const MatrixView& act, const MatrixView& weight) {
  const unsigned align = c.gemm.operand_align;
  if (align <= 1 || (aligned_to(act, align) && aligned_to(weight, align))) return &c.gemm;
  std::lock_guard<std::mutex> lock(c.portable->mu);
  if (!c.portable->binding) {
    auto bound = ops::bind_portable(c.gemm.spec, c.device);
    if (!bound.has_value()) return bound.error().with_context("binding the portable GEMM for a misaligned view");
    c.portable->binding = std::move(*bound);
  }
  return &*c.portable->binding;
}


Result<std::shared_ptr<const LinearCore>> get_or_build_core(const LinearCore& proto, PlanPreference pref,
                                                            const runtime::DeviceInfo& device) {
  const std::string key = plan_key(proto, pref, device);
  return linear_cache().get_or_create(key, [&] { return build_core(proto, pref, device); });
}

Result<std::size_t> check_gemm_workspace(const ops::KernelBinding& gemm, std::int64_t m, Workspace ws) {
  const std::size_t need = ops::kernel_workspace_bytes(gemm.spec, gemm.config, m);
  if (need > ws.bytes || (need > 0 && ws.data == nullptr))
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("workspace must hold {0} bytes for M = {1}, got {2}", need, m, ws.bytes).str());
  return need;
}

}  // namespace qjit::detail
