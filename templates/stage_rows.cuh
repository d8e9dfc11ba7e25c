// stage_rows.cuh: the staged Hopper path's copy (ops/staging.h). An int8 [M, K] view at any base and any row stride
// (>= K) is copied into rows of a 16-byte aligned destination whose row stride is a multiple of 16 bytes, so that
// the GEMM's TMA tensor maps can read it. K is compile-time, M run-time. A CTA copies kRows rows with kTpr threads
// each; a thread moves one 16-byte chunk of the destination per step: the source's one or two aligned 16-byte words
// that hold the chunk's bytes, realigned in registers (common.cuh's ld_global_realigned16), one 16-byte store. The
// destination's bytes from K to the next multiple of 16 are written as zeros; nothing past them is touched.
// Replaces one cuMemcpy2DAsync per operand: a kernel takes part in programmatic dependent launch (the GEMM behind it
// starts its prologue while the copy runs; a memcpy node ends every overlap) and moves misaligned rows at full width.

namespace qjitk {

// Field for field the host's qjit::codegen::StageRowsParams (codegen/kernel_params.h).
struct StageRowsParams {
  const u8* src;  // int8 [m, K], row stride lds bytes (>= K), any alignment
  i64 lds;
  u8* dst;  // int8 [m, ldd], 16-byte aligned, ldd a multiple of 16 (>= K rounded up to 16)
  i64 ldd;
  i32 m;
  i32 pad_;
};

template <int kK, int kRows, int kTpr>
struct StageRows {
  static constexpr int kChunks = (kK + 15) / 16;

  static __device__ __forceinline__ void run(const StageRowsParams& p) {
    const int row = (int)blockIdx.x * kRows + (int)threadIdx.x / kTpr;
    const int lane = (int)threadIdx.x % kTpr;
    if (row >= p.m) return;
    const u8* src = p.src + (i64)row * p.lds;
    u8* dst = p.dst + (i64)row * p.ldd;
#pragma unroll 4
    for (int c = lane; c < kChunks; c += kTpr) {
      const int n = kK - 16 * c < 16 ? kK - 16 * c : 16;
      st_global_v4(dst + 16 * c, ld_global_realigned16(src + 16 * c, n));
    }
  }
};

}  // namespace qjitk
