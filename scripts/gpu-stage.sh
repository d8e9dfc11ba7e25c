#!/usr/bin/env bash
# Stages what scripts/gpu-check.sh runs on the lent GPU machine into .device/ (git-ignored; name it in `carry`),
# small enough for the 64 MiB the device tool carries: the release GPU test binary and the qjit command (both link
# qjit statically), an install prefix of libqjit.so + headers (the install consumers are built there against it),
# the Python wheel, and the Rust crate's test binaries (stripped) with libqjit.so beside them. With QJIT_OLD_QJIT
# naming another build's qjit command (one built in its own worktree, e.g. the commit before a refactor), a stripped
# copy goes to .device/old/qjit for gpu-check's houseab step.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/release
S=.device
rm -rf "$S"
mkdir -p "$S/build/release/tests" "$S/build/release/tools" "$S/rust/lib" "$S/whl"
cmake --build --preset release >/dev/null
cp $B/tests/qjit_gpu_tests "$S/build/release/tests/"
cp $B/tools/qjit "$S/build/release/tools/"
mkdir -p "$S/build/release/bench" && cp $B/bench/quantize_rowwise_bench $B/bench/norm_quantize_bench \
  $B/bench/weight_only_linear_bench "$S/build/release/bench/"
cp -L $B/bench/libbenchmark.so.1* "$S/build/release/bench/"  # the benches find it through RPATH $ORIGIN
strip "$S/build/release/tests/qjit_gpu_tests" "$S/build/release/tools/qjit" "$S/build/release/bench/quantize_rowwise_bench" \
  "$S/build/release/bench/norm_quantize_bench" "$S/build/release/bench/weight_only_linear_bench"
cmake --install $B --prefix "$S/prefix" >/dev/null
QJIT_LIBRARY=$PWD/$B/libqjit.so python3 -m pip wheel -q --no-deps -w "$S/whl" ./python >/dev/null  # isolated: pip brings setuptools
bash scripts/test-rust.sh --gpu-bundle >/dev/null
for t in gpu cpu; do cp build/rust/gpu/$t "$S/rust/$t"; strip "$S/rust/$t"; done
cp -L $B/libqjit.so "$S/rust/lib/libqjit.so.0"
if [ -n "${QJIT_OLD_QJIT:-}" ]; then
  mkdir -p "$S/old" && cp "$QJIT_OLD_QJIT" "$S/old/qjit" && strip "$S/old/qjit"
fi
du -sh "$S"; find "$S" -type f | xargs ls -la | awk '{s+=$5} END {print s/1048576 " MiB in files"}'
