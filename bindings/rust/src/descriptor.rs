//! The three descriptors: what a plan is selected for (op, shape, element kinds, bias). Plain data with public
//! fields, as in the seed; `new::<TIn>` fills the element kinds a plan over `TIn` expects. The library validates
//! them in `select` (and its messages name the field); `Display` prints them the way the library does.
use crate::element::{ElementKind, FloatElement};
use crate::error::read_string;
use crate::stream::QuantGranularity;
use crate::sys;
use std::fmt;

/// QuantizedLinear: FP activation [M, K] quantized per token on the fly, times an int8 weight [N, K].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantizedLinearDescriptor {
    /// Tokens: chooses the tuning bucket; `run` accepts any M >= 1.
    pub m: i64,
    /// Output features (rows of weight_q); compiled into the kernel.
    pub n: i64,
    /// Input features; compiled into the kernel.
    pub k: i64,
    /// The FP activation; equal to `output_element`.
    pub activation_element: ElementKind,
    /// S8.
    pub weight_element: ElementKind,
    pub output_element: ElementKind,
    pub has_bias: bool,
    /// The quantize pass multiplies x by the args' `pre_quant_scale` [K] = 1/s first (SmoothQuant for any linear);
    /// the weight must then be `W * diag(s)`, as `qjit quantize` writes it.
    pub has_smooth: bool,
}

impl QuantizedLinearDescriptor {
    /// `TIn` is the activation, output and bias element; the weight is S8; no bias.
    pub fn new<TIn: FloatElement>(m: i64, n: i64, k: i64) -> Self {
        QuantizedLinearDescriptor {
            m,
            n,
            k,
            activation_element: TIn::KIND,
            weight_element: ElementKind::S8,
            output_element: TIn::KIND,
            has_bias: false,
            has_smooth: false,
        }
    }
    /// The same descriptor with a `[N]` bias of the output element (or without one).
    pub fn with_bias(mut self, has_bias: bool) -> Self {
        self.has_bias = has_bias;
        self
    }
    /// The same descriptor with (or without) a per-input-channel smoothing vector.
    pub fn with_smooth(mut self, has_smooth: bool) -> Self {
        self.has_smooth = has_smooth;
        self
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_quantized_linear_desc {
        sys::qjit_quantized_linear_desc {
            struct_size: sys::struct_size::<sys::qjit_quantized_linear_desc>(),
            m: self.m,
            n: self.n,
            k: self.k,
            activation_element: self.activation_element.to_raw(),
            weight_element: self.weight_element.to_raw(),
            output_element: self.output_element.to_raw(),
            has_bias: self.has_bias as i32,
            has_smooth: self.has_smooth as i32,
        }
    }
}

/// SmoothQuant linear: an already smoothed and int8-quantized activation with a static per-tensor scale.
///
/// The scale lives in the descriptor, not the args: in the SmoothQuant flow it is part of the layer's frozen
/// calibration, the same for every launch.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoothQuantLinearDescriptor {
    pub m: i64,
    pub n: i64,
    pub k: i64,
    /// Static per-tensor activation scale (real = q * act_scale), finite and > 0; f32 whatever the output type.
    pub act_scale: f32,
    /// S8.
    pub activation_element: ElementKind,
    /// S8.
    pub weight_element: ElementKind,
    /// f16, bf16, f32 or f64: the plan's `TIn`.
    pub output_element: ElementKind,
    pub has_bias: bool,
}

impl SmoothQuantLinearDescriptor {
    /// S8 activation and weight; the output (and bias) element is `TIn`; no bias.
    pub fn new<TIn: FloatElement>(m: i64, n: i64, k: i64, act_scale: f32) -> Self {
        SmoothQuantLinearDescriptor {
            m,
            n,
            k,
            act_scale,
            activation_element: ElementKind::S8,
            weight_element: ElementKind::S8,
            output_element: TIn::KIND,
            has_bias: false,
        }
    }
    pub fn with_bias(mut self, has_bias: bool) -> Self {
        self.has_bias = has_bias;
        self
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_smooth_quant_linear_desc {
        sys::qjit_smooth_quant_linear_desc {
            struct_size: sys::struct_size::<sys::qjit_smooth_quant_linear_desc>(),
            m: self.m,
            n: self.n,
            k: self.k,
            act_scale: self.act_scale,
            activation_element: self.activation_element.to_raw(),
            weight_element: self.weight_element.to_raw(),
            output_element: self.output_element.to_raw(),
            has_bias: self.has_bias as i32,
        }
    }
}

/// Dynamic-range quantization: FP [M, K] to int8 [M, K] plus scales (absmax / 127), per token or per tensor.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamicRangeQuantizeDescriptor {
    /// Tokens (chooses the tuning bucket; `run` accepts any M >= 1).
    pub m: i64,
    /// Features; compiled into the kernel.
    pub k: i64,
    pub input_element: ElementKind,
    pub granularity: QuantGranularity,
    /// Multiply x by the args' `pre_quant_scale` [K] before quantizing.
    pub has_smooth: bool,
}

impl DynamicRangeQuantizeDescriptor {
    pub fn new<TIn: FloatElement>(m: i64, k: i64, granularity: QuantGranularity) -> Self {
        DynamicRangeQuantizeDescriptor { m, k, input_element: TIn::KIND, granularity, has_smooth: false }
    }
    /// The same descriptor with (or without) a per-input-channel smoothing vector.
    pub fn with_smooth(mut self, has_smooth: bool) -> Self {
        self.has_smooth = has_smooth;
        self
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_dynamic_range_quantize_desc {
        sys::qjit_dynamic_range_quantize_desc {
            struct_size: sys::struct_size::<sys::qjit_dynamic_range_quantize_desc>(),
            m: self.m,
            k: self.k,
            input_element: self.input_element.to_raw(),
            granularity: self.granularity.to_raw(),
            has_smooth: self.has_smooth as i32,
        }
    }
}

// The library's own printing ("quantized_linear m=16 n=4096 k=4096 act=bf16 ..."), so logs read the same from
// every language.
impl fmt::Display for QuantizedLinearDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_sys();
        // SAFETY: `d` is a valid descriptor; the library writes at most `cap` bytes into `buf`.
        f.write_str(&read_string(|buf, cap| unsafe { sys::qjit_quantized_linear_desc_to_string(&d, buf, cap) }))
    }
}
impl fmt::Display for SmoothQuantLinearDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_sys();
        // SAFETY: as above.
        f.write_str(&read_string(|buf, cap| unsafe { sys::qjit_smooth_quant_linear_desc_to_string(&d, buf, cap) }))
    }
}
impl fmt::Display for DynamicRangeQuantizeDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_sys();
        // SAFETY: as above.
        f.write_str(&read_string(|buf, cap| unsafe {
            sys::qjit_dynamic_range_quantize_desc_to_string(&d, buf, cap)
        }))
    }
}
