// common.cuh: the shared base of every qjit kernel template. It is pasted first into each rendered source, so it
// must compile under NVRTC with no include path at all: it defines its own fixed-width typedefs, the device-side
// mirror of QuantizeParams (codegen/kernel_params.h is the host side; a unit test compiles a probe that checks sizes
// and offsets; the GEMM parameter blocks live in gemm_params.h, shared with the host), and the conversions, arithmetic and memory operations the kernels need, written
// as inline PTX so that rounding is explicit: every f32/f64 multiply and add here is `.rn`, which also keeps the
// compiler from contracting `s * acc + bias` into an FMA (the contract rounds the product and the sum separately).
namespace qjitk {

typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

// 16-bit float storage; arithmetic always happens in f32 after an exact widening.
struct f16 {
  u16 bits;
};
struct bf16 {
  u16 bits;
};

// ---- parameter structs ----
// The GEMM blocks (GemmS8Params, GemmS8Sm90Params) are not here: templates/gemm_params.h defines them once for host
// and device, and codegen pastes it after this file into GEMM sources. QuantizeParams: field for field the host's
// qjit::codegen::QuantizeParams (codegen/kernel_params.h).
struct QuantizeParams {
  const void* x;
  i64 ldx;
  i8* q;
  i64 ldq;
  float* scale;
  u32* absmax_bits;
  i32 m;
  i32 pad_;
  const float* smooth;  // pre_quant_scale [K] when the kernel smooths (x * it before quantizing), else null
};

// ---- compile-time helpers ----
template <int A, int B>
struct CeilDiv {
  static constexpr int kValue = (A + B - 1) / B;
};
template <bool C, class T, class F>
struct Select {
  typedef T Type;
};
template <class T, class F>
struct Select<false, T, F> {
  typedef F Type;
};
__device__ __forceinline__ int min_i(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ i64 min_i64(i64 a, i64 b) { return a < b ? a : b; }

// ---- conversions to f32 (exact for f16/bf16; f64 rounds to nearest) ----
__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(f16 x) {
  float r;
  asm("{ .reg .b16 h; mov.b16 h, %1; cvt.f32.f16 %0, h; }" : "=f"(r) : "h"(x.bits));
  return r;
}
__device__ __forceinline__ float bits_to_f32(u32 b) {
  float r;
  asm("mov.b32 %0, %1;" : "=f"(r) : "r"(b));
  return r;
}
__device__ __forceinline__ u32 f32_to_bits(float f) {
  u32 r;
  asm("mov.b32 %0, %1;" : "=r"(r) : "f"(f));
  return r;
}
__device__ __forceinline__ float to_f32(bf16 x) { return bits_to_f32(((u32)x.bits) << 16); }
__device__ __forceinline__ float to_f32(double x) {
  float r;
  asm("cvt.rn.f32.f64 %0, %1;" : "=f"(r) : "d"(x));
  return r;
}

// ---- conversions from f32 (one rounding, to nearest even) ----
template <class T>
struct FromF32;
template <>
struct FromF32<float> {
  static __device__ __forceinline__ float apply(float v) { return v; }
};
template <>
struct FromF32<f16> {
  static __device__ __forceinline__ f16 apply(float v) {
    f16 r;
    asm("{ .reg .b16 h; cvt.rn.f16.f32 h, %1; mov.b16 %0, h; }" : "=h"(r.bits) : "f"(v));
    return r;
  }
};
template <>
struct FromF32<bf16> {
  static __device__ __forceinline__ bf16 apply(float v) {
    bf16 r;
    asm("{ .reg .b16 h; cvt.rn.bf16.f32 h, %1; mov.b16 %0, h; }" : "=h"(r.bits) : "f"(v));
    return r;
  }
};

// ---- explicitly rounded arithmetic (never fused) ----
__device__ __forceinline__ float mul_rn(float a, float b) {
  float r;
  asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
__device__ __forceinline__ float add_rn(float a, float b) {
  float r;
  asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
__device__ __forceinline__ float div_rn(float a, float b) {
  float r;
  asm("div.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
__device__ __forceinline__ double mul_rn(double a, double b) {
  double r;
  asm("mul.rn.f64 %0, %1, %2;" : "=d"(r) : "d"(a), "d"(b));
  return r;
}
__device__ __forceinline__ double add_rn(double a, double b) {
  double r;
  asm("add.rn.f64 %0, %1, %2;" : "=d"(r) : "d"(a), "d"(b));
  return r;
}
__device__ __forceinline__ float s32_to_f32(i32 v) {
  float r;
  asm("cvt.rn.f32.s32 %0, %1;" : "=f"(r) : "r"(v));
  return r;
}
// max.f32 returns the non-NaN operand when one is NaN (like fmaxf), which is the absmax contract.
__device__ __forceinline__ float max_f32(float a, float b) {
  float r;
  asm("max.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
__device__ __forceinline__ float abs_f32(float a) {
  float r;
  asm("abs.f32 %0, %1;" : "=f"(r) : "f"(a));
  return r;
}
// Round half to even and saturate to [-128, 127]; NaN becomes 0.
__device__ __forceinline__ i32 f32_to_s8_sat(float v) {
  i32 r;
  asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

// ---- the GEMM epilogue's arithmetic contract (every GEMM family calls this; nothing else computes it) ----
// y = (a_scale * b_scale) * f32(acc) (+ bias): each multiply and the add rounded to nearest even on its own through
// the __fmul_rn / __fadd_rn (__dmul_rn / __dadd_rn) intrinsics, which CUDA guarantees are never merged into an FMA
// whatever NVRTC's --fmad says (the same mul.rn / add.rn as the asm helpers above, but visible to the optimiser: the
// asm versions cost the Hopper decode kernels up to 20 registers); then one rounding to the output type. For f64 output the same steps run in f64 (the i32 -> f64 conversion is exact). Because the sm80 and sm90
// families both go through these functions, they give bit-identical outputs for the same inputs.
template <class OutT>
struct EpilogueMath {
  typedef float Acc;  // what the epilogue computes in, and what a bias element widens to (exactly)
  static __device__ __forceinline__ Acc widen(OutT b) { return to_f32(b); }
  static __device__ __forceinline__ Acc scale(float a_s, float b_s, i32 acc) {
    return __fmul_rn(__fmul_rn(a_s, b_s), __int2float_rn(acc));
  }
  static __device__ __forceinline__ Acc add_bias(Acc v, Acc bias) { return __fadd_rn(v, bias); }
  static __device__ __forceinline__ OutT round(Acc v) { return FromF32<OutT>::apply(v); }
};
template <>
struct EpilogueMath<double> {
  typedef double Acc;
  static __device__ __forceinline__ Acc widen(double b) { return b; }
  static __device__ __forceinline__ Acc scale(float a_s, float b_s, i32 acc) {
    return __dmul_rn(__dmul_rn((double)a_s, (double)b_s), (double)acc);
  }
  static __device__ __forceinline__ Acc add_bias(Acc v, Acc bias) { return __dadd_rn(v, bias); }
  static __device__ __forceinline__ double round(Acc v) { return v; }
};

// ---- warp and block primitives ----
__device__ __forceinline__ float shfl_xor_f32(float v, int lane_mask) {
  float r;
  asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(lane_mask));
  return r;
}
__device__ __forceinline__ float warp_max_f32(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max_f32(v, shfl_xor_f32(v, o));
  return v;
}
__device__ __forceinline__ u32 atomic_add_u32_gpu(u32* p, u32 v) {
  u32 old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
  return old;
}
__device__ __forceinline__ void atomic_max_u32_gpu(u32* p, u32 v) {
  asm volatile("red.relaxed.gpu.global.max.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}
__device__ __forceinline__ void fence_acq_rel_gpu() { asm volatile("fence.acq_rel.gpu;" ::: "memory"); }
__device__ __forceinline__ void store_relaxed_u32_gpu(u32* p, u32 v) {
  asm volatile("st.relaxed.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

// ---- global memory ----
struct alignas(16) V4 {
  u32 x, y, z, w;
};
__device__ __forceinline__ V4 ld_global_v4(const void* p) {
  V4 v;
  asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}
// Bytes of {hi, lo} chosen by sel (prmt.b32; selector nibble j picks byte j of the result).
__device__ __forceinline__ u32 prmt_u32(u32 lo, u32 hi, u32 sel) {
  u32 r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(lo), "r"(hi), "r"(sel));
  return r;
}
__device__ __forceinline__ void st_global_v4(void* p, V4 v) {
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
}
// Bytes [p, p + n) for 0 < n <= 16 at any address, as a 16-byte vector whose bytes n.. are zero: one or two
// aligned 16-byte reads and a realignment (a word select, then prmt), instead of n byte loads. Every read holds at
// least one of the n bytes, so none touches a page the bytes do not (an aligned 16-byte vector never straddles one).
__device__ __forceinline__ V4 ld_global_realigned16(const u8* p, int n) {
  const int o = (int)((u64)p & 15u);
  const u8* base = p - o;
  const V4 lo = ld_global_v4(base);
  V4 hi{0u, 0u, 0u, 0u};
  if (o + n > 16) hi = ld_global_v4(base + 16);
  const u32 w[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
  // NOTE: selects on the word offset keep w in registers (a run-time index would put it in local memory).
  const int q = o >> 2;
  u32 s[5];
#pragma unroll
  for (int i = 0; i < 5; ++i) {
    const u32 a = w[i], b = i + 1 < 8 ? w[i + 1] : 0u, c = i + 2 < 8 ? w[i + 2] : 0u, d = i + 3 < 8 ? w[i + 3] : 0u;
    s[i] = q == 0 ? a : q == 1 ? b : q == 2 ? c : d;
  }
  const u32 sel = 0x3210u + 0x1111u * (u32)(o & 3);  // byte j of the result is byte j + (o & 3) of {s[i+1], s[i]}
  u32 r[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int keep = n - 4 * i;
    const u32 mask = keep >= 4 ? 0xffffffffu : keep <= 0 ? 0u : (1u << (8 * keep)) - 1u;
    r[i] = prmt_u32(s[i], s[i + 1], sel) & mask;
  }
  return V4{r[0], r[1], r[2], r[3]};
}
// Reads around L1 (.cg): data written by other CTAs in this launch (split-K partials) must come from L2.
__device__ __forceinline__ i32 ld_global_cg_s32(const i32* p) {
  i32 v;
  asm volatile("ld.global.cg.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void st_global_cg_s32(i32* p, i32 v) {
  asm volatile("st.global.cg.s32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}
__device__ __forceinline__ u8 ld_global_u8(const void* p) {
  u16 v;
  asm volatile("ld.global.nc.u8 %0, [%1];" : "=h"(v) : "l"(p));
  return (u8)v;
}
__device__ __forceinline__ u32 ld_global_u32(const u32* p) {
  u32 v;
  asm volatile("ld.global.cg.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// ---- shared memory ----
__device__ __forceinline__ u32 smem_addr(const void* p) {
  u64 a;
  asm("cvta.to.shared.u64 %0, %1;" : "=l"(a) : "l"(p));
  return (u32)a;
}
__device__ __forceinline__ void st_shared_v4(u32 addr, V4 v) {
  asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};" ::"r"(addr), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
               : "memory");
}

// ---- asynchronous copies (sm_80+) ----
// 16 bytes global -> shared, bypassing L1; src_bytes == 0 reads nothing and fills zeros (out-of-range rows).
__device__ __forceinline__ void cp_async_16(u32 dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

}  // namespace qjitk

namespace qjitk {
// The largest dynamic shared memory a block may opt into on the architecture being compiled; templates
// static_assert their budget against it (codegen validates the same numbers before rendering).
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 800 || __CUDA_ARCH__ == 870)
struct ArchLimits {
  static constexpr int kMaxSmemOptIn = 166912;  // 163 KiB
};
#elif defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900 || __CUDA_ARCH__ == 1000)
struct ArchLimits {
  static constexpr int kMaxSmemOptIn = 232448;  // 227 KiB
};
#else
struct ArchLimits {
  static constexpr int kMaxSmemOptIn = 101376;  // 99 KiB (sm_86, sm_89, sm_120)
};
#endif
}  // namespace qjitk
