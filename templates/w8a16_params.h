// w8a16_params.h: the weight-only (W8A16) GEMM's parameter block, one definition for host and device, as
// gemm_params.h is for the int8 GEMMs: the host includes it (codegen/kernel_params.h: qjit::codegen::W8A16Params),
// codegen pastes the same text after common.cuh into every rendered w8a16_sm80 source (qjitk::W8A16Params).
#ifndef QJIT_TEMPLATES_W8A16_PARAMS_H_
#define QJIT_TEMPLATES_W8A16_PARAMS_H_

#if defined(__CUDACC_RTC__)
namespace qjitk {
#else
namespace qjit::codegen {
#endif

// y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]), w[n, k] = RN_T(RN_f32((q[n, k] - zp) * scale)), m < M (N, K baked).
struct W8A16Params {
  const void* x;          // T [M, K], row stride ldx (elements)
  const void* w;          // int8 [N, K], row stride ldw
  const float* scale;     // [1, 1], [N, 1] or [N, ceil(K / group)] with row stride ld_scale
  const int* zero_point;  // int32, the scales' shape and stride, or nullptr when the kernel has none
  const void* bias;       // T [N]; read only when the kernel was rendered with a bias
  void* y;                // T [M, N], row stride ldy
  long long ldx;
  long long ldw;
  long long ldy;
  long long ld_scale;  // elements between rows of scale / zero_point (per channel, per group)
  int m;               // rows of x and y (run time)
  int pad_;
  float* workspace;    // split-K f32 partials, nullptr when the config needs none
  int* tile_counters;  // split-K arrival counters, zeroed before the launch and left zero; nullptr if unused
};
static_assert(sizeof(long long) == 8 && sizeof(int) == 4 && sizeof(void*) == 8, "the parameter ABI is LP64");
static_assert(sizeof(W8A16Params) == 104, "W8A16Params is 104 bytes on host and device");

}  // namespace qjitk / qjit::codegen

#endif  // QJIT_TEMPLATES_W8A16_PARAMS_H_
