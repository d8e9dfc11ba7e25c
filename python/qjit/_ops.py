"""The framework-neutral calls: quantized_linear, smooth_quant_linear, scaled_mm, weight_only_linear,
quantize_per_token and the fused
rms_norm_quantize / layer_norm_quantize on any CUDA tensor
(torch, CuPy, or anything with __cuda_array_interface__ / __dlpack__), enqueued on the caller's current stream.

Each call: read and check every argument (so a wrong rank, dtype, K or a host tensor is an InvalidArgumentError
naming it, before the library or the driver is touched), take the plan from the cache (selected on the tensor's
device on a miss), allocate what was not given (output, scratch, workspace) with the input's framework on its
device, and run. Streams: `stream=` (an int CUstream handle, or an object with .cuda_stream or .ptr) when given;
else torch's current stream of the input's device; else CuPy's current stream; else 0, the legacy default stream.
"""

import contextlib
import ctypes
import operator
import sys

from . import _capi, _tensors
from ._errors import check, invalid
from ._plans import (element_of, plan_cache, plan_m, preference_of, select_dynamic_range_quantize,
                     select_norm_quantize, select_quantized_linear, select_scaled_matmul, select_smooth_quant_linear,
                     select_weight_only_linear)

E = _capi.Element
FLOATS = _capi.FLOAT_ELEMENTS
_NUMPY_NAMES = {E.F16: "float16", E.F32: "float32", E.F64: "float64", E.S8: "int8", E.U8: "uint8", E.S32: "int32"}


# ---- streams, devices, capture ---------------------------------------------------------------------------------------

def stream_handle(stream):
    """A CUstream handle (int) from an int, or an object with .cuda_stream (torch) or .ptr (CuPy)."""
    if stream is None:
        return 0
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr"):
        value = getattr(stream, attr, None)
        if value is not None:
            return int(value)
    raise invalid(f"stream must be an int CUstream handle or have .cuda_stream or .ptr, got {type(stream).__name__}")


def _current_stream(like, stream):
    if stream is not None:
        return stream_handle(stream)
    if like.framework == "torch":
        torch = sys.modules["torch"]
        raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)  # no Stream object per call (Triton uses it too)
        return raw(like.device) if raw is not None else torch.cuda.current_stream(like.device).cuda_stream
    if like.framework == "cupy":
        return sys.modules["cupy"].cuda.get_current_stream().ptr
    return 0


def _stream_hint(stream):
    # The stream a DLPack producer is told the data will be used on, before the input is parsed.
    try:
        return stream_handle(stream)
    except Exception:
        return 0


def _on_device(like):
    """Makes the input's device current (select loads kernels into the current context; run launches there)."""
    if like.device is None:
        return contextlib.nullcontext()
    if like.framework == "torch":
        torch = sys.modules["torch"]
        if torch.cuda.current_device() != like.device:
            return torch.cuda.device(like.device)
    elif like.framework == "cupy":
        cupy = sys.modules["cupy"]
        if cupy.cuda.runtime.getDevice() != like.device:
            return cupy.cuda.Device(like.device)
    return contextlib.nullcontext()


def _capturing(like):
    if like.framework == "torch":
        return sys.modules["torch"].cuda.is_current_stream_capturing()
    if like.framework == "cupy":
        return sys.modules["cupy"].cuda.get_current_stream().is_capturing()
    return False


def _empty(like, shape, element, name):
    """A new tensor of the input's framework on its device (what qjit allocates when `name` is not given)."""
    if like.framework == "torch":
        torch = sys.modules["torch"]
        dtype = {v: k for k, v in _tensors.torch_elements(torch).items()}[element]
        return torch.empty(shape, dtype=dtype, device=like.obj.device)
    if like.framework == "cupy" and element in _NUMPY_NAMES:
        cupy = sys.modules["cupy"]
        with cupy.cuda.Device(like.device):
            return cupy.empty(shape, dtype=_NUMPY_NAMES[element])
    raise invalid(f"{name} must be given: qjit allocates outputs, scratch and workspace only for torch and CuPy "
                  f"inputs, and x is a {type(like.obj).__module__}.{type(like.obj).__qualname__}")


def preferred_row_stride(cols, element_bytes=1):
    """The row stride (elements) at which qjit's int8 operands (w_q, x_q, act_q) run at full speed for rows of
    `cols` elements: the smallest multiple of 128 bytes >= cols (qjit::preferred_row_stride in C++). Any stride >= cols
    works; on Hopper an int8 row stride that is not a multiple of 16 bytes is copied into the plan's workspace at this
    stride on every call (docs/PERF.md, "Odd shapes: staged Hopper path"). Weights are constant: pad them once
    (qjit.torch.pad_rows) and no call copies them."""
    cols, element_bytes = int(cols), int(element_bytes)
    if cols < 0 or not 1 <= element_bytes <= 128:
        raise invalid(f"cols must be >= 0 and element_bytes in [1, 128], got cols={cols}, element_bytes={element_bytes}")
    per_line = 128 // element_bytes
    return (cols + per_line - 1) // per_line * per_line


def _empty_int8_rows(like, rows, cols, name):
    """A new int8 [rows, cols] view whose row stride is preferred_row_stride(cols) (the quantize pass's scratch)."""
    padded = _empty(like, (rows, preferred_row_stride(cols)), E.S8, name)
    return padded[:, :cols]


def _keep_until_done(like, stream, explicit, temporaries):
    """Temporaries qjit allocated (scratch, workspace) are freed when the call returns. The caching allocators make
    that safe for work on the stream they were allocated for (the current one); on an explicit other stream, torch
    is told the memory is in use there (record_stream)."""
    if explicit is None or like.framework != "torch":
        return
    torch = sys.modules["torch"]
    if stream == torch.cuda.current_stream(like.device).cuda_stream:
        return
    external = torch.cuda.ExternalStream(stream, device=like.obj.device)
    for t in temporaries:
        if t is not None:
            t.record_stream(external)


def _same_device(like, info, name):
    if like.device is not None and info.device is not None and like.device != info.device:
        raise invalid(f"{name} must be on the same device as x (CUDA device {like.device}), got device {info.device}")
    return info


def _arg(name, obj, like, rank, elements, dims, stream_hint):
    info = _tensors.check(_tensors.parse(name, obj, stream_hint), name, rank, elements, dims)
    return _same_device(like, info, name) if like is not None else info


def _shape(info, name, want, dims):
    if info.shape != tuple(want):
        raise invalid(f"{name}.shape must be [{', '.join(f'{d}={w}' for d, w in zip(dims, want))}], got "
                      f"{list(info.shape)}")


def _output(name, given, like, shape, element, dims, hint):
    """The output (or scratch) tensor: the given one checked, else a new one; returns (object, info)."""
    if given is None:
        given = _empty(like, shape, element, name)
    info = _arg(name, given, like, len(shape), (element,), "[" + ", ".join(dims) + "]", hint)
    _shape(info, name, shape, dims)
    return given, info


def _workspace(plan, m, like, workspace, hint):
    need = plan.workspace_size_for(m)
    if need == 0:
        return None, 0, None
    if workspace is None:
        workspace = _empty(like, (need,), E.U8, "workspace")
    info = _tensors.parse("workspace", workspace, hint)
    if info.nbytes < need:
        raise invalid(f"workspace must hold at least {need} bytes for M = {m}, got {info.nbytes}")
    return info.data, info.nbytes, workspace


def _plan(key, like, select):
    def selected():
        with _on_device(like):
            return select()
    return plan_cache.get(key, selected, lambda: _capturing(like))


# ---- the calls -----------------------------------------------------------------------------------------------------------

def _smooth_arg(pre_quant_scale, xi, k, hint):
    """The optional smoothing vector [K] f32 (x * pre_quant_scale[k] before quantizing)."""
    if pre_quant_scale is None:
        return None
    si = _arg("pre_quant_scale", pre_quant_scale, xi, 1, (E.F32,), "[K]", hint)
    _shape(si, "pre_quant_scale", (k,), ("K",))
    return si


def quantized_linear(x, w_q, w_scale, bias=None, out=None, *, act_q=None, act_scale=None, workspace=None,
                     stream=None, preference="heuristic", pre_quant_scale=None):
    """y[M, N] = act_scale[m] · w_scale[n] · (quantize_per_token(x · pre_quant_scale) · w_qᵀ)[m, n] (+ bias[n]).

    x [M, K] f16/bf16/f32/f64; w_q [N, K] int8 (nn.Linear layout); w_scale [N] f32; bias [N] of x's dtype.
    pre_quant_scale [K] f32 (optional): SmoothQuant for any linear, 1/s; w_q must then be the quantized W · diag(s),
    as `qjit quantize` writes it beside `<module>.pre_quant_scale`.
    out [M, N] of x's dtype. act_q [M, K] int8 and act_scale [M] f32 are scratch; pass them to read the quantized
    activation and its per-token scales after the call. act_q is written when its rows are 16-byte aligned (as the
    ones qjit allocates: preferred_row_stride(K)); on sm_90a a misaligned act_q (contiguous rows with K % 16 != 0) is
    left untouched, the pass writing the plan's staged copy in the workspace instead. Returns out."""
    hint = _stream_hint(stream)
    xi = _arg("x", x, None, 2, FLOATS, "[M, K]", hint)
    m, k = xi.shape
    wi = _arg("w_q", w_q, xi, 2, (E.S8,), "[N, K]", hint)
    n = wi.shape[0]
    if wi.shape[1] != k:
        raise invalid(f"w_q.shape[1] must equal x.shape[1] (K={k}), got w_q.shape {list(wi.shape)}")
    si = _arg("w_scale", w_scale, xi, 1, (E.F32,), "[N]", hint)
    _shape(si, "w_scale", (n,), ("N",))
    bi = None
    if bias is not None:
        bi = _arg("bias", bias, xi, 1, (xi.element,), "[N]", hint)
        _shape(bi, "bias", (n,), ("N",))
    out, oi = _output("out", out, xi, (m, n), xi.element, ("M", "N"), hint)
    smi = _smooth_arg(pre_quant_scale, xi, k, hint)
    given_q, given_s = act_q is not None, act_scale is not None
    if act_q is None and m > 0:
        act_q = _empty_int8_rows(xi, m, k, "act_q")  # padded rows: the Hopper GEMM's fast path for every K
    act_q, qi = _output("act_q", act_q, xi, (m, k), E.S8, ("M", "K"), hint)
    act_scale, ai = _output("act_scale", act_scale, xi, (m,), E.F32, ("M",), hint)
    if m == 0:
        return out
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = ("quantized_linear", pm, n, k, xi.element, bi is not None, smi is not None, xi.device, pref)
    plan = _plan(key, xi, lambda: select_quantized_linear(pm, n, k, xi.element, bi is not None, pref, s,
                                                          smi is not None))
    ws, ws_bytes, ws_obj = _workspace(plan, m, xi, workspace, hint)
    args = _tensors.pack(_capi.LinearArgs, activation=xi, weight=wi, weight_scale=si, bias=bi, output=oi,
                         act_q_scratch=qi, act_scale_scratch=ai, pre_quant_scale=smi)
    with _on_device(xi):
        check(_capi.lib.qjit_linear_plan_run(plan.handle, s or None, ws, ws_bytes, ctypes.byref(args)))
    _keep_until_done(xi, s, stream, (ws_obj, None if given_q else act_q, None if given_s else act_scale))
    return out


def _int8_gemm_output(op, allowed, out, bias, dtype, xi, m, n, hint):
    """The output element of an int8-activation GEMM (out's, else bias's, else `dtype`), the bias checked against it,
    and the output (given or allocated): (element, out, out info, bias info or None)."""
    if out is not None:
        out_element = _tensors.parse("out", out, hint).element
    elif bias is not None:
        out_element = _tensors.parse("bias", bias, hint).element
    elif dtype is not None:
        out_element = element_of(dtype)
    else:
        raise invalid(f"{op} needs its output dtype: pass out=, bias= or dtype=")
    if out_element not in allowed:
        names = ", ".join(_capi.ELEMENT_NAMES[e] for e in allowed[:-1]) + " or " + _capi.ELEMENT_NAMES[allowed[-1]]
        raise invalid(f"the output dtype must be {names}, got {_capi.ELEMENT_NAMES[out_element]}")
    bi = None
    if bias is not None:
        bi = _arg("bias", bias, xi, 1, (out_element,), "[N]", hint)
        _shape(bi, "bias", (n,), ("N",))
    out, oi = _output("out", out, xi, (m, n), out_element, ("M", "N"), hint)
    return out_element, out, oi, bi


def smooth_quant_linear(x_q, act_scale, w_q, w_scale, bias=None, out=None, *, dtype=None, workspace=None,
                        stream=None, preference="heuristic"):
    """y[M, N] = act_scale · w_scale[n] · (x_q · w_qᵀ)[m, n] (+ bias[n]): a SmoothQuant int8 activation with its
    static per-tensor scale (a float; real ≈ x_q · act_scale).

    The output dtype is out's, else bias's, else `dtype` (f16/bf16/f32/f64). Returns out."""
    hint = _stream_hint(stream)
    xi = _arg("x_q", x_q, None, 2, (E.S8,), "[M, K]", hint)
    m, k = xi.shape
    try:
        scale = ctypes.c_float(float(act_scale)).value
    except (TypeError, ValueError):
        raise invalid(f"act_scale must be a float (the static per-tensor scale), got {act_scale!r}") from None
    wi = _arg("w_q", w_q, xi, 2, (E.S8,), "[N, K]", hint)
    n = wi.shape[0]
    if wi.shape[1] != k:
        raise invalid(f"w_q.shape[1] must equal x_q.shape[1] (K={k}), got w_q.shape {list(wi.shape)}")
    si = _arg("w_scale", w_scale, xi, 1, (E.F32,), "[N]", hint)
    _shape(si, "w_scale", (n,), ("N",))
    out_element, out, oi, bi = _int8_gemm_output("smooth_quant_linear", FLOATS, out, bias, dtype, xi, m, n, hint)
    if m == 0:
        return out
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = ("smooth_quant_linear", pm, n, k, out_element, bi is not None, scale, xi.device, pref)
    plan = _plan(key, xi, lambda: select_smooth_quant_linear(pm, n, k, scale, out_element, bi is not None, pref, s))
    ws, ws_bytes, ws_obj = _workspace(plan, m, xi, workspace, hint)
    args = _tensors.pack(_capi.LinearArgs, activation=xi, weight=wi, weight_scale=si, bias=bi, output=oi)
    with _on_device(xi):
        check(_capi.lib.qjit_linear_plan_run(plan.handle, s or None, ws, ws_bytes, ctypes.byref(args)))
    _keep_until_done(xi, s, stream, (ws_obj,))
    return out


def scaled_mm(a_q, w_q, a_scale, w_scale, bias=None, out=None, *, dtype=None, workspace=None, stream=None,
              preference="heuristic", act_zero_point=None, weight_colsum=None):
    """y[M, N] = a_scale[m | 0] · w_scale[n | 0] · (a_q · w_qᵀ)[m, n] (+ bias[n]): the scaled int8 GEMM an engine
    with its own quantization calls (vLLM's cutlass_scaled_mm; qjit takes the weight in nn.Linear layout).

    a_q [M, K] int8; w_q [N, K] int8; a_scale f32 on the device, [M] per token or [1] per tensor; w_scale f32 on the
    device, [N] per channel or [1] per tensor (M = 1 or N = 1: either reading gives the same bits). The output dtype
    (f16/bf16/f32) is out's, else bias's, else `dtype`. Returns out.

    Asymmetric activations: act_zero_point [M] int32 (s8 domain) and weight_colsum [N] int32 (qjit.weight_colsum of
    w_q), both or neither, with a per-token a_scale: y = a_scale[m] · w_scale[n | 0] · (acc − zp[m] · colsum[n])."""
    hint = _stream_hint(stream)
    xi = _arg("a_q", a_q, None, 2, (E.S8,), "[M, K]", hint)
    m, k = xi.shape
    wi = _arg("w_q", w_q, xi, 2, (E.S8,), "[N, K]", hint)
    n = wi.shape[0]
    if wi.shape[1] != k:
        raise invalid(f"w_q.shape[1] must equal a_q.shape[1] (K={k}), got w_q.shape {list(wi.shape)}")
    ai = _arg("a_scale", a_scale, xi, 1, (E.F32,), "[M] or [1]", hint)
    if ai.shape[0] not in (m, 1):
        raise invalid(f"a_scale.shape must be [M={m}] (per token) or [1] (per tensor), got {list(ai.shape)}")
    si = _arg("w_scale", w_scale, xi, 1, (E.F32,), "[N] or [1]", hint)
    if si.shape[0] not in (n, 1):
        raise invalid(f"w_scale.shape must be [N={n}] (per channel) or [1] (per tensor), got {list(si.shape)}")
    act_mode = "per_token" if ai.shape[0] == m else "per_tensor"
    weight_mode = "per_channel" if si.shape[0] == n else "per_tensor"
    if (act_zero_point is None) != (weight_colsum is None):
        raise invalid("act_zero_point and weight_colsum must be given together (asymmetric activations) or not at all")
    zi = ci = None
    if act_zero_point is not None:
        zi = _arg("act_zero_point", act_zero_point, xi, 1, (E.S32,), "[M]", hint)
        _shape(zi, "act_zero_point", (m,), ("M",))
        ci = _arg("weight_colsum", weight_colsum, xi, 1, (E.S32,), "[N]", hint)
        _shape(ci, "weight_colsum", (n,), ("N",))
        if act_mode != "per_token":
            raise invalid(f"a_scale.shape must be [M={m}] (per token) with act_zero_point, got {list(ai.shape)}")
    out_element, out, oi, bi = _int8_gemm_output("scaled_mm", (E.F16, E.BF16, E.F32), out, bias, dtype, xi, m, n,
                                                 hint)
    if m == 0:
        return out
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = ("scaled_matmul", pm, n, k, out_element, bi is not None, act_mode, weight_mode, zi is not None, xi.device,
           pref)
    plan = _plan(key, xi, lambda: select_scaled_matmul(pm, n, k, out_element, bi is not None, act_mode, weight_mode,
                                                       pref, s, zi is not None))
    ws, ws_bytes, ws_obj = _workspace(plan, m, xi, workspace, hint)
    args = _tensors.pack(_capi.ScaledMatmulArgs, act_q=xi, weight_q=wi, act_scale=ai, weight_scale=si, bias=bi,
                         output=oi, act_zero_point=zi, weight_colsum=ci)
    with _on_device(xi):
        check(_capi.lib.qjit_scaled_matmul_plan_run(plan.handle, s or None, ws, ws_bytes, ctypes.byref(args)))
    _keep_until_done(xi, s, stream, (ws_obj,))
    return out


GROUP_SIZES = (64, 128)  # the weight-only plan's per-group scales (descriptor.group_size)


def _scale_rows_cols(info):
    """(rows, cols, row stride) of a weight-only scale or zero-point tensor as the library reads it: rank 2 as
    given, a rank-1 [S] as the column [S, 1] (row stride 1)."""
    if len(info.shape) == 1:
        return info.shape[0], 1, 1
    return info.shape[0], info.shape[1], info.strides[0]


def _weight_only_scale_mode(si, n, k, group_size):
    """The weight-only plan's scale mode and group size from w_scale's shape: [N] / [N, 1] per channel, [1] / [1, 1]
    per tensor, [N, ceil(K / g)] per group of g = group_size. Without group_size, g is inferred only where it is
    exact: K / cols in (64, 128). A one-column scale is per channel (per tensor when it is [1] and N > 1) unless
    group_size says per group."""
    rows, cols, _ = _scale_rows_cols(si)
    expected = (f"[N={n}] or [N={n}, 1] (per channel), [1] or [1, 1] (per tensor), or [N={n}, ceil(K / g)] with "
                f"g = 64 ({-(-k // 64)} groups) or 128 ({-(-k // 128)} groups) (per group)")
    if group_size is not None:
        try:
            g = None if isinstance(group_size, bool) else operator.index(group_size)
        except TypeError:
            g = None
        if g not in GROUP_SIZES:
            raise invalid(f"group_size must be 64 or 128 (per-group scales along K), got {group_size!r}")
        groups = -(-k // g)
        if (rows, cols) != (n, groups):
            raise invalid(f"w_scale.shape must be [N={n}, ceil(K / {g})={groups}] with group_size={g}, got "
                          f"{list(si.shape)}")
        return "per_group", g
    if cols == 1:
        if rows == n:
            return "per_channel", 0
        if rows == 1:
            return "per_tensor", 0
        raise invalid(f"w_scale.shape must be {expected}, got {list(si.shape)}")
    if rows == n and k % cols == 0 and k // cols in GROUP_SIZES:
        return "per_group", k // cols
    ceil_matches = [g for g in GROUP_SIZES if -(-k // g) == cols]
    if rows == n and ceil_matches:
        # K is not a multiple of the group: cols = ceil(K / g) holds for a range of g, so the shape does not say g.
        raise invalid(f"w_scale.shape [{n}, {cols}] is ambiguous for K={k} (not a multiple of {ceil_matches[0]}: "
                      f"ceil(K / g) = {cols} for other g too): pass group_size={ceil_matches[0]} if those are "
                      f"per-group scales")
    raise invalid(f"w_scale.shape must be {expected}, got {list(si.shape)}")


def weight_only_linear(x, w_q, w_scale, bias=None, out=None, *, zero_point=None, group_size=None, workspace=None,
                       stream=None, preference="heuristic"):
    """y[M, N] = RN(Σ_k x[m, k] · w[n, k] (+ bias[n])) with w = (w_q − zero_point) · w_scale dequantized in the kernel
    (W8A16: the weight-only int8 plan, f32 accumulation).

    x [M, K] f16/bf16; w_q [N, K] int8 (nn.Linear layout); w_scale f32 on the device, its shape choosing the mode:
    [N] or [N, 1] per channel, [1] or [1, 1] per tensor, [N, ceil(K / g)] per group of g = 64 or 128 along K
    (group_size=; without it, inferred only as K / cols when that is 64 or 128, else refused). zero_point
    (optional) int32 of w_scale's shape, each in [-2^22, 2^22]. bias [N] and out [M, N] of x's dtype. workspace:
    the split-K scratch (Plan.workspace_size_for(M) bytes; allocated when not given). Returns out."""
    hint = _stream_hint(stream)
    xi = _arg("x", x, None, 2, (E.F16, E.BF16), "[M, K]", hint)
    m, k = xi.shape
    wi = _arg("w_q", w_q, xi, 2, (E.S8,), "[N, K]", hint)
    n = wi.shape[0]
    if wi.shape[1] != k:
        raise invalid(f"w_q.shape[1] must equal x.shape[1] (K={k}), got w_q.shape {list(wi.shape)}")
    si = _tensors.parse("w_scale", w_scale, hint)
    if len(si.shape) not in (1, 2):
        raise invalid(f"w_scale must be 1-D or 2-D ([N], [N, 1], [1], [1, 1] or [N, ceil(K / g)]), got shape "
                      f"{list(si.shape)}")
    si = _same_device(xi, _tensors.check(si, "w_scale", len(si.shape), (E.F32,), ""), "w_scale")
    mode, group = _weight_only_scale_mode(si, n, k, group_size)
    zi = None
    if zero_point is not None:
        zi = _tensors.parse("zero_point", zero_point, hint)
        want = "[" + ", ".join(map(str, si.shape)) + "] (w_scale's shape)"
        if len(zi.shape) not in (1, 2):
            raise invalid(f"zero_point.shape must be {want}, got {list(zi.shape)}")
        zi = _same_device(xi, _tensors.check(zi, "zero_point", len(zi.shape), (E.S32,), want), "zero_point")
        srows, scols, sstride = _scale_rows_cols(si)
        zrows, zcols, zstride = _scale_rows_cols(zi)
        if (zrows, zcols) != (srows, scols):
            raise invalid(f"zero_point.shape must be {want}, got {list(zi.shape)}")
        if srows > 1 and zstride != sstride:
            raise invalid(f"zero_point's row stride must equal w_scale's ({sstride} elements: the kernel reads both "
                          f"with one), got {zstride}")
    bi = None
    if bias is not None:
        bi = _arg("bias", bias, xi, 1, (xi.element,), "[N]", hint)
        _shape(bi, "bias", (n,), ("N",))
    out, oi = _output("out", out, xi, (m, n), xi.element, ("M", "N"), hint)
    if m == 0:
        return out
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = ("weight_only_linear", pm, n, k, xi.element, bi is not None, mode, group, zi is not None, xi.device, pref)
    plan = _plan(key, xi, lambda: select_weight_only_linear(pm, n, k, xi.element, mode, group, zi is not None,
                                                            bi is not None, pref, s))
    ws, ws_bytes, ws_obj = _workspace(plan, m, xi, workspace, hint)
    args = _tensors.pack(_capi.WeightOnlyLinearArgs, activation=xi, weight=wi, weight_scale=si, zero_point=zi,
                         bias=bi, output=oi)
    with _on_device(xi):
        check(_capi.lib.qjit_weight_only_linear_plan_run(plan.handle, s or None, ws, ws_bytes, ctypes.byref(args)))
    _keep_until_done(xi, s, stream, (ws_obj,))
    return out


def quantize_per_token(x, out=None, scale=None, *, workspace=None, stream=None, preference="heuristic",
                       pre_quant_scale=None):
    """Per-token dynamic int8 quantization: scale[m] = absmax(x[m, :]) / 127, q = round-half-even(x / scale),
    saturated (a zero row gets scale 0 and q 0). x [M, K] f16/bf16/f32/f64. Returns (q [M, K] int8, scale [M] f32)."""
    hint = _stream_hint(stream)
    xi = _arg("x", x, None, 2, FLOATS, "[M, K]", hint)
    m, k = xi.shape
    out, oi = _output("out", out, xi, (m, k), E.S8, ("M", "K"), hint)
    scale, si = _output("scale", scale, xi, (m,), E.F32, ("M",), hint)
    smi = _smooth_arg(pre_quant_scale, xi, k, hint)
    if m == 0:
        return out, scale
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = ("quantize_per_token", pm, k, xi.element, smi is not None, xi.device, pref)
    plan = _plan(key, xi, lambda: select_dynamic_range_quantize(pm, k, xi.element, "per_token", pref, s,
                                                                smi is not None))
    ws, ws_bytes, ws_obj = _workspace(plan, m, xi, workspace, hint)
    args = _tensors.pack(_capi.QuantizeArgs, input=xi, output=oi, scale=si, pre_quant_scale=smi)
    with _on_device(xi):
        check(_capi.lib.qjit_quantize_plan_run(plan.handle, s or None, ws, ws_bytes, ctypes.byref(args)))
    _keep_until_done(xi, s, stream, (ws_obj,))
    return out, scale


def quantize_per_token_asymmetric(x, out=None, scale=None, zero_point=None, *, storage="s8", workspace=None,
                                  stream=None, preference="heuristic", pre_quant_scale=None):
    """Asymmetric per-token int8 quantization: scale[m] = (hi − lo) / 255 over lo = min(0, min x), hi = max(0, max x),
    zero_point[m] = rni(−lo / scale), q = clamp(rni(x / scale) + zp, 0, 255) as uint8 (storage="u8"), or int8 codes
    q − 128 with zp − 128 (storage="s8", what scaled_mm's act_zero_point reads). Returns (q, scale, zero_point)."""
    if storage not in ("u8", "s8"):
        raise invalid(f"storage must be 'u8' or 's8', got {storage!r}")
    hint = _stream_hint(stream)
    xi = _arg("x", x, None, 2, FLOATS, "[M, K]", hint)
    m, k = xi.shape
    out, oi = _output("out", out, xi, (m, k), E.U8 if storage == "u8" else E.S8, ("M", "K"), hint)
    scale, si = _output("scale", scale, xi, (m,), E.F32, ("M",), hint)
    zero_point, zi = _output("zero_point", zero_point, xi, (m,), E.S32, ("M",), hint)
    smi = _smooth_arg(pre_quant_scale, xi, k, hint)
    if m == 0:
        return out, scale, zero_point
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = ("quantize_per_token_asymmetric", pm, k, xi.element, smi is not None, storage, xi.device, pref)
    plan = _plan(key, xi, lambda: select_dynamic_range_quantize(pm, k, xi.element, "per_token", pref, s,
                                                                smi is not None, storage))
    ws, ws_bytes, ws_obj = _workspace(plan, m, xi, workspace, hint)
    args = _tensors.pack(_capi.QuantizeArgs, input=xi, output=oi, scale=si, pre_quant_scale=smi, zero_point=zi)
    with _on_device(xi):
        check(_capi.lib.qjit_quantize_plan_run(plan.handle, s or None, ws, ws_bytes, ctypes.byref(args)))
    _keep_until_done(xi, s, stream, (ws_obj,))
    return out, scale, zero_point


def _norm_quantize(norm, x, gamma, beta, eps, residual, residual_out, static_scale, out, scale, stream, preference):
    hint = _stream_hint(stream)
    xi = _arg("x", x, None, 2, (E.F16, E.BF16, E.F32), "[M, K]", hint)
    m, k = xi.shape
    gi = _arg("gamma", gamma, xi, 1, (xi.element,), "[K]", hint)
    _shape(gi, "gamma", (k,), ("K",))
    bi = None
    if norm == "layer_norm":
        bi = _arg("beta", beta, xi, 1, (xi.element,), "[K]", hint)
        _shape(bi, "beta", (k,), ("K",))
    elif beta is not None:
        raise invalid("beta must be None for rms_norm_quantize (RMSNorm has no beta)")
    ri = roi = None
    if residual is not None:
        ri = _arg("residual", residual, xi, 2, (xi.element,), "[M, K]", hint)
        _shape(ri, "residual", (m, k), ("M", "K"))
        residual_out = residual if residual_out is None else residual_out  # in place by default (vLLM)
        roi = _arg("residual_out", residual_out, xi, 2, (xi.element,), "[M, K]", hint)
        _shape(roi, "residual_out", (m, k), ("M", "K"))
    elif residual_out is not None:
        raise invalid("residual_out needs residual: pass residual= (x + residual is what residual_out receives)")
    if static_scale is not None:
        try:
            static_scale = ctypes.c_float(float(static_scale)).value
        except (TypeError, ValueError):
            raise invalid(f"static_scale must be a float or None, got {static_scale!r}") from None
        if scale is not None:
            raise invalid("scale must be None with static_scale (there are no per-token scales to write)")
    out, oi = _output("out", out, xi, (m, k), E.S8, ("M", "K"), hint)
    si = None
    if static_scale is None:
        scale, si = _output("scale", scale, xi, (m,), E.F32, ("M",), hint)
    if m == 0:
        return out, scale
    pref = preference_of(preference)
    s = _current_stream(xi, stream)
    pm = plan_m(m)
    key = (norm + "_quantize", pm, k, xi.element, float(eps), ri is not None, static_scale, xi.device, pref)
    plan = _plan(key, xi, lambda: select_norm_quantize(pm, k, xi.element, norm, eps, ri is not None, static_scale,
                                                       pref, s))
    args = _tensors.pack(_capi.NormQuantizeArgs, input=xi, residual=ri, residual_out=roi, gamma=gi, beta=bi,
                         output=oi, scale=si)
    with _on_device(xi):
        check(_capi.lib.qjit_norm_quantize_plan_run(plan.handle, s or None, None, 0, ctypes.byref(args)))
    return out, scale


def rms_norm_quantize(x, gamma, eps=1e-6, *, residual=None, residual_out=None, static_scale=None, out=None,
                      scale=None, stream=None, preference="heuristic"):
    """Fused RMSNorm + int8 quantization: h = x (+ residual, rounded to x's dtype and written to residual_out,
    which defaults to residual itself: vLLM's fused_add_rms_norm), v = h / sqrt(mean(h^2) + eps) * gamma in f32,
    q = round-half-even(v / scale) saturated with scale[m] = absmax(v[m, :]) / 127, or static_scale when given.
    x [M, K] f16/bf16/f32, gamma [K] of x's dtype. Returns (q [M, K] int8, scale [M] f32 or None)."""
    return _norm_quantize("rms_norm", x, gamma, None, eps, residual, residual_out, static_scale, out, scale, stream,
                          preference)


def layer_norm_quantize(x, gamma, beta, eps=1e-5, *, residual=None, residual_out=None, static_scale=None, out=None,
                        scale=None, stream=None, preference="heuristic"):
    """Fused LayerNorm + int8 quantization: as rms_norm_quantize with v = (h - mean) / sqrt(var + eps) * gamma +
    beta. Returns (q [M, K] int8, scale [M] f32 or None)."""
    return _norm_quantize("layer_norm", x, gamma, beta, eps, residual, residual_out, static_scale, out, scale, stream,
                          preference)
