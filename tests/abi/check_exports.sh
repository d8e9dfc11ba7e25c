#!/usr/bin/env bash
# libqjit.so exports the C ABI and nothing else: its dynamic symbols must equal tests/abi/exports.txt, and that list
# must equal the functions include/qjit/qjit_c.h declares. An export added or lost by accident fails here; a
# deliberate change updates exports.txt in the same commit. Usage: check_exports.sh LIBQJIT SOURCE_DIR
set -euo pipefail
lib=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@@*QJIT_[0-9]*$//' | grep -v '^QJIT_[0-9]*$' | sort -u > "$tmp/exported"
sort -u "$src/tests/abi/exports.txt" > "$tmp/listed"
# Each "QJIT_API <type> name(" declaration in the header, joined across line breaks.
grep -v '#define QJIT_API' "$src/include/qjit/qjit_c.h" | tr '\n' ' ' | grep -oE 'QJIT_API [^;(]*\(' | sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' \
  | sort -u > "$tmp/declared"
ok=1
if ! diff -u "$tmp/listed" "$tmp/exported" > "$tmp/d1"; then
  echo "libqjit.so's exports differ from tests/abi/exports.txt (- listed, + exported):"; cat "$tmp/d1"; ok=0
fi
if ! diff -u "$tmp/declared" "$tmp/listed" > "$tmp/d2"; then
  echo "tests/abi/exports.txt differs from what qjit_c.h declares (- declared, + listed):"; cat "$tmp/d2"; ok=0
fi
# Only libc and libm (and the loader) may be needed: no libstdc++, libgcc_s, libtinfo or LLVM on the engine's side.
needed=$(objdump -p "$lib" | awk '/NEEDED/ {print $2}' | grep -vE '^(libc|libm|libdl|libpthread|librt|ld-linux-x86-64)\.so' || true)
if [ -n "$needed" ]; then echo "libqjit.so needs libraries an engine may not have: $needed"; ok=0; fi
[ $ok = 1 ] && echo "libqjit.so exports exactly the $(wc -l < "$tmp/exported") functions of qjit_c.h and needs only libc/libm"
[ $ok = 1 ]
