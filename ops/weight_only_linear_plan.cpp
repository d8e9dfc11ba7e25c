// WeightOnlyLinearPlan (include/qjit/weight_only_linear.h): one kernel of the w8a16_sm80 family per plan
// (KernelOp::W8A16Gemm, templates/w8a16_sm80.cuh). select validates the descriptor and binds the kernel for the M
// bucket (the family's heuristic; Tuned finds no records for this family and takes it too; Autotune is refused until
// the tuner can launch W8A16Params); can_implement checks every argument against the descriptor, naming the field
// and the expected value; run zeroes the split-K counters (when the config splits K) and launches on the stream.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "codegen/kernel_params.h"
#include "codegen/w8a16_sm80.h"
#include "jit/kernel_family.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/config_choice.h"
#include "ops/plan_cache.h"
#include "ops/plan_core.h"
#include "ops/validate.h"
#include "runtime/driver.h"

namespace qjit::detail {

class WeightOnlyLinearCore {
 public:
  WeightOnlyLinearDescriptor desc;
  ops::KernelBinding main;
  std::string description;
};

namespace {

Status invalid_arg(std::string m) { return Status(StatusCode::InvalidArgument, std::move(m)); }

const char* scale_name(WeightScaleMode m) {
  switch (m) {
    case WeightScaleMode::PerChannel: return "per_channel";
    case WeightScaleMode::PerTensor: return "per_tensor";
    case WeightScaleMode::PerGroup: return "per_group";
  }
  return "?";
}

std::int64_t groups_of(const WeightOnlyLinearDescriptor& d) { return (d.k + d.group_size - 1) / d.group_size; }

Status check_descriptor(const WeightOnlyLinearDescriptor& d) {
  QJIT_TRY(ops::check_dims(d.m, d.n, d.k));
  // NOTE: the w8a16 kernel's own bound (codegen/w8a16_sm80.cpp), checked here so the refusal names the caller's
  // field instead of surfacing from codegen at bind time as "spec.n".
  constexpr std::int64_t kMaxNK = std::int64_t{1} << 30;
  if (d.n > kMaxNK)
    return invalid_arg(llvm::formatv("descriptor.n must be in [1, 2^30] for weight_only_linear, got {0}", d.n).str());
  if (d.k > kMaxNK)
    return invalid_arg(llvm::formatv("descriptor.k must be in [1, 2^30] for weight_only_linear, got {0}", d.k).str());
  if (d.activation_element != ElementKind::F16 && d.activation_element != ElementKind::BF16)
    return invalid_arg("descriptor.activation_element must be f16 or bf16, got " +
                       std::string(element_name(d.activation_element)));
  if (d.weight_element != ElementKind::S8)
    return invalid_arg("descriptor.weight_element must be s8, got " + std::string(element_name(d.weight_element)));
  if (d.output_element != d.activation_element)
    return invalid_arg(llvm::formatv("descriptor.output_element must be the activation's {0}, got {1}",
                                     element_name(d.activation_element), element_name(d.output_element))
                           .str());
  if (d.weight_scale != WeightScaleMode::PerChannel && d.weight_scale != WeightScaleMode::PerTensor &&
      d.weight_scale != WeightScaleMode::PerGroup)
    return invalid_arg(llvm::formatv("descriptor.weight_scale must be per_channel (0), per_tensor (1) or per_group "
                                     "(2), got {0}",
                                     static_cast<std::int32_t>(d.weight_scale))
                           .str());
  if (d.weight_scale == WeightScaleMode::PerGroup) {
    if (d.group_size != 64 && d.group_size != 128)
      return invalid_arg(
          llvm::formatv("descriptor.group_size must be 64 or 128 with per_group scales, got {0}", d.group_size).str());
  } else if (d.group_size != 0) {
    return invalid_arg(llvm::formatv("descriptor.group_size must be 0 with {0} scales, got {1}",
                                     scale_name(d.weight_scale), d.group_size)
                           .str());
  }
  return Status();
}

// The scales' (and zero points') shape: [1, 1], [N, 1] or [N, ceil(K / group)].
struct ScaleShape {
  std::int64_t rows, cols;
  const char *rows_name, *cols_name;
};
ScaleShape scale_shape(const WeightOnlyLinearDescriptor& d) {
  switch (d.weight_scale) {
    case WeightScaleMode::PerTensor: return {1, 1, "1 (per_tensor)", "1"};
    case WeightScaleMode::PerGroup:
      return {d.n, groups_of(d), "N", d.group_size == 64 ? "ceil(K / 64)" : "ceil(K / 128)"};
    default: return {d.n, 1, "N", "1 (per_channel)"};
  }
}

Status check_absent_matrix(const MatrixView& v, const char* name, const char* why) {
  if (v.data != nullptr || v.rows != 0 || v.cols != 0)
    return invalid_arg(llvm::formatv("{0} must be empty: {1}", name, why).str());
  return Status();
}

}  // namespace

std::string descriptor_text(const WeightOnlyLinearDescriptor& d) {
  std::string s = llvm::formatv("weight_only_linear m={0} n={1} k={2} act={3} weight={4} out={5} weight_scale={6}", d.m,
                                d.n, d.k, element_name(d.activation_element), element_name(d.weight_element),
                                element_name(d.output_element), scale_name(d.weight_scale))
                      .str();
  if (d.weight_scale == WeightScaleMode::PerGroup) s += llvm::formatv("({0})", d.group_size).str();
  if (d.has_zero_point) s += " zero_point";
  if (d.has_bias) s += " bias";
  return s;
}

Result<std::shared_ptr<const WeightOnlyLinearCore>> select_weight_only_linear(const Stream&,
                                                                              const WeightOnlyLinearDescriptor& d,
                                                                              PlanPreference pref) {
  QJIT_TRY(check_descriptor(d));
  if (pref == PlanPreference::Autotune)
    return Status(StatusCode::Unsupported,
                  "preference Autotune is not available for weight_only_linear yet (the tuner launches only "
                  "GemmS8Params kernels); use Heuristic or Tuned");
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceInfo device, runtime::current_device());
  static ops::PlanCache<WeightOnlyLinearCore> cache;
  const std::string key = ops::KeyBuilder()
                              .add(codegen::m_bucket_of(d.m))
                              .add(d.n)
                              .add(d.k)
                              .add(d.activation_element)
                              .add(d.has_bias)
                              .add(d.weight_scale)
                              .add(d.group_size)
                              .add(d.has_zero_point)
                              .add(device.context)
                              .take();
  auto made = cache.get_or_create(key, [&]() -> Result<std::shared_ptr<const WeightOnlyLinearCore>> {
    WeightOnlyLinearCore c;
    c.desc = d;
    const codegen::KernelSpec spec =
        codegen::w8a16_spec(d.activation_element, d.n, d.k, codegen::m_bucket_of(d.m), ops::target_arch(device),
                            d.has_bias, d.weight_scale != WeightScaleMode::PerTensor,
                            d.weight_scale == WeightScaleMode::PerGroup ? d.group_size : 0, d.has_zero_point);
    // NOTE: Heuristic for Tuned too: the tuning database holds no w8a16 records (nothing can tune them yet).
    QJIT_ASSIGN_OR_RETURN(c.main, ops::bind_kernel(spec, PlanPreference::Heuristic, device));
    c.description = c.main.entry + " (" + c.main.config.to_string() + ")";
    return std::make_shared<const WeightOnlyLinearCore>(std::move(c));
  });
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Status can_implement(const WeightOnlyLinearCore& c, const WeightOnlyLinearCall& a) {
  const WeightOnlyLinearDescriptor& d = c.desc;
  const ElementKind t = d.activation_element;
  QJIT_TRY(ops::check_matrix(a.activation, "activation", -1, "M", d.k, "K", t, 1));
  const std::int64_t m = a.activation.rows;
  QJIT_TRY(ops::check_matrix(a.weight, "weight", d.n, "N", d.k, "K", ElementKind::S8, 1));
  const ScaleShape s = scale_shape(d);
  QJIT_TRY(
      ops::check_matrix(a.weight_scale, "weight_scale", s.rows, s.rows_name, s.cols, s.cols_name, ElementKind::F32, 1));
  if (d.has_zero_point) {
    QJIT_TRY(
        ops::check_matrix(a.zero_point, "zero_point", s.rows, s.rows_name, s.cols, s.cols_name, ElementKind::S32, 1));
    if (s.rows > 1 && a.zero_point.row_stride != a.weight_scale.row_stride)
      return invalid_arg(llvm::formatv("zero_point.stride[0] must equal weight_scale.stride[0] = {0}, got {1}",
                                       a.weight_scale.row_stride, a.zero_point.row_stride)
                             .str());
  } else {
    QJIT_TRY(check_absent_matrix(a.zero_point, "zero_point", "the descriptor has has_zero_point = false"));
  }
  if (d.has_bias)
    QJIT_TRY(ops::check_vector(a.bias, "bias", d.n, "N", t));
  else
    QJIT_TRY(ops::check_absent(a.bias, "bias", "the descriptor has has_bias = false"));
  QJIT_TRY(ops::check_matrix(a.output, "output", m, "M", d.n, "N", t, 1));
  return Status();
}

std::size_t workspace_size(const WeightOnlyLinearCore& c, std::int64_t m) {
  return ops::kernel_workspace_bytes(c.main.spec, c.main.config, m);
}

std::size_t workspace_size(const WeightOnlyLinearCore& c) {
  // Enough for every M of the descriptor's bucket (split-K partials grow with the token tiles).
  return workspace_size(c, std::max<std::int64_t>(codegen::m_bucket_of(c.desc.m), c.desc.m));
}

PrecisionGuarantee precision_guarantee(const WeightOnlyLinearCore& c) {
  PrecisionGuarantee g;
  g.deterministic = true;        // fixed summation order per config, split-K partials added in split order
  g.exact_accumulation = false;  // f32 sums on the tensor cores
  // |y - y_ref| <= r * (sum_k |x| |w_ref| + |bias|), y_ref the f64 result of the T activation and w_ref = (q - zp) *
  // scale in f64: the weight's two roundings (2^-24, then u_T), the products exact in f32, the f32 sums of K terms
  // (the tensor cores' additions are not all round-to-nearest: (K + 4) * 2^-22 covers them and the bias add), and
  // the output's rounding u_T.
  const double u = c.desc.activation_element == ElementKind::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
  g.epilogue_relative_error = 2 * u + static_cast<double>(c.desc.k + 4) * std::ldexp(1.0, -22);
  g.description =
      "deterministic (the same bits run after run for one plan): w = RN_T(RN_f32((q - zp) * scale)) with q - zp "
      "exact (zero points in [-2^22, 2^22]); y = RN_T(sum_k x * w (+ bias)) with the products exact and summed in f32 "
      "(split-K partials added in split order); |y - y_ref| <= epilogue_relative_error * (sum_k |x| * |(q - zp) * "
      "scale| + |bias|), epilogue_relative_error = 2 * u_T + (K + 4) * 2^-22 (u_T = 2^-11 for f16, 2^-8 for bf16), "
      "while |w| and |y| stay in T's normal range (subnormal weights or outputs add their absolute rounding "
      "error)";
  return g;
}

Status run(const WeightOnlyLinearCore& c, const Stream& stream, Workspace ws, const WeightOnlyLinearCall& a) {
  QJIT_TRY(can_implement(c, a));
  const std::int64_t m = a.activation.rows;
  const jit::WorkspaceLayout layout =
      jit::FamilyRegistry::process().family(c.main.config.family()).workspace(c.main.spec, c.main.config, m);
  if (layout.bytes > ws.bytes || (layout.bytes > 0 && ws.data == nullptr))
    return invalid_arg(llvm::formatv("workspace must hold {0} bytes for M = {1}, got {2}", layout.bytes, m, ws.bytes));
  codegen::W8A16Params p{};
  p.x = a.activation.data;
  p.ldx = a.activation.row_stride;
  p.w = a.weight.data;
  p.ldw = a.weight.row_stride;
  p.scale = static_cast<const float*>(a.weight_scale.data);
  p.zero_point = c.desc.has_zero_point ? static_cast<const std::int32_t*>(a.zero_point.data) : nullptr;
  p.ld_scale = a.weight_scale.rows > 1 ? a.weight_scale.row_stride : a.weight_scale.cols;
  p.bias = c.desc.has_bias ? a.bias.data : nullptr;
  p.y = const_cast<void*>(a.output.data);
  p.ldy = a.output.row_stride;
  p.m = static_cast<std::int32_t>(m);
  if (layout.bytes > 0) {
    // NOTE: the kernel leaves its counters at zero, but the caller's buffer may hold anything before the first run;
    // one memset on the stream keeps run() stateless.
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    p.workspace = static_cast<float*>(ws.data);
    p.tile_counters = reinterpret_cast<std::int32_t*>(static_cast<char*>(ws.data) + layout.counters_offset);
    QJIT_CU(*api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(p.tile_counters), 0u,
            layout.counters_bytes / 4, stream.handle());
  }
  return c.main.kernel->launch(ops::launch_dims(c.main, m), stream.handle(), &p);
}

std::string describe(const WeightOnlyLinearCore& c) { return c.description; }

}  // namespace qjit::detail
