// cuBLASLt through dlopen: the function table, the descriptors for the two baseline problems, and algorithm choice.
#include "perf/cublaslt_baseline.h"

#include <cublasLt.h>
#include <vector>

#include "autotune/timing.h"
#include "runtime/dynamic_library.h"
#include "runtime/env.h"

namespace qjit::perf {
namespace {

struct Api {
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtDestroy) destroy;
  decltype(&cublasLtMatmulDescCreate) desc_create;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set;
  decltype(&cublasLtMatrixLayoutCreate) layout_create;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
  decltype(&cublasLtMatmulPreferenceCreate) pref_create;
  decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
  decltype(&cublasLtMatmul) matmul;
  cublasLtHandle_t handle = nullptr;
};

Result<const Api*> api() {
  static const Result<Api> loaded = []() -> Result<Api> {
    const std::string override_path = env::text(env::Var::CublasLtLibrary);
    QJIT_ASSIGN_OR_RETURN(runtime::DynamicLibrary lib,
                          runtime::DynamicLibrary::open(override_path,
                                                        {"libcublasLt.so.13", "libcublasLt.so.12",
                                                         "/usr/local/cuda/lib64/libcublasLt.so.13", "libcublasLt.so"},
                                                        StatusCode::Unsupported, "cuBLASLt (the benchmark baseline)"));
    Api a{};
    std::string missing;
    lib.bind(a.create, "cublasLtCreate", &missing);
    lib.bind(a.destroy, "cublasLtDestroy", &missing);
    lib.bind(a.desc_create, "cublasLtMatmulDescCreate", &missing);
    lib.bind(a.desc_destroy, "cublasLtMatmulDescDestroy", &missing);
    lib.bind(a.desc_set, "cublasLtMatmulDescSetAttribute", &missing);
    lib.bind(a.layout_create, "cublasLtMatrixLayoutCreate", &missing);
    lib.bind(a.layout_destroy, "cublasLtMatrixLayoutDestroy", &missing);
    lib.bind(a.pref_create, "cublasLtMatmulPreferenceCreate", &missing);
    lib.bind(a.pref_destroy, "cublasLtMatmulPreferenceDestroy", &missing);
    lib.bind(a.pref_set, "cublasLtMatmulPreferenceSetAttribute", &missing);
    lib.bind(a.heuristic, "cublasLtMatmulAlgoGetHeuristic", &missing);
    lib.bind(a.matmul, "cublasLtMatmul", &missing);
    if (!missing.empty()) return Status(StatusCode::Unsupported, lib.path() + " lacks " + missing);
    if (a.create(&a.handle) != CUBLAS_STATUS_SUCCESS) return Status(StatusCode::DriverError, "cublasLtCreate failed");
    return a;
  }();
  if (!loaded.has_value()) return loaded.error();
  return &loaded.value();
}

Status check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return Status();
  return Status(StatusCode::DriverError, std::string(what) + " failed with cublasStatus " + std::to_string(int(s)));
}

}  // namespace

struct CublasLtGemm::Impl {
  const Api* a = nullptr;
  BaselineKind kind;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulAlgo_t algo{};
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  std::int32_t alpha_i = 1, beta_i = 0;
  float alpha_f = 1.0f, beta_f = 0.0f;
  ~Impl() {
    if (!a) return;
    if (la) a->layout_destroy(la);
    if (lb) a->layout_destroy(lb);
    if (lc) a->layout_destroy(lc);
    if (op) a->desc_destroy(op);
  }
  const void* alpha() const { return kind == BaselineKind::Int8 ? static_cast<const void*>(&alpha_i) : &alpha_f; }
  const void* beta() const { return kind == BaselineKind::Int8 ? static_cast<const void*>(&beta_i) : &beta_f; }
};

CublasLtGemm::~CublasLtGemm() = default;

Status cublaslt_available() { return api().status(); }

Result<std::unique_ptr<CublasLtGemm>> CublasLtGemm::create(BaselineKind kind, std::int64_t m, std::int64_t n,
                                                           std::int64_t k, const void* x, const void* w, void* y,
                                                           void* workspace, std::size_t workspace_bytes,
                                                           CUstream stream, int candidates, std::int64_t ldx,
                                                           std::int64_t ldw) {
  QJIT_ASSIGN_OR_RETURN(const Api* a, api());
  auto g = std::unique_ptr<CublasLtGemm>(new CublasLtGemm());
  g->impl_ = std::make_unique<Impl>();
  Impl& im = *g->impl_;
  im.a = a;
  im.kind = kind;
  im.workspace = workspace;
  im.workspace_bytes = workspace_bytes;
  const bool int8 = kind == BaselineKind::Int8;
  // Column-major view: C[N, M] = W[K, N]ᵀ · X[K, M]  (W row-major [N, K] is col-major K x N with ld = K).
  QJIT_TRY(check(a->desc_create(&im.op, int8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F, int8 ? CUDA_R_32I : CUDA_R_32F),
                 "cublasLtMatmulDescCreate"));
  const cublasOperation_t t = CUBLAS_OP_T, nn = CUBLAS_OP_N;
  QJIT_TRY(check(a->desc_set(im.op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)), "set TRANSA"));
  QJIT_TRY(check(a->desc_set(im.op, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof(nn)), "set TRANSB"));
  const cudaDataType_t ab = int8 ? CUDA_R_8I : CUDA_R_16BF, c = int8 ? CUDA_R_32I : CUDA_R_16BF;
  QJIT_TRY(check(a->layout_create(&im.la, ab, k, n, ldw > 0 ? ldw : k), "layout A"));
  QJIT_TRY(check(a->layout_create(&im.lb, ab, k, m, ldx > 0 ? ldx : k), "layout B"));
  QJIT_TRY(check(a->layout_create(&im.lc, c, n, m, n), "layout C"));
  cublasLtMatmulPreference_t pref = nullptr;
  QJIT_TRY(check(a->pref_create(&pref), "cublasLtMatmulPreferenceCreate"));
  const std::uint64_t ws = workspace_bytes;
  a->pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(candidates));
  int returned = 0;
  const cublasStatus_t hs =
      a->heuristic(a->handle, im.op, im.la, im.lb, im.lc, im.lc, pref, candidates, results.data(), &returned);
  a->pref_destroy(pref);
  QJIT_TRY(check(hs, "cublasLtMatmulAlgoGetHeuristic"));
  if (returned == 0) return Status(StatusCode::Unsupported, "cuBLASLt has no algorithm for this problem");
  double best = 1e30;
  for (int i = 0; i < returned; ++i) {
    im.algo = results[static_cast<std::size_t>(i)].algo;
    auto launch = [&]() -> Status {
      return check(a->matmul(a->handle, im.op, im.alpha(), w, im.la, x, im.lb, im.beta(), y, im.lc, y, im.lc, &im.algo,
                             workspace, workspace_bytes, reinterpret_cast<cudaStream_t>(stream)),
                   "cublasLtMatmul");
    };
    auto t_us = autotune::median_launch_us([&](int) { return launch(); }, stream,
                                           autotune::TimingOptions{/*warmup=*/3, /*reps=*/10, /*batch=*/5});
    if (!t_us.has_value()) continue;  // a candidate that fails is skipped
    if (*t_us < best) {
      best = *t_us;
      g->algo_ = "heuristic #" + std::to_string(i) + " of " + std::to_string(returned);
    }
  }
  if (best >= 1e30) return Status(StatusCode::DriverError, "no cuBLASLt candidate ran");
  // Re-select the winner.
  for (int i = 0; i < returned; ++i)
    if (g->algo_ == "heuristic #" + std::to_string(i) + " of " + std::to_string(returned))
      im.algo = results[static_cast<std::size_t>(i)].algo;
  return g;
}

Status CublasLtGemm::run(const void* x, const void* w, void* y, CUstream stream) const {
  const Impl& im = *impl_;
  return check(im.a->matmul(im.a->handle, im.op, im.alpha(), w, im.la, x, im.lb, im.beta(), y, im.lc, y, im.lc,
                            &im.algo, im.workspace, im.workspace_bytes, reinterpret_cast<cudaStream_t>(stream)),
               "cublasLtMatmul");
}

}  // namespace qjit::perf
