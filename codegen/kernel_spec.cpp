// Printing and small facts for KernelSpec / TileConfig: M bucketing, NVRTC arch options, shared-memory limits.
// The printed forms are for logs and error messages only; cache keys hash the rendered source, never these strings.
#include "codegen/kernel_spec.h"

#include "llvm/Support/FormatVariadic.h"

namespace qjit::codegen {

std::string_view kernel_op_name(KernelOp op) noexcept {
  switch (op) {
    case KernelOp::QuantizeRowwise: return "quantize_rowwise";
    case KernelOp::QuantizeAbsmax: return "quantize_absmax";
    case KernelOp::QuantizeApplyScale: return "quantize_apply_scale";
    case KernelOp::GemmS8: return "gemm_s8";
    case KernelOp::RmsNormQuantize: return "rms_norm_quantize";
    case KernelOp::LayerNormQuantize: return "layer_norm_quantize";
  }
  return "?";
}

bool is_norm_op(KernelOp op) noexcept { return op == KernelOp::RmsNormQuantize || op == KernelOp::LayerNormQuantize; }

std::string_view kernel_family_name(KernelFamily f) noexcept {
  switch (f) {
    case KernelFamily::Quantize: return "quantize";
    case KernelFamily::GemmSm80: return "gemm_sm80";
    case KernelFamily::GemmSm90: return "gemm_sm90";
  }
  return "?";
}

std::optional<KernelOp> parse_kernel_op(std::string_view name) noexcept {
  for (KernelOp op : {KernelOp::QuantizeRowwise, KernelOp::QuantizeAbsmax, KernelOp::QuantizeApplyScale,
                      KernelOp::GemmS8, KernelOp::RmsNormQuantize, KernelOp::LayerNormQuantize})
    if (kernel_op_name(op) == name) return op;
  return std::nullopt;
}

std::optional<KernelFamily> parse_kernel_family(std::string_view name) noexcept {
  for (KernelFamily f : {KernelFamily::Quantize, KernelFamily::GemmSm80, KernelFamily::GemmSm90})
    if (kernel_family_name(f) == name) return f;
  return std::nullopt;
}

std::optional<ElementKind> parse_element_name(std::string_view name) noexcept {
  for (ElementKind e : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64, ElementKind::S8,
                        ElementKind::U8, ElementKind::S32})
    if (element_name(e) == name) return e;
  return std::nullopt;
}

std::string KernelSpec::to_string() const {
  std::string s =
      llvm::formatv("{0} {1}->{2}", kernel_op_name(op), element_name(in_element), element_name(out_element));
  if (op == KernelOp::GemmS8) s += llvm::formatv(" n={0}", n).str();
  s += llvm::formatv(" k={0} m<={1}", k, m_bucket).str();
  if (op == KernelOp::GemmS8) {
    s += has_bias ? " bias" : " nobias";
    s += per_token_scale ? " per_token" : " per_tensor";
  }
  if (smooth) s += " smooth";
  if (is_norm_op(op)) s += std::string(residual ? " residual" : "") + (per_token_scale ? " per_token" : " static");
  return s + " " + arch_option(arch);
}

std::string TileConfig::to_string() const {
  if (family == KernelFamily::GemmSm90)
    return llvm::formatv("{0} {1}x{2}x{3} c{4}{5}{6}{7} s{8} sk{9}", kernel_family_name(family), block_m, block_n,
                         block_k, consumers, swap_ab ? " swap_ab" : "", pingpong ? " pingpong" : "",
                         cluster_m > 1 ? llvm::formatv(" cluster{0}x1", cluster_m).str() : std::string(), stages,
                         split_k);
  return llvm::formatv("{0} {1}x{2}x{3} w{4}x{5} s{6} sk{7}", kernel_family_name(family), block_m, block_n, block_k,
                       warps_m, warps_n, stages, split_k);
}

int m_bucket_of(std::int64_t m) {
  int b = 1;
  while (b < 4096 && b < m) b *= 2;
  return b;
}

std::string arch_option(int arch) {
  if (arch == 90) return "sm_90a";
  return "sm_" + std::to_string(arch);
}

int max_dynamic_smem_bytes(int arch) {
  if (arch == 80 || arch == 87) return 166912;
  if (arch == 90) return 232448;
  return 101376;
}

bool is_supported_arch(int arch) { return arch == 80 || arch == 86 || arch == 87 || arch == 89 || arch == 90; }

}  // namespace qjit::codegen
