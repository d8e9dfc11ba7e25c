"""The ctypes layer against the C ABI: versions, struct layouts, every function declared, and the library's errors
mapped onto the exception classes with its message verbatim."""

import ctypes
import os
import subprocess
import sys

import pytest

import qjit
from qjit import _capi, _errors

from conftest import cpu_only


def test_abi_and_library_versions():
    assert qjit.abi_version() == qjit.ABI_VERSION == 1
    assert qjit.library_version() == qjit.__version__
    major, minor, patch = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
    _capi.lib.qjit_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
    assert f"{major.value}.{minor.value}.{patch.value}" == qjit.library_version()


# sizeof and a few offsets of each struct as gcc lays out qjit_c.h on x86-64 (checked with offsetof).
SIZES = {
    _capi.Tensor: 80, _capi.QuantizedLinearDesc: 56, _capi.SmoothQuantLinearDesc: 56,
    _capi.DynamicRangeQuantizeDesc: 48, _capi.LinearArgs: 728, _capi.QuantizeArgs: 408,
    _capi.PrecisionGuarantee: 32, _capi.CacheLocation: 40, _capi.CacheStoreInfo: 48, _capi.CacheStats: 48,
    _capi.CacheEntryInfo: 112, _capi.CachePruneReport: 48, _capi.WarmupRequest: 96, _capi.WarmupReport: 64,
    _capi.WeightOnlyLinearDesc: 64, _capi.WeightOnlyLinearArgs: 488,
}


@pytest.mark.parametrize("struct", list(SIZES), ids=lambda s: s.__name__)
def test_struct_layout_matches_the_header(struct):
    assert ctypes.sizeof(struct) == SIZES[struct]


def test_struct_offsets():
    assert _capi.SmoothQuantLinearDesc.act_scale.offset == 32
    assert _capi.CacheEntryInfo.compile_seconds.offset == 88
    assert _capi.WarmupRequest.jobs.offset == 84
    assert _capi.LinearArgs.act_scale_scratch.offset == 8 + 6 * 80
    assert _capi.WeightOnlyLinearDesc.has_zero_point.offset == 56
    assert _capi.WeightOnlyLinearArgs.output.offset == 408


def test_new_sets_struct_size():
    d = _capi.new(_capi.QuantizedLinearDesc, m=3)
    assert d.struct_size == 56 and d.m == 3 and d.n == 0


def test_every_function_is_declared():
    # The repository's list of libqjit.so's exports (tests/abi/exports.txt, checked against the header and the
    # library by the C++ suite); scripts/test-python.sh passes its path.
    listed = os.environ.get("QJIT_ABI_EXPORTS")
    if listed:
        with open(listed) as f:
            assert sorted(_capi.FUNCTION_NAMES) == sorted(line.strip() for line in f if line.strip())
    for name in _capi.FUNCTION_NAMES:
        fn = getattr(_capi.lib, name)
        assert fn.argtypes is not None, name


def test_status_names_come_from_the_library():
    assert _capi.lib.qjit_status_name(_capi.Status.INVALID_ARGUMENT) == b"InvalidArgument"
    assert _capi.lib.qjit_status_name(999) == b"?"
    for code in _capi.Status:
        assert _capi.lib.qjit_status_name(code) != b"?"


@pytest.mark.parametrize("code, cls", [
    (1, qjit.InvalidArgumentError), (2, qjit.UnsupportedError), (3, qjit.CompileFailedError),
    (4, qjit.DriverError), (5, qjit.DriverUnavailableError), (6, qjit.CompilerUnavailableError),
    (7, qjit.CacheIoError), (8, qjit.OutOfResourcesError), (9, qjit.NotFoundError), (10, qjit.InternalError),
])
def test_one_class_per_status(code, cls):
    assert _errors.error_class(code) is cls
    e = cls(code, "the message")
    assert isinstance(e, qjit.QjitError) and e.code == code and str(e) == "the message"


def test_invalid_descriptor_raises_the_library_message():
    with pytest.raises(qjit.InvalidArgumentError) as info:
        qjit.select_quantized_linear(0, 256, 512, "bf16")
    e = info.value
    assert e.code == qjit.Status.INVALID_ARGUMENT
    assert "descriptor.m" in e.message
    # verbatim: the same text the library keeps as this thread's last error
    assert _capi.lib.qjit_last_error_message().decode() == e.message
    assert _capi.lib.qjit_last_error_code() == qjit.Status.INVALID_ARGUMENT


@pytest.mark.parametrize("select, error, field", [
    (lambda: qjit.select_quantized_linear(16, 0, 512, "bf16"), qjit.InvalidArgumentError, "descriptor.n"),
    # the library calls an integer output type a valid request it cannot serve
    (lambda: qjit.select_quantized_linear(16, 256, 512, "s8"), qjit.InvalidArgumentError, "descriptor.output_element"),
    (lambda: qjit.select_smooth_quant_linear(16, 256, 512, float("nan"), "f16"), qjit.InvalidArgumentError,
     "descriptor.act_scale"),
    (lambda: qjit.select_smooth_quant_linear(16, 256, 512, -1.0, "f16"), qjit.InvalidArgumentError,
     "descriptor.act_scale"),
    (lambda: qjit.select_dynamic_range_quantize(16, 0, "f32"), qjit.InvalidArgumentError, "descriptor.k"),
])
def test_invalid_descriptors_name_the_field(select, error, field):
    with pytest.raises(error, match="^" + field.replace(".", r"\.")):
        select()


@cpu_only
@pytest.mark.parametrize("select", [
    lambda: qjit.select_quantized_linear(16, 256, 512, "bf16", has_bias=True),
    lambda: qjit.select_smooth_quant_linear(16, 256, 512, 0.05, "f16"),
    lambda: qjit.select_dynamic_range_quantize(16, 512, "f32"),
])
def test_valid_descriptor_without_gpu_is_driver_unavailable(select):
    with pytest.raises(qjit.DriverUnavailableError) as info:
        select()
    assert info.value.code == qjit.Status.DRIVER_UNAVAILABLE
    assert info.value.message == _capi.lib.qjit_last_error_message().decode()


def test_descriptor_to_string():
    d = qjit._plans.quantized_linear_desc(16, 4096, 4096, "bf16", has_bias=True)
    text = _capi.read_string(_capi.lib.qjit_quantized_linear_desc_to_string, ctypes.byref(d), capacity=8)
    assert "quantized_linear" in text and "4096" in text


def test_last_error_is_per_thread():
    import threading

    with pytest.raises(qjit.InvalidArgumentError):
        qjit.select_quantized_linear(0, 256, 512, "bf16")
    seen = []
    t = threading.Thread(target=lambda: seen.append(_capi.lib.qjit_last_error_code()))
    t.start()
    t.join()
    assert seen == [qjit.Status.OK]


def test_import_does_not_import_torch():
    code = "import sys, qjit; assert 'torch' not in sys.modules, 'qjit imported torch'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_norm_quantize_structs_and_refusals():
    # sizeof / offsets as gcc lays out qjit_c.h (checked with offsetof)
    assert ctypes.sizeof(_capi.NormQuantizeDesc) == 48
    assert _capi.NormQuantizeDesc.eps.offset == 40 and _capi.NormQuantizeDesc.static_scale.offset == 44
    assert ctypes.sizeof(_capi.NormQuantizeArgs) == 568 and _capi.NormQuantizeArgs.scale.offset == 488
    d = qjit._plans.norm_quantize_desc(16, 4096, "bf16", "layer_norm", 1e-5, True, 0.25)
    text = _capi.read_string(_capi.lib.qjit_norm_quantize_desc_to_string, ctypes.byref(d), capacity=8)
    assert text == "layer_norm_quantize m=16 k=4096 in=bf16 eps=1e-05 static-scale=0.25 residual"
    with pytest.raises(qjit.InvalidArgumentError, match=r"^descriptor\.eps must be finite and >= 0"):
        qjit.select_norm_quantize(16, 4096, "bf16", eps=-1.0)
    with pytest.raises(qjit.InvalidArgumentError, match=r"^descriptor\.static_scale must be finite and > 0"):
        qjit.select_norm_quantize(16, 4096, "bf16", static_scale=0.0)
    with pytest.raises(qjit.UnsupportedError, match=r"^descriptor\.input_element must be f16, bf16 or f32, got f64"):
        qjit.select_norm_quantize(16, 4096, "f64")
    with pytest.raises(qjit.InvalidArgumentError, match="norm must be 'rms_norm' or 'layer_norm'"):
        qjit.select_norm_quantize(16, 4096, "bf16", norm="batch_norm")


def test_weight_only_linear_descriptor_and_refusals():
    d = qjit._plans.weight_only_linear_desc(16, 4096, 4096, "bf16", "per_group", 128, True, True)
    text = _capi.read_string(_capi.lib.qjit_weight_only_linear_desc_to_string, ctypes.byref(d), capacity=8)
    assert text == ("weight_only_linear m=16 n=4096 k=4096 act=bf16 weight=s8 out=bf16 weight_scale=per_group(128) "
                    "zero_point bias")
    # The descriptor checks come before the driver: these answer on any machine.
    with pytest.raises(qjit.InvalidArgumentError, match=r"^descriptor\.group_size must be 64 or 128 with per_group"):
        qjit.select_weight_only_linear(16, 4096, 4096, "bf16", "per_group", 32)
    with pytest.raises(qjit.InvalidArgumentError, match=r"^descriptor\.activation_element must be f16 or bf16, got f32"):
        qjit.select_weight_only_linear(16, 4096, 4096, "f32")
    with pytest.raises(qjit.InvalidArgumentError, match="^weight_scale must be 'per_channel', 'per_tensor' or"):
        qjit.select_weight_only_linear(16, 4096, 4096, "bf16", "per_row")
