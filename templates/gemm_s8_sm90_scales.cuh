// The gemm_sm90 epilogue pieces for the scale modes beyond the family's own (ScaledMatmulPlan): a per-tensor weight
// scale read from b_scale[0] for every column (epilogue_staged_scalar_w / epilogue_direct_scalar_w: epilogue_staged's
// and epilogue_direct's bodies with that one load changed), and a per-tensor activation scale read from a device [1]
// tensor (a_scale[0] for every row: codegen specialises sm90_a_scale for the kernel's config, no body needed here).
// Codegen appends this file and explicit specialisations of epilogue_staged / epilogue_direct / sm90_a_scale for the
// kernel's own Sm90Cfg ONLY for specs with those modes, so every other kernel's source is byte for byte what it was.
// Same EpilogueMath arithmetic and stores: a per-tensor scale gives the same bits as a per-channel / per-token one
// filled with that value. Relies on gemm_s8_sm90.cuh (pasted before it); no #include.
namespace qjitk {

template <class C>
__device__ __forceinline__ void epilogue_staged_scalar_w(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs],
                                                         u8* stage, int m_base, int n_base, int tid, int bar_id) {
  const int warp = tid >> 5, lane = tid & 31;
  const float w_s = p.b_scale[0];  // NOTE: loaded before any store (a store may alias it)
  const int r0 = 16 * warp + (lane >> 2);
  const int cq = 2 * (lane & 3);
  const bool vec_ok = ((reinterpret_cast<u64>(p.c) | static_cast<u64>(p.ldc * C::kOutBytes)) & 15) == 0;
  constexpr int kVecElems = 16 / C::kOutBytes;
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
    const int m_sub = m_base + 64 * s;
    const int mr0 = m_sub + r0, mr1 = mr0 + 8;
    const float as0 = mr0 < p.m ? sm90_a_scale<C>(p, mr0) : 0.f;
    const float as1 = mr1 < p.m ? sm90_a_scale<C>(p, mr1) : 0.f;
#pragma unroll
    for (int chunk = 0; chunk < C::kQCols / C::kChunkCols; ++chunk) {
#pragma unroll
      for (int jj = 0; jj < C::kChunkCols / 8; ++jj) {
        const int j = chunk * (C::kChunkCols / 8) + jj;
        const int n0 = n_base + 8 * j + cq, n1 = n0 + 1;
        const bool ok0 = n0 < C::kN, ok1 = n1 < C::kN;
        const float bs0 = ok0 ? w_s : 0.f, bs1 = ok1 ? w_s : 0.f;
        const OutPair top =
            epilogue_pair<C>(acc[s][4 * j], acc[s][4 * j + 1], as0, as0, bs0, bs1, p.bias, n0, n1, ok0, ok1);
        const OutPair bot =
            epilogue_pair<C>(acc[s][4 * j + 2], acc[s][4 * j + 3], as1, as1, bs0, bs1, p.bias, n0, n1, ok0, ok1);
        u8* t = stage + r0 * C::kStageRowBytes + (8 * jj + cq) * C::kOutBytes;
        u8* b = t + 8 * C::kStageRowBytes;
        C::Out::stage_pair(t, top);
        C::Out::stage_pair(b, bot);
      }
      named_barrier(bar_id, Sm90::kWarpGroupThreads);
#pragma unroll
      for (int it = 0; it < 4; ++it) {
        const int row = 16 * it + (tid >> 3), v = tid & 7;
        const int m = m_sub + row;
        const int n_chunk = n_base + chunk * C::kChunkCols;
        const int n = n_chunk + v * kVecElems;
        const u8* srow = stage + row * C::kStageRowBytes;
        if (vec_ok) {
          const uint4 data = *reinterpret_cast<const uint4*>(srow + 16 * v);
          if (m < p.m && n < C::kN) {
            u8* dst = static_cast<u8*>(p.c) + (static_cast<i64>(m) * p.ldc + n) * C::kOutBytes;
            if (n + kVecElems <= C::kN) {
              *reinterpret_cast<uint4*>(dst) = data;
            } else {
              const u32 w[4] = {data.x, data.y, data.z, data.w};
#pragma unroll
              for (int e = 0; e < kVecElems; ++e) {
                if (n + e < C::kN) C::Out::store(dst + e * C::kOutBytes, C::Out::element(w, e));
              }
            }
          }
        } else if (m < p.m && n_chunk < C::kN) {
          store_chunk_realigned<C>(static_cast<u8*>(p.c) + (static_cast<i64>(m) * p.ldc + n_chunk) * C::kOutBytes, srow,
                                   min_i(C::kN - n_chunk, C::kChunkCols) * C::kOutBytes, v);
        }
      }
      named_barrier(bar_id, Sm90::kWarpGroupThreads);
    }
  }
}

template <class C>
__device__ __forceinline__ void epilogue_direct_scalar_w(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs],
                                                         int n_base, int m_base, int tid) {
  const int warp = tid >> 5, lane = tid & 31;
  const float w_s = p.b_scale[0];  // NOTE: loaded before any store (a store may alias it)
  const int r0 = 16 * warp + (lane >> 2);
  const int cq = 2 * (lane & 3);
  // NOTE: every scale and bias this thread needs is loaded before its first store. The compiler must assume the
  // output may alias them, so loads placed between stores are reissued after each store, one L2 round trip at a
  // time: the per-token scales of a 64-token tile cost 2 us of a 12.6 us decode GEMM that way (H200, ncu, session 4).
  float as[C::kQCols / 8][2];
#pragma unroll
  for (int j = 0; j < C::kQCols / 8; ++j) {
    const int m0 = m_base + 8 * j + cq;
    as[j][0] = m0 < p.m ? sm90_a_scale<C>(p, m0) : 0.f;
    as[j][1] = m0 + 1 < p.m ? sm90_a_scale<C>(p, m0 + 1) : 0.f;
  }
  typedef typename C::Out::Acc B;
  float bs[C::kSubTiles][2];
  B bv[C::kSubTiles][2];
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n_base + 64 * s + r0 + 8 * half;
      const bool ok = n < C::kN;
      bs[s][half] = ok ? w_s : 0.f;
      bv[s][half] = C::kBias && ok ? C::Out::load_bias(p.bias, n) : B(0);
    }
  }
  u8* c = static_cast<u8*>(p.c);
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n_base + 64 * s + r0 + 8 * half;
      if (n >= C::kN) continue;
#pragma unroll
      for (int j = 0; j < C::kQCols / 8; ++j) {
        const int m0 = m_base + 8 * j + cq, m1 = m0 + 1;
        const OutPair r = epilogue_pair_v<C>(acc[s][4 * j + 2 * half], acc[s][4 * j + 2 * half + 1], as[j][0], as[j][1],
                                             bs[s][half], bs[s][half], bv[s][half], bv[s][half]);
        if (m0 < p.m) C::Out::store(c + (static_cast<i64>(m0) * p.ldc + n) * C::kOutBytes, C::Out::first(r));
        if (m1 < p.m) C::Out::store(c + (static_cast<i64>(m1) * p.ldc + n) * C::kOutBytes, C::Out::second(r));
      }
    }
  }
}

}  // namespace qjitk
