"""Finding NVRTC for a machine that has PyTorch (or CuPy) from wheels but no CUDA toolkit.

libqjit opens NVRTC itself, the first time it compiles: $QJIT_NVRTC_LIBRARY when set, else libnvrtc.so.13, .so.12,
libnvrtc.so and /usr/local/cuda/lib64/libnvrtc.so through the system loader. PyTorch's and CuPy's wheels depend on
NVIDIA's nvidia-cuda-nvrtc wheel, which puts the library inside site-packages where the system loader never looks.
So, once at `import qjit` (before the library can compile anything):

1. $QJIT_NVRTC_LIBRARY set: left alone (the user's choice wins).
2. The system loader opens one of the library's own candidates (probed with ctypes.CDLL, the same dlopen the
   library will do): nothing to do; libqjit finds it too.
3. Else every sys.path entry is searched, in order, for the wheel layouts: nvidia/cu13/lib/libnvrtc.so.13 (CUDA 13
   wheels), nvidia/cuda_nvrtc/lib/libnvrtc.so.12 (CUDA 12 wheels), then libnvrtc.so* under any nvidia/*/lib/ (as
   CuPy does). The first file found is put in os.environ["QJIT_NVRTC_LIBRARY"].

NOTE: wheel candidates are *not* dlopened here. Loading one only to test it would map a second NVRTC into the
process next to whatever PyTorch may load later, and a candidate that fails to load cannot be unloaded cleanly; a
regular file at a wheel's documented path is taken as found. If it turns out broken, libqjit reports
CompilerUnavailable naming that path when it first compiles, which is where the error belongs.
"""

import ctypes
import glob
import os
import sys
from typing import NamedTuple, Optional

ENV = "QJIT_NVRTC_LIBRARY"
# What libqjit tries itself when the variable is unset (runtime/nvrtc.cpp), in its order.
SYSTEM_CANDIDATES = ("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so")
# Exact wheel layouts first (newest CUDA first), then any NVIDIA wheel's lib/ directory.
WHEEL_LAYOUTS = ("nvidia/cu13/lib/libnvrtc.so.13", "nvidia/cuda_nvrtc/lib/libnvrtc.so.12")
WHEEL_GLOB = "nvidia/*/lib/libnvrtc.so*"


class NvrtcLibrary(NamedTuple):
    """What libqjit will open for NVRTC and why. path is None when nothing was found (compiling then fails with
    CompilerUnavailable; a warm kernel cache still serves)."""
    path: Optional[str]
    source: str  # "environment", "system", "wheel" or "none"
    reason: str


def system_nvrtc():
    """The first of SYSTEM_CANDIDATES the system loader opens, or None."""
    for name in SYSTEM_CANDIDATES:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return name
    return None


def find_in_wheels(paths=None):
    """The first NVRTC found in a wheel layout under the given directories (default sys.path), or None."""
    for entry in (sys.path if paths is None else paths):
        if not entry or not os.path.isdir(entry):
            continue
        for layout in WHEEL_LAYOUTS:
            candidate = os.path.join(entry, layout)
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        # NOTE: reverse order puts libnvrtc.so.13 before .so.12 and a versioned name before the bare one.
        for candidate in sorted(glob.glob(os.path.join(entry, WHEEL_GLOB)), reverse=True):
            if os.path.isfile(candidate) and ".alt." not in os.path.basename(candidate):
                return os.path.abspath(candidate)
    return None


_chosen = None


def configure(paths=None):
    """Decides which NVRTC libqjit will use (see the module doc) and sets $QJIT_NVRTC_LIBRARY when a wheel's copy is
    needed. Called at import; calling it again re-decides (tests do, with a fake layout)."""
    global _chosen
    env = os.environ.get(ENV)
    if env:
        _chosen = NvrtcLibrary(env, "environment", f"${ENV} is set")
        return _chosen
    system = system_nvrtc()
    if system is not None:
        _chosen = NvrtcLibrary(system, "system", f"the system loader opens {system}")
        return _chosen
    found = find_in_wheels(paths)
    if found is not None:
        os.environ[ENV] = found
        _chosen = NvrtcLibrary(found, "wheel", f"the system loader opens none of {', '.join(SYSTEM_CANDIDATES)}; "
                                               f"found in a NVIDIA wheel layout on sys.path; ${ENV} set to it")
        return _chosen
    _chosen = NvrtcLibrary(None, "none", f"the system loader opens none of {', '.join(SYSTEM_CANDIDATES)} and no "
                                         f"sys.path entry has a nvidia-cuda-nvrtc wheel layout; kernels can only "
                                         f"come from the kernel cache")
    return _chosen


def nvrtc_library():
    """The NVRTC libqjit will open, and why (decided at `import qjit`)."""
    return _chosen if _chosen is not None else configure()
