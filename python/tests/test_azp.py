"""Asymmetric activations from Python without a GPU: weight_colsum against a plain sum and its errors, the
descriptors' new fields (printed by the library), the descriptor refusals coming through verbatim, and scaled_mm's
act_zero_point / weight_colsum argument checks (before the driver is touched)."""

import ctypes
import random

import pytest

import qjit
from qjit import _capi

from test_scaled_mm import CudaArray

M, N, K = 16, 256, 512


def test_weight_colsum_sums_each_row():
    rng = random.Random(5)
    n, k, ld = 7, 33, 40
    rows = [[rng.randrange(-128, 128) for _ in range(ld)] for _ in range(n)]
    data = bytes((v & 0xFF) for row in rows for v in row)
    assert qjit.weight_colsum(data, n, k, ld) == [sum(row[:k]) for row in rows]
    with pytest.raises(qjit.InvalidArgumentError, match=r"^row_stride must be >= k = 33, got 32"):
        qjit.weight_colsum(data, n, k, 32)
    with pytest.raises(qjit.InvalidArgumentError, match="^weight must hold n \\* row_stride"):
        qjit.weight_colsum(data[:10], n, k, ld)


def test_descriptors_print_the_asymmetric_modes():
    d = qjit._plans.dynamic_range_quantize_desc(8, 64, "f16", asymmetric="u8")
    text = _capi.read_string(_capi.lib.qjit_dynamic_range_quantize_desc_to_string, ctypes.byref(d))
    assert text == "dynamic_range_quantize m=8 k=64 in=f16 per-token asymmetric out=u8"
    d = qjit._plans.quantized_linear_desc(8, 32, 64, "bf16", asymmetric=True)
    assert _capi.read_string(_capi.lib.qjit_quantized_linear_desc_to_string, ctypes.byref(d)).endswith(" asymmetric")
    d = qjit._plans.scaled_matmul_desc(8, 32, 64, "f16", has_act_zero_point=True)
    assert _capi.read_string(_capi.lib.qjit_scaled_matmul_desc_to_string, ctypes.byref(d)).endswith(
        " act_zero_point")
    with pytest.raises(qjit.InvalidArgumentError, match="^asymmetric must be None, 'u8' or 's8'"):
        qjit._plans.dynamic_range_quantize_desc(8, 64, "f16", asymmetric="u4")


def test_descriptor_refusals_come_through_verbatim():
    with pytest.raises(qjit.InvalidArgumentError,
                       match=r"^descriptor.granularity must be per_token \(QJIT_PER_TOKEN\) for an asymmetric"):
        qjit.select_dynamic_range_quantize(16, 4096, "bf16", "per_tensor", asymmetric="s8")
    with pytest.raises(qjit.InvalidArgumentError,
                       match=r"^descriptor.act_scale must be per_token \(0\) with has_act_zero_point"):
        qjit.select_scaled_matmul(16, 256, 512, "bf16", act_scale="per_tensor", has_act_zero_point=True)


def test_scaled_mm_zero_point_arguments_are_checked():
    a, w = CudaArray((M, K), "|i1"), CudaArray((N, K), "|i1")
    sa, sw = CudaArray((M,), "<f4"), CudaArray((N,), "<f4")
    zp, cs = CudaArray((M,), "<i4"), CudaArray((N,), "<i4")
    with pytest.raises(qjit.InvalidArgumentError, match="^act_zero_point and weight_colsum must be given together"):
        qjit.scaled_mm(a, w, sa, sw, dtype="f16", act_zero_point=zp)
    with pytest.raises(qjit.InvalidArgumentError, match=r"^weight_colsum.shape must be \[N=256\]"):
        qjit.scaled_mm(a, w, sa, sw, dtype="f16", act_zero_point=zp, weight_colsum=CudaArray((N - 1,), "<i4"))
    with pytest.raises(qjit.InvalidArgumentError, match="^act_zero_point dtype must be s32, got f32"):
        qjit.scaled_mm(a, w, sa, sw, dtype="f16", act_zero_point=CudaArray((M,), "<f4"), weight_colsum=cs)
    with pytest.raises(qjit.InvalidArgumentError, match=r"^a_scale.shape must be \[M=16\] \(per token\) with "):
        qjit.scaled_mm(a, w, CudaArray((1,), "<f4"), sw, dtype="f16", act_zero_point=zp, weight_colsum=cs)
