"""Builds the qjit wheel: the pure-Python package plus libqjit.so, copied in at build time, so the wheel is tagged
py3-none-<platform> (any Python 3, no CPython ABI, one platform's binary inside).

The library comes from $QJIT_LIBRARY (a path to libqjit.so) when set, else from <repo>/build/release/libqjit.so,
where <repo> is the parent of this file's directory. pip builds a local directory in place (pip >= 21.3), so the
repo path resolves; a build from a copy elsewhere (an sdist, an old pip) needs QJIT_LIBRARY.
"""

import os
import shutil
import sysconfig

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70.1 carries bdist_wheel; older ones need the wheel package
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))


def find_library():
    env = os.environ.get("QJIT_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise SystemExit(f"qjit setup: QJIT_LIBRARY={env!r} is not a file")
        return os.path.realpath(env)
    default = os.path.join(os.path.dirname(HERE), "build", "release", "libqjit.so")
    if os.path.isfile(default):
        return os.path.realpath(default)
    raise SystemExit(f"qjit setup: no libqjit.so to bundle: QJIT_LIBRARY is not set and {default} does not exist "
                     f"(build the library first: cmake --preset release && cmake --build --preset release, or set "
                     f"QJIT_LIBRARY=/path/to/libqjit.so)")


class BuildPy(build_py):
    """Copies libqjit.so into the built package as qjit/_lib/libqjit.so (following symlinks)."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "qjit", "_lib")
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(find_library(), os.path.join(target, "libqjit.so"))
        os.chmod(os.path.join(target, "libqjit.so"), 0o755)


class BinaryDistribution(Distribution):
    """Says a binary is inside, so the package installs into platlib and the wheel is not tagged pure."""

    def has_ext_modules(self):
        return True


class BdistWheel(bdist_wheel):
    """Not pure (a binary is inside) but independent of the Python ABI: py3-none-<platform>."""

    def get_tag(self):
        return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel})
