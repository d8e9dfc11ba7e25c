// The gemm_sm80 epilogue for the scale modes beyond the family's own (ScaledMatmulPlan): a per-tensor weight scale
// read from b_scale[0] for every column, and a per-tensor activation scale read from a device [1] tensor (a_scale[0]
// for every row) instead of the host scalar a_scale_value. Codegen appends this file, and an explicit specialisation
// of GemmS8Sm80<...>::epilogue that forwards here, ONLY for specs with those modes, so every other kernel's source
// is byte for byte what it was. The body is GemmS8Sm80::epilogue's with the two scale loads changed: the same
// GemmEpilogue arithmetic and stores, so a per-tensor scale gives the same bits as a per-channel / per-token one
// filled with that value. Relies on gemm_s8_sm80.cuh (pasted before it); no #include.
namespace qjitk {

template <class K, int kN, class OutT, bool kBias, bool kPerToken, bool kWPerChannel, bool kADevice>
__device__ __forceinline__ void gemm_s8_sm80_epilogue_scales(const GemmS8Params& p, const i32 (&acc)[K::kMI][K::kNI][4],
                                                             i64 m0, int rows_a, int n0, int warp_m, int warp_n,
                                                             int lane) {
  const int g = lane >> 2;
  const int t = lane & 3;
  const OutT* bias = (const OutT*)p.bias;
  OutT* c = (OutT*)p.c;
  const bool vec_c = (p.ldc & 1) == 0 && ((u64)p.c & (2 * sizeof(OutT) - 1)) == 0;
  // NOTE: the device scalars are loaded once, before any store (a store may alias them as far as the compiler knows).
  const float w_s = kWPerChannel ? 0.0f : p.b_scale[0];
  const float a_dev = kADevice ? p.a_scale[0] : 0.0f;
#pragma unroll
  for (int ni = 0; ni < K::kNI; ++ni) {
    const int col = n0 + warp_n * K::kWarpTileN + ni * 8 + 2 * t;
    const bool ok0 = col < kN;
    const bool ok1 = col + 1 < kN;
    const float bs0 = ok0 ? (kWPerChannel ? p.b_scale[col] : w_s) : 0.0f;
    const float bs1 = ok1 ? (kWPerChannel ? p.b_scale[col + 1] : w_s) : 0.0f;
    OutT bias0 = OutT(), bias1 = OutT();
    if (kBias) {
      if (ok0) bias0 = bias[col];
      if (ok1) bias1 = bias[col + 1];
    }
#pragma unroll
    for (int mi = 0; mi < K::kMI; ++mi) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = warp_m * K::kWarpTileM + mi * 16 + g + 8 * h;
        if (r >= rows_a || !ok0) continue;
        const i64 row = m0 + r;
        const float a_s = kADevice    ? a_dev
                          : kPerToken ? (p.a_scale ? p.a_scale[row] : p.a_scale_value)
                                      : p.a_scale_value;
        Pair<OutT> out;
        out.v[0] = GemmEpilogue<OutT>::apply(a_s, bs0, acc[mi][ni][2 * h], kBias, bias0);
        out.v[1] = GemmEpilogue<OutT>::apply(a_s, bs1, acc[mi][ni][2 * h + 1], kBias, bias1);
        OutT* dst = c + row * p.ldc + col;
        if (vec_c && ok1) {
          *(Pair<OutT>*)dst = out;
        } else {
          dst[0] = out.v[0];
          if (ok1) dst[1] = out.v[1];
        }
      }
    }
  }
}

}  // namespace qjitk
