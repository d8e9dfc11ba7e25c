//! The raw C ABI of libqjit.so, declared by hand to match `include/qjit/qjit_c.h` field for field (no bindgen:
//! the crate has no dependencies). Enums are `i32` constants because a C enum's value may be one this version
//! does not know; the safe modules convert. The layout tests at the bottom pin every struct's size and field
//! offsets to values derived from the x86-64 SysV rules, and compare them with a C compiler's view of the real
//! header (`tests/c_layout.c`, run by `scripts/test-rust.sh`), so a drift between the two fails.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

pub const QJIT_ABI_VERSION: u32 = 1;

/// `struct CUstream_st*`: opaque to qjit's callers and to us.
pub type CUstream = *mut c_void;

pub type qjit_status = i32;
pub const QJIT_OK: qjit_status = 0;
pub const QJIT_INVALID_ARGUMENT: qjit_status = 1;
pub const QJIT_UNSUPPORTED: qjit_status = 2;
pub const QJIT_COMPILE_FAILED: qjit_status = 3;
pub const QJIT_DRIVER_ERROR: qjit_status = 4;
pub const QJIT_DRIVER_UNAVAILABLE: qjit_status = 5;
pub const QJIT_COMPILER_UNAVAILABLE: qjit_status = 6;
pub const QJIT_CACHE_IO: qjit_status = 7;
pub const QJIT_OUT_OF_RESOURCES: qjit_status = 8;
pub const QJIT_NOT_FOUND: qjit_status = 9;
pub const QJIT_INTERNAL: qjit_status = 10;

pub type qjit_element = i32;
pub const QJIT_F16: qjit_element = 0;
pub const QJIT_BF16: qjit_element = 1;
pub const QJIT_F32: qjit_element = 2;
pub const QJIT_F64: qjit_element = 3;
pub const QJIT_S8: qjit_element = 4;
pub const QJIT_U8: qjit_element = 5;
pub const QJIT_S32: qjit_element = 6;

pub type qjit_preference = i32;
pub const QJIT_PREF_HEURISTIC: qjit_preference = 0;
pub const QJIT_PREF_TUNED: qjit_preference = 1;
pub const QJIT_PREF_AUTOTUNE: qjit_preference = 2;

pub type qjit_granularity = i32;
pub const QJIT_PER_TOKEN: qjit_granularity = 0;
pub const QJIT_PER_TENSOR: qjit_granularity = 1;

pub type qjit_plan_kind = i32;
pub const QJIT_PLAN_QUANTIZED_LINEAR: qjit_plan_kind = 1;
pub const QJIT_PLAN_SMOOTH_QUANT_LINEAR: qjit_plan_kind = 2;
pub const QJIT_PLAN_DYNAMIC_RANGE_QUANTIZE: qjit_plan_kind = 3;
pub const QJIT_PLAN_RMS_NORM_QUANTIZE: qjit_plan_kind = 4;
pub const QJIT_PLAN_LAYER_NORM_QUANTIZE: qjit_plan_kind = 5;
pub const QJIT_PLAN_SCALED_MATMUL: qjit_plan_kind = 6;
pub const QJIT_PLAN_WEIGHT_ONLY_LINEAR: qjit_plan_kind = 7;

pub type qjit_norm_kind = i32;
pub const QJIT_RMS_NORM: qjit_norm_kind = 0;
pub const QJIT_LAYER_NORM: qjit_norm_kind = 1;

pub type qjit_act_scale_mode = i32;
pub const QJIT_ACT_SCALE_PER_TOKEN: qjit_act_scale_mode = 0;
pub const QJIT_ACT_SCALE_PER_TENSOR: qjit_act_scale_mode = 1;

pub type qjit_weight_scale_mode = i32;
pub const QJIT_WEIGHT_SCALE_PER_CHANNEL: qjit_weight_scale_mode = 0;
pub const QJIT_WEIGHT_SCALE_PER_TENSOR: qjit_weight_scale_mode = 1;
/// The weight-only linear plan only: [N, ceil(K / group_size)].
pub const QJIT_WEIGHT_SCALE_PER_GROUP: qjit_weight_scale_mode = 2;

pub const QJIT_CACHE_VERIFY: u32 = 1;
pub const QJIT_CACHE_REMOVE_BAD: u32 = 2;
pub const QJIT_WARMUP_QUANTIZED_LINEAR: u32 = 1;
pub const QJIT_WARMUP_SMOOTH_QUANT_LINEAR: u32 = 2;
pub const QJIT_WARMUP_RMS_NORM_QUANTIZE: u32 = 4;
pub const QJIT_WARMUP_LAYER_NORM_QUANTIZE: u32 = 8;
pub const QJIT_WARMUP_SCALED_MATMUL: u32 = 16;
pub const QJIT_WARMUP_WEIGHT_ONLY_LINEAR: u32 = 32;
pub const QJIT_WARMUP_ASYMMETRIC: u32 = 64;
pub const QJIT_WARMUP_NO_BIAS: u32 = 1;
pub const QJIT_WARMUP_BIAS: u32 = 2;
pub const QJIT_WARMUP_NO_SMOOTH: u32 = 1;
pub const QJIT_WARMUP_SMOOTH: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_tensor {
    pub data: *const c_void,
    pub element: i32,
    pub rank: i32,
    pub shape: [i64; 4],
    pub stride: [i64; 4],
}

impl qjit_tensor {
    /// An absent optional tensor: data NULL, rank 0 (the all-zero struct the header asks for).
    pub const ABSENT: qjit_tensor =
        qjit_tensor { data: std::ptr::null(), element: 0, rank: 0, shape: [0; 4], stride: [0; 4] };
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_quantized_linear_desc {
    pub struct_size: u32,
    pub m: i64,
    pub n: i64,
    pub k: i64,
    pub activation_element: i32,
    pub weight_element: i32,
    pub output_element: i32,
    pub has_bias: i32,
    /// Appended: multiply x by the args' `pre_quant_scale` [K] (1/s) before quantizing.
    pub has_smooth: i32,
    /// Appended: asymmetric per-token activations (zero points in the workspace; args' `weight_colsum` [N]).
    pub asymmetric: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_smooth_quant_linear_desc {
    pub struct_size: u32,
    pub m: i64,
    pub n: i64,
    pub k: i64,
    pub act_scale: f32,
    pub activation_element: i32,
    pub weight_element: i32,
    pub output_element: i32,
    pub has_bias: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_dynamic_range_quantize_desc {
    pub struct_size: u32,
    pub m: i64,
    pub k: i64,
    pub input_element: i32,
    pub granularity: i32,
    /// Appended: multiply x by the args' `pre_quant_scale` [K] (1/s) before quantizing.
    pub has_smooth: i32,
    /// Appended: asymmetric per-token quantization (scale and zero point per token).
    pub asymmetric: i32,
    /// Appended: with `asymmetric`, the codes' element (QJIT_U8 or QJIT_S8).
    pub output_element: i32,
}

/// RMSNorm or LayerNorm (by `norm`) fused with int8 quantization.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_norm_quantize_desc {
    pub struct_size: u32,
    pub m: i64,
    pub k: i64,
    /// qjit_norm_kind.
    pub norm: i32,
    /// f16, bf16 or f32: x, residual, residual_out, gamma and beta.
    pub input_element: i32,
    /// QJIT_PER_TOKEN: dynamic per-token scales; QJIT_PER_TENSOR: static_scale.
    pub granularity: i32,
    pub has_residual: i32,
    pub eps: f32,
    /// QJIT_PER_TENSOR: finite and > 0; QJIT_PER_TOKEN: 0.
    pub static_scale: f32,
}

/// The scaled int8 GEMM: output = act_scale[m | 0] * weight_scale[n | 0] * sum_k act_q * weight_q (+ bias).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_scaled_matmul_desc {
    pub struct_size: u32,
    pub m: i64,
    pub n: i64,
    pub k: i64,
    pub activation_element: i32,
    pub weight_element: i32,
    pub output_element: i32,
    pub has_bias: i32,
    /// qjit_act_scale_mode.
    pub act_scale: i32,
    /// qjit_weight_scale_mode.
    pub weight_scale: i32,
    /// Appended: act_q has a per-token zero point (args' `act_zero_point` [M], `weight_colsum` [N]).
    pub has_act_zero_point: i32,
}

/// Weight-only int8 linear (W8A16): output = RN(sum_k activation * ((weight - zero_point) * weight_scale) (+ bias)).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_weight_only_linear_desc {
    pub struct_size: u32,
    pub m: i64,
    pub n: i64,
    pub k: i64,
    /// f16 or bf16 (bias and output have the same element).
    pub activation_element: i32,
    pub weight_element: i32,
    pub output_element: i32,
    pub has_bias: i32,
    /// qjit_weight_scale_mode: per channel [N, 1], per tensor [1, 1], per group [N, ceil(K / group_size)].
    pub weight_scale: i32,
    /// Per group: 64 or 128; otherwise 0.
    pub group_size: i32,
    pub has_zero_point: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_linear_args {
    pub struct_size: u32,
    pub activation: qjit_tensor,
    pub weight: qjit_tensor,
    pub weight_scale: qjit_tensor,
    pub bias: qjit_tensor,
    pub output: qjit_tensor,
    pub act_q_scratch: qjit_tensor,
    pub act_scale_scratch: qjit_tensor,
    /// Appended: [K] f32 when the descriptor has_smooth, else absent.
    pub pre_quant_scale: qjit_tensor,
    /// Appended: [N] s32 when the descriptor is asymmetric, else absent.
    pub weight_colsum: qjit_tensor,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_quantize_args {
    pub struct_size: u32,
    pub input: qjit_tensor,
    pub output: qjit_tensor,
    pub scale: qjit_tensor,
    /// Appended: [K] f32 when the descriptor has_smooth, else absent.
    pub pre_quant_scale: qjit_tensor,
    /// Appended: [M] s32 written by an asymmetric plan, else absent.
    pub zero_point: qjit_tensor,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_norm_quantize_args {
    pub struct_size: u32,
    /// [M, K].
    pub input: qjit_tensor,
    /// [M, K] when has_residual, else absent.
    pub residual: qjit_tensor,
    /// [M, K] when has_residual, else absent; may be exactly input or residual (in place).
    pub residual_out: qjit_tensor,
    /// [K].
    pub gamma: qjit_tensor,
    /// [K] for LayerNorm, absent for RMSNorm.
    pub beta: qjit_tensor,
    /// [M, K] s8.
    pub output: qjit_tensor,
    /// [M] f32 per token; absent with a static scale.
    pub scale: qjit_tensor,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_weight_only_linear_args {
    pub struct_size: u32,
    /// [M, K] f16 / bf16.
    pub activation: qjit_tensor,
    /// [N, K] s8.
    pub weight: qjit_tensor,
    /// f32: [1, 1], [N, 1] or [N, ceil(K / group_size)].
    pub weight_scale: qjit_tensor,
    /// s32 of weight_scale's shape when has_zero_point, else absent.
    pub zero_point: qjit_tensor,
    /// [N] of the activation element when has_bias, else absent.
    pub bias: qjit_tensor,
    /// [M, N].
    pub output: qjit_tensor,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_scaled_matmul_args {
    pub struct_size: u32,
    /// [M, K] s8.
    pub act_q: qjit_tensor,
    /// [N, K] s8.
    pub weight_q: qjit_tensor,
    /// f32 in device memory: [M] per token, [1] per tensor.
    pub act_scale: qjit_tensor,
    /// f32 in device memory: [N] per channel, [1] per tensor.
    pub weight_scale: qjit_tensor,
    /// [N] of the output element when has_bias, else absent.
    pub bias: qjit_tensor,
    /// [M, N].
    pub output: qjit_tensor,
    /// Appended: [M] s32 when has_act_zero_point, else absent.
    pub act_zero_point: qjit_tensor,
    /// Appended: [N] s32 when has_act_zero_point, else absent.
    pub weight_colsum: qjit_tensor,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_precision_guarantee {
    pub struct_size: u32,
    pub deterministic: i32,
    pub exact_accumulation: i32,
    pub epilogue_relative_error: f64,
    pub description: *const c_char,
}

/// Opaque plan handle.
#[repr(C)]
pub struct qjit_plan {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_cache_location {
    pub struct_size: u32,
    pub writable_dir: *const c_char,
    pub readonly_dirs: *const c_char,
    pub read_only: i32,
    pub max_bytes: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_cache_store_info {
    pub struct_size: u32,
    pub dir: *const c_char,
    pub read_only: i32,
    pub present: i32,
    pub entries: u64,
    pub bytes: u64,
    pub temp_files: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_cache_stats {
    pub struct_size: u32,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub stores: u64,
    pub temp_files: u64,
}

pub type qjit_cache_store_callback =
    Option<unsafe extern "C" fn(store: *const qjit_cache_store_info, user: *mut c_void) -> c_int>;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_cache_entry_info {
    pub struct_size: u32,
    pub path: *const c_char,
    pub key_hex: *const c_char,
    pub store_dir: *const c_char,
    pub read_only_store: i32,
    pub bytes: u64,
    pub last_used: i64,
    pub entry_name: *const c_char,
    pub arch: *const c_char,
    pub nvrtc_version: *const c_char,
    pub registers: i32,
    pub shared_bytes: i32,
    pub compile_seconds: f64,
    pub ok: i32,
    pub problem: *const c_char,
}

pub type qjit_cache_entry_callback =
    Option<unsafe extern "C" fn(entry: *const qjit_cache_entry_info, user: *mut c_void) -> c_int>;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_cache_prune_report {
    pub struct_size: u32,
    pub removed_entries: u64,
    pub removed_bytes: u64,
    pub removed_temp_files: u64,
    pub kept_entries: u64,
    pub kept_bytes: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_layer_shape {
    pub n: i64,
    pub k: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_warmup_request {
    pub struct_size: u32,
    pub arch: *const c_char,
    pub shapes: *const qjit_layer_shape,
    pub shape_count: usize,
    pub ms: *const i64,
    pub m_count: usize,
    pub plans: u32,
    pub dtype: i32,
    pub bias_modes: u32,
    pub tuning_db_path: *const c_char,
    pub device_name: *const c_char,
    pub sm_count: i32,
    pub jobs: u32,
    /// Appended: QJIT_WARMUP_NO_SMOOTH | QJIT_WARMUP_SMOOTH; 0 = no smoothing only.
    pub smooth_modes: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct qjit_warmup_report {
    pub struct_size: u32,
    pub kernel_requests: u64,
    pub kernels: u64,
    pub cached: u64,
    pub compiled: u64,
    pub failed: u64,
    pub tuned: u64,
    pub wall_seconds: f64,
}

/// `struct_size` for a struct of type `T` (every struct qjit reads starts with one).
pub const fn struct_size<T>() -> u32 {
    std::mem::size_of::<T>() as u32
}

// NOTE: build.rs emits the `-l qjit` (it knows where the library is); no #[link] attribute here.
extern "C" {
    pub fn qjit_abi_version() -> u32;
    pub fn qjit_version_string() -> *const c_char;
    pub fn qjit_version(major: *mut i32, minor: *mut i32, patch: *mut i32);
    pub fn qjit_status_name(code: qjit_status) -> *const c_char;

    pub fn qjit_last_error_code() -> qjit_status;
    pub fn qjit_last_error_message() -> *const c_char;
    pub fn qjit_last_error_copy(buf: *mut c_char, capacity: usize) -> usize;
    pub fn qjit_clear_last_error();

    pub fn qjit_quantized_linear_desc_to_string(
        desc: *const qjit_quantized_linear_desc,
        buf: *mut c_char,
        capacity: usize,
    ) -> usize;
    pub fn qjit_smooth_quant_linear_desc_to_string(
        desc: *const qjit_smooth_quant_linear_desc,
        buf: *mut c_char,
        capacity: usize,
    ) -> usize;
    pub fn qjit_dynamic_range_quantize_desc_to_string(
        desc: *const qjit_dynamic_range_quantize_desc,
        buf: *mut c_char,
        capacity: usize,
    ) -> usize;
    pub fn qjit_norm_quantize_desc_to_string(desc: *const qjit_norm_quantize_desc, buf: *mut c_char, capacity: usize)
        -> usize;
    pub fn qjit_scaled_matmul_desc_to_string(desc: *const qjit_scaled_matmul_desc, buf: *mut c_char, capacity: usize)
        -> usize;
    pub fn qjit_weight_only_linear_desc_to_string(
        desc: *const qjit_weight_only_linear_desc,
        buf: *mut c_char,
        capacity: usize,
    ) -> usize;

    pub fn qjit_quantized_linear_plan_select(
        stream: CUstream,
        desc: *const qjit_quantized_linear_desc,
        preference: i32,
        out_plan: *mut *mut qjit_plan,
    ) -> qjit_status;
    pub fn qjit_smooth_quant_linear_plan_select(
        stream: CUstream,
        desc: *const qjit_smooth_quant_linear_desc,
        preference: i32,
        out_plan: *mut *mut qjit_plan,
    ) -> qjit_status;
    pub fn qjit_dynamic_range_quantize_plan_select(
        stream: CUstream,
        desc: *const qjit_dynamic_range_quantize_desc,
        preference: i32,
        out_plan: *mut *mut qjit_plan,
    ) -> qjit_status;
    pub fn qjit_scaled_matmul_plan_select(
        stream: CUstream,
        desc: *const qjit_scaled_matmul_desc,
        preference: i32,
        out_plan: *mut *mut qjit_plan,
    ) -> qjit_status;
    pub fn qjit_weight_only_linear_plan_select(
        stream: CUstream,
        desc: *const qjit_weight_only_linear_desc,
        preference: i32,
        out_plan: *mut *mut qjit_plan,
    ) -> qjit_status;
    /// A QJIT_PLAN_RMS_NORM_QUANTIZE or QJIT_PLAN_LAYER_NORM_QUANTIZE plan (by `desc.norm`).
    pub fn qjit_norm_quantize_plan_select(
        stream: CUstream,
        desc: *const qjit_norm_quantize_desc,
        preference: i32,
        out_plan: *mut *mut qjit_plan,
    ) -> qjit_status;

    pub fn qjit_plan_release(plan: *mut qjit_plan);
    pub fn qjit_plan_retain(plan: *mut qjit_plan) -> *mut qjit_plan;
    pub fn qjit_plan_get_kind(plan: *const qjit_plan) -> qjit_plan_kind;
    pub fn qjit_plan_workspace_size(plan: *const qjit_plan, out_bytes: *mut usize) -> qjit_status;
    pub fn qjit_plan_workspace_size_for_m(plan: *const qjit_plan, m: i64, out_bytes: *mut usize) -> qjit_status;
    pub fn qjit_plan_precision_guarantee(plan: *const qjit_plan, out: *mut qjit_precision_guarantee) -> qjit_status;
    pub fn qjit_plan_describe(plan: *const qjit_plan, buf: *mut c_char, capacity: usize) -> usize;

    pub fn qjit_linear_plan_can_implement(plan: *const qjit_plan, args: *const qjit_linear_args) -> qjit_status;
    pub fn qjit_linear_plan_run(
        plan: *const qjit_plan,
        stream: CUstream,
        workspace: *mut c_void,
        workspace_bytes: usize,
        args: *const qjit_linear_args,
    ) -> qjit_status;
    pub fn qjit_quantize_plan_can_implement(plan: *const qjit_plan, args: *const qjit_quantize_args)
        -> qjit_status;
    pub fn qjit_quantize_plan_run(
        plan: *const qjit_plan,
        stream: CUstream,
        workspace: *mut c_void,
        workspace_bytes: usize,
        args: *const qjit_quantize_args,
    ) -> qjit_status;
    pub fn qjit_norm_quantize_plan_can_implement(plan: *const qjit_plan, args: *const qjit_norm_quantize_args)
        -> qjit_status;
    pub fn qjit_norm_quantize_plan_run(
        plan: *const qjit_plan,
        stream: CUstream,
        workspace: *mut c_void,
        workspace_bytes: usize,
        args: *const qjit_norm_quantize_args,
    ) -> qjit_status;
    pub fn qjit_scaled_matmul_plan_can_implement(plan: *const qjit_plan, args: *const qjit_scaled_matmul_args)
        -> qjit_status;
    pub fn qjit_scaled_matmul_plan_run(
        plan: *const qjit_plan,
        stream: CUstream,
        workspace: *mut c_void,
        workspace_bytes: usize,
        args: *const qjit_scaled_matmul_args,
    ) -> qjit_status;
    pub fn qjit_weight_only_linear_plan_can_implement(
        plan: *const qjit_plan,
        args: *const qjit_weight_only_linear_args,
    ) -> qjit_status;
    pub fn qjit_weight_only_linear_plan_run(
        plan: *const qjit_plan,
        stream: CUstream,
        workspace: *mut c_void,
        workspace_bytes: usize,
        args: *const qjit_weight_only_linear_args,
    ) -> qjit_status;

    pub fn qjit_cache_location_from_environment(
        writable_dir: *mut c_char,
        writable_capacity: usize,
        writable_needed: *mut usize,
        readonly_dirs: *mut c_char,
        readonly_capacity: usize,
        readonly_needed: *mut usize,
        read_only: *mut i32,
        max_bytes: *mut u64,
    ) -> qjit_status;
    pub fn qjit_cache_stats_get(
        location: *const qjit_cache_location,
        out: *mut qjit_cache_stats,
        on_store: qjit_cache_store_callback,
        user: *mut c_void,
    ) -> qjit_status;
    pub fn qjit_cache_list(
        location: *const qjit_cache_location,
        flags: u32,
        on_entry: qjit_cache_entry_callback,
        user: *mut c_void,
    ) -> qjit_status;
    pub fn qjit_cache_prune(
        location: *const qjit_cache_location,
        max_bytes: u64,
        out: *mut qjit_cache_prune_report,
    ) -> qjit_status;
    pub fn qjit_cache_clear(location: *const qjit_cache_location, out: *mut qjit_cache_prune_report) -> qjit_status;

    pub fn qjit_warmup(request: *const qjit_warmup_request, out: *mut qjit_warmup_report) -> qjit_status;

    pub fn qjit_weight_colsum(weight: *const i8, n: i64, k: i64, row_stride: i64, colsum: *mut i32) -> qjit_status;
    pub fn qjit_pad_int8_rows(
        stream: CUstream,
        src: *const i8,
        rows: i64,
        cols: i64,
        src_row_stride: i64,
        dst: *mut i8,
        dst_row_stride: i64,
    ) -> qjit_status;
}

/// Every struct's size and field offsets as this crate lays them out: `("struct", size)` then
/// `("struct.field", offset)`. The layout tests compare it with hand-derived values and with the C compiler's.
#[doc(hidden)]
pub fn layout_table() -> Vec<(String, usize)> {
    let mut t = Vec::new();
    macro_rules! layout {
        ($s:ident { $($f:ident),* $(,)? }) => {
            t.push((stringify!($s).to_string(), std::mem::size_of::<$s>()));
            $( t.push((concat!(stringify!($s), ".", stringify!($f)).to_string(), std::mem::offset_of!($s, $f))); )*
        };
    }
    layout!(qjit_tensor { data, element, rank, shape, stride });
    layout!(qjit_quantized_linear_desc { struct_size, m, n, k, activation_element, weight_element, output_element, has_bias, has_smooth, asymmetric });
    layout!(qjit_smooth_quant_linear_desc { struct_size, m, n, k, act_scale, activation_element, weight_element, output_element, has_bias });
    layout!(qjit_dynamic_range_quantize_desc { struct_size, m, k, input_element, granularity, has_smooth, asymmetric, output_element });
    layout!(qjit_norm_quantize_desc { struct_size, m, k, norm, input_element, granularity, has_residual, eps, static_scale });
    layout!(qjit_scaled_matmul_desc { struct_size, m, n, k, activation_element, weight_element, output_element, has_bias, act_scale, weight_scale, has_act_zero_point });
    layout!(qjit_linear_args { struct_size, activation, weight, weight_scale, bias, output, act_q_scratch, act_scale_scratch, pre_quant_scale, weight_colsum });
    layout!(qjit_quantize_args { struct_size, input, output, scale, pre_quant_scale, zero_point });
    layout!(qjit_norm_quantize_args { struct_size, input, residual, residual_out, gamma, beta, output, scale });
    layout!(qjit_scaled_matmul_args { struct_size, act_q, weight_q, act_scale, weight_scale, bias, output, act_zero_point, weight_colsum });
    layout!(qjit_weight_only_linear_desc { struct_size, m, n, k, activation_element, weight_element, output_element, has_bias, weight_scale, group_size, has_zero_point });
    layout!(qjit_weight_only_linear_args { struct_size, activation, weight, weight_scale, zero_point, bias, output });
    layout!(qjit_precision_guarantee { struct_size, deterministic, exact_accumulation, epilogue_relative_error, description });
    layout!(qjit_cache_location { struct_size, writable_dir, readonly_dirs, read_only, max_bytes });
    layout!(qjit_cache_store_info { struct_size, dir, read_only, present, entries, bytes, temp_files });
    layout!(qjit_cache_stats { struct_size, entries, bytes, max_bytes, stores, temp_files });
    layout!(qjit_cache_entry_info { struct_size, path, key_hex, store_dir, read_only_store, bytes, last_used, entry_name, arch, nvrtc_version, registers, shared_bytes, compile_seconds, ok, problem });
    layout!(qjit_cache_prune_report { struct_size, removed_entries, removed_bytes, removed_temp_files, kept_entries, kept_bytes });
    layout!(qjit_layer_shape { n, k });
    layout!(qjit_warmup_request { struct_size, arch, shapes, shape_count, ms, m_count, plans, dtype, bias_modes, tuning_db_path, device_name, sm_count, jobs, smooth_modes });
    layout!(qjit_warmup_report { struct_size, kernel_requests, kernels, cached, compiled, failed, tuned, wall_seconds });
    t
}

#[cfg(test)]
mod layout_tests;
