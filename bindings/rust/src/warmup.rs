//! Warm-up: compile every kernel a model's layers need into the writable cache ahead of time, with no GPU (a
//! deployment step, so a server's first request does not wait for NVRTC). A thin layer over `qjit_warmup`.
use crate::element::ElementKind;
use crate::error::{check, Error, Result};
use crate::sys;
use std::ffi::CString;

/// What to compile: every (N, K) of `shapes` crossed with every M of `ms`, for the chosen plans and bias modes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmupRequest {
    /// "sm_80", "sm_86", "sm_89", "sm_90a" (also "80" ... "90").
    pub arch: String,
    /// (N, K) of each linear layer.
    pub shapes: Vec<(i64, i64)>,
    pub ms: Vec<i64>,
    pub quantized_linear: bool,
    pub smooth_quant_linear: bool,
    /// Activation/output element: f16, bf16, f32 or f64.
    pub dtype: ElementKind,
    pub without_bias: bool,
    pub with_bias: bool,
    /// A tuning database to take configurations from; `None`: heuristic configurations only.
    pub tuning_db_path: Option<String>,
    /// Which of the database's devices (`None`: the only one it holds).
    pub device_name: Option<String>,
    /// The target's SM count; 0 = 132 (H100/H200 SXM).
    pub sm_count: i32,
    /// Parallel compiles; 0 = hardware concurrency.
    pub jobs: u32,
    /// Also compile the smoothed QuantizedLinear quantize pass (a `pre_quant_scale` model needs it).
    pub with_smooth: bool,
}

impl WarmupRequest {
    /// Both plans, no bias, heuristic configurations.
    pub fn new(arch: &str, dtype: ElementKind, shapes: Vec<(i64, i64)>, ms: Vec<i64>) -> WarmupRequest {
        WarmupRequest {
            arch: arch.to_string(),
            shapes,
            ms,
            quantized_linear: true,
            smooth_quant_linear: true,
            dtype,
            without_bias: true,
            with_bias: false,
            tuning_db_path: None,
            device_name: None,
            sm_count: 0,
            jobs: 0,
            with_smooth: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WarmupReport {
    pub kernel_requests: u64,
    /// Distinct rendered sources.
    pub kernels: u64,
    pub cached: u64,
    pub compiled: u64,
    pub failed: u64,
    pub tuned: u64,
    pub wall_seconds: f64,
}

fn opt_c(s: &Option<String>, what: &str) -> Result<Option<CString>> {
    s.as_deref()
        .map(|v| CString::new(v).map_err(|_| Error::InvalidArgument(format!("{what} must not contain a NUL byte"))))
        .transpose()
}

/// Compiles every kernel the request needs into QJIT_CACHE_DIR. Ok only when all are in the cache; otherwise the
/// first failure's error (naming the failed count and its reason), after everything else was compiled. The report
/// is filled either way: `warmup_report` returns it with the result.
pub fn warmup(request: &WarmupRequest) -> Result<WarmupReport> {
    let (report, r) = warmup_report(request);
    r.map(|_| report)
}

/// As [`warmup`], returning the report also when some kernels failed.
pub fn warmup_report(request: &WarmupRequest) -> (WarmupReport, Result<()>) {
    let mut report = WarmupReport::default();
    let r = (|| {
        let arch = CString::new(request.arch.as_str())
            .map_err(|_| Error::InvalidArgument("WarmupRequest.arch must not contain a NUL byte".to_string()))?;
        let db = opt_c(&request.tuning_db_path, "WarmupRequest.tuning_db_path")?;
        let device = opt_c(&request.device_name, "WarmupRequest.device_name")?;
        let shapes: Vec<sys::qjit_layer_shape> =
            request.shapes.iter().map(|&(n, k)| sys::qjit_layer_shape { n, k }).collect();
        let plans = if request.quantized_linear { sys::QJIT_WARMUP_QUANTIZED_LINEAR } else { 0 }
            | if request.smooth_quant_linear { sys::QJIT_WARMUP_SMOOTH_QUANT_LINEAR } else { 0 };
        if plans == 0 {
            // NOTE: the C ABI reads 0 as "both"; a Rust caller who switched both off asked for nothing.
            return Err(Error::InvalidArgument(
                "WarmupRequest must enable quantized_linear or smooth_quant_linear".to_string(),
            ));
        }
        let bias_modes = if request.without_bias { sys::QJIT_WARMUP_NO_BIAS } else { 0 }
            | if request.with_bias { sys::QJIT_WARMUP_BIAS } else { 0 };
        if bias_modes == 0 {
            return Err(Error::InvalidArgument("WarmupRequest must enable without_bias or with_bias".to_string()));
        }
        let req = sys::qjit_warmup_request {
            struct_size: sys::struct_size::<sys::qjit_warmup_request>(),
            arch: arch.as_ptr(),
            shapes: shapes.as_ptr(),
            shape_count: shapes.len(),
            ms: request.ms.as_ptr(),
            m_count: request.ms.len(),
            plans,
            dtype: request.dtype.to_raw(),
            bias_modes,
            tuning_db_path: db.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            device_name: device.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            sm_count: request.sm_count,
            jobs: request.jobs,
            smooth_modes: if request.with_smooth { sys::QJIT_WARMUP_NO_SMOOTH | sys::QJIT_WARMUP_SMOOTH } else { 0 },
        };
        let mut out = sys::qjit_warmup_report {
            struct_size: sys::struct_size::<sys::qjit_warmup_report>(),
            kernel_requests: 0,
            kernels: 0,
            cached: 0,
            compiled: 0,
            failed: 0,
            tuned: 0,
            wall_seconds: 0.0,
        };
        // SAFETY: every pointer in `req` points into locals that outlive the call.
        let code = unsafe { sys::qjit_warmup(&req, &mut out) };
        report = WarmupReport {
            kernel_requests: out.kernel_requests,
            kernels: out.kernels,
            cached: out.cached,
            compiled: out.compiled,
            failed: out.failed,
            tuned: out.tuned,
            wall_seconds: out.wall_seconds,
        };
        check(code)
    })();
    (report, r)
}
