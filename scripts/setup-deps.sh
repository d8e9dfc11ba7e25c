#!/usr/bin/env bash
# Installs the build dependencies that are missing (Debian/Ubuntu packages), then returns. Used by the README's
# two commands; safe to run again (it installs nothing when everything is present).
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in cmake ninja-build g++ llvm-14-dev libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libtinfo-dev \
         python3-venv; do
  have_pkg "$p" || need+=("$p")
done
# The bindings' tests: Rust (cargo, std only, offline) and a C compiler for the header layout check. Rust may come
# from rustup rather than Debian: only a missing command is installed.
command -v cargo >/dev/null 2>&1 || need+=(cargo)
command -v clang++ >/dev/null 2>&1 || need+=(clang)
if [ ${#need[@]} -gt 0 ]; then
  echo "qjit: installing missing packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# NVRTC is loaded at run time (never linked). It ships with the CUDA toolkit, which is not a Debian package here.
if ! ldconfig -p | grep -q 'libnvrtc\.so' && [ ! -e /usr/local/cuda/lib64/libnvrtc.so ]; then
  echo "qjit: note: NVRTC (libnvrtc.so) was not found; qjit builds, but compiling kernels needs the CUDA toolkit" \
       "(or QJIT_NVRTC_LIBRARY=/path/to/libnvrtc.so.13). Tests that compile kernels will report it." >&2
fi
