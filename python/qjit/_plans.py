"""Plans: ctypes handles over qjit_plan*, the selects, and the per-process plan cache the calls use.

A Plan owns one reference to a library plan and releases it when it is garbage collected (weakref.finalize, so the
release also runs at interpreter exit). Plans are immutable and safe to run from several threads, as in the C ABI.

The cache maps (op, M bucket, N, K, dtypes, bias, extra, device ordinal, preference) to a Plan. The M bucket is the
next power of two >= M, capped at 4096: the library chooses its configuration per bucket (1, 2, 4, ..., 2048,
4096+) and a plan runs any M, so one plan serves every M of its bucket (past 4096, one per power of two: plan_m). Lookups are a dict read; a miss selects
outside the lock (different shapes compile in parallel; the library single-flights a repeated key) and the first
insert wins.
"""

import ctypes
import threading
import weakref
from typing import NamedTuple

from . import _capi
from ._errors import UnsupportedError, check, invalid

E = _capi.Element
MAX_M_BUCKET = 4096

_ELEMENT_ALIASES = {
    "f16": E.F16, "float16": E.F16, "half": E.F16, "bf16": E.BF16, "bfloat16": E.BF16, "f32": E.F32,
    "float32": E.F32, "float": E.F32, "f64": E.F64, "float64": E.F64, "double": E.F64, "s8": E.S8, "int8": E.S8,
    "u8": E.U8, "uint8": E.U8, "s32": E.S32, "int32": E.S32,
}


def element_of(dtype, name="dtype"):
    """An Element from an Element, a name ("bf16", "bfloat16"), a torch.dtype or a numpy dtype."""
    if isinstance(dtype, E):
        return dtype
    text = str(dtype)
    for prefix in ("torch.", "<class 'numpy.", "numpy."):
        if text.startswith(prefix):
            text = text[len(prefix):].rstrip("'>")
    element = _ELEMENT_ALIASES.get(text.lower())
    if element is None:
        raise invalid(f"{name} must be one of f16, bf16, f32, f64, s8, u8, s32, got {dtype!r}")
    return element


def preference_of(preference):
    if isinstance(preference, _capi.Preference):
        return preference
    if isinstance(preference, str):
        try:
            return _capi.Preference[preference.upper()]
        except KeyError:
            pass
    elif isinstance(preference, int) and preference in _capi.Preference._value2member_map_:
        return _capi.Preference(preference)
    raise invalid(f"preference must be 'heuristic', 'tuned' or 'autotune', got {preference!r}")


def m_bucket(m):
    """The tuning bucket of M: the next power of two >= M, capped at 4096."""
    if m <= 1:
        return 1
    return min(1 << (int(m) - 1).bit_length(), MAX_M_BUCKET)


def plan_m(m):
    """The M a cached plan is selected with: its bucket's largest M (past 4096, M's power of two). Each call asks
    the plan for the workspace of its own M (Plan.workspace_size_for), so this only decides which plans are kept."""
    return m_bucket(m) if m <= MAX_M_BUCKET else 1 << (int(m) - 1).bit_length()


class PrecisionGuarantee(NamedTuple):
    deterministic: bool
    exact_accumulation: bool
    epilogue_relative_error: float
    description: str


class Plan:
    """A selected qjit plan (QuantizedLinear, SmoothQuantLinear, DynamicRangeQuantize, RmsNormQuantize,
    LayerNormQuantize or ScaledMatmul)."""

    def __init__(self, handle, descriptor):
        self._handle = ctypes.c_void_p(handle)
        self._finalizer = weakref.finalize(self, _capi.lib.qjit_plan_release, handle)
        self.descriptor = descriptor
        self.kind = _capi.PlanKind(_capi.lib.qjit_plan_get_kind(self._handle))
        size = ctypes.c_size_t()
        check(_capi.lib.qjit_plan_workspace_size(self._handle, ctypes.byref(size)))
        self.workspace_size = size.value
        self._workspace_for = {}

    def workspace_size_for(self, m):
        """Workspace bytes a run with M rows needs (workspace_size covers every M of the descriptor's bucket)."""
        m = int(m)
        need = self._workspace_for.get(m)  # a plan is immutable: each M asks the library once
        if need is None:
            size = ctypes.c_size_t()
            check(_capi.lib.qjit_plan_workspace_size_for_m(self._handle, m, ctypes.byref(size)))
            need = self._workspace_for[m] = size.value
        return need

    @property
    def handle(self):
        return self._handle

    def precision_guarantee(self):
        g = _capi.new(_capi.PrecisionGuarantee)
        check(_capi.lib.qjit_plan_precision_guarantee(self._handle, ctypes.byref(g)))
        return PrecisionGuarantee(bool(g.deterministic), bool(g.exact_accumulation), g.epilogue_relative_error,
                                  (g.description or b"").decode())

    def describe(self):
        return _capi.read_string(_capi.lib.qjit_plan_describe, self._handle, capacity=1024)

    def release(self):
        self._finalizer()

    def __repr__(self):
        return f"<qjit.Plan {self.descriptor}>"


def _select(fn, desc, to_string, preference, stream):
    out = ctypes.c_void_p()
    check(fn(stream or None, ctypes.byref(desc), int(preference_of(preference)), ctypes.byref(out)))
    return Plan(out.value, _capi.read_string(to_string, ctypes.byref(desc)))


def quantized_linear_desc(m, n, k, dtype, has_bias=False, has_smooth=False, asymmetric=False):
    e = element_of(dtype)
    return _capi.new(_capi.QuantizedLinearDesc, m=m, n=n, k=k, activation_element=e, weight_element=E.S8,
                     output_element=e, has_bias=int(bool(has_bias)), has_smooth=int(bool(has_smooth)),
                     asymmetric=int(bool(asymmetric)))


def smooth_quant_linear_desc(m, n, k, act_scale, dtype, has_bias=False):
    return _capi.new(_capi.SmoothQuantLinearDesc, m=m, n=n, k=k, act_scale=float(act_scale),
                     activation_element=E.S8, weight_element=E.S8, output_element=element_of(dtype),
                     has_bias=int(bool(has_bias)))


def dynamic_range_quantize_desc(m, k, dtype, granularity=_capi.Granularity.PER_TOKEN, has_smooth=False,
                                asymmetric=None):
    """asymmetric: None (symmetric s8 codes), "u8" or "s8" (per-token scale and zero point, codes of that type)."""
    if asymmetric not in (None, "u8", "s8"):
        raise invalid(f"asymmetric must be None, 'u8' or 's8', got {asymmetric!r}")
    return _capi.new(_capi.DynamicRangeQuantizeDesc, m=m, k=k, input_element=element_of(dtype),
                     granularity=int(granularity), has_smooth=int(bool(has_smooth)),
                     asymmetric=int(asymmetric is not None), output_element=int(E.U8 if asymmetric == "u8" else E.S8))


def select_quantized_linear(m, n, k, dtype, has_bias=False, preference="heuristic", stream=0, has_smooth=False,
                            asymmetric=False):
    """qjit_quantized_linear_plan_select on the current CUDA context: FP activation (dtype) -> per-token int8 ->
    int8 GEMM -> dtype output; with has_smooth the quantize pass divides by a smoothing vector [K] first; with
    asymmetric each token gets a zero point too (the run then needs the weight's column sums)."""
    return _select(_capi.lib.qjit_quantized_linear_plan_select,
                   quantized_linear_desc(m, n, k, dtype, has_bias, has_smooth, asymmetric),
                   _capi.lib.qjit_quantized_linear_desc_to_string, preference, stream)


def select_smooth_quant_linear(m, n, k, act_scale, dtype, has_bias=False, preference="heuristic", stream=0):
    """qjit_smooth_quant_linear_plan_select: int8 activation with a static scale -> int8 GEMM -> dtype output."""
    return _select(_capi.lib.qjit_smooth_quant_linear_plan_select,
                   smooth_quant_linear_desc(m, n, k, act_scale, dtype, has_bias),
                   _capi.lib.qjit_smooth_quant_linear_desc_to_string, preference, stream)


def select_dynamic_range_quantize(m, k, dtype, granularity="per_token", preference="heuristic", stream=0,
                                  has_smooth=False, asymmetric=None):
    """qjit_dynamic_range_quantize_plan_select: FP [M, K] -> int8 plus per-token (or per-tensor) scales."""
    if isinstance(granularity, str):
        try:
            granularity = _capi.Granularity[granularity.upper()]
        except KeyError:
            raise invalid(f"granularity must be 'per_token' or 'per_tensor', got {granularity!r}") from None
    return _select(_capi.lib.qjit_dynamic_range_quantize_plan_select, dynamic_range_quantize_desc(m, k, dtype,
                   granularity, has_smooth, asymmetric), _capi.lib.qjit_dynamic_range_quantize_desc_to_string,
                   preference, stream)


def norm_quantize_desc(m, k, dtype, norm="rms_norm", eps=1e-6, has_residual=False, static_scale=None):
    if isinstance(norm, str):
        try:
            norm = _capi.NormKind[norm.upper()]
        except KeyError:
            raise invalid(f"norm must be 'rms_norm' or 'layer_norm', got {norm!r}") from None
    granularity = _capi.Granularity.PER_TOKEN if static_scale is None else _capi.Granularity.PER_TENSOR
    return _capi.new(_capi.NormQuantizeDesc, m=m, k=k, norm=int(norm), input_element=element_of(dtype),
                     granularity=int(granularity), has_residual=int(bool(has_residual)), eps=float(eps),
                     static_scale=0.0 if static_scale is None else float(static_scale))


def select_norm_quantize(m, k, dtype, norm="rms_norm", eps=1e-6, has_residual=False, static_scale=None,
                         preference="heuristic", stream=0):
    """qjit_norm_quantize_plan_select: RMSNorm or LayerNorm [M, K] (+ residual) -> int8 plus per-token scales, or a
    static per-tensor scale (static_scale=)."""
    return _select(_capi.lib.qjit_norm_quantize_plan_select,
                   norm_quantize_desc(m, k, dtype, norm, eps, has_residual, static_scale),
                   _capi.lib.qjit_norm_quantize_desc_to_string, preference, stream)


def _mode_of(value, enum_type, name, choices):
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        try:
            return enum_type[value.upper()]
        except KeyError:
            pass
    raise invalid(f"{name} must be {choices}, got {value!r}")


def scaled_matmul_desc(m, n, k, dtype, has_bias=False, act_scale="per_token", weight_scale="per_channel",
                       has_act_zero_point=False):
    act = _mode_of(act_scale, _capi.ActScaleMode, "act_scale", "'per_token' or 'per_tensor'")
    weight = _mode_of(weight_scale, _capi.WeightScaleMode, "weight_scale", "'per_channel' or 'per_tensor'")
    if weight == _capi.WeightScaleMode.PER_GROUP:  # the weight-only linear plan's mode, not the scaled matmul's
        raise invalid(f"weight_scale must be 'per_channel' or 'per_tensor', got {weight_scale!r}")
    return _capi.new(_capi.ScaledMatmulDesc, m=m, n=n, k=k, activation_element=E.S8, weight_element=E.S8,
                     output_element=element_of(dtype), has_bias=int(bool(has_bias)), act_scale=int(act),
                     weight_scale=int(weight), has_act_zero_point=int(bool(has_act_zero_point)))


def select_scaled_matmul(m, n, k, dtype, has_bias=False, act_scale="per_token", weight_scale="per_channel",
                         preference="heuristic", stream=0, has_act_zero_point=False):
    """qjit_scaled_matmul_plan_select: int8 [M, K] x int8 [N, K] -> dtype [M, N] with the caller's device scales,
    act_scale per token ([M]) or per tensor ([1]), weight_scale per channel ([N]) or per tensor ([1])."""
    return _select(_capi.lib.qjit_scaled_matmul_plan_select,
                   scaled_matmul_desc(m, n, k, dtype, has_bias, act_scale, weight_scale, has_act_zero_point),
                   _capi.lib.qjit_scaled_matmul_desc_to_string, preference, stream)


def weight_colsum(weight, n, k, row_stride=None):
    """colsum[r] = sum over k of the int8 weight's row r (host memory: a bytes-like object of n * row_stride int8),
    the zero-point GEMM's correction term for asymmetric activations; computed once per weight at load time. Returns
    a list of n ints (qjit_weight_colsum)."""
    row_stride = k if row_stride is None else row_stride
    view = memoryview(weight).cast("B")
    if view.nbytes < n * row_stride:
        raise invalid(f"weight must hold n * row_stride = {n} * {row_stride} bytes, got {view.nbytes}")
    buf = (ctypes.c_int8 * view.nbytes).from_buffer_copy(view)
    out = (ctypes.c_int32 * max(n, 1))()
    check(_capi.lib.qjit_weight_colsum(buf, n, k, row_stride, out))
    return list(out[:n])
def weight_only_linear_desc(m, n, k, dtype, weight_scale="per_channel", group_size=0, has_zero_point=False,
                            has_bias=False):
    mode = _mode_of(weight_scale, _capi.WeightScaleMode, "weight_scale", "'per_channel', 'per_tensor' or 'per_group'")
    e = element_of(dtype)
    return _capi.new(_capi.WeightOnlyLinearDesc, m=m, n=n, k=k, activation_element=e, weight_element=E.S8,
                     output_element=e, has_bias=int(bool(has_bias)), weight_scale=int(mode), group_size=int(group_size),
                     has_zero_point=int(bool(has_zero_point)))


def select_weight_only_linear(m, n, k, dtype, weight_scale="per_channel", group_size=0, has_zero_point=False,
                              has_bias=False, preference="heuristic", stream=0):
    """qjit_weight_only_linear_plan_select (W8A16): dtype (f16 / bf16) [M, K] x int8 [N, K] dequantized in the kernel
    with f32 scales (and optional int32 zero points) per channel ([N, 1]), per tensor ([1, 1]) or per group of
    group_size (64 / 128) along K ([N, ceil(K / group_size)]) -> dtype [M, N]."""
    return _select(_capi.lib.qjit_weight_only_linear_plan_select,
                   weight_only_linear_desc(m, n, k, dtype, weight_scale, group_size, has_zero_point, has_bias),
                   _capi.lib.qjit_weight_only_linear_desc_to_string, preference, stream)


class PlanCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._plans = {}

    def get(self, key, select, capturing=lambda: False):
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        if capturing():
            raise UnsupportedError(
                _capi.Status.UNSUPPORTED,
                f"qjit: no plan yet for {key[0]} (M bucket {key[1]}, {', '.join(map(str, key[2:]))}) and the current "
                f"stream is capturing a CUDA graph: selecting may compile and load a kernel, which capture forbids. "
                f"Run the call once with this shape before capturing (a warm-up).")
        plan = select()
        with self._lock:
            return self._plans.setdefault(key, plan)

    def clear(self):
        with self._lock:
            self._plans.clear()

    def __len__(self):
        return len(self._plans)


plan_cache = PlanCache()
