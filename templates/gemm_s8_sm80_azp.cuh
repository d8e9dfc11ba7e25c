// The gemm_sm80 azp epilogue (asymmetric activations, KernelSpec.act_zero_point; vLLM's azp GEMM):
//   y[m, n] = s_a[m]·s_w[n]·(acc − azp[m]·colsum[n]) (+ bias[n]),
// the correction in int32, then gemm_s8_sm80_scales.cuh's epilogue unchanged (GemmEpilogue's roundings, per-channel
// or per-tensor weight scale), so the result is the plain epilogue of the corrected accumulator. Codegen appends this
// file after the scales file ONLY for azp specs, so every other kernel's text is byte for byte what it was; the
// kernel entry then takes GemmS8AzpParams. Relies on gemm_s8_sm80.cuh and gemm_s8_sm80_scales.cuh; no #include.
namespace qjitk {

// The azp kernels' block: the family's, then the zero-point operands (the entry passes `base` down, its first
// member, so the epilogue reaches `azp` from the reference it is given).
struct GemmAzpArgs {
  const i32* azp;     // [M] activation zero points (s8 domain)
  const i32* colsum;  // [N] column sums of the int8 weight, Σ_k b[n, k]
};
struct GemmS8AzpParams {
  GemmS8Params base;
  GemmAzpArgs azp;
};
static_assert(sizeof(GemmS8AzpParams) == 112, "GemmS8AzpParams layout (the host static_asserts the same)");

// acc − azp·colsum in wrapping int32 arithmetic: exact whenever the true Σ_k (q − zp)·w fits in int32 (|.| <=
// 255·128·K, so K <= 65793), even where acc and azp·colsum alone would not.
__device__ __forceinline__ i32 azp_correct(i32 acc, i32 zp, i32 colsum) {
  return (i32)((u32)acc - (u32)zp * (u32)colsum);
}

template <class K, int kN, class OutT, bool kBias, bool kWPerChannel>
__device__ __forceinline__ void gemm_s8_sm80_epilogue_azp(const GemmS8Params& p, const i32 (&acc)[K::kMI][K::kNI][4],
                                                          i64 m0, int rows_a, int n0, int warp_m, int warp_n,
                                                          int lane) {
  const GemmAzpArgs& z = reinterpret_cast<const GemmS8AzpParams&>(p).azp;
  const int g = lane >> 2;
  const int t = lane & 3;
  // NOTE: every zero point and column sum is loaded here, before the epilogue's first store.
  i32 zp[K::kMI][2];
#pragma unroll
  for (int mi = 0; mi < K::kMI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = warp_m * K::kWarpTileM + mi * 16 + g + 8 * h;
      zp[mi][h] = r < rows_a ? z.azp[m0 + r] : 0;
    }
  i32 fixed[K::kMI][K::kNI][4];
#pragma unroll
  for (int ni = 0; ni < K::kNI; ++ni) {
    const int col = n0 + warp_n * K::kWarpTileN + ni * 8 + 2 * t;
    const i32 cs0 = col < kN ? z.colsum[col] : 0;
    const i32 cs1 = col + 1 < kN ? z.colsum[col + 1] : 0;
#pragma unroll
    for (int mi = 0; mi < K::kMI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        fixed[mi][ni][2 * h] = azp_correct(acc[mi][ni][2 * h], zp[mi][h], cs0);
        fixed[mi][ni][2 * h + 1] = azp_correct(acc[mi][ni][2 * h + 1], zp[mi][h], cs1);
      }
  }
  gemm_s8_sm80_epilogue_scales<K, kN, OutT, kBias, true, kWPerChannel, false>(p, fixed, m0, rows_a, n0, warp_m, warp_n,
                                                                              lane);
}

}  // namespace qjitk
