#!/usr/bin/env bash
# Dev aid for the Hopper GEMM family: renders every variant the unit tests compile (QJIT_DUMP_DIR), assembles each
# with nvcc/ptxas for sm_90a and prints one line per kernel: registers, spill bytes, stack, ptxas warnings (a
# "wgmma ... serialized" warning means the wgmma pipeline lost its overlap) and, when nvdisasm is found
# (NVDISASM=/path or on PATH), the int8 wgmma instructions in the SASS (IGMMA.64xNx32.S8.S8).
# Usage: scripts/sm90-nvcc-check.sh [build-dir]   (default build/dev; the unit tests must be built there)
set -euo pipefail
build=${1:-build/dev}
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
nvdisasm=${NVDISASM:-$(command -v nvdisasm || true)}
dump=$(mktemp -d)
trap 'rm -rf "$dump"' EXIT

QJIT_DUMP_DIR=$dump "$build/tests/qjit_unit_tests" --gtest_filter='CodegenGemmS8Sm90Test.Nvrtc*' >/dev/null
status=0
for src in "$dump"/*.cu; do
  name=$(basename "$src" .cu)
  log=$("$nvcc" -std=c++17 -gencode=arch=compute_90a,code=sm_90a -cubin -Xptxas -v -o "$dump/$name.cubin" "$src" 2>&1) ||
    { echo "FAIL $name"; echo "$log"; status=1; continue; }
  regs=$(grep -oE 'Used [0-9]+ registers' <<<"$log" | grep -oE '[0-9]+' || echo '?')
  spills=$(grep -oE '[0-9]+ bytes spill stores' <<<"$log" | grep -oE '^[0-9]+' || echo '?')
  stack=$(grep -oE '[0-9]+ bytes stack frame' <<<"$log" | grep -oE '^[0-9]+' || echo '?')
  warns=$(grep -ciE 'warning' <<<"$log" || true)
  sass=""
  if [[ -n "$nvdisasm" ]]; then
    sass=$("$nvdisasm" -c "$dump/$name.cubin" | grep -oE 'IGMMA\.[0-9x]+\.S8\.S8' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  fi
  echo "$name regs=$regs spill=$spills stack=$stack warnings=$warns $sass"
  if [[ "$spills" != 0 || "$warns" != 0 ]]; then status=1; grep -i warning <<<"$log" || true; fi
done
exit $status
