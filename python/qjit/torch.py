"""PyTorch integration: torch.ops.qjit.* custom ops, W8A8Linear, and a loader for `qjit quantize` output.

Importing this module imports torch and registers eight ops (torch.library, each with a fake (meta) implementation),
so torch.compile(fullgraph=True) traces through them and CUDA graphs capture them:
  torch.ops.qjit.quantized_linear(x, w_q, w_scale, bias=None) -> y            x [..., K] f16/bf16/f32/f64
  torch.ops.qjit.smooth_quant_linear(x_q, act_scale, w_q, w_scale, bias, out_dtype) -> y
  torch.ops.qjit.quantize_per_token(x) -> (q int8 [..., K], scale f32 [...])
  torch.ops.qjit.scaled_mm(a_q, w_q, a_scale, w_scale, bias, out_dtype) -> y   (vLLM's cutlass_scaled_mm: a_scale
      [M] or [1] f32, w_scale [N] or [1] f32, w_q [N, K] int8 in nn.Linear layout)
  torch.ops.qjit.weight_only_linear(x, w_q, w_scale, bias=None, zero_point=None, group_size=None) -> y   (W8A16:
      x [..., K] f16/bf16, w_q [N, K] int8, w_scale f32 [N] / [N, 1] per channel, [1] / [1, 1] per tensor or
      [N, ceil(K / group_size)] per group of 64 / 128; zero_point int32 of w_scale's shape; y of x's dtype)
  torch.ops.qjit.rms_norm_quantize(x, gamma, eps, residual=None) -> (q int8, scale f32 [...])   residual, when
      given, becomes x + residual in place (and h = x + residual is what is normalised)
  torch.ops.qjit.rms_norm_quantize_static(x, gamma, eps, scale, residual=None) -> q int8
  torch.ops.qjit.layer_norm_quantize(x, gamma, beta, eps, residual=None) -> (q int8, scale f32 [...])
Leading dimensions are flattened into M. The ops run on torch's current stream of the input's device.

CUDA graphs: a plan is selected (and maybe compiled) the first time a shape's M bucket is seen, which must not
happen while a stream is capturing. Run each op once per M bucket before capturing (a warm-up, which
torch.cuda.graphs and torch.compile's "reduce-overhead" mode do anyway); a call that would select during capture
raises qjit.UnsupportedError saying so.
"""

from typing import List

import torch
from torch import nn

from . import _ops
from ._errors import invalid
from ._safetensors import SafetensorsFile

__all__ = ["W8A8Linear", "load_quantized", "pad_rows", "quantize_weight_per_channel"]


def _flatten(x):
    x2 = x.reshape(-1, x.shape[-1]) if x.dim() != 2 else x
    if x2.numel() and x2.stride(-1) != 1:
        x2 = x2.contiguous()
    return x2


# ---- custom ops ------------------------------------------------------------------------------------------------------
# Defined with torch.library.Library and one CompositeExplicitAutograd kernel each (every backend reaches the same
# Python function, so a CPU tensor gets qjit's own error naming the argument), plus a fake (meta) kernel for tracing.
# torch.library.custom_op would add its autograd and wrapper layers to every eager call: ~110 µs more per call than
# this on the H200 host (bench/host_overhead.py), where one qjit call's own host cost is tens of µs.

_LIB = torch.library.Library("qjit", "DEF")
_OPS = {
    "quantized_linear": "quantized_linear(Tensor x, Tensor w_q, Tensor w_scale, Tensor? bias=None, "
                        "Tensor? pre_quant_scale=None) -> Tensor",
    "smooth_quant_linear": "smooth_quant_linear(Tensor x_q, float act_scale, Tensor w_q, Tensor w_scale, "
                           "Tensor? bias, ScalarType out_dtype) -> Tensor",
    "quantize_per_token": "quantize_per_token(Tensor x, Tensor? pre_quant_scale=None) -> (Tensor, Tensor)",
    "scaled_mm": "scaled_mm(Tensor a_q, Tensor w_q, Tensor a_scale, Tensor w_scale, Tensor? bias, "
                 "ScalarType out_dtype) -> Tensor",
    "weight_only_linear": "weight_only_linear(Tensor x, Tensor w_q, Tensor w_scale, Tensor? bias=None, "
                          "Tensor? zero_point=None, int? group_size=None) -> Tensor",
    # The fused norm + quantize (vLLM's rms_norm_dynamic_per_token_quant): residual, when given, is updated in place
    # to x + residual (fused_add_rms_norm), which the schema declares (a!) so torch.compile functionalizes it.
    "rms_norm_quantize": "rms_norm_quantize(Tensor x, Tensor gamma, float eps, Tensor(a!)? residual=None) "
                         "-> (Tensor, Tensor)",
    "rms_norm_quantize_static": "rms_norm_quantize_static(Tensor x, Tensor gamma, float eps, float scale, "
                                "Tensor(a!)? residual=None) -> Tensor",
    "layer_norm_quantize": "layer_norm_quantize(Tensor x, Tensor gamma, Tensor beta, float eps, "
                           "Tensor(a!)? residual=None) -> (Tensor, Tensor)",
}


def _op(name):
    """Registers `fn` as the kernel of torch.ops.qjit.<name> (schema in _OPS); `fn.fake` as its fake kernel."""
    def register(fn):
        _LIB.define(_OPS[name])
        _LIB.impl(name, fn, "CompositeExplicitAutograd")
        return fn
    return register


def _fake(name):
    return torch.library.register_fake("qjit::" + name)


@_op("quantized_linear")
def quantized_linear(x, w_q, w_scale, bias=None, pre_quant_scale=None):
    if x.dim() < 1:
        raise invalid(f"x must have at least 1 dimension [..., K], got shape {list(x.shape)}")
    y = _ops.quantized_linear(_flatten(x), w_q, w_scale, bias, pre_quant_scale=pre_quant_scale)
    return y if x.dim() == 2 else y.reshape(*x.shape[:-1], w_q.shape[0])


@_fake("quantized_linear")
def _quantized_linear_fake(x, w_q, w_scale, bias=None, pre_quant_scale=None):
    torch._check(x.shape[-1] == w_q.shape[1], lambda: f"w_q.shape[1] must equal x.shape[-1], got {w_q.shape}")
    return x.new_empty((*x.shape[:-1], w_q.shape[0]))


@_op("smooth_quant_linear")
def smooth_quant_linear(x_q, act_scale, w_q, w_scale, bias, out_dtype):
    if x_q.dim() < 1:
        raise invalid(f"x_q must have at least 1 dimension [..., K], got shape {list(x_q.shape)}")
    y = _ops.smooth_quant_linear(_flatten(x_q), act_scale, w_q, w_scale, bias, dtype=out_dtype)
    return y if x_q.dim() == 2 else y.reshape(*x_q.shape[:-1], w_q.shape[0])


@_fake("smooth_quant_linear")
def _smooth_quant_linear_fake(x_q, act_scale, w_q, w_scale, bias, out_dtype):
    torch._check(x_q.shape[-1] == w_q.shape[1], lambda: f"w_q.shape[1] must equal x_q.shape[-1], got {w_q.shape}")
    return x_q.new_empty((*x_q.shape[:-1], w_q.shape[0]), dtype=out_dtype)


@_op("quantize_per_token")
def quantize_per_token(x, pre_quant_scale=None):
    if x.dim() < 1:
        raise invalid(f"x must have at least 1 dimension [..., K], got shape {list(x.shape)}")
    q, s = _ops.quantize_per_token(_flatten(x), pre_quant_scale=pre_quant_scale)
    if x.dim() == 2:
        return q, s
    return q.reshape(x.shape), s.reshape(x.shape[:-1])


@_fake("quantize_per_token")
def _quantize_per_token_fake(x, pre_quant_scale=None):
    return x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=torch.float32)


@_op("scaled_mm")
def scaled_mm(a_q, w_q, a_scale, w_scale, bias, out_dtype):
    if a_q.dim() < 1:
        raise invalid(f"a_q must have at least 1 dimension [..., K], got shape {list(a_q.shape)}")
    a2 = _flatten(a_q)
    if a_scale.numel() > 1:
        a_scale = a_scale.reshape(-1)  # per token over the flattened rows
    y = _ops.scaled_mm(a2, w_q, a_scale, w_scale, bias, dtype=out_dtype)
    return y if a_q.dim() == 2 else y.reshape(*a_q.shape[:-1], w_q.shape[0])


@_fake("scaled_mm")
def _scaled_mm_fake(a_q, w_q, a_scale, w_scale, bias, out_dtype):
    torch._check(a_q.shape[-1] == w_q.shape[1], lambda: f"w_q.shape[1] must equal a_q.shape[-1], got {w_q.shape}")
    return a_q.new_empty((*a_q.shape[:-1], w_q.shape[0]), dtype=out_dtype)


@_op("weight_only_linear")
def weight_only_linear(x, w_q, w_scale, bias=None, zero_point=None, group_size=None):
    if x.dim() < 1:
        raise invalid(f"x must have at least 1 dimension [..., K], got shape {list(x.shape)}")
    y = _ops.weight_only_linear(_flatten(x), w_q, w_scale, bias, zero_point=zero_point, group_size=group_size)
    return y if x.dim() == 2 else y.reshape(*x.shape[:-1], w_q.shape[0])


@_fake("weight_only_linear")
def _weight_only_linear_fake(x, w_q, w_scale, bias=None, zero_point=None, group_size=None):
    torch._check(x.shape[-1] == w_q.shape[1], lambda: f"w_q.shape[1] must equal x.shape[-1], got {w_q.shape}")
    return x.new_empty((*x.shape[:-1], w_q.shape[0]))


def _rows(x, name):
    if x.dim() < 1:
        raise invalid(f"{name} must have at least 1 dimension [..., K], got shape {list(x.shape)}")
    return _flatten(x)


def _residual_rows(residual, x):
    """The residual as [M, K] rows that alias its storage (updated in place), or None."""
    if residual is None:
        return None
    if tuple(residual.shape) != tuple(x.shape):
        raise invalid(f"residual.shape must equal x.shape {list(x.shape)}, got {list(residual.shape)}")
    r2 = residual.reshape(-1, residual.shape[-1]) if residual.dim() != 2 else residual
    if r2.data_ptr() != residual.data_ptr() or (r2.numel() and r2.stride(-1) != 1):
        raise invalid("residual must be a view whose rows [..., K] flatten without a copy (it is updated in place)")
    return r2


@_op("rms_norm_quantize")
def rms_norm_quantize(x, gamma, eps, residual=None):
    q, s = _ops.rms_norm_quantize(_rows(x, "x"), gamma, eps, residual=_residual_rows(residual, x))
    return q.reshape(x.shape), s.reshape(x.shape[:-1])


@_fake("rms_norm_quantize")
def _rms_norm_quantize_fake(x, gamma, eps, residual=None):
    return x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=torch.float32)


@_op("rms_norm_quantize_static")
def rms_norm_quantize_static(x, gamma, eps, scale, residual=None):
    q, _ = _ops.rms_norm_quantize(_rows(x, "x"), gamma, eps, residual=_residual_rows(residual, x), static_scale=scale)
    return q.reshape(x.shape)


@_fake("rms_norm_quantize_static")
def _rms_norm_quantize_static_fake(x, gamma, eps, scale, residual=None):
    return x.new_empty(x.shape, dtype=torch.int8)


@_op("layer_norm_quantize")
def layer_norm_quantize(x, gamma, beta, eps, residual=None):
    q, s = _ops.layer_norm_quantize(_rows(x, "x"), gamma, beta, eps, residual=_residual_rows(residual, x))
    return q.reshape(x.shape), s.reshape(x.shape[:-1])


@_fake("layer_norm_quantize")
def _layer_norm_quantize_fake(x, gamma, beta, eps, residual=None):
    return x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=torch.float32)


# ---- weights and the module ------------------------------------------------------------------------------------------

@torch.no_grad()
def quantize_weight_per_channel(weight):
    """Symmetric per-output-channel int8, as `qjit quantize` does: w_scale[n] = absmax(W[n, :]) / 127 (f32),
    q = round-half-even(W / w_scale) saturated to [-128, 127], computed in f32; a zero row gets scale 0 and q 0.
    Returns (q int8 [N, K], w_scale f32 [N]) on the weight's device."""
    w = weight.detach().to(torch.float32)
    if w.dim() != 2:
        raise invalid(f"weight must be 2-D [N, K], got shape {list(w.shape)}")
    if not bool(torch.isfinite(w).all()):
        raise invalid("weight must be finite (it has NaN or infinite entries)")
    scale = w.abs().amax(dim=1) / 127.0
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    q = torch.round(torch.clamp(w / safe[:, None], -128.0, 127.0))
    q = torch.where(scale[:, None] == 0, torch.zeros_like(q), q)
    return q.to(torch.int8), scale


def pad_rows(t, row_stride=None):
    """A copy of the 2-D tensor `t` [N, K] whose rows lie `row_stride` elements apart (default
    qjit.preferred_row_stride(K, t.element_size()): 128-byte rows), returned as the [N, K] view of the padded storage
    (pad elements zero). Give qjit a weight padded once this way and an odd K runs the Hopper kernel at full speed.
    Note: the view is not contiguous (safetensors' save_file wants .contiguous() first)."""
    if t.dim() != 2:
        raise invalid(f"t must be 2-D [N, K], got shape {list(t.shape)}")
    n, k = t.shape
    ld = _ops.preferred_row_stride(k, t.element_size()) if row_stride is None else int(row_stride)
    if ld < k:
        raise invalid(f"row_stride must be >= K={k}, got {ld}")
    padded = t.new_zeros((n, ld))
    padded[:, :k].copy_(t)
    return padded[:, :k]


class W8A8Linear(nn.Module):
    """nn.Linear's drop-in for inference: int8 weight with per-output-channel scales, per-token dynamic int8
    activation (qjit QuantizedLinear). Input [..., in_features] of f16/bf16/f32/f64 on a CUDA device; the output has
    the input's dtype. Buffers: weight_q int8 [out, in], weight_scale f32 [out], bias (or None), input_scale (the
    static activation scale `qjit quantize` records, or None; kept for reference: the forward is dynamic) and
    pre_quant_scale (f32 [in], or None: SmoothQuant's 1/s, multiplied into x in the quantize pass; the weight is
    then W · diag(s))."""

    def __init__(self, in_features, out_features, bias=True, device=None, bias_dtype=torch.float32):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.register_buffer("weight_q", torch.zeros(out_features, in_features, dtype=torch.int8, device=device))
        self.register_buffer("weight_scale", torch.zeros(out_features, dtype=torch.float32, device=device))
        self.register_buffer("bias", torch.zeros(out_features, dtype=bias_dtype, device=device) if bias else None)
        self.register_buffer("input_scale", None)
        self.register_buffer("pre_quant_scale", None)

    @classmethod
    def from_quantized(cls, weight_q, weight_scale, bias=None, input_scale=None, pre_quant_scale=None):
        if weight_q.dim() != 2 or weight_q.dtype != torch.int8:
            raise invalid(f"weight_q must be int8 [N, K], got {weight_q.dtype} {list(weight_q.shape)}")
        n, k = weight_q.shape
        if tuple(weight_scale.shape) != (n,):
            raise invalid(f"weight_scale.shape must be [N={n}], got {list(weight_scale.shape)}")
        if bias is not None and tuple(bias.shape) != (n,):
            raise invalid(f"bias.shape must be [N={n}], got {list(bias.shape)}")
        if pre_quant_scale is not None and tuple(pre_quant_scale.shape) != (k,):
            raise invalid(f"pre_quant_scale.shape must be [K={k}], got {list(pre_quant_scale.shape)}")
        m = cls(k, n, bias=bias is not None, device="meta")
        # NOTE: a row-strided view (pad_rows, a --pad-rows file) is kept as it is: the GEMM reads it in place.
        m.weight_q = weight_q.detach() if weight_q.stride(1) == 1 and weight_q.stride(0) >= k else \
            weight_q.detach().contiguous()
        m.weight_scale = weight_scale.detach().to(torch.float32).contiguous()
        m.bias = bias.detach().contiguous() if bias is not None else None
        m.input_scale = input_scale.detach().to(torch.float32).reshape(1) if input_scale is not None else None
        m.pre_quant_scale = pre_quant_scale.detach().to(torch.float32).contiguous() if pre_quant_scale is not None else None
        return m

    @classmethod
    def from_linear(cls, linear):
        q, scale = quantize_weight_per_channel(linear.weight)
        if q.shape[1] % 16:
            q = pad_rows(q)  # an odd K: 128-byte rows once, so no call stages a copy of the weight
        return cls.from_quantized(q, scale, linear.bias)

    def forward(self, x):
        bias = self.bias
        if bias is not None and bias.dtype != x.dtype:
            bias = bias.to(x.dtype)
        return torch.ops.qjit.quantized_linear(x, self.weight_q, self.weight_scale, bias, self.pre_quant_scale)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"smoothed={self.pre_quant_scale is not None}")


# ---- loading `qjit quantize` output ---------------------------------------------------------------------------------

def _parent(model, name):
    parent, _, child = name.rpartition(".")
    return (model.get_submodule(parent) if parent else model), child


def load_quantized(model, path, load_other_tensors=True) -> List[str]:
    """Swaps every nn.Linear `<module>` of `model` whose `<module>.weight` is I8 in the safetensors file `path`
    (written by `qjit quantize`) for a W8A8Linear built from `<module>.weight`, `<module>.weight_scale` and, when
    present, `<module>.bias` (else the linear's own bias), `<module>.input_scale` and `<module>.pre_quant_scale` (the
    per-channel factors of a linear smoothed without a norm to fold into). A shape that does not match
    the linear is an InvalidArgumentError naming both.

    With load_other_tensors (the default), every other tensor of the file that names a parameter or buffer of the
    model is copied into it: `qjit quantize` folds the SmoothQuant scales into the norms in front of the linears,
    so the quantized weights are only right together with those norms. Returns the swapped module names."""
    f = SafetensorsFile(path)
    swapped, consumed = [], set()
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or not name:
            continue
        wk, sk = f"{name}.weight", f"{name}.weight_scale"
        if wk not in f or f.info(wk).dtype != "I8":
            continue
        w, s = f.info(wk), f.info(sk) if sk in f else None
        expect = (module.out_features, module.in_features)
        if f.shape(wk) != expect:
            raise invalid(f"'{path}': {wk} has shape {list(f.shape(wk))}, but {name} is nn.Linear(in_features="
                          f"{module.in_features}, out_features={module.out_features}), which needs "
                          f"[{expect[0]}, {expect[1]}]")
        if s is None:
            raise invalid(f"'{path}': {wk} is I8 but {sk} is missing")
        if s.dtype != "F32" or s.shape != (module.out_features,):
            raise invalid(f"'{path}': {sk} must be F32 [{module.out_features}], got {s.dtype} {list(s.shape)}")
        device = module.weight.device
        bk, ik = f"{name}.bias", f"{name}.input_scale"
        bias = f.tensor(bk, device) if bk in f else module.bias
        if bias is not None and tuple(bias.shape) != (module.out_features,):
            raise invalid(f"'{path}': {bk} must have shape [{module.out_features}], got {list(bias.shape)}")
        if bias is not None and module.bias is not None:
            bias = bias.to(module.bias.dtype)
        input_scale = f.tensor(ik, device) if ik in f else None
        mk = f"{name}.pre_quant_scale"
        smooth = None
        if mk in f:
            mi = f.info(mk)
            if mi.dtype != "F32" or mi.shape != (module.in_features,):
                raise invalid(f"'{path}': {mk} must be F32 [{module.in_features}], got {mi.dtype} {list(mi.shape)}")
            smooth = f.tensor(mk, device)
        new = W8A8Linear.from_quantized(f.tensor(wk, device), f.tensor(sk, device), bias, input_scale, smooth)
        parent, child = _parent(model, name)
        setattr(parent, child, new)
        swapped.append(name)
        consumed.update(k for k in (wk, sk, bk, ik, mk) if k in f)
    if load_other_tensors:
        targets = dict(model.named_parameters())
        targets.update(dict(model.named_buffers()))
        with torch.no_grad():
            for key in f.keys():
                if key in consumed or key not in targets or targets[key] is None:
                    continue
                target = targets[key]
                if f.shape(key) != tuple(target.shape):
                    raise invalid(f"'{path}': {key} has shape {list(f.shape(key))}, but the model's is "
                                  f"{list(target.shape)}")
                target.copy_(f.tensor(key).to(dtype=target.dtype, device=target.device))
    return swapped
