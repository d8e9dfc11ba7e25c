// The peer we measure against: cuBLASLt, opened with dlopen (qjit never links cuBLAS; only benchmarks use it).
// Two problems, both y[M, N] = x[M, K] · W[N, K]ᵀ in the same row-major layout qjit uses:
//  - int8: s8 x s8 -> s32 (CUBLAS_COMPUTE_32I), the layout cuBLASLt's IMMA kernels want ("TN");
//  - bf16: bf16 x bf16 -> bf16 with f32 accumulation.
// For each problem the heuristic's top candidates (up to 8) are timed once and the fastest is kept, with the 64 MiB
// workspace that DESIGN.md's anchors use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "qjit/status.h"
#include "qjit/stream.h"

namespace qjit::perf {

enum class BaselineKind { Int8, Bf16 };

class CublasLtGemm {
 public:
  ~CublasLtGemm();
  // Creates descriptors and picks the fastest of the heuristic's top `candidates` algorithms on the given buffers.
  // ldx, ldw: the activation's and the weight's row strides in elements (0: K).
  static Result<std::unique_ptr<CublasLtGemm>> create(BaselineKind kind, std::int64_t m, std::int64_t n, std::int64_t k,
                                                      const void* x, const void* w, void* y, void* workspace,
                                                      std::size_t workspace_bytes, CUstream stream, int candidates = 8,
                                                      std::int64_t ldx = 0, std::int64_t ldw = 0);
  // One launch of the chosen algorithm; `w` may differ from the one given to create() (weight rotation).
  Status run(const void* x, const void* w, void* y, CUstream stream) const;
  const std::string& algo_description() const { return algo_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string algo_;
};

// Whether cuBLASLt can be loaded here (and why not).
Status cublaslt_available();

}  // namespace qjit::perf
