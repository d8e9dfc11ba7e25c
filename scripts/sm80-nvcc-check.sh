#!/usr/bin/env bash
# Dev aid for the portable GEMM family: renders every variant the NVRTC compile tests build (QJIT_DUMP_DIR, one file
# per kernel and arch), assembles each with nvcc/ptxas for that arch and prints one line per kernel: registers,
# spill bytes, stack and ptxas warnings; with nvdisasm (NVDISASM=/path or on PATH) also the SASS counts of the
# mainloop's instructions (IMMA, LDSM, LDGSTS, BAR). Exits non-zero on a spill or a warning.
# Usage: scripts/sm80-nvcc-check.sh [build-dir] [name-filter]   (default build/dev, all; unit tests built there)
set -euo pipefail
build=${1:-build/dev}
filter=${2:-}
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
nvdisasm=${NVDISASM:-$(command -v nvdisasm || true)}
dump=$(mktemp -d)
trap 'rm -rf "$dump"' EXIT

QJIT_DUMP_DIR=$dump "$build/tests/qjit_unit_tests" --gtest_filter='CodegenNvrtcCompile.GemmSm80*' >/dev/null || true
status=0
for src in "$dump"/*.cu; do
  name=$(basename "$src" .cu)
  [[ -z "$filter" || "$name" == *$filter* ]] || continue
  arch=${name##*.sm}
  [[ "$arch" == 90 ]] && arch=90a
  # The over-limit probe is meant to fail on sm_89; the tests check that, not this script.
  log=$("$nvcc" -std=c++17 -gencode=arch=compute_$arch,code=sm_$arch -cubin -Xptxas -v -o "$dump/$name.cubin" "$src" 2>&1) ||
    { grep -q "shared-memory budget" <<<"$log" && continue; echo "FAIL $name"; echo "$log"; status=1; continue; }
  # A kernel with K % 16 == 0 also holds the out-of-line misaligned-operand path: sum its spills and stack in.
  regs=$(grep -oE 'Used [0-9]+ registers' <<<"$log" | grep -oE '[0-9]+' | head -1 || echo '?')
  spills=$(grep -oE '[0-9]+ bytes spill stores' <<<"$log" | grep -oE '^[0-9]+' | paste -sd+ | bc)
  stack=$(grep -oE '[0-9]+ bytes stack frame' <<<"$log" | grep -oE '^[0-9]+' | paste -sd+ | bc)
  warns=$(grep -ciE 'warning' <<<"$log" || true)
  sass=""
  if [[ -n "$nvdisasm" ]]; then
    sass=$("$nvdisasm" -c "$dump/$name.cubin" | grep -oE '\b(IMMA|LDSM|LDGSTS|BAR)\b' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  fi
  echo "${name#qjit_gemm_s8_sm80_} regs=$regs spill=$spills stack=$stack warnings=$warns $sass"
  if [[ "$spills" != 0 || "$warns" != 0 ]]; then status=1; grep -i warning <<<"$log" || true; fi
done
exit $status
