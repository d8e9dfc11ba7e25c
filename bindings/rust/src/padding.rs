//! Row layouts for int8 operands (issue 15): the stride at which they run at full speed, the workspace bytes the
//! staged Hopper path takes for operands that are not at such a stride, and the pre-pack that pads a weight once at
//! load time so no call has to stage it (`qjit::preferred_row_stride`, `qjit::staged_rows_bytes`,
//! `qjit::staged_workspace_size` and `qjit_pad_int8_rows` in C/C++; qjit/linear.h says the rules).
use crate::error::{check, Result};
use crate::stream::Stream;
use crate::sys;
use crate::tensor::DevicePtr;

/// The row stride (elements of `element_bytes` bytes) at which int8 rows of `cols` elements run at full speed: the
/// smallest multiple of 128 bytes >= `cols`. Any stride >= `cols` works; on sm_90a an int8 row stride that is not a
/// multiple of 16 bytes is copied into the plan's workspace at this stride on every call.
pub const fn preferred_row_stride(cols: i64, element_bytes: i64) -> i64 {
    let per_line = if element_bytes >= 1 && element_bytes <= 128 { 128 / element_bytes } else { 1 };
    (cols + per_line - 1) / per_line * per_line
}

/// The workspace bytes one staged int8 operand of `rows` rows of `k` takes: rows at `preferred_row_stride(k, 1)`,
/// rounded up to 256 bytes (0 for an empty one).
pub const fn staged_rows_bytes(rows: i64, k: i64) -> usize {
    if rows < 1 || k < 1 {
        return 0;
    }
    let bytes = rows as usize * preferred_row_stride(k, 1) as usize;
    (bytes + 255) / 256 * 256
}

/// The workspace a linear plan needs at M = `m` to stage both int8 operands, from `plan_workspace` (the plan's
/// `workspace_size_for(m)`): unchanged when `k % 16 != 0` (the plan already counts both regions), else the plan's
/// bytes rounded up to 256 plus both regions (a sliced view with a misaligned stride at an aligned K).
pub const fn staged_workspace_size(plan_workspace: usize, m: i64, n: i64, k: i64) -> usize {
    if k % 16 != 0 {
        return plan_workspace;
    }
    (plan_workspace + 255) / 256 * 256 + staged_rows_bytes(m, k) + staged_rows_bytes(n, k)
}

/// Pre-pack: copies an int8 matrix [`rows`, `cols`] in device memory (row stride `src_row_stride` >= `cols`, any base)
/// into `dst` at `dst_row_stride` (>= `cols`, a multiple of 16; `dst` 16-byte aligned), asynchronously on `stream`;
/// the pad bytes are left as they were (no kernel reads them). A weight padded so (best at
/// `preferred_row_stride(cols, 1)`) is read in place by every linear plan.
///
/// # Safety
/// `src` must point to `rows` rows of `src_row_stride` int8 in device memory of the stream's context, `dst` to
/// `rows * dst_row_stride` writable bytes there, not overlapping `src`, both alive until the copy has run.
pub unsafe fn pad_int8_rows(
    stream: Stream,
    src: DevicePtr,
    rows: i64,
    cols: i64,
    src_row_stride: i64,
    dst: DevicePtr,
    dst_row_stride: i64,
) -> Result<()> {
    check(sys::qjit_pad_int8_rows(
        stream.as_raw(),
        src.0 as usize as *const i8,
        rows,
        cols,
        src_row_stride,
        dst.0 as usize as *mut i8,
        dst_row_stride,
    ))
}
