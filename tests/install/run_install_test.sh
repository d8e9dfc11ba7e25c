#!/usr/bin/env bash
# Installs a qjit build into a temporary prefix, builds tests/install/consumer (one C and one C++ engine) against
# it with find_package(qjit), and runs both. Without a GPU they must report DriverUnavailable; with one they run a
# QuantizedLinear and check it against an f64 reference. The C++ consumer is compiled with clang when it is there
# (qjit itself is built with g++): the header-only API over the C ABI must not care which compiler built the engine.
# Usage: run_install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# Nothing but the public surface is installed.
if [ -e "$tmp/prefix/include/qjit/quant" ] || ls "$tmp/prefix"/lib*/libqjit_core* >/dev/null 2>&1; then
  echo "internal headers or archives were installed"; exit 1
fi
cxx=c++; command -v clang++ >/dev/null && cxx=clang++
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$src/tests/install/consumer" -B "$tmp/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_COMPILER="$cxx" >"$tmp/configure.log" 2>&1 \
  || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
# The consumers find libqjit.so through the RPATH CMake gave them into the prefix, as an engine's build would.
export QJIT_CACHE_DIR="$tmp/cache"
"$tmp/build/consumer_c"
"$tmp/build/consumer_cpp"
# The installed command (issue 14): no source-tree path compiled in, and `qjit bench` without --shapes reads the
# shape file installed beside it -- without a GPU it gets as far as "no GPU" (exit 1), not a usage error (exit 2).
if [ -x "$tmp/prefix/bin/qjit" ]; then
  [ -f "$tmp/prefix/share/qjit/llm_linear_shapes.csv" ] || { echo "share/qjit/llm_linear_shapes.csv is not installed"; exit 1; }
  if grep -qF "$src" "$tmp/prefix/bin/qjit"; then echo "the installed qjit has the source path $src compiled in"; exit 1; fi
  rc=0
  "$tmp/prefix/bin/qjit" bench --m 1 --filter 'N=4096 K=4096' --regime burst --rounds 1 --iters 1 --warmup 0 \
    > "$tmp/bench.out" 2> "$tmp/bench.err" || rc=$?
  if [ "$rc" -eq 2 ]; then cat "$tmp/bench.err"; echo "the installed qjit bench did not find its shape file"; exit 1; fi
fi
