// The family registry (kernel_family.h) and what every family shares: the wrong-family error, the plain
// GemmS8Params parameter block.
#include "jit/kernel_family.h"

#include "base/invalid.h"
#include "runtime/env.h"

namespace qjit::jit {

Status KernelFamilyRuntime::wrong_family(const codegen::TileConfig& config) const {
  return invalid("config.family must be " + std::string(name()) + ", got " +
                 std::string(codegen::kernel_family_name(config.family())));
}

Status check_azp_args(const codegen::KernelSpec& spec, const codegen::GemmAzpArgs* azp) {
  if (spec.act_zero_point && (azp == nullptr || azp->azp == nullptr || azp->colsum == nullptr))
    return invalid("launch_gemm: azp must give the zero points [M] and the weight column sums [N] (non-null device "
                   "pointers) for a kernel with act_zero_point");
  if (!spec.act_zero_point && azp != nullptr)
    return invalid("launch_gemm: azp must be null for a kernel without act_zero_point (spec " + spec.to_string() + ")");
  return Status::success();
}

Status KernelFamilyRuntime::launch_plain_gemm(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims,
                                              const codegen::KernelSpec& spec, const codegen::GemmS8Params& p,
                                              CUstream stream, const codegen::GemmAzpArgs* azp) const {
  if (spec.op != codegen::KernelOp::GemmS8)
    return Status(StatusCode::InvalidArgument, "launch_gemm: spec.op must be gemm_s8, got " +
                                                   std::string(codegen::kernel_op_name(spec.op)) + " (family " +
                                                   std::string(name()) + ")");
  QJIT_TRY(check_azp_args(spec, azp));
  if (spec.act_zero_point) {
    const codegen::GemmS8AzpParams ap{p, *azp};
    return kernel.launch(dims, stream, &ap);
  }
  return kernel.launch(dims, stream, &p);
}

namespace {
const KernelFamilyRuntime& fallback_for(const codegen::KernelSpec& spec) {
  if (spec.op == codegen::KernelOp::GemmS8) return gemm_sm80_family();
  if (spec.op == codegen::KernelOp::W8A16Gemm) return w8a16_sm80_family();
  return quantize_family();
}
}  // namespace

FamilyRegistry::FamilyRegistry() : order_{&gemm_sm90_family(), &gemm_sm80_family(), &w8a16_sm80_family(), &quantize_family()} {}

const FamilyRegistry& FamilyRegistry::process() {
  static const FamilyRegistry registry;
  return registry;
}

const KernelFamilyRuntime& FamilyRegistry::family(codegen::KernelFamily id) const {
  for (const KernelFamilyRuntime* f : order_)
    if (f->id() == id) return *f;
  return *order_.back();  // unreachable: every KernelFamily value has an object above
}

const KernelFamilyRuntime& FamilyRegistry::for_spec(const codegen::KernelSpec& spec) const {
  for (const KernelFamilyRuntime* f : order_)
    if (f->accepts(spec).ok()) return *f;
  // NOTE: gemm_sm80 accepts every GEMM, w8a16_sm80 every weight-only GEMM and quantize every quantize op, so this is
  // reached for no KernelOp value.
  return fallback_for(spec);
}

const KernelFamilyRuntime& FamilyRegistry::portable_for(const codegen::KernelSpec& spec) const {
  for (const KernelFamilyRuntime* f : order_)
    if (f->operand_align() == 1 && f->accepts(spec).ok()) return *f;
  // NOTE: as above: gemm_sm80, w8a16_sm80 and quantize take any alignment and every spec of their op.
  return fallback_for(spec);
}

// The Hopper family serves every GEMM on sm_90, unless QJIT_DISABLE_SM90=1.
bool sm90_disabled() {
  static const bool disabled = env::flag_or_warn(env::Var::DisableSm90);
  return disabled;
}

// QJIT_DISABLE_PDL=1 turns programmatic dependent launch off (for A/B timing and as an escape hatch).
bool programmatic_launch_disabled() {
  static const bool disabled = env::flag_or_warn(env::Var::DisablePdl);
  return disabled;
}

}  // namespace qjit::jit
