"""qjit.scaled_mm / select_scaled_matmul without a GPU: the C structs match qjit_c.h, argument mistakes are
InvalidArgumentErrors naming the argument (before the driver is touched), the library's descriptor messages come
through verbatim, and a well-formed call reaches the library (DriverUnavailable here)."""

import ctypes

import pytest

import qjit
from qjit import _capi

from conftest import cpu_only

M, N, K = 16, 256, 512
FAKE_PTR = 0x7F0000000000  # never dereferenced: validation and select fail first


class CudaArray:
    """A minimal __cuda_array_interface__ (v3) producer."""

    def __init__(self, shape, typestr):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (FAKE_PTR, False),
                                         "strides": None, "version": 3, "stream": None}


def test_struct_layouts_match_the_header():
    assert ctypes.sizeof(_capi.ScaledMatmulDesc) == 64
    assert _capi.ScaledMatmulDesc.act_scale.offset == 48 and _capi.ScaledMatmulDesc.weight_scale.offset == 52
    assert _capi.ScaledMatmulDesc.has_act_zero_point.offset == 56
    assert ctypes.sizeof(_capi.ScaledMatmulArgs) == 8 + 8 * 80
    assert _capi.ScaledMatmulArgs.output.offset == 8 + 5 * 80
    assert _capi.ScaledMatmulArgs.weight_colsum.offset == 8 + 7 * 80
    assert qjit.PlanKind.SCALED_MATMUL == 6


def test_descriptor_prints_the_scale_modes():
    d = qjit._plans.scaled_matmul_desc(16, 4096, 4096, "bf16", True, "per_tensor", qjit.WeightScaleMode.PER_TENSOR)
    text = _capi.read_string(_capi.lib.qjit_scaled_matmul_desc_to_string, ctypes.byref(d))
    assert text == ("scaled_matmul m=16 n=4096 k=4096 act=s8 weight=s8 out=bf16 act_scale=per_tensor "
                    "weight_scale=per_tensor bias")


@pytest.mark.parametrize("select, field", [
    (lambda: qjit.select_scaled_matmul(16, 0, 512, "bf16"), "descriptor.n"),
    (lambda: qjit.select_scaled_matmul(16, 256, 512, "f64"), "descriptor.output_element must be f16, bf16 or f32"),
])
def test_invalid_descriptors_name_the_field(select, field):
    with pytest.raises(qjit.InvalidArgumentError, match="^" + field.replace(".", r"\.")):
        select()


def test_scale_mode_names_are_checked():
    with pytest.raises(qjit.InvalidArgumentError, match="^act_scale must be 'per_token' or 'per_tensor'"):
        qjit.select_scaled_matmul(16, 256, 512, "bf16", act_scale="per_row")
    with pytest.raises(qjit.InvalidArgumentError, match="^weight_scale must be 'per_channel' or 'per_tensor'"):
        qjit.select_scaled_matmul(16, 256, 512, "bf16", weight_scale="per_group")


def test_scaled_mm_validation():
    a, w = CudaArray((M, K), "|i1"), CudaArray((N, K), "|i1")
    sa, sw = CudaArray((M,), "<f4"), CudaArray((N,), "<f4")
    with pytest.raises(qjit.InvalidArgumentError, match="^a_q dtype must be s8, got f16"):
        qjit.scaled_mm(CudaArray((M, K), "<f2"), w, sa, sw, dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match=r"^w_q.shape\[1\] must equal a_q.shape\[1\]"):
        qjit.scaled_mm(a, CudaArray((N, K + 1), "|i1"), sa, sw, dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match=r"^a_scale.shape must be \[M=16\] \(per token\) or \[1\]"):
        qjit.scaled_mm(a, w, CudaArray((M - 1,), "<f4"), sw, dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match=r"^w_scale.shape must be \[N=256\] \(per channel\) or \[1\]"):
        qjit.scaled_mm(a, w, sa, CudaArray((2,), "<f4"), dtype="f16")
    with pytest.raises(qjit.InvalidArgumentError, match="needs its output dtype"):
        qjit.scaled_mm(a, w, sa, sw)
    with pytest.raises(qjit.InvalidArgumentError, match="must be f16, bf16 or f32, got f64"):
        qjit.scaled_mm(a, w, sa, sw, dtype="f64")
    with pytest.raises(qjit.InvalidArgumentError, match="^bias dtype must be f32, got f16"):
        qjit.scaled_mm(a, w, sa, sw, CudaArray((N,), "<f2"), out=CudaArray((M, N), "<f4"))


@cpu_only
@pytest.mark.parametrize("a_len, w_len", [(M, N), (1, N), (M, 1), (1, 1)])
def test_scaled_mm_reaches_the_library(a_len, w_len):
    with pytest.raises(qjit.DriverUnavailableError):
        qjit.scaled_mm(CudaArray((M, K), "|i1"), CudaArray((N, K), "|i1"), CudaArray((a_len,), "<f4"),
                       CudaArray((w_len,), "<f4"), out=CudaArray((M, N), "<f4"))
