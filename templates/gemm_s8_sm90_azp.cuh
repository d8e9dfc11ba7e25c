// The gemm_sm90 azp epilogue (asymmetric activations, KernelSpec.act_zero_point; vLLM's azp GEMM):
//   y[m, n] = s_a[m]·s_w[n]·(acc − azp[m]·colsum[n]) (+ bias[n]).
// azp_fix_staged / azp_fix_direct subtract azp[m]·colsum[n] from the consumer's accumulators in int32, with exactly
// the (row, column) of each register that epilogue_staged / epilogue_direct use; codegen's explicit specialisations
// for the kernel's Sm90Cfg run the fix, then the family's own epilogue body (instantiated for a twin config type,
// QjAzpTwin, so the primary template's code is reused unchanged) or gemm_s8_sm90_scales.cuh's per-tensor-weight one.
// Same EpilogueMath arithmetic: the result is the plain epilogue of the corrected accumulator, the gemm_sm80 azp
// kernel's bits. Codegen appends this file ONLY for azp specs (every other kernel's text is byte for byte what it
// was); the entry then takes GemmS8Sm90AzpParams. Relies on gemm_s8_sm90.cuh; no #include.
namespace qjitk {

struct GemmAzpArgs {
  const i32* azp;     // [M] activation zero points (s8 domain)
  const i32* colsum;  // [N] column sums of the int8 weight, Σ_k b[n, k]
};
// The family's block, then the zero-point operands. gemm_s8_sm90 binds p = prm.base, so the operands sit at a fixed
// distance behind the GemmS8Params reference every epilogue gets.
struct GemmS8Sm90AzpParams {
  GemmS8Sm90Params g;
  GemmAzpArgs azp;
};
// NOTE: base follows the two 128-byte tensor maps (NVRTC has no offsetof; the host static_asserts the same layout).
static constexpr int kSm90BaseOffset = (int)(sizeof(GemmS8Sm90Params::tma_a) + sizeof(GemmS8Sm90Params::tma_b));
static_assert(kSm90BaseOffset == 256 && sizeof(GemmS8Sm90AzpParams) == 448, "GemmS8Sm90AzpParams layout");
__device__ __forceinline__ const GemmAzpArgs& sm90_azp_args(const GemmS8Params& p) {
  const u8* block = reinterpret_cast<const u8*>(&p) - kSm90BaseOffset;
  return reinterpret_cast<const GemmS8Sm90AzpParams*>(block)->azp;
}

// acc − azp·colsum in wrapping int32 arithmetic: exact whenever the true Σ_k (q − zp)·w fits in int32.
__device__ __forceinline__ i32 azp_correct(i32 acc, i32 zp, i32 colsum) {
  return (i32)((u32)acc - (u32)zp * (u32)colsum);
}

// Tokens on wgmma's M side (epilogue_staged's layout): acc[s][4j + {0, 1}] at row m_base + 64s + r0, columns
// n_base + 8j + cq + {0, 1}; acc[s][4j + {2, 3}] eight rows below.
template <class C>
__device__ __forceinline__ void azp_fix_staged(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs], int m_base,
                                               int n_base, int tid) {
  const GemmAzpArgs& z = sm90_azp_args(p);
  const int warp = tid >> 5, lane = tid & 31;
  const int r0 = 16 * warp + (lane >> 2);
  const int cq = 2 * (lane & 3);
  i32 cs[C::kQCols / 8][2];
#pragma unroll
  for (int j = 0; j < C::kQCols / 8; ++j) {
    const int n0 = n_base + 8 * j + cq;
    cs[j][0] = n0 < C::kN ? z.colsum[n0] : 0;
    cs[j][1] = n0 + 1 < C::kN ? z.colsum[n0 + 1] : 0;
  }
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
    const int mr0 = m_base + 64 * s + r0, mr1 = mr0 + 8;
    const i32 zp0 = mr0 < p.m ? z.azp[mr0] : 0;
    const i32 zp1 = mr1 < p.m ? z.azp[mr1] : 0;
#pragma unroll
    for (int j = 0; j < C::kQCols / 8; ++j) {
      acc[s][4 * j] = azp_correct(acc[s][4 * j], zp0, cs[j][0]);
      acc[s][4 * j + 1] = azp_correct(acc[s][4 * j + 1], zp0, cs[j][1]);
      acc[s][4 * j + 2] = azp_correct(acc[s][4 * j + 2], zp1, cs[j][0]);
      acc[s][4 * j + 3] = azp_correct(acc[s][4 * j + 3], zp1, cs[j][1]);
    }
  }
}

// Weight rows on wgmma's M side (swap_ab, epilogue_direct's layout): acc[s][4j + 2h + {0, 1}] at output column
// n_base + 64s + r0 + 8h, tokens m_base + 8j + cq + {0, 1}.
template <class C>
__device__ __forceinline__ void azp_fix_direct(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs], int n_base,
                                               int m_base, int tid) {
  const GemmAzpArgs& z = sm90_azp_args(p);
  const int warp = tid >> 5, lane = tid & 31;
  const int r0 = 16 * warp + (lane >> 2);
  const int cq = 2 * (lane & 3);
  i32 zp[C::kQCols / 8][2];
#pragma unroll
  for (int j = 0; j < C::kQCols / 8; ++j) {
    const int m0 = m_base + 8 * j + cq;
    zp[j][0] = m0 < p.m ? z.azp[m0] : 0;
    zp[j][1] = m0 + 1 < p.m ? z.azp[m0 + 1] : 0;
  }
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n_base + 64 * s + r0 + 8 * half;
      const i32 cs = n < C::kN ? z.colsum[n] : 0;
#pragma unroll
      for (int j = 0; j < C::kQCols / 8; ++j) {
        acc[s][4 * j + 2 * half] = azp_correct(acc[s][4 * j + 2 * half], zp[j][0], cs);
        acc[s][4 * j + 2 * half + 1] = azp_correct(acc[s][4 * j + 2 * half + 1], zp[j][1], cs);
      }
    }
  }
}

}  // namespace qjitk
