// The kernel specs of the linear plans (see linear_specs.h).
#include "ops/linear_specs.h"

namespace qjit::ops {

LinearKernelSpecs linear_kernel_specs(const LinearShape& shape, int arch) {
  LinearKernelSpecs out;
  if (!shape.smooth_quant && !shape.scaled_matmul) {
    codegen::KernelSpec q{};
    q.op = codegen::KernelOp::QuantizeRowwise;
    q.in_element = shape.activation;
    q.out_element = ElementKind::S8;
    q.k = shape.k;
    q.n = 0;
    q.m_bucket = codegen::m_bucket_of(shape.m);
    q.arch = arch;
    q.smooth = shape.smooth;
    q.act_zero_point = shape.act_zero_point;
    out.quantize = q;
  }
  codegen::KernelSpec& g = out.gemm;
  g.op = codegen::KernelOp::GemmS8;
  g.in_element = ElementKind::S8;
  g.out_element = shape.output;
  g.n = shape.n;
  g.k = shape.k;
  g.m_bucket = codegen::m_bucket_of(shape.m);
  g.has_bias = shape.has_bias;
  g.per_token_scale = !shape.smooth_quant;
  if (shape.scaled_matmul) {
    g.per_token_scale = !shape.act_scale_per_tensor;
    g.device_act_scale = shape.act_scale_per_tensor;
    g.per_channel_weight_scale = !shape.weight_scale_per_tensor;
  }
  g.act_zero_point = shape.act_zero_point;
  g.arch = arch;
  return out;
}

}  // namespace qjit::ops
