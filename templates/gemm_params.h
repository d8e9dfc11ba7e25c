// gemm_params.h: the GEMM kernels' parameter blocks, one definition for host and device. Each GEMM kernel takes
// exactly one of these by value as a `const __grid_constant__` parameter. The host includes this file
// (codegen/kernel_params.h: qjit::codegen::GemmS8Params, GemmS8Sm90Params); codegen pastes the same text, after
// common.cuh, into every rendered GEMM source (qjitk::GemmS8Params, qjitk::GemmS8Sm90Params), so the two sides
// cannot drift. Plain C++17 that NVRTC (no include path: __CUDACC_RTC__ is defined) and the host compiler both
// accept; fields use only types whose sizes are the same on both sides. The static_asserts below run in both
// compilers, and a unit test still compiles a probe that checks every device-side offset against the host's.
#ifndef QJIT_TEMPLATES_GEMM_PARAMS_H_
#define QJIT_TEMPLATES_GEMM_PARAMS_H_

#if defined(__CUDACC_RTC__)
namespace qjitk {
#else
namespace qjit::codegen {
#endif

// y[m, n] = a_scale[m] * b_scale[n] * sum_k a[m, k] * b[n, k]  (+ bias[n]),  m < M, n < N (N, K baked in).
struct GemmS8Params {
  const void* a;         // int8 [M, K], row stride lda (bytes == elements)
  const void* b;         // int8 [N, K], row stride ldb
  const float* a_scale;  // [M] per-token scales, or nullptr: then a_scale_value applies to every row
  const float* b_scale;  // [N] per-output-channel scales
  const void* bias;      // OutT [N]; read only when the kernel was rendered with a bias
  void* c;               // OutT [M, N], row stride ldc
  long long lda;
  long long ldb;
  long long ldc;
  int m;                // rows of a and c (run time)
  float a_scale_value;  // the static per-tensor activation scale (SmoothQuant), used when a_scale == nullptr
  void* workspace;      // split-K / stream-K partials (int32), nullptr when the config needs none
  int* tile_counters;   // split-K arrival counters, zeroed by the kernel after use; nullptr if unused
};
static_assert(sizeof(long long) == 8 && sizeof(int) == 4 && sizeof(void*) == 8, "the parameter ABI is LP64");
static_assert(sizeof(GemmS8Params) == 96, "GemmS8Params is 96 bytes on host and device");

// The Hopper family's block: two opaque CUtensorMap objects (A, then B: 64-byte aligned, living in param space
// because the kernel takes the block as __grid_constant__), then the family-neutral GEMM fields.
struct GemmS8Sm90Params {
  alignas(64) unsigned char tma_a[128];  // CUtensorMap of A: dims {K, M}, box {128, block_m}, 128B swizzle
  alignas(64) unsigned char tma_b[128];  // CUtensorMap of B: dims {K, N}, box {128, block_n / cluster}, 128B swizzle
  GemmS8Params base;
};
static_assert(sizeof(GemmS8Sm90Params) == 384 && alignof(GemmS8Sm90Params) == 64,
              "GemmS8Sm90Params is 384 bytes, 64-byte aligned, on host and device");

}  // namespace qjitk / qjit::codegen

#endif  // QJIT_TEMPLATES_GEMM_PARAMS_H_
