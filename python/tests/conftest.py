"""Shared test helpers: whether this machine has a CUDA device (asked of libcuda directly, so the answer does not
depend on torch), and the `gpu` marker. GPU tests skip with the reason where there is none."""

import ctypes
import os

import pytest


def _cuda_device_count():
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


CUDA_DEVICES = _cuda_device_count()
NO_GPU_REASON = "no CUDA device (libcuda.so.1 is missing or reports no device)"
requires_gpu = pytest.mark.skipif(CUDA_DEVICES == 0, reason=NO_GPU_REASON)
cpu_only = pytest.mark.skipif(CUDA_DEVICES > 0, reason="a CUDA device is present: this checks the no-GPU path")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped with the reason otherwise)")


def random_seed():
    """A fresh seed per run (printed by the tests that use it, so a failure can be replayed)."""
    return int.from_bytes(os.urandom(4), "little")
