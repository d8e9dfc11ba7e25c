"""qjit.scaled_mm / select_scaled_matmul and qjit.weight_only_linear without a GPU: the C structs match qjit_c.h,
argument mistakes are InvalidArgumentErrors naming the argument (before the driver is touched), the library's
descriptor messages come through verbatim, a well-formed call reaches the library (DriverUnavailable here), and
weight_only_linear's scale mode and run arguments are what the plan's can_implement expects (a stand-in plan)."""

import ctypes

import pytest

import qjit
from qjit import _capi, _tensors

from conftest import cpu_only

M, N, K = 16, 256, 512
FAKE_PTR = 0x7F0000000000  # never dereferenced: validation and select fail first


class CudaArray:
    """A minimal __cuda_array_interface__ (v3) producer (strides in bytes; None: C-contiguous)."""

    def __init__(self, shape, typestr, strides=None, ptr=FAKE_PTR):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, False),
                                         "strides": None if strides is None else tuple(strides), "version": 3,
                                         "stream": None}


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


# ---- weight_only_linear --------------------------------------------------------------------------------------------

def _w8a16(k=K, scale_shape=(N,), zp_shape=None, bias=None, x="<f2", **kw):
    return qjit.weight_only_linear(CudaArray((M, k), x), CudaArray((N, k), "|i1"), CudaArray(scale_shape, "<f4"),
                                   bias, zero_point=None if zp_shape is None else CudaArray(zp_shape, "<i4"), **kw)


@pytest.mark.parametrize("call, message", [
    (lambda: _w8a16(x="<f4"), "^x dtype must be f16, bf16, got f32"),
    (lambda: qjit.weight_only_linear(CudaArray((M, K), "<f2"), CudaArray((N, K), "<f2"), CudaArray((N,), "<f4")),
     "^w_q dtype must be s8, got f16"),
    (lambda: qjit.weight_only_linear(CudaArray((M, K), "<f2"), CudaArray((N, K + 1), "|i1"), CudaArray((N,), "<f4")),
     r"^w_q.shape\[1\] must equal x.shape\[1\] \(K=512\)"),
    (lambda: qjit.weight_only_linear(CudaArray((M, K), "<f2"), CudaArray((N, K), "|i1"), CudaArray((N,), "<f2")),
     "^w_scale dtype must be f32, got f16"),
    (lambda: _w8a16(scale_shape=(N, 1, 1)), r"^w_scale must be 1-D or 2-D"),
    (lambda: _w8a16(scale_shape=(N - 1,)), r"^w_scale.shape must be \[N=256\] or \[N=256, 1\] \(per channel\), "
                                           r"\[1\] or \[1, 1\] \(per tensor\), or \[N=256, ceil\(K / g\)\] with "
                                           r"g = 64 \(8 groups\) or 128 \(4 groups\) \(per group\), got \[255\]"),
    (lambda: _w8a16(scale_shape=(N, 3)), r"^w_scale.shape must be .*, got \[256, 3\]"),
    (lambda: _w8a16(scale_shape=(1, 4)), r"^w_scale.shape must be .*, got \[1, 4\]"),
    (lambda: _w8a16(scale_shape=(N, 8), group_size=128), r"^w_scale.shape must be \[N=256, ceil\(K / 128\)=4\] "
                                                         r"with group_size=128, got \[256, 8\]"),
    (lambda: _w8a16(scale_shape=(N,), group_size=128), r"^w_scale.shape must be \[N=256, ceil\(K / 128\)=4\]"),
    (lambda: _w8a16(scale_shape=(N, 16), group_size=32), "^group_size must be 64 or 128 .*, got 32"),
    (lambda: _w8a16(scale_shape=(N, 4), group_size=True), "^group_size must be 64 or 128 .*, got True"),
    # K = 520: 5 columns is ceil(K / g) for g in 104..129, so the shape does not say 128
    (lambda: _w8a16(k=520, scale_shape=(N, 5)), r"^w_scale.shape \[256, 5\] is ambiguous for K=520 .*pass "
                                                r"group_size=128"),
    (lambda: _w8a16(k=520, scale_shape=(N, 9)), r"^w_scale.shape \[256, 9\] is ambiguous for K=520 .*pass "
                                                r"group_size=64"),
    (lambda: _w8a16(zp_shape=(N - 1,)), r"^zero_point.shape must be \[256\] \(w_scale's shape\), got \[255\]"),
    (lambda: _w8a16(scale_shape=(N, 4), zp_shape=(N, 8)), r"^zero_point.shape must be \[256, 4\] \(w_scale's shape\)"),
    (lambda: _w8a16(scale_shape=(1,), zp_shape=(N,)), r"^zero_point.shape must be \[1\] \(w_scale's shape\)"),
    (lambda: qjit.weight_only_linear(CudaArray((M, K), "<f2"), CudaArray((N, K), "|i1"), CudaArray((N,), "<f4"),
                                     zero_point=CudaArray((N,), "<f4")), "^zero_point dtype must be s32, got f32"),
    (lambda: _w8a16(bias=CudaArray((N,), "<f4")), "^bias dtype must be f16, got f32"),
    (lambda: _w8a16(bias=CudaArray((N + 1,), "<f2")), r"^bias.shape must be \[N=256\], got \[257\]"),
    (lambda: _w8a16(out=CudaArray((M, N), "<f4")), "^out dtype must be f16, got f32"),
    (lambda: _w8a16(out=CudaArray((M, N), "<f2"), preference="fastest"), "^preference must be"),
])
def test_weight_only_linear_validation_names_the_argument(call, message):
    with pytest.raises(qjit.InvalidArgumentError, match=message):
        call()


def test_weight_only_linear_strided_scales():
    x, w = CudaArray((M, K), "<f2"), CudaArray((N, K), "|i1")
    with pytest.raises(qjit.InvalidArgumentError, match="^w_scale must have unit stride in its last dimension"):
        qjit.weight_only_linear(x, w, CudaArray((N,), "<f4", strides=(8,)))
    with pytest.raises(qjit.InvalidArgumentError, match=r"^w_scale row stride must be >= 4"):
        qjit.weight_only_linear(x, w, CudaArray((N, 4), "<f4", strides=(8, 4)))
    # [N, 1] columns of a wider [N, 2] buffer: the scale rows lie 2 apart, the zero points' 1 apart
    with pytest.raises(qjit.InvalidArgumentError, match=r"^zero_point's row stride must equal w_scale's \(2 "
                                                        r"elements"):
        qjit.weight_only_linear(x, w, CudaArray((N, 1), "<f4", strides=(8, 4)), zero_point=CudaArray((N,), "<i4"))


@cpu_only
@pytest.mark.parametrize("scale_shape, group_size", [((N,), None), ((N, 1), None), ((1,), None), ((1, 1), None),
                                                      ((N, 4), None), ((N, 8), None), ((N, 4), 128)])
def test_weight_only_linear_reaches_the_library(scale_shape, group_size):
    with pytest.raises(qjit.DriverUnavailableError):
        _w8a16(scale_shape=scale_shape, zp_shape=scale_shape, bias=CudaArray((N,), "<f2"), group_size=group_size,
               out=CudaArray((M, N), "<f2"))


class _StandInPlan:
    """What weight_only_linear needs of a Plan, so the run arguments can be read without a device."""

    handle = None

    def __init__(self, workspace_bytes):
        self.workspace_bytes = workspace_bytes

    def workspace_size_for(self, m):
        return self.workspace_bytes


@pytest.fixture
def stand_in(monkeypatch):
    """select_weight_only_linear and qjit_weight_only_linear_plan_run replaced: records what each was given."""
    seen = {}

    def select(m, n, k, dtype, weight_scale, group_size, has_zero_point, has_bias, preference, stream):
        seen["select"] = (m, n, k, dtype, weight_scale, group_size, has_zero_point, has_bias)
        return _StandInPlan(seen.get("workspace_bytes", 0))

    def run(plan, stream, workspace, workspace_bytes, args):
        a = args._obj
        seen["run"] = (workspace, workspace_bytes, a)
        return 0

    monkeypatch.setattr(qjit._ops, "select_weight_only_linear", select)
    monkeypatch.setattr(_capi.lib, "qjit_weight_only_linear_plan_run", run)
    qjit.clear_plan_cache()
    yield seen
    qjit.clear_plan_cache()  # the stand-in plans must not serve a later test


def _tensor(t):
    return t.data, t.element, t.rank, tuple(t.shape[:t.rank]), tuple(t.stride[:t.rank])


@pytest.mark.parametrize("k, scale_shape, group_size, mode, group", [
    (K, (N,), None, "per_channel", 0), (K, (N, 1), None, "per_channel", 0), (K, (1,), None, "per_tensor", 0),
    (K, (1, 1), None, "per_tensor", 0), (K, (N, 4), None, "per_group", 128), (K, (N, 8), None, "per_group", 64),
    (520, (N, 5), 128, "per_group", 128), (520, (N, 9), 64, "per_group", 64), (64, (N, 1), 64, "per_group", 64),
    (64, (N,), 128, "per_group", 128)])
def test_weight_only_linear_descriptor_and_run_arguments(stand_in, k, scale_shape, group_size, mode, group):
    x, w, s = CudaArray((M, k), "<V2"), CudaArray((N, k), "|i1"), CudaArray(scale_shape, "<f4", ptr=FAKE_PTR + 4096)
    x.__cuda_array_interface__["descr"] = [("bfloat16", "<V2")]
    zp = CudaArray(scale_shape, "<i4", ptr=FAKE_PTR + 8192)
    out = CudaArray((M, N), "<V2", ptr=FAKE_PTR + 12288)
    out.__cuda_array_interface__["descr"] = [("bfloat16", "<V2")]
    y = qjit.weight_only_linear(x, w, s, out=out, zero_point=zp, group_size=group_size)
    assert y is out
    assert stand_in["select"] == (16, N, k, qjit.Element.BF16, mode, group, True, False)
    workspace, workspace_bytes, a = stand_in["run"]
    assert (workspace, workspace_bytes) == (None, 0)
    assert a.struct_size == ctypes.sizeof(_capi.WeightOnlyLinearArgs)
    # what qjit_c.h's args take: the scale tensor as given (rank 1 is read as a column), zero points alike
    packed = _tensors._contiguous_strides(scale_shape)
    assert _tensor(a.weight_scale) == (FAKE_PTR + 4096, qjit.Element.F32, len(scale_shape), scale_shape, packed)
    assert _tensor(a.zero_point) == (FAKE_PTR + 8192, qjit.Element.S32, len(scale_shape), scale_shape, packed)
    assert _tensor(a.activation)[1:4] == (qjit.Element.BF16, 2, (M, k))
    assert _tensor(a.output)[1:4] == (qjit.Element.BF16, 2, (M, N))
    assert a.bias.data is None and a.bias.rank == 0


def test_weight_only_linear_passes_the_split_k_workspace(stand_in):
    stand_in["workspace_bytes"] = 4096
    x, w, s = CudaArray((M, K), "<f2"), CudaArray((N, K), "|i1"), CudaArray((N,), "<f4")
    with pytest.raises(qjit.InvalidArgumentError, match="^workspace must be given"):
        qjit.weight_only_linear(x, w, s, out=CudaArray((M, N), "<f2"))
    qjit.clear_plan_cache()
    with pytest.raises(qjit.InvalidArgumentError, match="^workspace must hold at least 4096 bytes for M = 16, got 100"):
        qjit.weight_only_linear(x, w, s, out=CudaArray((M, N), "<f2"), workspace=CudaArray((100,), "|u1"))
    ws = CudaArray((5000,), "|u1", ptr=FAKE_PTR + 65536)
    qjit.weight_only_linear(x, w, s, out=CudaArray((M, N), "<f2"), workspace=ws)
    assert stand_in["run"][:2] == (FAKE_PTR + 65536, 5000)


def test_weight_only_linear_with_no_rows_returns_out_untouched(stand_in):
    out = CudaArray((0, N), "<f2")
    assert qjit.weight_only_linear(CudaArray((0, K), "<f2"), CudaArray((N, K), "|i1"), CudaArray((N,), "<f4"),
                                   out=out) is out
    assert "run" not in stand_in and "select" not in stand_in
