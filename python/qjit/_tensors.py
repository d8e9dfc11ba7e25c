"""Framework-neutral access to device tensors: what a qjit call needs from an argument is a device pointer, an
element kind, a shape and strides in elements, and (when the framework says) the device ordinal.

Three ways in, tried in this order:
- a torch.Tensor, read directly (data_ptr, shape, stride, dtype, device); torch's own __cuda_array_interface__
  refuses bf16, so it is not used. torch is never imported here: a tensor can only be a torch.Tensor when torch is
  already in sys.modules.
- __cuda_array_interface__ (CuPy, Numba, ...): typestr <f2 <f4 <f8 |i1 |u1 <i4, and bf16 where the producer marks
  it (typestr "<V2" with a descr field named "bfloat16"); strides in bytes (None: C-contiguous); no mask.
- __dlpack__: the DLManagedTensor capsule is read with ctypes (it is not consumed: the capsule, and with it the
  producer's memory, is kept alive with the argument until the call returns); the device must be CUDA (or CUDA
  managed memory).
Host memory, a non-unit innermost stride, an unknown dtype or an object none of these fit is an InvalidArgumentError
that names the argument.
"""

import ctypes
import struct
import sys

from . import _capi
from ._errors import invalid

E = _capi.Element


class TensorInfo:
    __slots__ = ("obj", "data", "element", "shape", "strides", "device", "framework", "keepalive")

    def __init__(self, obj, data, element, shape, strides, device, framework, keepalive=None, ints=False):
        self.obj = obj
        self.data = int(data)
        self.element = element
        # ints=True: shape and strides are already tuples of Python ints (torch's), so no per-call conversion.
        self.shape = shape if ints else tuple(int(s) for s in shape)
        self.strides = strides if ints else tuple(int(s) for s in strides)
        self.device = device        # ordinal, or None where the producer does not say
        self.framework = framework  # "torch", "cupy" or None (allocation and streams need a known framework)
        self.keepalive = keepalive  # what must outlive the call (a DLPack capsule)

    @property
    def nbytes(self):
        n = _capi.ELEMENT_SIZES[self.element]
        for s in self.shape:
            n *= s
        return n


# ---- argument structs in one pack ------------------------------------------------------------------------------------
# A run's argument struct (struct_size, then qjit_tensor fields) written with one struct.pack_into instead of a
# ctypes.Structure per tensor: filling ctypes fields one by one cost ~3 µs per tensor, most of a call's host time.
# The layout is derived from the ctypes declaration and checked against it once per struct type.

_TENSOR = "Qii%dq%dq" % (len(_capi.Tensor().shape), len(_capi.Tensor().stride))
_RANKS = len(_capi.Tensor().shape)
_PAD = tuple((0,) * (_RANKS - r) for r in range(_RANKS + 1))
_ZERO = (0,) * (3 + 2 * _RANKS)
_PACKERS = {}


def _packer(struct_type):
    packer = _PACKERS.get(struct_type)
    if packer is not None:
        return packer
    fields = struct_type._fields_
    if fields[0][:2] != ("struct_size", ctypes.c_uint32) or any(f[1] is not _capi.Tensor for f in fields[1:]):
        raise TypeError(f"{struct_type.__name__} is not struct_size followed by qjit_tensor fields")
    fmt = "<I"
    at = 4
    for name, _ in fields[1:]:
        offset = getattr(struct_type, name).offset
        fmt += "%dx" % (offset - at) + _TENSOR
        at = offset + ctypes.sizeof(_capi.Tensor)
    fmt += "%dx" % (ctypes.sizeof(struct_type) - at)
    layout = struct.Struct(fmt)
    if layout.size != ctypes.sizeof(struct_type):
        raise TypeError(f"{struct_type.__name__}: packed size {layout.size} != ctypes size {ctypes.sizeof(struct_type)}")
    packer = (layout, tuple(name for name, _ in fields[1:]), ctypes.sizeof(struct_type))
    _PACKERS[struct_type] = packer
    return packer


def pack(struct_type, **tensors):
    """struct_type (struct_size + qjit_tensor fields) with each named field set from a TensorInfo (None or absent:
    an absent optional tensor, data NULL and rank 0). Unknown field names are an error."""
    layout, names, size = _packer(struct_type)
    if len(tensors) > len(names) or any(name not in names for name in tensors):
        raise TypeError(f"{struct_type.__name__} has no field {sorted(set(tensors) - set(names))}")
    values = [size]
    for name in names:
        info = tensors.get(name)
        if info is None:
            values += _ZERO
        else:
            shape, strides = info.shape, info.strides
            pad = _PAD[len(shape)]
            values += (info.data, info.element, len(shape)) + shape + pad + strides + pad
    out = struct_type()
    layout.pack_into(out, 0, *values)
    return out


def _contiguous_strides(shape):
    strides, s = [], 1
    for d in reversed(shape):
        strides.append(s)
        s *= max(int(d), 1)
    return tuple(reversed(strides))


# ---- torch -----------------------------------------------------------------------------------------------------------

_TORCH_ELEMENTS = {}


def torch_elements(torch):
    elements = _TORCH_ELEMENTS.get(id(torch))
    if elements is None:
        elements = {torch.float16: E.F16, torch.bfloat16: E.BF16, torch.float32: E.F32, torch.float64: E.F64,
                    torch.int8: E.S8, torch.uint8: E.U8, torch.int32: E.S32}
        _TORCH_ELEMENTS[id(torch)] = elements
    return elements


def _from_torch(name, t, torch):
    if not t.is_cuda:
        raise invalid(f"{name} must be in CUDA device memory, got a tensor on {t.device}")
    element = torch_elements(torch).get(t.dtype)
    if element is None:
        raise invalid(f"{name} has dtype {t.dtype}, which qjit does not take")
    # get_device() is a CUDA tensor's ordinal; shape and stride() are ints already.
    return TensorInfo(t, t.data_ptr(), element, tuple(t.shape), t.stride(), t.get_device(), "torch", ints=True)


# ---- __cuda_array_interface__ --------------------------------------------------------------------------------------

CAI_ELEMENTS = {"<f2": E.F16, "<f4": E.F32, "<f8": E.F64, "|i1": E.S8, "<i1": E.S8, "|u1": E.U8, "<u1": E.U8,
                "<i4": E.S32}


def _cai_element(name, cai):
    typestr = cai.get("typestr")
    if not isinstance(typestr, str):
        raise invalid(f"{name}.__cuda_array_interface__ has no typestr")
    if sys.byteorder == "little" and typestr[:1] == "=":
        typestr = "<" + typestr[1:]
    if typestr in CAI_ELEMENTS:
        return CAI_ELEMENTS[typestr]
    if typestr in ("<V2", "|V2"):
        descr = cai.get("descr") or []
        field = descr[0][0] if descr and isinstance(descr[0], (tuple, list)) and descr[0] else ""
        if isinstance(field, str) and field.lower() in ("bfloat16", "bf16"):
            return E.BF16
    raise invalid(f"{name} has __cuda_array_interface__ typestr {typestr!r}, which qjit does not take (f16 '<f2', "
                  f"f32 '<f4', f64 '<f8', s8 '|i1', u8 '|u1', s32 '<i4', or bf16 marked by descr)")


def _from_cai(name, obj, cai, framework):
    element = _cai_element(name, cai)
    shape = tuple(cai.get("shape", ()))
    if cai.get("mask") is not None:
        raise invalid(f"{name} is a masked array (__cuda_array_interface__ mask), which qjit does not take")
    data = cai.get("data")
    if not isinstance(data, (tuple, list)) or len(data) < 1:
        raise invalid(f"{name}.__cuda_array_interface__ data must be (pointer, read_only)")
    size = _capi.ELEMENT_SIZES[element]
    byte_strides = cai.get("strides")
    if byte_strides is None:
        strides = _contiguous_strides(shape)
    else:
        strides = []
        for s in byte_strides:
            if s % size:
                raise invalid(f"{name} strides {tuple(byte_strides)} (bytes) must be multiples of the element size "
                              f"{size}")
            strides.append(s // size)
    device = None
    if framework == "cupy":
        device = obj.device.id
    return TensorInfo(obj, data[0] or 0, element, shape, strides, device, framework)


# ---- DLPack ------------------------------------------------------------------------------------------------------------

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


DL_CPU, DL_CUDA, DL_CUDA_HOST, DL_CUDA_MANAGED = 1, 2, 3, 13
DL_DEVICE_NAMES = {1: "CPU", 2: "CUDA", 3: "CUDA host (pinned)", 4: "OpenCL", 7: "Vulkan", 8: "Metal", 10: "ROCm",
                   13: "CUDA managed", 14: "oneAPI"}
DL_ELEMENTS = {(2, 16): E.F16, (4, 16): E.BF16, (2, 32): E.F32, (2, 64): E.F64, (0, 8): E.S8, (1, 8): E.U8,
               (0, 32): E.S32}

_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.restype = ctypes.c_int
_capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get_pointer.restype = ctypes.c_void_p
_capsule_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def _check_dl_device(name, device_type):
    if device_type not in (DL_CUDA, DL_CUDA_MANAGED):
        where = DL_DEVICE_NAMES.get(device_type, f"DLPack device type {device_type}")
        raise invalid(f"{name} must be in CUDA device memory, got {where} memory (DLPack)")


def parse_dlpack_capsule(name, capsule):
    """(data pointer, element, shape, strides, device_id) of a "dltensor" (or "dltensor_versioned") capsule."""
    if _capsule_is_valid(capsule, b"dltensor"):
        t = DLManagedTensor.from_address(_capsule_get_pointer(capsule, b"dltensor")).dl_tensor
    elif _capsule_is_valid(capsule, b"dltensor_versioned"):
        t = DLManagedTensorVersioned.from_address(_capsule_get_pointer(capsule, b"dltensor_versioned")).dl_tensor
    else:
        raise invalid(f"{name}.__dlpack__() did not return an unconsumed DLPack capsule")
    _check_dl_device(name, t.device.device_type)
    dt = t.dtype
    element = DL_ELEMENTS.get((dt.code, dt.bits))
    if element is None or dt.lanes != 1:
        raise invalid(f"{name} has DLPack dtype (code {dt.code}, bits {dt.bits}, lanes {dt.lanes}), which qjit does "
                      f"not take")
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = tuple(t.strides[i] for i in range(t.ndim)) if t.strides else _contiguous_strides(shape)
    data = (t.data or 0) + t.byte_offset
    return data, element, shape, strides, t.device.device_id


def _from_dlpack(name, obj, stream):
    device_fn = getattr(obj, "__dlpack_device__", None)
    if device_fn is not None:
        _check_dl_device(name, int(device_fn()[0]))
    # NOTE: DLPack's stream argument for CUDA: 1 is the legacy default stream (0 is disallowed), else the handle.
    try:
        capsule = obj.__dlpack__(stream=stream if stream else 1)
    except TypeError:
        capsule = obj.__dlpack__()
    data, element, shape, strides, device_id = parse_dlpack_capsule(name, capsule)
    return TensorInfo(obj, data, element, shape, strides, device_id, None, keepalive=capsule)


# ---- entry point -----------------------------------------------------------------------------------------------------

def _is_cupy(obj):
    return type(obj).__module__.split(".", 1)[0] == "cupy" and "cupy" in sys.modules


def parse(name, obj, stream=0):
    """The TensorInfo of a device tensor argument, whichever framework made it."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _from_torch(name, obj, torch)
    try:
        cai = obj.__cuda_array_interface__
    except AttributeError:
        cai = None
    if isinstance(cai, dict):
        return _from_cai(name, obj, cai, "cupy" if _is_cupy(obj) else None)
    if hasattr(obj, "__dlpack__"):
        return _from_dlpack(name, obj, stream)
    raise invalid(f"{name} must be a CUDA tensor (a torch.Tensor, or an object with __cuda_array_interface__ or "
                  f"__dlpack__), got {type(obj).__module__}.{type(obj).__qualname__}")


def check(info, name, rank, elements, what=""):
    """Rank, element kind and unit innermost stride of a parsed argument; normalises the strides of size-1
    dimensions (which no layout depends on) to what a packed tensor would have."""
    if len(info.shape) != rank:
        dims = what or ("[" + ", ".join("?" * rank) + "]")
        raise invalid(f"{name} must be {rank}-D {dims}, got shape {list(info.shape)}")
    if info.element not in elements:
        allowed = ", ".join(_capi.ELEMENT_NAMES[e] for e in elements)
        raise invalid(f"{name} dtype must be {allowed}, got {_capi.ELEMENT_NAMES[info.element]}")
    strides = list(info.strides)
    if 1 in info.shape:
        packed = _contiguous_strides(info.shape)
        for i, d in enumerate(info.shape):
            if d == 1:
                strides[i] = packed[i]
    if info.shape and info.shape[-1] > 1 and strides[-1] != 1:
        raise invalid(f"{name} must have unit stride in its last dimension, got strides {list(info.strides)} "
                      f"(elements) for shape {list(info.shape)}")
    if rank == 2 and info.shape[0] > 1 and strides[0] < info.shape[1]:
        raise invalid(f"{name} row stride must be >= {info.shape[1]} (its row length), got {strides[0]}")
    info.strides = tuple(strides)
    return info
