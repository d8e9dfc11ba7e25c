// quantize_rowwise_asym.cuh: asymmetric (zero-point) per-token quantization of an FP activation x [M, K], the rule of
// qjit/quant/asymmetric.h (ONNX DynamicQuantizeLinear per row): lo = min(0, min x), hi = max(0, max x) (NaN
// ignored), scale = RN(RN(hi − lo) / 255), zp = clamp(rni(RN(−lo / scale)), 0, 255),
// q = clamp(rni(RN(x / scale)) + zp, 0, 255), stored as u8 (kU8) or as s8 = q − 128 with zp − 128 in zero_point[m];
// a row with scale 0 gets zp = 0 and q = 0 (u8). Divisions are div.rn, so the codes equal the CPU rule's bit for bit.
// Codegen appends this file after quantize_rowwise.cuh ONLY for asymmetric specs (KernelSpec.act_zero_point), so
// every other quantize kernel's text is byte for byte what it was. The pass reads its row twice (range, then codes);
// the second read comes from L1/L2. Uses quantize_rowwise.cuh's chunk loads, smoothing and row reduction; no #include.
namespace qjitk {

// The symmetric pass's block plus the zero points (the kernel entry takes this one by value; base comes first).
struct QuantizeAsymParams {
  QuantizeParams base;
  i32* zero_point;  // [M]: in [0, 255] (u8 storage) or [-128, 127] (s8 storage)
};
static_assert(sizeof(QuantizeAsymParams) == 72, "QuantizeAsymParams layout (the host static_asserts the same)");

// rni(v) of v clamped to [lo, hi]; NaN -> 0.
__device__ __forceinline__ i32 rni_clamped(float v, float lo, float hi) {
  v = v == v ? v : 0.0f;
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  i32 r;
  asm("cvt.rni.s32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

// One code in the storage domain (u8 code − shift, as a byte).
__device__ __forceinline__ u32 asym_code(float v, float scale, i32 zp, i32 shift) {
  if (scale == 0.0f) return (u32)(0 - shift) & 0xffu;
  i32 q = rni_clamped(div_rn(v, scale), -256.0f, 256.0f) + zp;
  q = q < 0 ? 0 : q > 255 ? 255 : q;
  return (u32)(q - shift) & 0xffu;
}

template <class InT, int kK, int kRows, int kTpr, bool kSmooth, bool kU8>
struct QuantizeRowwiseAsym {
  typedef QuantizeRowwise<InT, kK, kRows, kTpr, kQuantizeRowwise, kSmooth> Base;
  static constexpr int kChunks = Base::kChunks;
  static constexpr int kWarpsPerRow = Base::kWarpsPerRow;
  static constexpr i32 kShift = kU8 ? 0 : 128;

  static __device__ __forceinline__ void run(const QuantizeAsymParams& ap) {
    const QuantizeParams& p = ap.base;
    // NOTE: two buffers: the second reduction's writes must not race the first one's reads.
    __shared__ float red_hi[kRows * kWarpsPerRow];
    __shared__ float red_lo[kRows * kWarpsPerRow];
    const int tid = (int)threadIdx.x;
    const int lt = tid % kTpr;
    const i64 row = (i64)blockIdx.x * kRows + tid / kTpr;
    const bool row_ok = row < (i64)p.m;
    const u8* x = (const u8*)p.x + (row_ok ? row : 0) * p.ldx * (i64)sizeof(InT);
    u8* q = (u8*)p.q + (row_ok ? row : 0) * p.ldq;
    const bool vec = kChunks > 0 && (((u64)p.x | (u64)p.q | (kSmooth ? (u64)p.smooth : 0)) & 15) == 0 &&
                     ((p.ldx * (i64)sizeof(InT)) & 15) == 0 && (p.ldq & 15) == 0;
    const int vec_elems = vec ? kChunks * 16 : 0;

    float hi = 0.0f, nlo = 0.0f;  // max(0, max x) and −min(0, min x)
    if (row_ok) {
      if (vec) {
        for (int c = lt; c < kChunks; c += kTpr) {
          float v[16];
          ChunkLoad<InT>::apply(x + (i64)c * 16 * sizeof(InT), v);
          SmoothChunk<kSmooth>::apply(v, p.smooth + c * 16);
#pragma unroll
          for (int j = 0; j < 16; ++j) {
            hi = max_f32(hi, v[j]);
            nlo = max_f32(nlo, -v[j]);
          }
        }
      }
      for (int k = vec_elems + lt; k < kK; k += kTpr) {
        const float v = Base::element(x, k, p);
        hi = max_f32(hi, v);
        nlo = max_f32(nlo, -v);
      }
    }
    hi = Base::row_max(hi, red_hi);
    nlo = Base::row_max(nlo, red_lo);
    // hi − lo = hi + (−lo): the same IEEE sum.
    const float scale = div_rn(add_rn(hi, nlo), 255.0f);
    const i32 zp = scale == 0.0f ? 0 : rni_clamped(div_rn(nlo, scale), 0.0f, 255.0f);
    if (!row_ok) return;
    if (lt == 0) {
      p.scale[row] = scale;
      ap.zero_point[row] = zp - kShift;
    }
    if (vec) {
      for (int c = lt; c < kChunks; c += kTpr) {
        float v[16];
        ChunkLoad<InT>::apply(x + (i64)c * 16 * sizeof(InT), v);
        SmoothChunk<kSmooth>::apply(v, p.smooth + c * 16);
        u32 w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
        for (int j = 0; j < 16; ++j) w[j >> 2] |= asym_code(v[j], scale, zp, kShift) << (8 * (j & 3));
        V4 o;
        o.x = w[0];
        o.y = w[1];
        o.z = w[2];
        o.w = w[3];
        st_global_v4(q + c * 16, o);
      }
    }
    for (int k = vec_elems + lt; k < kK; k += kTpr) q[k] = (u8)asym_code(Base::element(x, k, p), scale, zp, kShift);
  }
};

}  // namespace qjitk
