"""Framework-neutral tensor access against fake producers (an object with __cuda_array_interface__, a hand-built
DLPack capsule), and argument validation of the calls: each mistake is an InvalidArgumentError naming the argument,
found before the driver is touched; a well-formed call without a GPU reaches the library and is DriverUnavailable."""

import ctypes

import pytest

import qjit
from qjit import _capi, _tensors

from conftest import cpu_only

E = qjit.Element
FAKE_PTR = 0x7F0000000000  # never dereferenced: validation and select fail first


class CudaArray:
    """A minimal __cuda_array_interface__ (v3) producer."""

    def __init__(self, shape, typestr, strides=None, ptr=FAKE_PTR, descr=None):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, False),
                                         "strides": strides, "version": 3, "stream": None}
        if descr is not None:
            self.__cuda_array_interface__["descr"] = descr


# ---- a DLPack producer built by hand ---------------------------------------------------------------------------------

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_DLTENSOR = ctypes.create_string_buffer(b"dltensor")  # NOTE: the capsule keeps this pointer, so it must live on


class DLPackArray:
    def __init__(self, shape, code_bits, strides=None, device=(2, 0), ptr=FAKE_PTR, byte_offset=0):
        self.device = device
        self.streams = []
        self._shape = (ctypes.c_int64 * len(shape))(*shape)
        self._strides = (ctypes.c_int64 * len(shape))(*strides) if strides is not None else None
        m = _tensors.DLManagedTensor()
        t = m.dl_tensor
        t.data = ptr
        t.device = _tensors.DLDevice(*device)
        t.ndim = len(shape)
        t.dtype = _tensors.DLDataType(code_bits[0], code_bits[1], 1)
        t.shape = ctypes.cast(self._shape, ctypes.POINTER(ctypes.c_int64))
        if self._strides is not None:
            t.strides = ctypes.cast(self._strides, ctypes.POINTER(ctypes.c_int64))
        t.byte_offset = byte_offset
        self._managed = m

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, stream=None):
        self.streams.append(stream)
        return _capsule_new(ctypes.addressof(self._managed), ctypes.cast(_DLTENSOR, ctypes.c_char_p), None)


# ---- parsing ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typestr, element", [("<f2", E.F16), ("<f4", E.F32), ("<f8", E.F64), ("|i1", E.S8),
                                              ("|u1", E.U8), ("<i4", E.S32), ("=f4", E.F32)])
def test_cai_typestrs(typestr, element):
    info = _tensors.parse("x", CudaArray((4, 8), typestr))
    assert info.element == element and info.shape == (4, 8) and info.strides == (8, 1)
    assert info.data == FAKE_PTR and info.framework is None and info.device is None


def test_cai_bf16_marked_by_descr():
    info = _tensors.parse("x", CudaArray((4, 8), "<V2", descr=[("bfloat16", "<V2")]))
    assert info.element == E.BF16


def test_cai_unmarked_void_is_refused():
    with pytest.raises(qjit.InvalidArgumentError, match=r"^x has __cuda_array_interface__ typestr '<V2'"):
        _tensors.parse("x", CudaArray((4, 8), "<V2"))


def test_cai_byte_strides_become_elements():
    info = _tensors.parse("x", CudaArray((4, 8), "<f2", strides=(32, 2)))
    assert info.strides == (16, 1)


def test_cai_refuses_unsupported_dtype():
    with pytest.raises(qjit.InvalidArgumentError, match="^w_q has __cuda_array_interface__ typestr '<c8'"):
        _tensors.parse("w_q", CudaArray((4, 8), "<c8"))


def test_dlpack_capsule_is_read():
    a = DLPackArray((4, 8), (2, 32), strides=(16, 1), device=(2, 3), byte_offset=64)
    info = _tensors.parse("x", a, stream=0)
    assert info.element == E.F32 and info.shape == (4, 8) and info.strides == (16, 1)
    assert info.data == FAKE_PTR + 64 and info.device == 3 and info.framework is None
    assert info.keepalive is not None  # the capsule lives as long as the call's arguments
    assert a.streams == [1]  # DLPack's legacy default stream: 0 is not a valid stream argument


def test_dlpack_without_strides_is_contiguous():
    info = _tensors.parse("x", DLPackArray((3, 5), (4, 16)), stream=77)
    assert info.element == E.BF16 and info.strides == (5, 1)


@pytest.mark.parametrize("device, where", [((1, 0), "CPU"), ((3, 0), "CUDA host")])
def test_dlpack_host_memory_is_refused(device, where):
    with pytest.raises(qjit.InvalidArgumentError, match=f"^x must be in CUDA device memory, got {where}"):
        _tensors.parse("x", DLPackArray((4, 8), (2, 32), device=device))


def test_dlpack_unsupported_dtype():
    with pytest.raises(qjit.InvalidArgumentError, match=r"^x has DLPack dtype \(code 5"):
        _tensors.parse("x", DLPackArray((4, 8), (5, 64)))


def test_not_a_tensor():
    with pytest.raises(qjit.InvalidArgumentError, match="^x must be a CUDA tensor"):
        _tensors.parse("x", [[1.0, 2.0]])


def test_size_one_dims_get_packed_strides():
    info = _tensors.check(_tensors.parse("x", CudaArray((1, 8), "<f4", strides=(4, 4))), "x", 2, (E.F32,))
    assert info.strides == (8, 1)


# ---- validation through the calls -----------------------------------------------------------------------------------

M, N, K = 16, 256, 512


def linear_args(**over):
    args = dict(x=CudaArray((M, K), "<f2"), w_q=CudaArray((N, K), "|i1"), w_scale=CudaArray((N,), "<f4"),
                bias=None, out=CudaArray((M, N), "<f2"), act_q=CudaArray((M, K), "|i1"),
                act_scale=CudaArray((M,), "<f4"))
    args.update(over)
    return args


@pytest.mark.parametrize("over, message", [
    (dict(x=CudaArray((M, K, 1), "<f2")), r"^x must be 2-D \[M, K\], got shape \[16, 512, 1\]"),
    (dict(x=CudaArray((M, K), "|i1")), r"^x dtype must be f16, bf16, f32, f64, got s8"),
    (dict(w_q=CudaArray((N, K), "<f2")), r"^w_q dtype must be s8, got f16"),
    (dict(w_q=CudaArray((N, K + 8), "|i1")), r"^w_q.shape\[1\] must equal x.shape\[1\] \(K=512\)"),
    (dict(w_scale=CudaArray((N, 1), "<f4")), r"^w_scale must be 1-D \[N\]"),
    (dict(w_scale=CudaArray((N + 1,), "<f4")), r"^w_scale.shape must be \[N=256\], got \[257\]"),
    (dict(bias=CudaArray((N,), "<f4")), r"^bias dtype must be f16, got f32"),
    (dict(x=CudaArray((M, K), "<f2", strides=(2 * K * 2, 4))), r"^x must have unit stride in its last dimension"),
    (dict(out=CudaArray((M, N + 1), "<f2")), r"^out.shape must be \[M=16, N=256\], got \[16, 257\]"),
    (dict(out=CudaArray((M, N), "<f4")), r"^out dtype must be f16, got f32"),
    (dict(out=None), r"^out must be given: qjit allocates outputs, scratch and workspace only for torch and CuPy"),
    (dict(act_q=None), r"^act_q must be given"),
    (dict(act_scale=CudaArray((M + 1,), "<f4")), r"^act_scale.shape must be \[M=16\]"),
    (dict(x=DLPackArray((M, K), (2, 16), device=(1, 0))), r"^x must be in CUDA device memory, got CPU"),
    (dict(w_q=DLPackArray((N, K), (0, 8), device=(2, 1))), r"^w_q must be on the same device as x"),
])
def test_quantized_linear_validation(over, message):
    args = linear_args(**over)
    if "w_q" in over and isinstance(over["w_q"], DLPackArray):
        args["x"] = DLPackArray((M, K), (2, 16), device=(2, 0))
    with pytest.raises(qjit.InvalidArgumentError, match=message):
        qjit.quantized_linear(**args)


def test_stream_argument_is_checked():
    with pytest.raises(qjit.InvalidArgumentError, match="^stream must be"):
        qjit.quantized_linear(**linear_args(), stream="default")


@cpu_only
def test_quantized_linear_reaches_the_library():
    with pytest.raises(qjit.DriverUnavailableError, match="libcuda"):
        qjit.quantized_linear(**linear_args(bias=CudaArray((N,), "<f2")))


@cpu_only
def test_quantized_linear_from_dlpack_reaches_the_library():
    dl = lambda shape, cb: DLPackArray(shape, cb, device=(2, 0))  # noqa: E731
    with pytest.raises(qjit.DriverUnavailableError):
        qjit.quantized_linear(dl((M, K), (4, 16)), dl((N, K), (0, 8)), dl((N,), (2, 32)), out=dl((M, N), (4, 16)),
                              act_q=dl((M, K), (0, 8)), act_scale=dl((M,), (2, 32)))


def test_smoothing_vector_validation():
    with pytest.raises(qjit.InvalidArgumentError, match=r"^pre_quant_scale.shape must be \[K="):
        qjit.quantized_linear(**linear_args(), pre_quant_scale=CudaArray((K + 1,), "<f4"))
    with pytest.raises(qjit.InvalidArgumentError, match="^pre_quant_scale dtype must be f32, got f16"):
        qjit.quantized_linear(**linear_args(), pre_quant_scale=CudaArray((K,), "<f2"))
    with pytest.raises(qjit.InvalidArgumentError, match=r"^pre_quant_scale.shape must be \[K="):
        qjit.quantize_per_token(CudaArray((M, K), "<f2"), out=CudaArray((M, K), "|i1"), scale=CudaArray((M,), "<f4"),
                                pre_quant_scale=CudaArray((3,), "<f4"))


@cpu_only
def test_smoothed_quantized_linear_reaches_the_library():
    with pytest.raises(qjit.DriverUnavailableError, match="libcuda"):
        qjit.quantized_linear(**linear_args(), pre_quant_scale=CudaArray((K,), "<f4"))


def test_smooth_quant_linear_validation():
    x_q, w_q, w_s = CudaArray((M, K), "|i1"), CudaArray((N, K), "|i1"), CudaArray((N,), "<f4")
    with pytest.raises(qjit.InvalidArgumentError, match="^x_q dtype must be s8, got f16"):
        qjit.smooth_quant_linear(CudaArray((M, K), "<f2"), 0.1, w_q, w_s, dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match="needs its output dtype"):
        qjit.smooth_quant_linear(x_q, 0.1, w_q, w_s)
    with pytest.raises(qjit.InvalidArgumentError, match="^act_scale must be a float"):
        qjit.smooth_quant_linear(x_q, "big", w_q, w_s, dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match=r"^w_q.shape\[1\] must equal x_q.shape\[1\]"):
        qjit.smooth_quant_linear(x_q, 0.1, CudaArray((N, K - 1), "|i1"), w_s, dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match="^bias dtype must be f32, got f16"):
        qjit.smooth_quant_linear(x_q, 0.1, w_q, w_s, CudaArray((N,), "<f2"), out=CudaArray((M, N), "<f4"))


@cpu_only
def test_smooth_quant_linear_reaches_the_library():
    with pytest.raises(qjit.DriverUnavailableError):
        qjit.smooth_quant_linear(CudaArray((M, K), "|i1"), 0.1, CudaArray((N, K), "|i1"), CudaArray((N,), "<f4"),
                                 out=CudaArray((M, N), "<f4"))


def test_smooth_quant_bad_scale_is_the_library_message():
    # A NaN scale passes the Python checks; the library's descriptor validation names it (before the driver).
    with pytest.raises(qjit.InvalidArgumentError, match=r"^descriptor\.act_scale must be finite and > 0"):
        qjit.smooth_quant_linear(CudaArray((M, K), "|i1"), float("nan"), CudaArray((N, K), "|i1"),
                                 CudaArray((N,), "<f4"), out=CudaArray((M, N), "<f4"))


def test_quantize_per_token_validation():
    with pytest.raises(qjit.InvalidArgumentError, match=r"^x must be 2-D \[M, K\]"):
        qjit.quantize_per_token(CudaArray((K,), "<f4"))
    with pytest.raises(qjit.InvalidArgumentError, match=r"^out.shape must be \[M=16, K=512\]"):
        qjit.quantize_per_token(CudaArray((M, K), "<f4"), CudaArray((M, K - 1), "|i1"), CudaArray((M,), "<f4"))
    with pytest.raises(qjit.InvalidArgumentError, match="^scale must be given"):
        qjit.quantize_per_token(CudaArray((M, K), "<f4"), CudaArray((M, K), "|i1"))


@cpu_only
def test_quantize_per_token_reaches_the_library():
    with pytest.raises(qjit.DriverUnavailableError):
        qjit.quantize_per_token(CudaArray((M, K), "<f4"), CudaArray((M, K), "|i1"), CudaArray((M,), "<f4"))


def test_empty_batch_runs_nothing():
    out = CudaArray((0, N), "<f2")
    assert qjit.quantized_linear(**linear_args(x=CudaArray((0, K), "<f2"), out=out, act_q=CudaArray((0, K), "|i1"),
                                               act_scale=CudaArray((0,), "<f4"))) is out


# ---- argument structs packed in one call (the per-call host cost, bench/host_overhead.py) ------------------------------

def _ctypes_tensor(info):
    t = _capi.Tensor()
    if info is None:
        return t
    t.data, t.element, t.rank = info.data, int(info.element), len(info.shape)
    for i, (s, st) in enumerate(zip(info.shape, info.strides)):
        t.shape[i], t.stride[i] = s, st
    return t


@pytest.mark.parametrize("struct_type", [_capi.LinearArgs, _capi.QuantizeArgs, _capi.NormQuantizeArgs,
                                         _capi.ScaledMatmulArgs, _capi.WeightOnlyLinearArgs])
def test_pack_matches_the_ctypes_struct_field_by_field(struct_type):
    names = [name for name, _ in struct_type._fields_[1:]]
    infos = {}
    for i, name in enumerate(names):
        if i % 3 == 2:
            continue  # absent (an optional tensor not passed)
        shape = (7 + i, 4096 + i) if i % 2 == 0 else (4099 + i,)
        strides = (4224 + i, 1) if len(shape) == 2 else (1,)
        infos[name] = _tensors.TensorInfo(None, 0x7f0000001000 + 256 * i, _capi.Element.BF16 if i % 2 else
                                          _capi.Element.S8, shape, strides, 0, None)
    packed = _tensors.pack(struct_type, **infos)
    want = struct_type()
    want.struct_size = ctypes.sizeof(struct_type)
    for name in names:
        setattr(want, name, _ctypes_tensor(infos.get(name)))
    assert bytes(packed) == bytes(want)
    assert packed.struct_size == ctypes.sizeof(struct_type)
    for name in names:
        assert getattr(packed, name).rank == (len(infos[name].shape) if name in infos else 0)


def test_pack_refuses_a_field_the_struct_does_not_have():
    info = _tensors.TensorInfo(None, 0x1000, _capi.Element.S8, (2, 3), (3, 1), 0, None)
    with pytest.raises(TypeError, match="no field"):
        _tensors.pack(_capi.QuantizeArgs, input=info, bias=info)
