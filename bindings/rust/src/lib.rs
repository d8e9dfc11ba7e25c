//! qjit for Rust: shape-specialised int8 (W8A8) linear-layer kernels, the scaled int8 GEMM and fused norm +
//! quantize passes around them, JIT-compiled for the GPU at hand, over libqjit.so's C ABI. The API is the seed's: a
//! descriptor says what to compute, `select` compiles (or loads from the on-disk cache) a plan for it, and the
//! plan's `run` launches on the caller's stream over the caller's device memory.
//!
//! ```no_run
//! use qjit::{Bf16, PlanPreference, QuantizedLinearDescriptor, QuantizedLinearPlan, Stream};
//! let desc = QuantizedLinearDescriptor::new::<Bf16>(16, 4096, 4096);
//! let plan = QuantizedLinearPlan::<Bf16>::select(&Stream::null(), &desc, PlanPreference::Heuristic)?;
//! println!("{}", plan.describe());
//! # Ok::<(), qjit::Error>(())
//! ```
//!
//! `sys` is the raw C ABI; everything else is safe, except building tensor views from raw device pointers.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod args;
pub mod cache;
pub mod descriptor;
pub mod element;
pub mod error;
pub mod padding;
pub mod plan;
pub mod colsum;
pub mod stream;
pub mod sys;
pub mod tensor;
pub mod version;
pub mod warmup;

pub use args::{
    DynamicRangeQuantizeArgs, LayerNormQuantizeArgs, NormQuantizeArgs, QuantizedLinearArgs, RmsNormQuantizeArgs,
    ScaledMatmulArgs, SmoothQuantLinearArgs, WeightOnlyLinearArgs,
};
pub use descriptor::{
    ActScaleMode, DynamicRangeQuantizeDescriptor, NormKind, NormQuantizeDescriptor, QuantizedLinearDescriptor,
    ScaledMatmulDescriptor, SmoothQuantLinearDescriptor, WeightOnlyLinearDescriptor, WeightOnlyScale, WeightScaleMode,
};
pub use colsum::weight_colsum;
pub use element::{Bf16, Element, ElementKind, FloatElement, IntElement, F16, S8};
pub use error::{Error, Result};
pub use padding::{pad_int8_rows, preferred_row_stride, staged_rows_bytes, staged_workspace_size};
pub use plan::{
    DynamicRangeQuantizePlan, LayerNormQuantizePlan, QuantizedLinearPlan, RmsNormQuantizePlan, ScaledMatmulPlan,
    SmoothQuantLinearPlan, WeightOnlyLinearPlan,
};
pub use stream::{PlanPreference, PrecisionGuarantee, QuantGranularity, Stream, Workspace};
pub use tensor::{DevicePtr, TensorMut, TensorRef};
pub use version::{abi_version, version, version_numbers, ABI_VERSION};
pub use warmup::{warmup, WarmupReport, WarmupRequest};
