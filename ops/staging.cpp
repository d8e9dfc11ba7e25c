// The staged Hopper path's route and copy (see staging.h): the layout arithmetic the plans' run() and workspace_size
// share, the route one call takes, and the cuMemcpy2DAsync that stages one operand.
#include "ops/staging.h"

#include <algorithm>

#include "base/invalid.h"
#include "llvm/Support/FormatVariadic.h"
#include "qjit/linear.h"
#include "runtime/driver.h"

namespace qjit::ops {
namespace {

bool aligned_ptr(const void* p, unsigned align) { return reinterpret_cast<std::uintptr_t>(p) % align == 0; }

// The workspace checks every route shares: `need` bytes at a 16-byte aligned, non-null base (the zero points are
// int32 vectors written by the quantize pass; split-K scratch holds int32 partials the Hopper kernel reads as
// 16-byte vectors). `what` says what the bytes are for.
Status check_workspace(const Workspace& ws, std::size_t need, std::int64_t m, const char* what) {
  if (need == 0) return Status();
  if (ws.data == nullptr)
    return invalid(llvm::formatv("workspace.data must be a device buffer of >= {0} bytes for M = {1} ({2}), got null",
                                 need, m, what));
  if (!aligned_ptr(ws.data, 16))
    return invalid(llvm::formatv("workspace.data must be 16-byte aligned, got {0}", ws.data));
  if (ws.bytes < need)
    return invalid(
        llvm::formatv("workspace.bytes must be >= {0} for M = {1} ({2}; the plan's workspace_size(M)), "
                      "got {3}",
                      need, m, what, ws.bytes));
  return Status();
}

}  // namespace

bool tma_readable(const Int8View& v, std::int64_t k, unsigned align) {
  if (align <= 1) return true;
  // NOTE: a one-row view's stride is never followed (can_implement does not check it, and the Python binding
  // normalises it to the row length, as DLPack allows), so only its base must be aligned; prepare_gemm hands the
  // tensor map an aligned stride for it. Session 14 on the H200: a padded one-row act_q ([:, :520] of 640-byte rows)
  // reached the plan with stride 520, was staged, and the Python test's act_q read back the poison.
  if (v.rows == 1) return aligned_ptr(v.data, align);
  return aligned_ptr(v.data, align) && v.row_stride >= k && v.row_stride % static_cast<std::int64_t>(align) == 0;
}

std::size_t linear_workspace_bytes(unsigned align, std::size_t own, std::int64_t m, std::int64_t n, std::int64_t k) {
  if (!stages_by_default(align, k)) return own;
  return round_up_staging(own) + staged_rows_bytes(m, k) + staged_rows_bytes(n, k);
}

Result<GemmRoute> route_gemm(const GemmRouteRequest& r) {
  GemmRoute route;
  route.stage_act = !tma_readable(r.act, r.k, r.align);
  route.stage_weight = !tma_readable(r.weight, r.k, r.align);
  route.gemm_offset = r.head_bytes;
  if (!route.stage_act && !route.stage_weight) {
    route.path = GemmPath::Direct;
    route.need = r.head_bytes + r.gemm_bytes;
    QJIT_TRY(check_workspace(r.ws, route.need, r.m,
                             r.head_bytes > 0 ? "zero points, then the GEMM's split-K scratch" : "split-K scratch"));
    return route;
  }
  // NOTE: the staged regions sit behind everything the plan needs anyway, so a workspace sized by an older
  // workspace_size (or for the portable kernel) still runs; only a call that stages needs them.
  const std::size_t staged_base = round_up_staging(r.head_bytes + r.gemm_bytes);
  const std::size_t act_bytes = route.stage_act ? staged_rows_bytes(r.m, r.k) : 0;
  const std::size_t weight_bytes = route.stage_weight ? staged_rows_bytes(r.n, r.k) : 0;
  const std::size_t staged_need = staged_base + act_bytes + weight_bytes;
  if (r.ws.data != nullptr && aligned_ptr(r.ws.data, 16) && r.ws.bytes >= staged_need) {
    route.path = GemmPath::Staged;
    route.act_offset = staged_base;
    route.weight_offset = staged_base + act_bytes;
    route.staged_stride = preferred_row_stride(r.k);
    route.need = staged_need;
    return route;
  }
  route.path = GemmPath::Portable;
  route.stage_act = route.stage_weight = false;
  route.need = r.head_bytes;
  route.why_portable =
      r.ws.data == nullptr || aligned_ptr(r.ws.data, 16)
          ? llvm::formatv("staging needs workspace.bytes >= {0} at M = {1} (qjit::staged_workspace_size), got {2}",
                          staged_need, r.m, r.ws.bytes)
                .str()
          : llvm::formatv("staging needs a 16-byte aligned workspace.data, got {0}", r.ws.data).str();
  QJIT_TRY(check_workspace(r.ws, route.need, r.m, "zero points"));
  return route;
}

Status stage_rows(const void* src, std::int64_t src_stride, void* dst, std::int64_t dst_stride, std::int64_t rows,
                  std::int64_t k, CUstream stream, const char* field) {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  runtime::Memcpy2D copy{};
  copy.src_memory_type = runtime::kMemoryTypeDevice;
  copy.src_device = reinterpret_cast<runtime::CUdeviceptr>(src);
  // NOTE: a one-row view's stride is never followed (can_implement does not check it), so the copy gets a pitch
  // that is valid for any stride: its own width.
  copy.src_pitch = static_cast<std::size_t>(rows == 1 ? std::max(src_stride, k) : src_stride);
  copy.dst_memory_type = runtime::kMemoryTypeDevice;
  copy.dst_device = reinterpret_cast<runtime::CUdeviceptr>(dst);
  copy.dst_pitch = static_cast<std::size_t>(dst_stride);
  copy.width_in_bytes = static_cast<std::size_t>(k);
  copy.height = static_cast<std::size_t>(rows);
  const runtime::CUresult rc = api->cuMemcpy2DAsync(&copy, stream);
  if (rc == runtime::kCudaSuccess) return Status();
  if (rc == runtime::kCudaErrorInvalidValue)
    return Status(StatusCode::Unsupported,
                  llvm::formatv("cuMemcpy2DAsync refused to stage {0} ({1} rows of {2} bytes, row stride {3} -> {4})",
                                field, rows, k, src_stride, dst_stride)
                      .str());
  return runtime::driver_error(*api, rc, "cuMemcpy2DAsync (staging " + std::string(field) + ")");
}

}  // namespace qjit::ops
