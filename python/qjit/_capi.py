"""ctypes declarations of qjit's C ABI (include/qjit/qjit_c.h), and the loading of libqjit.so.

This module mirrors the header one for one: the enums as IntEnums, every struct with its fields in header order, and
every function with its argtypes and restype. Nothing else in the package calls the library except through `lib`
here. Structs a caller passes in start with `struct_size`; `new(StructType, **fields)` sets it. The library is the
one bundled in the wheel (qjit/_lib/libqjit.so), loaded by absolute path; without it, $QJIT_LIBRARY. At import the
library's ABI version must equal ABI_VERSION, the version this file was written for.
"""

import ctypes
import enum
import os

ABI_VERSION = 1  # QJIT_ABI_VERSION of the header this file mirrors

c_int32, c_int64, c_uint32, c_uint64, c_size_t = (ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32,
                                                  ctypes.c_uint64, ctypes.c_size_t)
c_void_p, c_char_p, c_double, c_float, c_int = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double,
                                                ctypes.c_float, ctypes.c_int)
POINTER = ctypes.POINTER


class Status(enum.IntEnum):
    OK = 0
    INVALID_ARGUMENT = 1
    UNSUPPORTED = 2
    COMPILE_FAILED = 3
    DRIVER_ERROR = 4
    DRIVER_UNAVAILABLE = 5
    COMPILER_UNAVAILABLE = 6
    CACHE_IO = 7
    OUT_OF_RESOURCES = 8
    NOT_FOUND = 9
    INTERNAL = 10


class Element(enum.IntEnum):
    F16 = 0
    BF16 = 1
    F32 = 2
    F64 = 3
    S8 = 4
    U8 = 5
    S32 = 6


ELEMENT_NAMES = {Element.F16: "f16", Element.BF16: "bf16", Element.F32: "f32", Element.F64: "f64",
                 Element.S8: "s8", Element.U8: "u8", Element.S32: "s32"}
ELEMENT_SIZES = {Element.F16: 2, Element.BF16: 2, Element.F32: 4, Element.F64: 8, Element.S8: 1, Element.U8: 1,
                 Element.S32: 4}
FLOAT_ELEMENTS = (Element.F16, Element.BF16, Element.F32, Element.F64)


class Preference(enum.IntEnum):
    HEURISTIC = 0
    TUNED = 1
    AUTOTUNE = 2


class Granularity(enum.IntEnum):
    PER_TOKEN = 0
    PER_TENSOR = 1


class PlanKind(enum.IntEnum):
    NONE = 0  # what qjit_plan_get_kind returns for NULL
    QUANTIZED_LINEAR = 1
    SMOOTH_QUANT_LINEAR = 2
    DYNAMIC_RANGE_QUANTIZE = 3
    RMS_NORM_QUANTIZE = 4
    LAYER_NORM_QUANTIZE = 5
    SCALED_MATMUL = 6
    WEIGHT_ONLY_LINEAR = 7


class NormKind(enum.IntEnum):
    RMS_NORM = 0
    LAYER_NORM = 1


class ActScaleMode(enum.IntEnum):
    PER_TOKEN = 0   # act_scale [M]
    PER_TENSOR = 1  # act_scale [1], in device memory


class WeightScaleMode(enum.IntEnum):
    PER_CHANNEL = 0  # weight_scale [N]
    PER_TENSOR = 1   # weight_scale [1], in device memory
    PER_GROUP = 2    # weight_scale [N, ceil(K / group_size)]: the weight-only linear plan only


# ---- structs (field order and types exactly as in qjit_c.h) -------------------------------------------------------

class Tensor(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("element", c_int32), ("rank", c_int32), ("shape", c_int64 * 4),
                ("stride", c_int64 * 4)]


class QuantizedLinearDesc(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("m", c_int64), ("n", c_int64), ("k", c_int64),
                ("activation_element", c_int32), ("weight_element", c_int32), ("output_element", c_int32),
                ("has_bias", c_int32), ("has_smooth", c_int32), ("asymmetric", c_int32)]


class SmoothQuantLinearDesc(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("m", c_int64), ("n", c_int64), ("k", c_int64), ("act_scale", c_float),
                ("activation_element", c_int32), ("weight_element", c_int32), ("output_element", c_int32),
                ("has_bias", c_int32)]


class DynamicRangeQuantizeDesc(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("m", c_int64), ("k", c_int64), ("input_element", c_int32),
                ("granularity", c_int32), ("has_smooth", c_int32), ("asymmetric", c_int32),
                ("output_element", c_int32)]


class NormQuantizeDesc(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("m", c_int64), ("k", c_int64), ("norm", c_int32),
                ("input_element", c_int32), ("granularity", c_int32), ("has_residual", c_int32), ("eps", c_float),
                ("static_scale", c_float)]


class ScaledMatmulDesc(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("m", c_int64), ("n", c_int64), ("k", c_int64),
                ("activation_element", c_int32), ("weight_element", c_int32), ("output_element", c_int32),
                ("has_bias", c_int32), ("act_scale", c_int32), ("weight_scale", c_int32),
                ("has_act_zero_point", c_int32)]


class WeightOnlyLinearDesc(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("m", c_int64), ("n", c_int64), ("k", c_int64),
                ("activation_element", c_int32), ("weight_element", c_int32), ("output_element", c_int32),
                ("has_bias", c_int32), ("weight_scale", c_int32), ("group_size", c_int32), ("has_zero_point", c_int32)]


class LinearArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("activation", Tensor), ("weight", Tensor), ("weight_scale", Tensor),
                ("bias", Tensor), ("output", Tensor), ("act_q_scratch", Tensor), ("act_scale_scratch", Tensor),
                ("pre_quant_scale", Tensor), ("weight_colsum", Tensor)]


class QuantizeArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("input", Tensor), ("output", Tensor), ("scale", Tensor),
                ("pre_quant_scale", Tensor), ("zero_point", Tensor)]


class NormQuantizeArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("input", Tensor), ("residual", Tensor), ("residual_out", Tensor),
                ("gamma", Tensor), ("beta", Tensor), ("output", Tensor), ("scale", Tensor)]


class ScaledMatmulArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("act_q", Tensor), ("weight_q", Tensor), ("act_scale", Tensor),
                ("weight_scale", Tensor), ("bias", Tensor), ("output", Tensor), ("act_zero_point", Tensor),
                ("weight_colsum", Tensor)]


class WeightOnlyLinearArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("activation", Tensor), ("weight", Tensor), ("weight_scale", Tensor),
                ("zero_point", Tensor), ("bias", Tensor), ("output", Tensor)]


class PrecisionGuarantee(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("deterministic", c_int32), ("exact_accumulation", c_int32),
                ("epilogue_relative_error", c_double), ("description", c_char_p)]


class CacheLocation(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("writable_dir", c_char_p), ("readonly_dirs", c_char_p),
                ("read_only", c_int32), ("max_bytes", c_uint64)]


class CacheStoreInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("dir", c_char_p), ("read_only", c_int32), ("present", c_int32),
                ("entries", c_uint64), ("bytes", c_uint64), ("temp_files", c_uint64)]


class CacheStats(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("entries", c_uint64), ("bytes", c_uint64), ("max_bytes", c_uint64),
                ("stores", c_uint64), ("temp_files", c_uint64)]


class CacheEntryInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("path", c_char_p), ("key_hex", c_char_p), ("store_dir", c_char_p),
                ("read_only_store", c_int32), ("bytes", c_uint64), ("last_used", c_int64),
                ("entry_name", c_char_p), ("arch", c_char_p), ("nvrtc_version", c_char_p), ("registers", c_int32),
                ("shared_bytes", c_int32), ("compile_seconds", c_double), ("ok", c_int32), ("problem", c_char_p)]


class CachePruneReport(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("removed_entries", c_uint64), ("removed_bytes", c_uint64),
                ("removed_temp_files", c_uint64), ("kept_entries", c_uint64), ("kept_bytes", c_uint64)]


class LayerShape(ctypes.Structure):
    _fields_ = [("n", c_int64), ("k", c_int64)]


class WarmupRequest(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("arch", c_char_p), ("shapes", POINTER(LayerShape)),
                ("shape_count", c_size_t), ("ms", POINTER(c_int64)), ("m_count", c_size_t), ("plans", c_uint32),
                ("dtype", c_int32), ("bias_modes", c_uint32), ("tuning_db_path", c_char_p),
                ("device_name", c_char_p), ("sm_count", c_int32), ("jobs", c_uint32),
                ("smooth_modes", c_uint32)]


class WarmupReport(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("kernel_requests", c_uint64), ("kernels", c_uint64),
                ("cached", c_uint64), ("compiled", c_uint64), ("failed", c_uint64), ("tuned", c_uint64),
                ("wall_seconds", c_double)]


CACHE_VERIFY = 1
CACHE_REMOVE_BAD = 2
WARMUP_QUANTIZED_LINEAR = 1
WARMUP_SMOOTH_QUANT_LINEAR = 2
WARMUP_NO_BIAS = 1
WARMUP_BIAS = 2

CacheStoreCallback = ctypes.CFUNCTYPE(c_int, POINTER(CacheStoreInfo), c_void_p)
CacheEntryCallback = ctypes.CFUNCTYPE(c_int, POINTER(CacheEntryInfo), c_void_p)

Plan_p = c_void_p     # qjit_plan* (opaque)
Stream_p = c_void_p   # struct CUstream_st* (NULL: the legacy default stream)


def new(struct_type, **fields):
    """A struct with struct_size = sizeof(struct_type) and the given fields set (the rest zero)."""
    s = struct_type()
    s.struct_size = ctypes.sizeof(struct_type)
    for name, value in fields.items():
        setattr(s, name, value)
    return s


# ---- functions: (name, restype, argtypes), in header order ---------------------------------------------------------

_FUNCTIONS = [
    ("qjit_abi_version", c_uint32, []),
    ("qjit_version_string", c_char_p, []),
    ("qjit_version", None, [POINTER(c_int32), POINTER(c_int32), POINTER(c_int32)]),
    ("qjit_status_name", c_char_p, [c_int]),
    ("qjit_last_error_code", c_int, []),
    ("qjit_last_error_message", c_char_p, []),
    ("qjit_last_error_copy", c_size_t, [c_char_p, c_size_t]),
    ("qjit_clear_last_error", None, []),
    ("qjit_quantized_linear_desc_to_string", c_size_t, [POINTER(QuantizedLinearDesc), c_char_p, c_size_t]),
    ("qjit_smooth_quant_linear_desc_to_string", c_size_t, [POINTER(SmoothQuantLinearDesc), c_char_p, c_size_t]),
    ("qjit_dynamic_range_quantize_desc_to_string", c_size_t,
     [POINTER(DynamicRangeQuantizeDesc), c_char_p, c_size_t]),
    ("qjit_norm_quantize_desc_to_string", c_size_t, [POINTER(NormQuantizeDesc), c_char_p, c_size_t]),
    ("qjit_scaled_matmul_desc_to_string", c_size_t, [POINTER(ScaledMatmulDesc), c_char_p, c_size_t]),
    ("qjit_weight_only_linear_desc_to_string", c_size_t, [POINTER(WeightOnlyLinearDesc), c_char_p, c_size_t]),
    ("qjit_quantized_linear_plan_select", c_int,
     [Stream_p, POINTER(QuantizedLinearDesc), c_int32, POINTER(Plan_p)]),
    ("qjit_smooth_quant_linear_plan_select", c_int,
     [Stream_p, POINTER(SmoothQuantLinearDesc), c_int32, POINTER(Plan_p)]),
    ("qjit_dynamic_range_quantize_plan_select", c_int,
     [Stream_p, POINTER(DynamicRangeQuantizeDesc), c_int32, POINTER(Plan_p)]),
    ("qjit_scaled_matmul_plan_select", c_int, [Stream_p, POINTER(ScaledMatmulDesc), c_int32, POINTER(Plan_p)]),
    ("qjit_norm_quantize_plan_select", c_int, [Stream_p, POINTER(NormQuantizeDesc), c_int32, POINTER(Plan_p)]),
    ("qjit_weight_only_linear_plan_select", c_int,
     [Stream_p, POINTER(WeightOnlyLinearDesc), c_int32, POINTER(Plan_p)]),
    ("qjit_plan_release", None, [Plan_p]),
    ("qjit_plan_retain", Plan_p, [Plan_p]),
    ("qjit_plan_get_kind", c_int, [Plan_p]),
    ("qjit_plan_workspace_size", c_int, [Plan_p, POINTER(c_size_t)]),
    ("qjit_plan_workspace_size_for_m", c_int, [Plan_p, c_int64, POINTER(c_size_t)]),
    ("qjit_plan_precision_guarantee", c_int, [Plan_p, POINTER(PrecisionGuarantee)]),
    ("qjit_plan_describe", c_size_t, [Plan_p, c_char_p, c_size_t]),
    ("qjit_linear_plan_can_implement", c_int, [Plan_p, POINTER(LinearArgs)]),
    ("qjit_linear_plan_run", c_int, [Plan_p, Stream_p, c_void_p, c_size_t, POINTER(LinearArgs)]),
    ("qjit_quantize_plan_can_implement", c_int, [Plan_p, POINTER(QuantizeArgs)]),
    ("qjit_quantize_plan_run", c_int, [Plan_p, Stream_p, c_void_p, c_size_t, POINTER(QuantizeArgs)]),
    ("qjit_norm_quantize_plan_can_implement", c_int, [Plan_p, POINTER(NormQuantizeArgs)]),
    ("qjit_norm_quantize_plan_run", c_int, [Plan_p, Stream_p, c_void_p, c_size_t, POINTER(NormQuantizeArgs)]),
    ("qjit_scaled_matmul_plan_can_implement", c_int, [Plan_p, POINTER(ScaledMatmulArgs)]),
    ("qjit_scaled_matmul_plan_run", c_int, [Plan_p, Stream_p, c_void_p, c_size_t, POINTER(ScaledMatmulArgs)]),
    ("qjit_weight_colsum", c_int, [c_void_p, c_int64, c_int64, c_int64, c_void_p]),
    ("qjit_pad_int8_rows", c_int, [Stream_p, c_void_p, c_int64, c_int64, c_int64, c_void_p, c_int64]),
    ("qjit_weight_only_linear_plan_can_implement", c_int, [Plan_p, POINTER(WeightOnlyLinearArgs)]),
    ("qjit_weight_only_linear_plan_run", c_int,
     [Plan_p, Stream_p, c_void_p, c_size_t, POINTER(WeightOnlyLinearArgs)]),
    ("qjit_cache_location_from_environment", c_int,
     [c_char_p, c_size_t, POINTER(c_size_t), c_char_p, c_size_t, POINTER(c_size_t), POINTER(c_int32),
      POINTER(c_uint64)]),
    ("qjit_cache_stats_get", c_int, [POINTER(CacheLocation), POINTER(CacheStats), CacheStoreCallback, c_void_p]),
    ("qjit_cache_list", c_int, [POINTER(CacheLocation), c_uint32, CacheEntryCallback, c_void_p]),
    ("qjit_cache_prune", c_int, [POINTER(CacheLocation), c_uint64, POINTER(CachePruneReport)]),
    ("qjit_cache_clear", c_int, [POINTER(CacheLocation), POINTER(CachePruneReport)]),
    ("qjit_warmup", c_int, [POINTER(WarmupRequest), POINTER(WarmupReport)]),
]

FUNCTION_NAMES = tuple(name for name, _, _ in _FUNCTIONS)


def bundled_library_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", "libqjit.so")


def library_path():
    """The libqjit.so this package loads: the bundled one, else $QJIT_LIBRARY."""
    bundled = bundled_library_path()
    if os.path.isfile(bundled):
        return bundled
    env = os.environ.get("QJIT_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise ImportError(f"qjit: QJIT_LIBRARY={env!r} is not a file (and no bundled library at {bundled})")
        return os.path.abspath(env)
    raise ImportError(f"qjit: no libqjit.so: the package has none bundled ({bundled}) and QJIT_LIBRARY is not set")


def _declare(library):
    for name, restype, argtypes in _FUNCTIONS:
        try:
            fn = getattr(library, name)
        except AttributeError:
            raise ImportError(f"qjit: {library._name} does not export {name} (not a qjit ABI {ABI_VERSION} library)")
        fn.restype = restype
        fn.argtypes = argtypes
    return library


def _load():
    path = library_path()
    try:
        library = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"qjit: cannot load {path}: {e}") from e
    _declare(library)
    abi = library.qjit_abi_version()
    if abi != ABI_VERSION:
        raise ImportError(f"qjit: {path} has C ABI version {abi}; this package was written for version "
                          f"{ABI_VERSION}")
    return library


lib = _load()
path = lib._name


def read_string(fn, *args, capacity=256):
    """Calls a (…, buf, capacity) -> needed string function and returns its whole text as str."""
    while True:
        buf = ctypes.create_string_buffer(capacity)
        needed = fn(*args, buf, capacity)
        # NOTE: strictly less: whether `needed` counts the NUL or not, a text that filled the buffer is read again.
        if needed < capacity:
            return buf.value.decode("utf-8", "replace")
        capacity = int(needed) + 1
