//! The small value types every plan shares: the caller's CUDA stream, the caller's workspace, how a plan picks its
//! configuration, and what it promises about its numbers.
use crate::sys;
use crate::tensor::DevicePtr;
use std::marker::PhantomData;

/// The caller's `CUstream` (NULL is the legacy default stream). qjit launches on it and never synchronises it.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream(sys::CUstream);

// SAFETY: a CUstream is a handle the driver lets any thread use; qjit only passes it to cuLaunchKernel.
unsafe impl Send for Stream {}
unsafe impl Sync for Stream {}

impl Stream {
    /// The legacy default stream.
    pub const fn null() -> Stream {
        Stream(std::ptr::null_mut())
    }
    /// Wraps a stream created by the caller (CUDA runtime, driver API, or a framework).
    ///
    /// # Safety
    /// `handle` must be NULL or a live `CUstream` of the context qjit's plans run in, for as long as it is used.
    pub unsafe fn from_raw(handle: *mut std::ffi::c_void) -> Stream {
        Stream(handle)
    }
    pub fn as_raw(self) -> *mut std::ffi::c_void {
        self.0
    }
}

impl Default for Stream {
    fn default() -> Self {
        Stream::null()
    }
}

/// Caller-owned device memory a plan may use during `run`; `plan.workspace_size()` says how much it needs.
#[derive(Debug)]
pub struct Workspace<'a> {
    data: DevicePtr,
    bytes: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> Workspace<'a> {
    /// No workspace (for plans whose `workspace_size()` is 0).
    pub fn none() -> Workspace<'static> {
        Workspace { data: DevicePtr::NULL, bytes: 0, _borrow: PhantomData }
    }
    /// # Safety
    /// `data` must be device memory writable for `bytes` bytes, used by nothing else until the run's kernels finish.
    pub unsafe fn from_raw(data: DevicePtr, bytes: usize) -> Workspace<'a> {
        Workspace { data, bytes, _borrow: PhantomData }
    }
    pub fn data(&self) -> DevicePtr {
        self.data
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// How `select` chooses a configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PlanPreference {
    /// The built-in choice per M bucket; no device timing.
    #[default]
    Heuristic,
    /// The tuning database's record for this device and shape, else the heuristic.
    Tuned,
    /// Time the candidates on this device now (and record the winner).
    Autotune,
}

impl PlanPreference {
    pub(crate) fn to_raw(self) -> i32 {
        match self {
            PlanPreference::Heuristic => sys::QJIT_PREF_HEURISTIC,
            PlanPreference::Tuned => sys::QJIT_PREF_TUNED,
            PlanPreference::Autotune => sys::QJIT_PREF_AUTOTUNE,
        }
    }
}

/// Per-token (one scale a row) or per-tensor (one scale) quantization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QuantGranularity {
    #[default]
    PerToken,
    PerTensor,
}

impl QuantGranularity {
    pub(crate) fn to_raw(self) -> i32 {
        match self {
            QuantGranularity::PerToken => sys::QJIT_PER_TOKEN,
            QuantGranularity::PerTensor => sys::QJIT_PER_TENSOR,
        }
    }
}

/// What a plan promises about its numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrecisionGuarantee {
    /// Same inputs, same device: the same bits, run after run.
    pub deterministic: bool,
    /// The int8 x int8 products are summed exactly in int32.
    pub exact_accumulation: bool,
    /// Bound on |y - y_ref| / (|act_scale * w_scale| * sum_k |a * w|) for the scaled epilogue.
    pub epilogue_relative_error: f64,
    pub description: &'static str,
}
