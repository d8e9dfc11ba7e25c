"""qjit: int8 (W8A8) linear layers JIT-compiled for NVIDIA GPUs, over libqjit's C ABI (ctypes; no compiled code
in this package, so one wheel serves every PyTorch version).

    y = qjit.quantized_linear(x, w_q, w_scale, bias)    # any CUDA tensor: torch, CuPy, __cuda_array_interface__,
    q, s = qjit.quantize_per_token(x)                   # or __dlpack__; on the caller's current stream
    y = qjit.weight_only_linear(x, w_q, w_scale, bias)  # W8A16: int8 weight, f16/bf16 activation

PyTorch users: `import qjit.torch` registers torch.ops.qjit.* (torch.compile and CUDA graphs) and provides
W8A8Linear and load_quantized. Importing `qjit` alone never imports torch.
"""

from . import _nvrtc

# NOTE: before libqjit is loaded, so that its first NVRTC open sees $QJIT_NVRTC_LIBRARY.
_nvrtc.configure()

from . import _capi  # noqa: E402
from ._capi import (ABI_VERSION, ActScaleMode, Element, Granularity, NormKind, PlanKind, Preference,  # noqa: E402
                    Status, WeightScaleMode)
from ._errors import (CacheIoError, CompileFailedError, CompilerUnavailableError, DriverError,  # noqa: E402
                      DriverUnavailableError, InternalError, InvalidArgumentError, NotFoundError,
                      OutOfResourcesError, QjitError, UnsupportedError)
from ._nvrtc import NvrtcLibrary, nvrtc_library  # noqa: E402
from ._ops import (layer_norm_quantize, preferred_row_stride, quantize_per_token,  # noqa: E402
                   quantize_per_token_asymmetric, quantized_linear, rms_norm_quantize, scaled_mm, smooth_quant_linear,
                   weight_only_linear)
from ._plans import (Plan, PrecisionGuarantee, m_bucket, select_dynamic_range_quantize,  # noqa: E402
                     select_norm_quantize, select_quantized_linear, select_scaled_matmul,
                     select_smooth_quant_linear, select_weight_only_linear, weight_colsum)
from ._plans import plan_cache as _plan_cache  # noqa: E402

__version__ = "0.1.0"


def library_version():
    """libqjit's version string ("0.1.0")."""
    return _capi.lib.qjit_version_string().decode()


def abi_version():
    """libqjit's C ABI version (this package requires ABI_VERSION)."""
    return int(_capi.lib.qjit_abi_version())


def library_path():
    """The libqjit.so this package loaded."""
    return _capi.path


def clear_plan_cache():
    """Drops every cached plan (their kernels stay in the library's cache)."""
    _plan_cache.clear()


__all__ = [
    "ABI_VERSION", "ActScaleMode", "CacheIoError", "CompileFailedError", "CompilerUnavailableError", "DriverError",
    "DriverUnavailableError", "Element", "Granularity", "InternalError", "InvalidArgumentError", "NormKind",
    "NotFoundError", "NvrtcLibrary", "OutOfResourcesError", "Plan", "PlanKind", "PrecisionGuarantee", "Preference",
    "QjitError", "Status", "UnsupportedError", "abi_version", "clear_plan_cache", "layer_norm_quantize",
    "library_path", "library_version", "m_bucket", "nvrtc_library", "preferred_row_stride", "quantize_per_token",
    "quantize_per_token_asymmetric", "quantized_linear", "rms_norm_quantize", "scaled_mm", "select_dynamic_range_quantize", "select_norm_quantize",
    "select_quantized_linear", "select_scaled_matmul", "select_smooth_quant_linear", "select_weight_only_linear",
    "smooth_quant_linear", "WeightScaleMode", "weight_colsum", "weight_only_linear",
]
