"""The NVRTC lookup for machines with NVIDIA's wheels but no CUDA toolkit: a fake wheel layout on sys.path, the
system loader's answer hidden, and the chosen path checked (an empty file is enough to be found: wheel candidates
are never dlopened)."""

import os

import pytest

import qjit
from qjit import _nvrtc


@pytest.fixture
def no_system_nvrtc(monkeypatch):
    monkeypatch.delenv("QJIT_NVRTC_LIBRARY", raising=False)
    monkeypatch.setattr(_nvrtc, "system_nvrtc", lambda: None)
    yield
    monkeypatch.undo()
    _nvrtc.configure()  # back to this machine's real answer


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()
    return str(path)


def test_cuda13_wheel_layout_is_found(tmp_path, monkeypatch, no_system_nvrtc):
    site = tmp_path / "site-packages"
    lib = _touch(site / "nvidia" / "cu13" / "lib" / "libnvrtc.so.13")
    monkeypatch.setattr("sys.path", [str(tmp_path / "missing"), str(site)])
    chosen = _nvrtc.configure()
    assert chosen.source == "wheel" and chosen.path == lib
    assert os.environ["QJIT_NVRTC_LIBRARY"] == lib
    assert qjit.nvrtc_library() == chosen


def test_cuda12_wheel_layout_is_found(tmp_path, monkeypatch, no_system_nvrtc):
    site = tmp_path / "site"
    lib = _touch(site / "nvidia" / "cuda_nvrtc" / "lib" / "libnvrtc.so.12")
    _touch(site / "nvidia" / "cuda_nvrtc" / "lib" / "libnvrtc-builtins.so.12.8")
    monkeypatch.setattr("sys.path", [str(site)])
    assert _nvrtc.configure().path == lib


def test_other_nvidia_wheel_dirs_are_searched(tmp_path, monkeypatch, no_system_nvrtc):
    site = tmp_path / "site"
    _touch(site / "nvidia" / "cuda_runtime" / "lib" / "libcudart.so.12")
    _touch(site / "nvidia" / "cu12" / "lib" / "libnvrtc-builtins.so.12")
    _touch(site / "nvidia" / "cu12" / "lib" / "libnvrtc.alt.so.12")
    lib = _touch(site / "nvidia" / "cu12" / "lib" / "libnvrtc.so.12")
    monkeypatch.setattr("sys.path", [str(site)])
    assert _nvrtc.configure().path == lib


def test_sys_path_order_wins(tmp_path, monkeypatch, no_system_nvrtc):
    first = _touch(tmp_path / "a" / "nvidia" / "cuda_nvrtc" / "lib" / "libnvrtc.so.12")
    _touch(tmp_path / "b" / "nvidia" / "cu13" / "lib" / "libnvrtc.so.13")
    monkeypatch.setattr("sys.path", [str(tmp_path / "a"), str(tmp_path / "b")])
    assert _nvrtc.configure().path == first


def test_nothing_found(tmp_path, monkeypatch, no_system_nvrtc):
    monkeypatch.setattr("sys.path", [str(tmp_path)])
    chosen = _nvrtc.configure()
    assert chosen.path is None and chosen.source == "none"
    assert "QJIT_NVRTC_LIBRARY" not in os.environ


def test_environment_wins(tmp_path, monkeypatch, no_system_nvrtc):
    _touch(tmp_path / "nvidia" / "cu13" / "lib" / "libnvrtc.so.13")
    monkeypatch.setattr("sys.path", [str(tmp_path)])
    monkeypatch.setenv("QJIT_NVRTC_LIBRARY", "/opt/my/libnvrtc.so.13")
    chosen = _nvrtc.configure()
    assert chosen == qjit.NvrtcLibrary("/opt/my/libnvrtc.so.13", "environment", chosen.reason)


def test_system_loader_wins_over_wheels(tmp_path, monkeypatch):
    monkeypatch.delenv("QJIT_NVRTC_LIBRARY", raising=False)
    monkeypatch.setattr(_nvrtc, "system_nvrtc", lambda: "libnvrtc.so.13")
    _touch(tmp_path / "nvidia" / "cu13" / "lib" / "libnvrtc.so.13")
    monkeypatch.setattr("sys.path", [str(tmp_path)])
    try:
        chosen = _nvrtc.configure()
        assert chosen.source == "system" and chosen.path == "libnvrtc.so.13"
        assert "QJIT_NVRTC_LIBRARY" not in os.environ
    finally:
        monkeypatch.undo()
        _nvrtc.configure()


def test_the_real_answer_is_reported():
    chosen = qjit.nvrtc_library()
    assert chosen.source in ("environment", "system", "wheel", "none") and chosen.reason
