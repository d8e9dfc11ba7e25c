// norm_quantize_params.h: the parameter block of the fused norm + quantize kernels (templates/norm_quantize.cuh),
// one definition for host and device, as gemm_params.h is for the GEMMs. The host includes this file
// (codegen/kernel_params.h: qjit::codegen::NormQuantizeParams); codegen pastes the same text into every rendered norm
// source (qjitk::NormQuantizeParams). Plain C++17 that NVRTC (no include path: __CUDACC_RTC__ is defined) and the
// host compiler both accept; a unit test still compiles a probe that checks every device-side offset.
#ifndef QJIT_TEMPLATES_NORM_QUANTIZE_PARAMS_H_
#define QJIT_TEMPLATES_NORM_QUANTIZE_PARAMS_H_

#if defined(__CUDACC_RTC__)
namespace qjitk {
#else
namespace qjit::codegen {
#endif

// For each row m < M: h = x[m, :] (+ residual[m, :], rounded to the input type and written to residual_out[m, :]),
// v = norm(h) * gamma (+ beta) in f32, q[m, :] = quantize(v) with scale[m] = absmax(v) / 127 (dynamic) or
// static_scale (static). Element types: x, residual, residual_out, gamma and beta are the input type.
struct NormQuantizeParams {
  const void* x;  // [M, K], row stride ldx (elements)
  long long ldx;
  const void* residual;  // [M, K], row stride ld_residual; read only when the kernel was rendered with a residual
  long long ld_residual;
  void* residual_out;  // [M, K]: x + residual rounded to the input type; may alias x or residual
  long long ld_residual_out;
  const void* gamma;  // [K]
  const void* beta;   // [K], LayerNorm only
  signed char* q;     // int8 [M, K], row stride ldq
  long long ldq;
  float* scale;        // [M] per-token scales (dynamic); unused (may be null) with a static scale
  float static_scale;  // the static per-tensor scale (finite, > 0), used when the kernel was rendered static
  float eps;           // added to the mean square (RMSNorm) or the variance (LayerNorm)
  int m;               // rows (run time)
  int pad_;
};
static_assert(sizeof(long long) == 8 && sizeof(int) == 4 && sizeof(void*) == 8, "the parameter ABI is LP64");
static_assert(sizeof(NormQuantizeParams) == 104, "NormQuantizeParams is 104 bytes on host and device");

}  // namespace qjitk / qjit::codegen

#endif  // QJIT_TEMPLATES_NORM_QUANTIZE_PARAMS_H_
