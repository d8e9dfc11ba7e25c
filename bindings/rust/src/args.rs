//! The run-time argument bundles: typed views whose element types the plan's type parameters fix, so a bf16 plan
//! cannot be handed an f32 output. Shapes, strides and pointers are checked by the library (`can_implement`, and
//! again by `run`). Scales are f32 in device memory for every `TIn`.
use crate::element::{FloatElement, IntElement, S8};
use crate::sys;
use crate::tensor::{TensorMut, TensorRef};

/// Arguments of [`crate::QuantizedLinearPlan::run`]: y[M, N] = quantize(x)[M, K] · W[N, K]ᵀ, scaled (+ bias).
#[derive(Debug)]
pub struct QuantizedLinearArgs<'a, TIn: FloatElement, TWQ: IntElement = S8> {
    /// FP activation [M, K], row stride >= K.
    pub activation: TensorRef<'a, TIn, 2>,
    /// Quantized weight [N, K] (PyTorch `nn.Linear.weight` layout).
    pub weight_q: TensorRef<'a, TWQ, 2>,
    /// Per-output-channel weight scale [N].
    pub weight_scale: TensorRef<'a, f32, 1>,
    /// [N] when the descriptor has a bias, else `None`.
    pub bias: Option<TensorRef<'a, TIn, 1>>,
    /// [M, N], row stride >= N.
    pub output: TensorMut<'a, TIn, 2>,
    /// Caller-owned [M, K] int8 scratch for the quantized activation; reusable across launches. On sm_90a a scratch
    /// whose rows are not 16-byte aligned (contiguous rows with K % 16 != 0) is left untouched when the workspace
    /// holds the plan's staged rows: the pass writes those instead (rows of 128-byte multiples: every path).
    pub act_q_scratch: TensorMut<'a, S8, 2>,
    /// Caller-owned [M] scratch: the per-token activation scales after the run.
    pub act_scale_scratch: TensorMut<'a, f32, 1>,
    /// [K] when the descriptor has a smoothing vector, else `None`.
    pub pre_quant_scale: Option<TensorRef<'a, f32, 1>>,
    /// [N] Σ_k weight_q[n, k] when the descriptor is asymmetric, else `None`.
    pub weight_colsum: Option<TensorRef<'a, i32, 1>>,
}

/// Arguments of [`crate::SmoothQuantLinearPlan::run`]. The static activation scale is the descriptor's, folded into
/// the epilogue, so there is no scale scratch.
#[derive(Debug)]
pub struct SmoothQuantLinearArgs<'a, TIn: FloatElement, TWQ: IntElement = S8> {
    /// Smoothed int8 activation [M, K], quantized with the descriptor's act_scale.
    pub act_q: TensorRef<'a, S8, 2>,
    pub weight_q: TensorRef<'a, TWQ, 2>,
    pub weight_scale: TensorRef<'a, f32, 1>,
    pub bias: Option<TensorRef<'a, TIn, 1>>,
    pub output: TensorMut<'a, TIn, 2>,
}

/// Arguments of [`crate::DynamicRangeQuantizePlan::run`].
#[derive(Debug)]
pub struct DynamicRangeQuantizeArgs<'a, TIn: FloatElement, TQ: IntElement = S8> {
    /// [M, K], row stride >= K.
    pub input: TensorRef<'a, TIn, 2>,
    /// [M, K] codes: i8, or u8 with an asymmetric u8 descriptor.
    pub output: TensorMut<'a, TQ, 2>,
    /// [M] per token, [1] per tensor.
    pub scale: TensorMut<'a, f32, 1>,
    /// [K] when the descriptor has a smoothing vector, else `None`.
    pub pre_quant_scale: Option<TensorRef<'a, f32, 1>>,
    /// [M] per-token zero points (in the codes' domain) when the descriptor is asymmetric, else `None`.
    pub zero_point: Option<TensorMut<'a, i32, 1>>,
}

/// Arguments of [`crate::ScaledMatmulPlan::run`]: output[M, N] = act_scale · weight_scale · act_q · weight_qᵀ
/// (+ bias). Every scale is f32 in device memory, so a run never reads the host.
#[derive(Debug)]
pub struct ScaledMatmulArgs<'a, TOut: FloatElement> {
    /// [M, K] int8, row stride >= K.
    pub act_q: TensorRef<'a, S8, 2>,
    /// [N, K] int8 (PyTorch `nn.Linear.weight` layout), row stride >= K.
    pub weight_q: TensorRef<'a, S8, 2>,
    /// [M] with `ActScaleMode::PerToken`, [1] with `ActScaleMode::PerTensor`.
    pub act_scale: TensorRef<'a, f32, 1>,
    /// [N] with `WeightScaleMode::PerChannel`, [1] with `WeightScaleMode::PerTensor`.
    pub weight_scale: TensorRef<'a, f32, 1>,
    /// [N] when the descriptor has a bias, else `None`.
    pub bias: Option<TensorRef<'a, TOut, 1>>,
    /// [M, N], row stride >= N.
    pub output: TensorMut<'a, TOut, 2>,
    /// [M] (s8 domain) when the descriptor has_act_zero_point, else `None`.
    pub act_zero_point: Option<TensorRef<'a, i32, 1>>,
    /// [N] Σ_k weight_q[n, k] when the descriptor has_act_zero_point, else `None`.
    pub weight_colsum: Option<TensorRef<'a, i32, 1>>,
}

/// Arguments of [`crate::WeightOnlyLinearPlan::run`]: output[M, N] = x · dequant(weight_q)ᵀ (+ bias).
#[derive(Debug)]
pub struct WeightOnlyLinearArgs<'a, T: FloatElement> {
    /// x [M, K], row stride >= K.
    pub activation: TensorRef<'a, T, 2>,
    /// [N, K] int8 (PyTorch `nn.Linear.weight` layout), row stride >= K.
    pub weight: TensorRef<'a, S8, 2>,
    /// f32: [N, 1] per channel, [1, 1] per tensor, [N, ceil(K / group)] per group.
    pub weight_scale: TensorRef<'a, f32, 2>,
    /// int32 of weight_scale's shape when the descriptor has zero points, else `None`.
    pub zero_point: Option<TensorRef<'a, i32, 2>>,
    /// [N] when the descriptor has a bias, else `None`.
    pub bias: Option<TensorRef<'a, T, 1>>,
    /// [M, N], row stride >= N.
    pub output: TensorMut<'a, T, 2>,
}

/// Arguments of [`crate::RmsNormQuantizePlan::run`] and [`crate::LayerNormQuantizePlan::run`].
///
/// With a residual, `residual_out` may be the very memory of `input` or `residual` (same pointer and row stride:
/// updated in place, which the library allows); any other overlap is refused.
#[derive(Debug)]
pub struct NormQuantizeArgs<'a, TIn: FloatElement> {
    /// x [M, K], row stride >= K.
    pub input: TensorRef<'a, TIn, 2>,
    /// [M, K] when the descriptor has a residual, else `None`.
    pub residual: Option<TensorRef<'a, TIn, 2>>,
    /// [M, K] when the descriptor has a residual (receives x + residual rounded to `TIn`), else `None`.
    pub residual_out: Option<TensorMut<'a, TIn, 2>>,
    /// [K].
    pub gamma: TensorRef<'a, TIn, 1>,
    /// [K] for LayerNorm, `None` for RMSNorm.
    pub beta: Option<TensorRef<'a, TIn, 1>>,
    /// [M, K] int8, row stride >= K.
    pub output: TensorMut<'a, S8, 2>,
    /// [M] per-token scales with a dynamic descriptor, `None` with a static scale.
    pub scale: Option<TensorMut<'a, f32, 1>>,
}

/// The C++ API's names for the two norm plans' arguments (one struct serves both).
pub type RmsNormQuantizeArgs<'a, TIn> = NormQuantizeArgs<'a, TIn>;
pub type LayerNormQuantizeArgs<'a, TIn> = NormQuantizeArgs<'a, TIn>;

fn opt<T: crate::element::Element, const RANK: usize>(t: &Option<TensorRef<'_, T, RANK>>) -> sys::qjit_tensor {
    t.map(|t| t.to_sys()).unwrap_or(sys::qjit_tensor::ABSENT)
}

fn opt_mut<T: crate::element::Element, const RANK: usize>(t: &Option<TensorMut<'_, T, RANK>>) -> sys::qjit_tensor {
    t.as_ref().map(|t| t.to_sys()).unwrap_or(sys::qjit_tensor::ABSENT)
}

impl<TIn: FloatElement, TWQ: IntElement> QuantizedLinearArgs<'_, TIn, TWQ> {
    pub(crate) fn to_sys(&self) -> sys::qjit_linear_args {
        sys::qjit_linear_args {
            struct_size: sys::struct_size::<sys::qjit_linear_args>(),
            activation: self.activation.to_sys(),
            weight: self.weight_q.to_sys(),
            weight_scale: self.weight_scale.to_sys(),
            bias: opt(&self.bias),
            output: self.output.to_sys(),
            act_q_scratch: self.act_q_scratch.to_sys(),
            act_scale_scratch: self.act_scale_scratch.to_sys(),
            pre_quant_scale: opt(&self.pre_quant_scale),
            weight_colsum: opt(&self.weight_colsum),
        }
    }
}

impl<TIn: FloatElement, TWQ: IntElement> SmoothQuantLinearArgs<'_, TIn, TWQ> {
    pub(crate) fn to_sys(&self) -> sys::qjit_linear_args {
        sys::qjit_linear_args {
            struct_size: sys::struct_size::<sys::qjit_linear_args>(),
            activation: self.act_q.to_sys(),
            weight: self.weight_q.to_sys(),
            weight_scale: self.weight_scale.to_sys(),
            bias: opt(&self.bias),
            output: self.output.to_sys(),
            act_q_scratch: sys::qjit_tensor::ABSENT,
            act_scale_scratch: sys::qjit_tensor::ABSENT,
            pre_quant_scale: sys::qjit_tensor::ABSENT,
            weight_colsum: sys::qjit_tensor::ABSENT,
        }
    }
}

impl<TIn: FloatElement, TQ: IntElement> DynamicRangeQuantizeArgs<'_, TIn, TQ> {
    pub(crate) fn to_sys(&self) -> sys::qjit_quantize_args {
        sys::qjit_quantize_args {
            struct_size: sys::struct_size::<sys::qjit_quantize_args>(),
            input: self.input.to_sys(),
            output: self.output.to_sys(),
            scale: self.scale.to_sys(),
            pre_quant_scale: opt(&self.pre_quant_scale),
            zero_point: opt_mut(&self.zero_point),
        }
    }
}

impl<TOut: FloatElement> ScaledMatmulArgs<'_, TOut> {
    pub(crate) fn to_sys(&self) -> sys::qjit_scaled_matmul_args {
        sys::qjit_scaled_matmul_args {
            struct_size: sys::struct_size::<sys::qjit_scaled_matmul_args>(),
            act_q: self.act_q.to_sys(),
            weight_q: self.weight_q.to_sys(),
            act_scale: self.act_scale.to_sys(),
            weight_scale: self.weight_scale.to_sys(),
            bias: opt(&self.bias),
            output: self.output.to_sys(),
            act_zero_point: opt(&self.act_zero_point),
            weight_colsum: opt(&self.weight_colsum),
        }
    }
}

impl<T: FloatElement> WeightOnlyLinearArgs<'_, T> {
    pub(crate) fn to_sys(&self) -> sys::qjit_weight_only_linear_args {
        sys::qjit_weight_only_linear_args {
            struct_size: sys::struct_size::<sys::qjit_weight_only_linear_args>(),
            activation: self.activation.to_sys(),
            weight: self.weight.to_sys(),
            weight_scale: self.weight_scale.to_sys(),
            zero_point: opt(&self.zero_point),
            bias: opt(&self.bias),
            output: self.output.to_sys(),
        }
    }
}

impl<TIn: FloatElement> NormQuantizeArgs<'_, TIn> {
    pub(crate) fn to_sys(&self) -> sys::qjit_norm_quantize_args {
        sys::qjit_norm_quantize_args {
            struct_size: sys::struct_size::<sys::qjit_norm_quantize_args>(),
            input: self.input.to_sys(),
            residual: opt(&self.residual),
            residual_out: opt_mut(&self.residual_out),
            gamma: self.gamma.to_sys(),
            beta: opt(&self.beta),
            output: self.output.to_sys(),
            scale: opt_mut(&self.scale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::Bf16;
    use crate::tensor::DevicePtr;

    fn at(t: &sys::qjit_tensor) -> (usize, i32, i32, [i64; 4]) {
        (t.data as usize, t.element, t.rank, t.shape)
    }

    // Each view lands in its own C field; an absent optional is the all-zero tensor the header asks for.
    #[test]
    fn new_args_fill_their_c_fields() {
        let n = unsafe {
            NormQuantizeArgs::<Bf16> {
                input: TensorRef::contiguous(DevicePtr(0x100), [3, 64]),
                residual: Some(TensorRef::contiguous(DevicePtr(0x200), [3, 64])),
                residual_out: Some(TensorMut::contiguous(DevicePtr(0x300), [3, 64])),
                gamma: TensorRef::contiguous(DevicePtr(0x400), [64]),
                beta: None,
                output: TensorMut::contiguous(DevicePtr(0x500), [3, 64]),
                scale: Some(TensorMut::contiguous(DevicePtr(0x600), [3])),
            }
        }
        .to_sys();
        assert_eq!(n.struct_size as usize, std::mem::size_of::<sys::qjit_norm_quantize_args>());
        assert_eq!(at(&n.input), (0x100, sys::QJIT_BF16, 2, [3, 64, 0, 0]));
        assert_eq!(at(&n.residual).0, 0x200);
        assert_eq!(at(&n.residual_out).0, 0x300);
        assert_eq!(at(&n.gamma), (0x400, sys::QJIT_BF16, 1, [64, 0, 0, 0]));
        assert_eq!(at(&n.beta), (0, 0, 0, [0; 4]));
        assert_eq!(at(&n.output), (0x500, sys::QJIT_S8, 2, [3, 64, 0, 0]));
        assert_eq!(at(&n.scale), (0x600, sys::QJIT_F32, 1, [3, 0, 0, 0]));
        let none = unsafe {
            NormQuantizeArgs::<f32> {
                input: TensorRef::contiguous(DevicePtr(0x100), [1, 8]),
                residual: None,
                residual_out: None,
                gamma: TensorRef::contiguous(DevicePtr(0x400), [8]),
                beta: Some(TensorRef::contiguous(DevicePtr(0x700), [8])),
                output: TensorMut::contiguous(DevicePtr(0x500), [1, 8]),
                scale: None,
            }
        }
        .to_sys();
        assert_eq!((at(&none.residual).2, at(&none.residual_out).2, at(&none.scale).2), (0, 0, 0));
        assert_eq!(at(&none.beta), (0x700, sys::QJIT_F32, 1, [8, 0, 0, 0]));

        let s = unsafe {
            ScaledMatmulArgs::<f32> {
                act_q: TensorRef::contiguous(DevicePtr(0x10), [5, 32]),
                weight_q: TensorRef::contiguous(DevicePtr(0x20), [16, 32]),
                act_scale: TensorRef::contiguous(DevicePtr(0x30), [1]),
                weight_scale: TensorRef::contiguous(DevicePtr(0x40), [16]),
                bias: None,
                output: TensorMut::contiguous(DevicePtr(0x50), [5, 16]),
                act_zero_point: Some(TensorRef::contiguous(DevicePtr(0x60), [5])),
                weight_colsum: None,
            }
        }
        .to_sys();
        assert_eq!(s.act_zero_point.data as usize, 0x60);
        assert_eq!(s.act_zero_point.element, sys::QJIT_S32);
        assert_eq!(s.weight_colsum.rank, 0);
        assert_eq!(s.struct_size as usize, std::mem::size_of::<sys::qjit_scaled_matmul_args>());
        assert_eq!(at(&s.act_q), (0x10, sys::QJIT_S8, 2, [5, 32, 0, 0]));
        assert_eq!(at(&s.weight_q), (0x20, sys::QJIT_S8, 2, [16, 32, 0, 0]));
        assert_eq!(at(&s.act_scale), (0x30, sys::QJIT_F32, 1, [1, 0, 0, 0]));
        assert_eq!(at(&s.weight_scale), (0x40, sys::QJIT_F32, 1, [16, 0, 0, 0]));
        assert_eq!(at(&s.bias), (0, 0, 0, [0; 4]));
        assert_eq!(at(&s.output), (0x50, sys::QJIT_F32, 2, [5, 16, 0, 0]));

        let q = unsafe {
            DynamicRangeQuantizeArgs::<f32, u8> {
                input: TensorRef::contiguous(DevicePtr(0x100), [3, 64]),
                output: TensorMut::contiguous(DevicePtr(0x200), [3, 64]),
                scale: TensorMut::contiguous(DevicePtr(0x300), [3]),
                pre_quant_scale: None,
                zero_point: Some(TensorMut::contiguous(DevicePtr(0x400), [3])),
            }
        }
        .to_sys();
        assert_eq!(at(&q.output), (0x200, sys::QJIT_U8, 2, [3, 64, 0, 0]));
        assert_eq!(at(&q.zero_point), (0x400, sys::QJIT_S32, 1, [3, 0, 0, 0]));
        assert_eq!(q.pre_quant_scale.rank, 0);

        let w = unsafe {
            WeightOnlyLinearArgs::<Bf16> {
                activation: TensorRef::contiguous(DevicePtr(0x1000), [4, 256]),
                weight: TensorRef::contiguous(DevicePtr(0x2000), [64, 256]),
                weight_scale: TensorRef::contiguous(DevicePtr(0x3000), [64, 2]),
                zero_point: Some(TensorRef::contiguous(DevicePtr(0x4000), [64, 2])),
                bias: None,
                output: TensorMut::contiguous(DevicePtr(0x5000), [4, 64]),
            }
        }
        .to_sys();
        assert_eq!(w.struct_size as usize, std::mem::size_of::<sys::qjit_weight_only_linear_args>());
        assert_eq!(at(&w.activation), (0x1000, sys::QJIT_BF16, 2, [4, 256, 0, 0]));
        assert_eq!(at(&w.weight), (0x2000, sys::QJIT_S8, 2, [64, 256, 0, 0]));
        assert_eq!(at(&w.weight_scale), (0x3000, sys::QJIT_F32, 2, [64, 2, 0, 0]));
        assert_eq!(at(&w.zero_point), (0x4000, sys::QJIT_S32, 2, [64, 2, 0, 0]));
        assert_eq!(at(&w.bias), (0, 0, 0, [0; 4]));
        assert_eq!(at(&w.output), (0x5000, sys::QJIT_BF16, 2, [4, 64, 0, 0]));
    }
}
