//! The plans, each a typed shell over one reference-counted C plan handle: `select` validates and compiles
//! (or loads) the kernels, then `can_implement` / `workspace_size` / `precision_guarantee` / `run` / `describe`.
//! Plans are immutable after `select`, so they are `Send + Sync`; `Clone` takes another reference
//! (qjit_plan_retain) and `Drop` releases it.
use crate::args::{
    DynamicRangeQuantizeArgs, NormQuantizeArgs, QuantizedLinearArgs, ScaledMatmulArgs, SmoothQuantLinearArgs,
    WeightOnlyLinearArgs,
};
use crate::descriptor::{
    DynamicRangeQuantizeDescriptor, NormKind, NormQuantizeDescriptor, QuantizedLinearDescriptor, ScaledMatmulDescriptor,
    SmoothQuantLinearDescriptor, WeightOnlyLinearDescriptor,
};
use crate::element::{ElementKind, FloatElement, IntElement, S8};
use crate::error::{check, read_string, Error, Result};
use crate::stream::{PlanPreference, PrecisionGuarantee, Stream, Workspace};
use crate::sys;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// One reference to a C plan.
struct RawPlan(NonNull<sys::qjit_plan>);

// SAFETY: the C ABI promises plans are immutable after select and safe to use from several threads at once, and
// retain/release are thread-safe.
unsafe impl Send for RawPlan {}
unsafe impl Sync for RawPlan {}

impl RawPlan {
    fn select(f: impl FnOnce(*mut *mut sys::qjit_plan) -> i32) -> Result<RawPlan> {
        crate::version::check_abi()?;
        let mut out: *mut sys::qjit_plan = std::ptr::null_mut();
        check(f(&mut out))?;
        NonNull::new(out)
            .map(RawPlan)
            .ok_or_else(|| Error::Internal("select returned QJIT_OK without a plan".to_string()))
    }
    fn ptr(&self) -> *const sys::qjit_plan {
        self.0.as_ptr()
    }
    fn workspace_size(&self) -> usize {
        let mut bytes = 0usize;
        // SAFETY: a live plan and a valid out pointer.
        let r = check(unsafe { sys::qjit_plan_workspace_size(self.ptr(), &mut bytes) });
        r.unwrap_or_else(|e| panic!("qjit_plan_workspace_size failed on a live plan: {e}"));
        bytes
    }
    fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
        let mut bytes = 0usize;
        // SAFETY: a live plan and a valid out pointer.
        check(unsafe { sys::qjit_plan_workspace_size_for_m(self.ptr(), m, &mut bytes) })?;
        Ok(bytes)
    }
    fn precision_guarantee(&self) -> PrecisionGuarantee {
        let mut g = sys::qjit_precision_guarantee {
            struct_size: sys::struct_size::<sys::qjit_precision_guarantee>(),
            deterministic: 0,
            exact_accumulation: 0,
            epilogue_relative_error: 0.0,
            description: std::ptr::null(),
        };
        // SAFETY: a live plan and a valid out struct whose struct_size we set.
        let r = check(unsafe { sys::qjit_plan_precision_guarantee(self.ptr(), &mut g) });
        r.unwrap_or_else(|e| panic!("qjit_plan_precision_guarantee failed on a live plan: {e}"));
        let description = if g.description.is_null() {
            ""
        } else {
            // SAFETY: the header gives the description static storage.
            unsafe { CStr::from_ptr::<'static>(g.description) }.to_str().unwrap_or("")
        };
        PrecisionGuarantee {
            deterministic: g.deterministic != 0,
            exact_accumulation: g.exact_accumulation != 0,
            epilogue_relative_error: g.epilogue_relative_error,
            description,
        }
    }
    fn describe(&self) -> String {
        // SAFETY: a live plan; the library writes at most `cap` bytes.
        read_string(|buf, cap| unsafe { sys::qjit_plan_describe(self.ptr(), buf, cap) })
    }
}

impl Clone for RawPlan {
    fn clone(&self) -> Self {
        // SAFETY: a live plan; retain returns a second reference to it.
        let p = unsafe { sys::qjit_plan_retain(self.0.as_ptr()) };
        RawPlan(NonNull::new(p).expect("qjit_plan_retain returned NULL for a live plan"))
    }
}

impl Drop for RawPlan {
    fn drop(&mut self) {
        // SAFETY: we own this reference and drop it once.
        unsafe { sys::qjit_plan_release(self.0.as_ptr()) }
    }
}

/// The C++ API's typed-select check, with its wording: the C ABI knows no `TIn`, so a descriptor whose element
/// kinds disagree with the plan's type parameters is refused here before the library is asked.
fn check_element(got: ElementKind, want: ElementKind, field: &str) -> Result<()> {
    if got == want {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!("{field} must be {} for this plan type, got {}", want.name(), got.name())))
}

fn workspace_parts(ws: &Workspace<'_>) -> (*mut std::ffi::c_void, usize) {
    (ws.data().as_ptr::<u8>() as *mut std::ffi::c_void, ws.bytes())
}

/// FP activation -> per-token int8 quantization (into the caller's scratch) -> int8 GEMM with the epilogue
/// y = act_scale[m] · weight_scale[n] · acc (+ bias[n]). `TIn` is the activation, output and bias type.
pub struct QuantizedLinearPlan<TIn: FloatElement, TWQ: IntElement = S8> {
    raw: RawPlan,
    _types: PhantomData<fn() -> (TIn, TWQ)>,
}

impl<TIn: FloatElement, TWQ: IntElement> QuantizedLinearPlan<TIn, TWQ> {
    pub fn select(stream: &Stream, desc: &QuantizedLinearDescriptor, pref: PlanPreference) -> Result<Self> {
        check_element(desc.activation_element, TIn::KIND, "descriptor.activation_element")?;
        check_element(desc.output_element, TIn::KIND, "descriptor.output_element")?;
        check_element(desc.weight_element, TWQ::KIND, "descriptor.weight_element")?;
        let d = desc.to_sys();
        let raw = RawPlan::select(|out| unsafe {
            // SAFETY: `d` outlives the call; `out` is a valid out pointer.
            sys::qjit_quantized_linear_plan_select(stream.as_raw(), &d, pref.to_raw(), out)
        })?;
        Ok(QuantizedLinearPlan { raw, _types: PhantomData })
    }
    /// Checks the args against the plan (shapes, strides, element kinds, alignment, bias presence).
    pub fn can_implement(&self, args: &QuantizedLinearArgs<'_, TIn, TWQ>) -> Result<()> {
        let a = args.to_sys();
        // SAFETY: a live plan and args that outlive the call.
        check(unsafe { sys::qjit_linear_plan_can_implement(self.raw.ptr(), &a) })
    }
    /// Device bytes `run` needs in its workspace, for every M of the descriptor's bucket.
    pub fn workspace_size(&self) -> usize {
        self.raw.workspace_size()
    }
    /// Device bytes a run with `m` rows needs (`workspace_size` covers every M of the descriptor's bucket).
    pub fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
        self.raw.workspace_size_for_m(m)
    }
    pub fn precision_guarantee(&self) -> PrecisionGuarantee {
        self.raw.precision_guarantee()
    }
    /// Enqueues the kernels on `stream`: asynchronous, allocation-free, safe to capture into a CUDA graph.
    pub fn run(&self, stream: &Stream, workspace: Workspace<'_>, args: &QuantizedLinearArgs<'_, TIn, TWQ>) -> Result<()> {
        let a = args.to_sys();
        let (ws, ws_bytes) = workspace_parts(&workspace);
        // SAFETY: the views' constructors promised valid device memory; the plan is live.
        check(unsafe { sys::qjit_linear_plan_run(self.raw.ptr(), stream.as_raw(), ws, ws_bytes, &a) })
    }
    /// The chosen kernels, configurations and entry points.
    pub fn describe(&self) -> String {
        self.raw.describe()
    }
}

/// An already smoothed, int8-quantized activation with the descriptor's static scale -> the int8 GEMM, the scale
/// folded into its epilogue. `TIn` is the output (and bias) type.
pub struct SmoothQuantLinearPlan<TIn: FloatElement, TWQ: IntElement = S8> {
    raw: RawPlan,
    _types: PhantomData<fn() -> (TIn, TWQ)>,
}

impl<TIn: FloatElement, TWQ: IntElement> SmoothQuantLinearPlan<TIn, TWQ> {
    pub fn select(stream: &Stream, desc: &SmoothQuantLinearDescriptor, pref: PlanPreference) -> Result<Self> {
        check_element(desc.output_element, TIn::KIND, "descriptor.output_element")?;
        check_element(desc.weight_element, TWQ::KIND, "descriptor.weight_element")?;
        let d = desc.to_sys();
        let raw = RawPlan::select(|out| unsafe {
            // SAFETY: as in QuantizedLinearPlan::select.
            sys::qjit_smooth_quant_linear_plan_select(stream.as_raw(), &d, pref.to_raw(), out)
        })?;
        Ok(SmoothQuantLinearPlan { raw, _types: PhantomData })
    }
    pub fn can_implement(&self, args: &SmoothQuantLinearArgs<'_, TIn, TWQ>) -> Result<()> {
        let a = args.to_sys();
        // SAFETY: a live plan and args that outlive the call.
        check(unsafe { sys::qjit_linear_plan_can_implement(self.raw.ptr(), &a) })
    }
    pub fn workspace_size(&self) -> usize {
        self.raw.workspace_size()
    }
    /// Device bytes a run with `m` rows needs (`workspace_size` covers every M of the descriptor's bucket).
    pub fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
        self.raw.workspace_size_for_m(m)
    }
    pub fn precision_guarantee(&self) -> PrecisionGuarantee {
        self.raw.precision_guarantee()
    }
    pub fn run(&self, stream: &Stream, workspace: Workspace<'_>, args: &SmoothQuantLinearArgs<'_, TIn, TWQ>) -> Result<()> {
        let a = args.to_sys();
        let (ws, ws_bytes) = workspace_parts(&workspace);
        // SAFETY: as in QuantizedLinearPlan::run.
        check(unsafe { sys::qjit_linear_plan_run(self.raw.ptr(), stream.as_raw(), ws, ws_bytes, &a) })
    }
    pub fn describe(&self) -> String {
        self.raw.describe()
    }
}

/// FP [M, K] -> int8 [M, K] plus absmax/127 scales, per token or per tensor; round half to even, saturating. With
/// an asymmetric descriptor, `TQ` codes (u8 or i8) plus a scale and a zero point per token.
pub struct DynamicRangeQuantizePlan<TIn: FloatElement, TQ: IntElement = S8> {
    raw: RawPlan,
    _types: PhantomData<fn() -> (TIn, TQ)>,
}

impl<TIn: FloatElement, TQ: IntElement> DynamicRangeQuantizePlan<TIn, TQ> {
    pub fn select(stream: &Stream, desc: &DynamicRangeQuantizeDescriptor, pref: PlanPreference) -> Result<Self> {
        if desc.input_element != TIn::KIND {
            return Err(Error::InvalidArgument(format!(
                "descriptor.input_element must be {} for this plan, got {}",
                TIn::KIND.name(),
                desc.input_element.name()
            )));
        }
        let codes = if desc.asymmetric { desc.output_element } else { ElementKind::S8 };
        if codes != TQ::KIND {
            return Err(Error::InvalidArgument(format!(
                "descriptor.output_element must be {} for this plan (its codes' type), got {}",
                TQ::KIND.name(),
                codes.name()
            )));
        }
        let d = desc.to_sys();
        let raw = RawPlan::select(|out| unsafe {
            // SAFETY: as in QuantizedLinearPlan::select.
            sys::qjit_dynamic_range_quantize_plan_select(stream.as_raw(), &d, pref.to_raw(), out)
        })?;
        Ok(DynamicRangeQuantizePlan { raw, _types: PhantomData })
    }
    pub fn can_implement(&self, args: &DynamicRangeQuantizeArgs<'_, TIn, TQ>) -> Result<()> {
        let a = args.to_sys();
        // SAFETY: a live plan and args that outlive the call.
        check(unsafe { sys::qjit_quantize_plan_can_implement(self.raw.ptr(), &a) })
    }
    /// Per tensor: a few bytes for the running absmax; per token: 0.
    pub fn workspace_size(&self) -> usize {
        self.raw.workspace_size()
    }
    /// Device bytes a run with `m` rows needs (`workspace_size` covers every M of the descriptor's bucket).
    pub fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
        self.raw.workspace_size_for_m(m)
    }
    pub fn precision_guarantee(&self) -> PrecisionGuarantee {
        self.raw.precision_guarantee()
    }
    pub fn run(&self, stream: &Stream, workspace: Workspace<'_>, args: &DynamicRangeQuantizeArgs<'_, TIn, TQ>) -> Result<()> {
        let a = args.to_sys();
        let (ws, ws_bytes) = workspace_parts(&workspace);
        // SAFETY: as in QuantizedLinearPlan::run.
        check(unsafe { sys::qjit_quantize_plan_run(self.raw.ptr(), stream.as_raw(), ws, ws_bytes, &a) })
    }
    pub fn describe(&self) -> String {
        self.raw.describe()
    }
}

/// The scaled int8 GEMM (vLLM's `cutlass_scaled_mm`): int8 act_q [M, K] × int8 weight_q [N, K]ᵀ, scaled by
/// act_scale [M] or [1] and weight_scale [N] or [1] from device memory (+ bias), one launch of the GEMM the linear
/// plans use with the same epilogue arithmetic (f32, each step rounded, one rounding to `TOut`). A per-tensor scale
/// gives the same bits as a per-token / per-channel one filled with that value. `TOut` is the output and bias type:
/// f16, bf16 or f32.
pub struct ScaledMatmulPlan<TOut: FloatElement> {
    raw: RawPlan,
    _types: PhantomData<fn() -> TOut>,
}

impl<TOut: FloatElement> ScaledMatmulPlan<TOut> {
    pub fn select(stream: &Stream, desc: &ScaledMatmulDescriptor, pref: PlanPreference) -> Result<Self> {
        check_element(desc.output_element, TOut::KIND, "descriptor.output_element")?;
        let d = desc.to_sys();
        let raw = RawPlan::select(|out| unsafe {
            // SAFETY: as in QuantizedLinearPlan::select.
            sys::qjit_scaled_matmul_plan_select(stream.as_raw(), &d, pref.to_raw(), out)
        })?;
        Ok(ScaledMatmulPlan { raw, _types: PhantomData })
    }
    /// Checks the args against the plan (shapes, strides, element kinds, the scales' lengths, bias presence).
    pub fn can_implement(&self, args: &ScaledMatmulArgs<'_, TOut>) -> Result<()> {
        let a = args.to_sys();
        // SAFETY: a live plan and args that outlive the call.
        check(unsafe { sys::qjit_scaled_matmul_plan_can_implement(self.raw.ptr(), &a) })
    }
    pub fn workspace_size(&self) -> usize {
        self.raw.workspace_size()
    }
    /// Device bytes a run with `m` rows needs (`workspace_size` covers every M of the descriptor's bucket).
    pub fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
        self.raw.workspace_size_for_m(m)
    }
    pub fn precision_guarantee(&self) -> PrecisionGuarantee {
        self.raw.precision_guarantee()
    }
    /// Enqueues the GEMM on `stream`: asynchronous, allocation-free, safe to capture into a CUDA graph.
    pub fn run(&self, stream: &Stream, workspace: Workspace<'_>, args: &ScaledMatmulArgs<'_, TOut>) -> Result<()> {
        let a = args.to_sys();
        let (ws, ws_bytes) = workspace_parts(&workspace);
        // SAFETY: as in QuantizedLinearPlan::run.
        check(unsafe { sys::qjit_scaled_matmul_plan_run(self.raw.ptr(), stream.as_raw(), ws, ws_bytes, &a) })
    }
    pub fn describe(&self) -> String {
        self.raw.describe()
    }
}

/// The C++ API's checks of a norm descriptor against the plan type, with its wording: the norm kind first, then
/// the element (the C ABI chooses the norm from the descriptor and knows no `TIn`).
fn check_norm_plan(desc: &NormQuantizeDescriptor, norm: NormKind, input: ElementKind) -> Result<()> {
    if desc.norm != norm {
        return Err(Error::InvalidArgument(format!(
            "descriptor.norm must be {} for this plan, got {}",
            norm.name(),
            desc.norm.name()
        )));
    }
    if desc.input_element != input {
        return Err(Error::InvalidArgument(format!(
            "descriptor.input_element must be {} for this plan, got {}",
            input.name(),
            desc.input_element.name()
        )));
    }
    Ok(())
}

macro_rules! norm_quantize_plan {
    ($(#[$doc:meta])* $plan:ident, $norm:expr) => {
        $(#[$doc])*
        pub struct $plan<TIn: FloatElement> {
            raw: RawPlan,
            _types: PhantomData<fn() -> TIn>,
        }

        impl<TIn: FloatElement> $plan<TIn> {
            /// Refuses a descriptor of the other norm kind or another input element before asking the library.
            pub fn select(stream: &Stream, desc: &NormQuantizeDescriptor, pref: PlanPreference) -> Result<Self> {
                check_norm_plan(desc, $norm, TIn::KIND)?;
                let d = desc.to_sys();
                let raw = RawPlan::select(|out| unsafe {
                    // SAFETY: as in QuantizedLinearPlan::select.
                    sys::qjit_norm_quantize_plan_select(stream.as_raw(), &d, pref.to_raw(), out)
                })?;
                Ok($plan { raw, _types: PhantomData })
            }
            /// Checks the args against the plan (shapes, strides, element kinds, alignment, which optional tensors
            /// are present, and that residual_out is exactly input or residual or overlaps neither).
            pub fn can_implement(&self, args: &NormQuantizeArgs<'_, TIn>) -> Result<()> {
                let a = args.to_sys();
                // SAFETY: a live plan and args that outlive the call.
                check(unsafe { sys::qjit_norm_quantize_plan_can_implement(self.raw.ptr(), &a) })
            }
            /// 0: one kernel, no workspace.
            pub fn workspace_size(&self) -> usize {
                self.raw.workspace_size()
            }
            /// Device bytes a run with `m` rows needs (0).
            pub fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
                self.raw.workspace_size_for_m(m)
            }
            /// Deterministic; the description states the order of the sums and the bound on v.
            pub fn precision_guarantee(&self) -> PrecisionGuarantee {
                self.raw.precision_guarantee()
            }
            /// Enqueues the kernel on `stream` (asynchronous; `Workspace::none()` will do).
            pub fn run(&self, stream: &Stream, workspace: Workspace<'_>, args: &NormQuantizeArgs<'_, TIn>) -> Result<()> {
                let a = args.to_sys();
                let (ws, ws_bytes) = workspace_parts(&workspace);
                // SAFETY: as in QuantizedLinearPlan::run.
                check(unsafe { sys::qjit_norm_quantize_plan_run(self.raw.ptr(), stream.as_raw(), ws, ws_bytes, &a) })
            }
            pub fn describe(&self) -> String {
                self.raw.describe()
            }
        }
    };
}

norm_quantize_plan!(
    /// RMSNorm fused with int8 quantization: x [M, K] (+ residual, written back) -> v = (h · rstd) · gamma in f32 ->
    /// int8 [M, K] with per-token scales [M] or the descriptor's static scale; one kernel, no workspace.
    RmsNormQuantizePlan,
    NormKind::RmsNorm
);
norm_quantize_plan!(
    /// LayerNorm fused with int8 quantization: x [M, K] (+ residual, written back) -> v = ((h − mu) · rstd) · gamma +
    /// beta in f32 -> int8 [M, K] with per-token scales [M] or the descriptor's static scale; one kernel, no workspace.
    LayerNormQuantizePlan,
    NormKind::LayerNorm
);

macro_rules! clone_and_debug {
    ($plan:ident < $($t:ident : $b:ident),* >) => {
        impl<$($t: $b),*> Clone for $plan<$($t),*> {
            fn clone(&self) -> Self {
                $plan { raw: self.raw.clone(), _types: PhantomData }
            }
        }
        impl<$($t: $b),*> std::fmt::Debug for $plan<$($t),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($plan)).field("describe", &self.describe()).finish()
            }
        }
    };
}
clone_and_debug!(QuantizedLinearPlan<TIn: FloatElement, TWQ: IntElement>);
clone_and_debug!(SmoothQuantLinearPlan<TIn: FloatElement, TWQ: IntElement>);
clone_and_debug!(DynamicRangeQuantizePlan<TIn: FloatElement, TQ: IntElement>);
clone_and_debug!(ScaledMatmulPlan<TOut: FloatElement>);
clone_and_debug!(RmsNormQuantizePlan<TIn: FloatElement>);
clone_and_debug!(LayerNormQuantizePlan<TIn: FloatElement>);

/// The weight-only int8 linear (W8A16): `T` (f16 or bf16) x [M, K] × int8 weight [N, K]ᵀ dequantized in the kernel
/// (w = RN_T(RN_f32((q − zp) · scale)), scales per channel, tensor or group of 64/128 along K) into tensor-core
/// MMAs with f32 accumulation (+ bias), output `T`; deterministic (split-K partials summed in split order). One
/// launch, plus a memset of the split-K counters when the config splits K: safe to capture into a CUDA graph.
pub struct WeightOnlyLinearPlan<T: FloatElement> {
    raw: RawPlan,
    _types: PhantomData<fn() -> T>,
}

impl<T: FloatElement> WeightOnlyLinearPlan<T> {
    pub fn select(stream: &Stream, desc: &WeightOnlyLinearDescriptor, pref: PlanPreference) -> Result<Self> {
        check_element(desc.activation_element, T::KIND, "descriptor.activation_element")?;
        let d = desc.to_sys();
        let raw = RawPlan::select(|out| unsafe {
            // SAFETY: as in QuantizedLinearPlan::select.
            sys::qjit_weight_only_linear_plan_select(stream.as_raw(), &d, pref.to_raw(), out)
        })?;
        Ok(WeightOnlyLinearPlan { raw, _types: PhantomData })
    }
    /// Checks the args against the plan (shapes, strides, element kinds, the scales' and zero points' shape, bias).
    pub fn can_implement(&self, args: &WeightOnlyLinearArgs<'_, T>) -> Result<()> {
        let a = args.to_sys();
        // SAFETY: a live plan and args that outlive the call.
        check(unsafe { sys::qjit_weight_only_linear_plan_can_implement(self.raw.ptr(), &a) })
    }
    /// Device bytes of the split-K partials and counters (0 without split-K), for every M of the descriptor's bucket.
    pub fn workspace_size(&self) -> usize {
        self.raw.workspace_size()
    }
    /// Device bytes a run with `m` rows needs.
    pub fn workspace_size_for_m(&self, m: i64) -> Result<usize> {
        self.raw.workspace_size_for_m(m)
    }
    pub fn precision_guarantee(&self) -> PrecisionGuarantee {
        self.raw.precision_guarantee()
    }
    /// Enqueues the GEMM on `stream`: asynchronous, allocation-free.
    pub fn run(&self, stream: &Stream, workspace: Workspace<'_>, args: &WeightOnlyLinearArgs<'_, T>) -> Result<()> {
        let a = args.to_sys();
        let (ws, ws_bytes) = workspace_parts(&workspace);
        // SAFETY: as in QuantizedLinearPlan::run.
        check(unsafe { sys::qjit_weight_only_linear_plan_run(self.raw.ptr(), stream.as_raw(), ws, ws_bytes, &a) })
    }
    pub fn describe(&self) -> String {
        self.raw.describe()
    }
}
clone_and_debug!(WeightOnlyLinearPlan<T: FloatElement>);
