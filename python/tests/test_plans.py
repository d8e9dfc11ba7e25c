"""Plan-cache keys and argument parsing that need no GPU."""

import pytest

import qjit
from qjit import _plans


@pytest.mark.parametrize("m, bucket", [(1, 1), (2, 2), (3, 4), (16, 16), (17, 32), (129, 256), (2048, 2048),
                                       (2049, 4096), (4096, 4096), (5000, 4096), (100000, 4096)])
def test_m_bucket(m, bucket):
    assert qjit.m_bucket(m) == bucket


@pytest.mark.parametrize("name, element", [("bf16", qjit.Element.BF16), ("bfloat16", qjit.Element.BF16),
                                           ("float16", qjit.Element.F16), ("f32", qjit.Element.F32),
                                           ("torch.float64", qjit.Element.F64), (qjit.Element.S8, qjit.Element.S8)])
def test_element_names(name, element):
    assert _plans.element_of(name) == element


def test_unknown_dtype_names_the_argument():
    with pytest.raises(qjit.InvalidArgumentError, match="dtype must be one of"):
        _plans.element_of("complex64")


def test_preferences():
    assert _plans.preference_of("tuned") == qjit.Preference.TUNED
    assert _plans.preference_of(2) == qjit.Preference.AUTOTUNE
    with pytest.raises(qjit.InvalidArgumentError, match="preference"):
        _plans.preference_of("fastest")


def test_cache_refuses_to_select_while_capturing():
    cache = _plans.PlanCache()
    with pytest.raises(qjit.UnsupportedError, match="warm-up"):
        cache.get(("quantized_linear", 16, 256, 512), lambda: pytest.fail("selected during capture"), lambda: True)


def test_cache_hit_does_not_select_again():
    cache = _plans.PlanCache()
    calls = []
    first = cache.get(("k",), lambda: calls.append(1) or object())
    assert cache.get(("k",), lambda: pytest.fail("selected twice"), lambda: True) is first
    assert calls == [1] and len(cache) == 1


@pytest.mark.parametrize("m, pm", [(1, 1), (129, 256), (4096, 4096), (4097, 8192), (9000, 16384)])
def test_plan_m_covers_the_workspace_of_every_m_it_serves(m, pm):
    assert _plans.plan_m(m) == pm and _plans.plan_m(m) >= m


@pytest.mark.parametrize("cols,element_bytes,stride", [(4095, 1, 4096), (4100, 1, 4224), (4096, 1, 4096), (1, 1, 128),
                                                       (0, 1, 0), (4097, 2, 4160), (13653, 4, 13664)])
def test_preferred_row_stride_is_whole_128_byte_lines(cols, element_bytes, stride):
    assert qjit.preferred_row_stride(cols, element_bytes) == stride
    assert stride * element_bytes % 128 == 0 and stride >= cols


def test_preferred_row_stride_refuses_bad_arguments():
    with pytest.raises(qjit.InvalidArgumentError, match="element_bytes in \\[1, 128\\]"):
        qjit.preferred_row_stride(16, 0)
    with pytest.raises(qjit.InvalidArgumentError, match="cols must be >= 0"):
        qjit.preferred_row_stride(-1)
