// The staged Hopper path for int8 views TMA cannot take (issue 15): which way one GEMM call of the linear plans
// goes -- the bound kernel on the caller's views, the bound kernel on copies staged in the caller's workspace, or the
// portable kernel -- the workspace layout behind that choice (the public side is qjit::staged_rows_bytes /
// qjit::staged_workspace_size in qjit/linear.h), and the 2D copy of the pre-pack helper (qjit_pad_int8_rows; the
// plans stage with a kernel instead, ops/linear_core.cpp). route_gemm is arithmetic on pointers and sizes only (no driver call), so tests/unit/ops_staging_test.cpp checks it, and the agreement between
// what can_implement accepts and what run() needs, without a GPU. Private to ops/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "qjit/status.h"
#include "qjit/stream.h"

namespace qjit::ops {

// Staged regions start on this boundary (the workspace's base must be 16-byte aligned for TMA; 256 keeps every
// region on whole 128-byte lines, what the tensor maps read fastest).
inline constexpr std::size_t kStagingAlign = 256;

constexpr std::size_t round_up_staging(std::size_t bytes) {
  return (bytes + kStagingAlign - 1) / kStagingAlign * kStagingAlign;
}

// One int8 [rows, k] operand view as the route sees it (row stride in elements == bytes).
struct Int8View {
  const void* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t row_stride = 0;
};

// Whether a kernel whose TMA needs `align`-byte bases and row strides can read `v` with K = k in place: base and
// stride multiples of `align` and the stride >= k; a one-row view by its base alone (its stride is never followed:
// prepare_gemm gives its tensor map preferred_row_stride(K)).
bool tma_readable(const Int8View& v, std::int64_t k, unsigned align);

// Whether the plan's workspace_size counts the staged regions: the bound GEMM needs aligned rows (align > 1) and K
// makes every contiguous view misaligned (K % align != 0).
constexpr bool stages_by_default(unsigned align, std::int64_t k) { return align > 1 && k % align != 0; }

// The plan's workspace_size at M = m from its own bytes (`own`: zero points + the GEMM's split-K scratch): `own`,
// plus, when stages_by_default, both staged regions behind it (own rounded up to kStagingAlign first).
std::size_t linear_workspace_bytes(unsigned align, std::size_t own, std::int64_t m, std::int64_t n, std::int64_t k);

struct GemmRouteRequest {
  unsigned align = 1;  // the bound GEMM's operand_align(): 1 = its loads take any view, it never stages
  std::int64_t m = 0, n = 0, k = 0;
  Int8View act, weight;
  std::size_t head_bytes = 0;  // ahead of the GEMM's workspace: QuantizedLinear asymmetric's zero points (256-aligned)
  std::size_t gemm_bytes = 0;  // the bound GEMM's own workspace at this M (split-K scratch; 0 for none)
  Workspace ws;                // the caller's
};

enum class GemmPath {
  Direct,    // the bound kernel on the caller's views
  Staged,    // the bound kernel, with the misaligned operand(s) copied (or quantized) into the workspace
  Portable,  // the portable kernel on the caller's views (it needs no workspace of its own)
};

struct GemmRoute {
  GemmPath path = GemmPath::Direct;
  bool stage_act = false, stage_weight = false;
  std::size_t gemm_offset = 0;                    // the GEMM's own workspace (Direct, Staged): head_bytes
  std::size_t act_offset = 0, weight_offset = 0;  // the staged regions (Staged), from ws.data
  std::int64_t staged_stride = 0;                 // preferred_row_stride(K) (Staged)
  std::size_t need = 0;                           // workspace bytes this call uses
  std::string why_portable;                       // Portable: what staging lacked, for the plan's one-time log
};

// The route for one call. Errors (InvalidArgument) only when the workspace cannot hold what every route needs --
// the head (zero points), and on the Direct route the GEMM's own bytes -- each naming the caller's field
// (`workspace.bytes`, `workspace.data`) and the number expected; a view can_implement accepted never fails here.
Result<GemmRoute> route_gemm(const GemmRouteRequest& r);

// Enqueues the copy of `rows` rows of `k` bytes from `src` (row stride `src_stride`) into `dst` (row stride
// `dst_stride`) on `stream`: one cuMemcpy2DAsync (qjit_pad_int8_rows / qjit::pad_weight_rows). The driver
// documents that an intra-device 2D copy "may fail for pitches not computed by cuMemAllocPitch"; such a refusal (CUDA_ERROR_INVALID_VALUE at enqueue: nothing was
// enqueued) returns Unsupported naming `field`; any other failure is the driver's DriverError.
Status stage_rows(const void* src, std::int64_t src_stride, void* dst, std::int64_t dst_stride, std::int64_t rows,
                  std::int64_t k, CUstream stream, const char* field);

}  // namespace qjit::ops
