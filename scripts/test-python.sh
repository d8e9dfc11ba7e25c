#!/usr/bin/env bash
# The Python package's tests against an installed wheel: builds the wheel around a libqjit.so, installs it into a
# fresh venv and runs pytest from outside the source tree (so python/qjit can never be imported by accident).
#
#   QJIT_LIBRARY=path/libqjit.so   the library to bundle (default build/release/libqjit.so)
#   QJIT_WHEEL=path/qjit-*.whl     test this wheel instead of building one (a machine without setuptools/PyPI)
#   QJIT_PY_SYSTEM_SITE=1          the venv sees the system's packages (a GPU machine's torch, CuPy, pytest)
#   PYTHON=python3                 the interpreter for the venv
# Extra arguments go to pytest. Exits non-zero when a test fails or none ran.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qjit-python-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [[ -n "${QJIT_WHEEL:-}" ]]; then
  WHEEL=$(cd "$(dirname "$QJIT_WHEEL")" && pwd)/$(basename "$QJIT_WHEEL")
  [[ -f "$WHEEL" ]] || { echo "test-python: QJIT_WHEEL=$QJIT_WHEEL is not a file" >&2; exit 1; }
else
  LIB=${QJIT_LIBRARY:-$ROOT/build/release/libqjit.so}
  [[ -f "$LIB" ]] || { echo "test-python: no libqjit.so at $LIB (build it, or set QJIT_LIBRARY)" >&2; exit 1; }
  LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
  # Build from a copy, so the source tree gets no build/ or egg-info. Without network the build must not be
  # isolated: use the interpreter's own setuptools when it has what bdist_wheel needs.
  cp -r "$ROOT/python" "$WORK/src"
  rm -rf "$WORK/src/build" "$WORK/src/qjit/_lib" "$WORK/src"/*.egg-info
  ISOLATION=()
  if "$PYTHON" -c 'import setuptools, sys
try:
    import setuptools.command.bdist_wheel
except ImportError:
    import wheel.bdist_wheel' 2>/dev/null; then
    ISOLATION=(--no-build-isolation)
  fi
  echo "test-python: building the wheel around $LIB"
  QJIT_LIBRARY="$LIB" "$PYTHON" -m pip wheel -q --no-deps "${ISOLATION[@]}" -w "$WORK/dist" "$WORK/src"
  WHEEL=$(ls "$WORK"/dist/qjit-*.whl)
fi

VENV_ARGS=()
[[ "${QJIT_PY_SYSTEM_SITE:-0}" == 1 ]] && VENV_ARGS=(--system-site-packages)
"$PYTHON" -m venv "${VENV_ARGS[@]}" "$WORK/venv"
VPY=$WORK/venv/bin/python
if [[ "${QJIT_PY_SYSTEM_SITE:-0}" == 1 ]]; then
  # NOTE: when $PYTHON is itself a venv (the GPU machine's torch lives in one), --system-site-packages reaches only
  # the base interpreter's packages; a .pth file adds the parent's site-packages after the new venv's own, so the
  # installed qjit still comes first.
  "$PYTHON" -c 'import site; print("\n".join(site.getsitepackages()))' \
    >"$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_qjit_parent_site.pth"
fi
"$VPY" -m pip install -q --no-index --no-deps "$WHEEL"
if ! "$VPY" -c 'import pytest' 2>/dev/null; then
  "$VPY" -m pip install -q pytest
fi

cp -r "$ROOT/python/tests" "$WORK/tests"
cd "$WORK"
echo "test-python: $(basename "$WHEEL") in a fresh venv ($("$VPY" --version))"
set +e
QJIT_TEST_INSTALLED=1 QJIT_ABI_EXPORTS="$ROOT/tests/abi/exports.txt" "$VPY" -m pytest -ra -p no:cacheprovider "$WORK/tests" "$@"
rc=$?
set -e
if [[ $rc == 5 ]]; then
  echo "test-python: pytest collected no tests" >&2
  exit 1
fi
exit $rc
