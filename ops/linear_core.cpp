// The linear plans' shared GEMM core (see linear_core.h): kernel binding per descriptor, memoised; the route of one
// call's int8 views (in place, staged into the workspace by the staging kernel, or the portable kernel bound on
// first use); the plans' workspace size.
#include "ops/linear_core.h"

#include <algorithm>

#include "codegen/stage_rows.h"
#include "jit/kernel_family.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/linear_specs.h"
#include "ops/plan_cache.h"
#include "qjit/linear.h"
#include "runtime/log.h"

namespace qjit::detail {
namespace {

ops::PlanCache<LinearCore>& linear_cache() {
  static ops::PlanCache<LinearCore> cache;
  return cache;
}

codegen::KernelSpec stage_spec(const LinearCore& c) {
  return codegen::stage_rows_spec(c.k, c.gemm.spec.m_bucket, c.gemm.spec.arch);
}

// The staging copy, always at its heuristic config (a copy has nothing to tune; the autotuner never times it).
Result<ops::KernelBinding> bind_stage(const LinearCore& c, const runtime::DeviceInfo& device) {
  const codegen::KernelSpec spec = stage_spec(c);
  const int sm_count = device.sm_count > 0 ? device.sm_count : 132;
  return jit::bind_kernel_with(spec, jit::FamilyRegistry::process().for_spec(spec).heuristic(spec, sm_count), device);
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
  if (ops::stages_by_default(core.gemm.operand_align, core.k)) {
    QJIT_ASSIGN_OR_RETURN(ops::KernelBinding stage, bind_stage(core, device));
    core.stage->binding = std::move(stage);
  }
  core.description = core.gemm.spec.to_string() + " / " + core.gemm.config.to_string() + " -> " + core.gemm.entry;
  if (core.gemm.operand_align > 1) {
    // NOTE: the same words as qjit inspect's staging line; tests/gpu/odd_shapes_test.cpp looks for "staged".
    core.description +=
        llvm::formatv(
            "; int8 views whose base or row stride is not {0}-byte aligned: staged into the workspace at "
            "{1}-byte rows for this kernel ({2}), else the portable family (bound on first use)",
            core.gemm.operand_align, preferred_row_stride(core.k),
            ops::stages_by_default(core.gemm.operand_align, core.k)
                ? "every call: K % 16 != 0, and workspace_size counts the staged rows"
                : "when the workspace holds them: qjit::staged_workspace_size")
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

ops::Int8View int8_view(const MatrixView& v) { return {v.data, v.rows, v.row_stride}; }

Result<const ops::KernelBinding*> stage_kernel(const LinearCore& c) {
  std::lock_guard<std::mutex> lock(c.stage->mu);
  if (!c.stage->binding) {
    auto bound = bind_stage(c, c.device);
    if (!bound.has_value()) return bound.error().with_context("binding the staging copy for a misaligned int8 view");
    c.stage->binding = std::move(*bound);
  }
  return &*c.stage->binding;
}

// Enqueues the staging copy of `rows` rows of c.k bytes from `src` (row stride `src_stride`; a one-row view's
// stride is never followed) into `dst` (row stride `dst_stride`).
Status stage_rows(const LinearCore& c, const void* src, std::int64_t src_stride, void* dst, std::int64_t dst_stride,
                  std::int64_t rows, CUstream stream) {
  QJIT_ASSIGN_OR_RETURN(const ops::KernelBinding* k, stage_kernel(c));
  codegen::StageRowsParams p{};
  p.src = src;
  p.lds = rows == 1 ? std::max(src_stride, c.k) : src_stride;
  p.dst = dst;
  p.ldd = dst_stride;
  p.m = static_cast<std::int32_t>(rows);
  return k->kernel->launch(ops::launch_dims(*k, rows), stream, &p);
}

Result<const ops::KernelBinding*> portable_gemm(const LinearCore& c, const std::string& why) {
  std::lock_guard<std::mutex> lock(c.portable->mu);
  if (!c.portable->binding) {
    auto bound = ops::bind_portable(c.gemm.spec, c.device);
    if (!bound.has_value()) return bound.error().with_context("binding the portable GEMM for a misaligned view");
    c.portable->binding = std::move(*bound);
  }
  if (!c.portable->logged.exchange(true))
    QJIT_LOG_WARN("ops", "{0}: int8 views the Hopper kernel cannot read run the portable kernel {1} ({2})",
                  c.gemm.spec.to_string(), c.portable->binding->entry, why);
  return &*c.portable->binding;
}

}  // namespace

Result<std::shared_ptr<const LinearCore>> get_or_build_core(const LinearCore& proto, PlanPreference pref,
                                                            const runtime::DeviceInfo& device) {
  const std::string key = plan_key(proto, pref, device);
  return linear_cache().get_or_create(key, [&] { return build_core(proto, pref, device); });
}

std::size_t linear_workspace_size(const LinearCore& c, std::size_t head, std::int64_t m) {
  const std::size_t own = head + ops::kernel_workspace_bytes(c.gemm.spec, c.gemm.config, m);
  return ops::linear_workspace_bytes(c.gemm.operand_align, own, m, c.n, c.k);
}

Result<GemmOperands> prepare_gemm(const LinearCore& c, std::int64_t m, const MatrixView& act, bool act_from_quantize,
                                  const MatrixView& weight, std::size_t head, Workspace ws, CUstream stream) {
  ops::GemmRouteRequest req;
  req.align = c.gemm.operand_align;
  req.m = m;
  req.n = c.n;
  req.k = c.k;
  req.act = int8_view(act);
  req.weight = int8_view(weight);
  req.head_bytes = head;
  req.gemm_bytes = ops::kernel_workspace_bytes(c.gemm.spec, c.gemm.config, m);
  req.ws = ws;
  QJIT_ASSIGN_OR_RETURN(ops::GemmRoute route, ops::route_gemm(req));
  GemmOperands g;
  g.a = act.data;
  g.lda = act.row_stride;
  g.b = weight.data;
  g.ldb = weight.row_stride;
  char* const base = static_cast<char*>(ws.data);
  if (route.path == ops::GemmPath::Staged) {
    // NOTE: the weight first, then the activation. Each copy is a kernel launched with programmatic stream
    // serialization that waits for the kernel ahead before its first read and then triggers its dependents, so the
    // chain (copies, quantize pass, GEMM) keeps the overlap of each launch with the kernel before it, which a
    // cuMemcpy2DAsync node ended (sessions 14-17: the stride-4104 SmoothQuant row at 1.17-1.38 of its neighbour).
    if (route.stage_weight)
      QJIT_TRY(
          stage_rows(c, weight.data, weight.row_stride, base + route.weight_offset, route.staged_stride, c.n, stream));
    if (route.stage_act && !act_from_quantize)
      QJIT_TRY(stage_rows(c, act.data, act.row_stride, base + route.act_offset, route.staged_stride, m, stream));
  }
  if (route.path == ops::GemmPath::Portable) {
    QJIT_ASSIGN_OR_RETURN(g.gemm, portable_gemm(c, route.why_portable));
    g.path = ops::GemmPath::Portable;
    // NOTE: the portable config is workspace-free (jit::bind_portable), so the caller's workspace past the head
    // is not needed.
    return g;
  }
  g.gemm = &c.gemm;
  g.path = route.path;
  // A one-row operand read in place: its stride is never followed, but the tensor map needs a 16-byte multiple.
  if (act.rows == 1) g.lda = preferred_row_stride(c.k);
  if (weight.rows == 1) g.ldb = preferred_row_stride(c.k);
  if (route.stage_weight) {
    g.b = base + route.weight_offset;
    g.ldb = route.staged_stride;
  }
  if (route.stage_act) {
    g.a = base + route.act_offset;
    g.lda = route.staged_stride;
  }
  if (req.gemm_bytes > 0) {
    g.workspace = base + route.gemm_offset;
    g.workspace_bytes = req.gemm_bytes;
  }
  return g;
}

}  // namespace qjit::detail
