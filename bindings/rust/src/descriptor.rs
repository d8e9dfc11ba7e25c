//! The descriptors: what a plan is selected for (op, shape, element kinds, bias, scale modes). Plain data with public
//! fields, as in the seed; `new::<TIn>` (`rms_norm::<TIn>` / `layer_norm::<TIn>` for the norm plans) fills the
//! element kinds a plan over `TIn` expects. The library validates
//! them in `select` (and its messages name the field); `Display` prints them the way the library does.
use crate::element::{ElementKind, FloatElement, IntElement};
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
    /// Asymmetric per-token activations (a zero point per token, the azp GEMM epilogue); the args' `weight_colsum`
    /// [N] is then required ([`crate::weight_colsum`]). docs/QUANT.md says when it helps (one-sided activations).
    pub asymmetric: bool,
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
            asymmetric: false,
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
    /// The same descriptor with (or without) asymmetric per-token activations.
    pub fn with_asymmetric(mut self, asymmetric: bool) -> Self {
        self.asymmetric = asymmetric;
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
            asymmetric: self.asymmetric as i32,
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

/// Dynamic-range quantization: FP [M, K] to int8 [M, K] plus scales (absmax / 127), per token or per tensor; or,
/// asymmetric (per token), a scale and a zero point per token: scale = (hi − lo) / 255 over lo = min(0, min x),
/// hi = max(0, max x), zero_point = clamp(rni(−lo / scale), 0, 255), q = clamp(rni(x / scale) + zero_point, 0, 255)
/// as u8 codes, or q − 128 and zero_point − 128 as i8 codes (what ScaledMatmul's `act_zero_point` reads).
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
    /// A zero point per token too (per token only); the args' `zero_point` [M] is then required.
    pub asymmetric: bool,
    /// The codes' type: S8, or U8 (asymmetric only).
    pub output_element: ElementKind,
}

impl DynamicRangeQuantizeDescriptor {
    pub fn new<TIn: FloatElement>(m: i64, k: i64, granularity: QuantGranularity) -> Self {
        DynamicRangeQuantizeDescriptor {
            m,
            k,
            input_element: TIn::KIND,
            granularity,
            has_smooth: false,
            asymmetric: false,
            output_element: ElementKind::S8,
        }
    }
    /// Asymmetric per-token quantization of `TIn` rows into `TQ` codes (`u8`, or `i8` = the u8 codes − 128).
    pub fn asymmetric<TIn: FloatElement, TQ: IntElement>(m: i64, k: i64) -> Self {
        DynamicRangeQuantizeDescriptor {
            asymmetric: true,
            output_element: TQ::KIND,
            ..Self::new::<TIn>(m, k, QuantGranularity::PerToken)
        }
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
            asymmetric: self.asymmetric as i32,
            output_element: self.output_element.to_raw(),
        }
    }
}

/// How ScaledMatmul's activation is scaled: `act_scale` in device memory, [M] f32 per token or [1] f32 per tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActScaleMode {
    #[default]
    PerToken,
    PerTensor,
}

impl ActScaleMode {
    pub(crate) fn to_raw(self) -> i32 {
        match self {
            ActScaleMode::PerToken => sys::QJIT_ACT_SCALE_PER_TOKEN,
            ActScaleMode::PerTensor => sys::QJIT_ACT_SCALE_PER_TENSOR,
        }
    }
}

/// How ScaledMatmul's weight is scaled: `weight_scale` in device memory, [N] f32 per output channel or [1] f32 per
/// tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightScaleMode {
    #[default]
    PerChannel,
    PerTensor,
}

impl WeightScaleMode {
    pub(crate) fn to_raw(self) -> i32 {
        match self {
            WeightScaleMode::PerChannel => sys::QJIT_WEIGHT_SCALE_PER_CHANNEL,
            WeightScaleMode::PerTensor => sys::QJIT_WEIGHT_SCALE_PER_TENSOR,
        }
    }
}

/// How WeightOnlyLinear's int8 weight is scaled (f32 in device memory, a rank-2 tensor): per output channel [N, 1],
/// per tensor [1, 1], or per group of 64 or 128 elements along K [N, ceil(K / group)]. Zero points, when the
/// descriptor has them, are int32 of the same shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightOnlyScale {
    #[default]
    PerChannel,
    PerTensor,
    /// The group size along K: 64 or 128 (the library refuses any other, naming descriptor.group_size).
    PerGroup(i32),
}

impl WeightOnlyScale {
    pub(crate) fn to_raw(self) -> (i32, i32) {
        match self {
            WeightOnlyScale::PerChannel => (sys::QJIT_WEIGHT_SCALE_PER_CHANNEL, 0),
            WeightOnlyScale::PerTensor => (sys::QJIT_WEIGHT_SCALE_PER_TENSOR, 0),
            WeightOnlyScale::PerGroup(g) => (sys::QJIT_WEIGHT_SCALE_PER_GROUP, g),
        }
    }
}

/// The weight-only int8 linear (W8A16, the seed's QuantizedLinear on the GPU): output[m, n] = Σ_k x[m, k] ·
/// ((weight_q[n, k] − zero_point) · scale) (+ bias[n]) with the weight dequantized in the kernel, x, bias and output
/// of one float type `T` (f16 or bf16).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightOnlyLinearDescriptor {
    /// Tokens: chooses the config; `run` accepts any M >= 1.
    pub m: i64,
    /// Output features (rows of weight_q); compiled into the kernel.
    pub n: i64,
    /// Input features; compiled into the kernel.
    pub k: i64,
    /// f16 or bf16: the plan's `T`.
    pub activation_element: ElementKind,
    /// S8.
    pub weight_element: ElementKind,
    /// Equal to `activation_element`.
    pub output_element: ElementKind,
    pub has_bias: bool,
    pub weight_scale: WeightOnlyScale,
    /// int32 zero points of the scales' shape, each in [−2^22, 2^22].
    pub has_zero_point: bool,
}

impl WeightOnlyLinearDescriptor {
    /// A `T` activation and output, an int8 weight with per-channel scales, no zero points, no bias.
    pub fn new<T: FloatElement>(m: i64, n: i64, k: i64) -> Self {
        WeightOnlyLinearDescriptor {
            m,
            n,
            k,
            activation_element: T::KIND,
            weight_element: ElementKind::S8,
            output_element: T::KIND,
            has_bias: false,
            weight_scale: WeightOnlyScale::PerChannel,
            has_zero_point: false,
        }
    }
    /// The same descriptor with a `[N]` bias of `T` (or without one).
    pub fn with_bias(mut self, has_bias: bool) -> Self {
        self.has_bias = has_bias;
        self
    }
    /// The same descriptor with the weight's scales per channel, per tensor or per group.
    pub fn with_weight_scale(mut self, mode: WeightOnlyScale) -> Self {
        self.weight_scale = mode;
        self
    }
    /// The same descriptor with (or without) int32 zero points of the scales' shape.
    pub fn with_zero_point(mut self, has_zero_point: bool) -> Self {
        self.has_zero_point = has_zero_point;
        self
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_weight_only_linear_desc {
        let (weight_scale, group_size) = self.weight_scale.to_raw();
        sys::qjit_weight_only_linear_desc {
            struct_size: sys::struct_size::<sys::qjit_weight_only_linear_desc>(),
            m: self.m,
            n: self.n,
            k: self.k,
            activation_element: self.activation_element.to_raw(),
            weight_element: self.weight_element.to_raw(),
            output_element: self.output_element.to_raw(),
            has_bias: self.has_bias as i32,
            weight_scale,
            group_size,
            has_zero_point: self.has_zero_point as i32,
        }
    }
}

/// The scaled int8 GEMM an engine with its own quantization calls (vLLM's `cutlass_scaled_mm`):
/// output[m, n] = act_scale[m | 0] · weight_scale[n | 0] · Σ_k act_q[m, k] · weight_q[n, k] (+ bias[n]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaledMatmulDescriptor {
    /// Tokens: chooses the tuning bucket; `run` accepts any M >= 1.
    pub m: i64,
    /// Output features (rows of weight_q); compiled into the kernel.
    pub n: i64,
    /// Input features; compiled into the kernel.
    pub k: i64,
    /// S8.
    pub activation_element: ElementKind,
    /// S8.
    pub weight_element: ElementKind,
    /// f16, bf16 or f32: the plan's `TOut` (the bias has it too).
    pub output_element: ElementKind,
    pub has_bias: bool,
    pub act_scale: ActScaleMode,
    pub weight_scale: WeightScaleMode,
    /// act_q has a per-token zero point: the args' `act_zero_point` [M] and `weight_colsum` [N] are required and
    /// output = act_scale[m] · weight_scale[n | 0] · (acc − zp[m] · colsum[n]) (+ bias); per-token scales only.
    pub has_act_zero_point: bool,
}

impl ScaledMatmulDescriptor {
    /// S8 activation and weight, a `TOut` output, no bias, per-token activation and per-channel weight scales.
    pub fn new<TOut: FloatElement>(m: i64, n: i64, k: i64) -> Self {
        ScaledMatmulDescriptor {
            m,
            n,
            k,
            activation_element: ElementKind::S8,
            weight_element: ElementKind::S8,
            output_element: TOut::KIND,
            has_bias: false,
            act_scale: ActScaleMode::PerToken,
            weight_scale: WeightScaleMode::PerChannel,
            has_act_zero_point: false,
        }
    }
    /// The same descriptor with (or without) per-token activation zero points.
    pub fn with_act_zero_point(mut self, has_act_zero_point: bool) -> Self {
        self.has_act_zero_point = has_act_zero_point;
        self
    }
    /// The same descriptor with a `[N]` bias of the output element (or without one).
    pub fn with_bias(mut self, has_bias: bool) -> Self {
        self.has_bias = has_bias;
        self
    }
    /// The same descriptor with the activation scale per token ([M]) or per tensor ([1]).
    pub fn with_act_scale(mut self, mode: ActScaleMode) -> Self {
        self.act_scale = mode;
        self
    }
    /// The same descriptor with the weight scale per channel ([N]) or per tensor ([1]).
    pub fn with_weight_scale(mut self, mode: WeightScaleMode) -> Self {
        self.weight_scale = mode;
        self
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_scaled_matmul_desc {
        sys::qjit_scaled_matmul_desc {
            struct_size: sys::struct_size::<sys::qjit_scaled_matmul_desc>(),
            m: self.m,
            n: self.n,
            k: self.k,
            activation_element: self.activation_element.to_raw(),
            weight_element: self.weight_element.to_raw(),
            output_element: self.output_element.to_raw(),
            has_bias: self.has_bias as i32,
            act_scale: self.act_scale.to_raw(),
            weight_scale: self.weight_scale.to_raw(),
            has_act_zero_point: self.has_act_zero_point as i32,
        }
    }
}

/// Which normalisation a norm + quantize descriptor asks for; it must match the plan type
/// ([`crate::RmsNormQuantizePlan`] or [`crate::LayerNormQuantizePlan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NormKind {
    RmsNorm,
    LayerNorm,
}

impl NormKind {
    pub(crate) fn to_raw(self) -> i32 {
        match self {
            NormKind::RmsNorm => sys::QJIT_RMS_NORM,
            NormKind::LayerNorm => sys::QJIT_LAYER_NORM,
        }
    }
    /// The C++ API's name ("RmsNorm", "LayerNorm"), as its messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            NormKind::RmsNorm => "RmsNorm",
            NormKind::LayerNorm => "LayerNorm",
        }
    }
}

/// RMSNorm or LayerNorm fused with int8 quantization, in one pass over x [M, K]:
/// h = x (+ residual, rounded to the input type and written to residual_out), v = norm(h) · gamma (+ beta) in f32,
/// q = round-half-even(v / scale) saturated, with scale[m] = absmax(v[m, :]) / 127 per token (bit for bit what
/// DynamicRangeQuantizePlan does to the same f32 v) or the descriptor's static scale.
///   RMSNorm:   v = (h · rstd) · gamma,              rstd = 1 / sqrt(Σ h² / K + eps)
///   LayerNorm: v = ((h − mu) · rstd) · gamma + beta, rstd = 1 / sqrt(Σ (h − mu)² / K + eps), mu = Σ h / K
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormQuantizeDescriptor {
    pub norm: NormKind,
    /// Tokens (chooses the tuning bucket; `run` accepts any M >= 1).
    pub m: i64,
    /// Features; compiled into the kernel.
    pub k: i64,
    /// f16, bf16 or f32: x, residual, residual_out, gamma and beta; the plan's `TIn`.
    pub input_element: ElementKind,
    /// PerToken: dynamic scale[m] = absmax(v[m, :]) / 127; PerTensor: `static_scale` (real = q · static_scale).
    pub granularity: QuantGranularity,
    /// h = x + residual, written to residual_out, then normalised.
    pub has_residual: bool,
    /// Finite, >= 0: added to the mean square (RMSNorm) or the variance (LayerNorm).
    pub eps: f32,
    /// PerTensor: finite and > 0; PerToken: 0.
    pub static_scale: f32,
}

impl NormQuantizeDescriptor {
    /// RMSNorm over `TIn`, eps 1e-6, per-token scales, no residual (the C++ API's defaults).
    pub fn rms_norm<TIn: FloatElement>(m: i64, k: i64) -> Self {
        Self::make(NormKind::RmsNorm, m, k, TIn::KIND, 1e-6)
    }
    /// LayerNorm over `TIn`, eps 1e-5, per-token scales, no residual (the C++ API's defaults).
    pub fn layer_norm<TIn: FloatElement>(m: i64, k: i64) -> Self {
        Self::make(NormKind::LayerNorm, m, k, TIn::KIND, 1e-5)
    }
    fn make(norm: NormKind, m: i64, k: i64, input_element: ElementKind, eps: f32) -> Self {
        NormQuantizeDescriptor {
            norm,
            m,
            k,
            input_element,
            granularity: QuantGranularity::PerToken,
            has_residual: false,
            eps,
            static_scale: 0.0,
        }
    }
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
    /// The same descriptor with (or without) a residual added first and written back to residual_out.
    pub fn with_residual(mut self, has_residual: bool) -> Self {
        self.has_residual = has_residual;
        self
    }
    /// The same descriptor with a static per-tensor scale instead of per-token scales.
    pub fn with_static_scale(mut self, scale: f32) -> Self {
        self.granularity = QuantGranularity::PerTensor;
        self.static_scale = scale;
        self
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_norm_quantize_desc {
        sys::qjit_norm_quantize_desc {
            struct_size: sys::struct_size::<sys::qjit_norm_quantize_desc>(),
            m: self.m,
            k: self.k,
            norm: self.norm.to_raw(),
            input_element: self.input_element.to_raw(),
            granularity: self.granularity.to_raw(),
            has_residual: self.has_residual as i32,
            eps: self.eps,
            static_scale: self.static_scale,
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
impl fmt::Display for ScaledMatmulDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_sys();
        // SAFETY: as above.
        f.write_str(&read_string(|buf, cap| unsafe { sys::qjit_scaled_matmul_desc_to_string(&d, buf, cap) }))
    }
}
impl fmt::Display for NormQuantizeDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_sys();
        // SAFETY: as above.
        f.write_str(&read_string(|buf, cap| unsafe { sys::qjit_norm_quantize_desc_to_string(&d, buf, cap) }))
    }
}
impl fmt::Display for WeightOnlyLinearDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.to_sys();
        // SAFETY: as above.
        f.write_str(&read_string(|buf, cap| unsafe { sys::qjit_weight_only_linear_desc_to_string(&d, buf, cap) }))
    }
}
