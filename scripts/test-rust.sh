#!/usr/bin/env bash
# The Rust crate's tests (bindings/rust, crate qjit), std only and offline.
#
#   scripts/test-rust.sh [cargo test args]   C layout check of qjit_c.h against sys.rs, then `cargo test --offline`
#   scripts/test-rust.sh --gpu-bundle        build the test binaries without running them and stage them, with
#                                            libqjit.so, in build/rust/gpu/ for a GPU machine that has no cargo
#
# QJIT_LIB_DIR: the directory holding libqjit.so (default build/release). QJIT_INCLUDE_DIR: where qjit/qjit_c.h is
# (default include/). Cargo's output goes to build/rust (CARGO_TARGET_DIR), which git ignores with the rest of build/.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export QJIT_LIB_DIR="${QJIT_LIB_DIR:-$repo/build/release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/build/rust}"
include="${QJIT_INCLUDE_DIR:-$repo/include}"
mkdir -p "$CARGO_TARGET_DIR"

if [[ ! -e "$QJIT_LIB_DIR/libqjit.so" ]]; then
  echo "test-rust: no libqjit.so in $QJIT_LIB_DIR; build it (cmake --preset release && cmake --build --preset release)" \
       "or set QJIT_LIB_DIR" >&2
  exit 1
fi

# The C compiler's view of the header; sys.rs's layout test compares with it (a drift fails the test).
cc -std=c99 -Wall -Werror -I "$include" "$repo/bindings/rust/tests/c_layout.c" -o "$CARGO_TARGET_DIR/c_layout"
"$CARGO_TARGET_DIR/c_layout" > "$CARGO_TARGET_DIR/c_layout.txt"
export QJIT_C_LAYOUT="$CARGO_TARGET_DIR/c_layout.txt"

cd "$repo/bindings/rust"
if [[ "${1:-}" != "--gpu-bundle" ]]; then
  exec cargo test --offline "$@"
fi

# --gpu-bundle: the test executables cargo reports, copied under stable names next to the library.
bundle="$CARGO_TARGET_DIR/gpu"
rm -rf "$bundle"
mkdir -p "$bundle/lib"
cargo test --offline --no-run --message-format=json \
  | sed -n 's/.*"target":{[^}]*"name":"\([^"]*\)".*"executable":"\([^"]*\)".*/\1 \2/p' \
  | while read -r name exe; do cp "$exe" "$bundle/$name"; echo "test binary: $bundle/$name  (from $exe)"; done
[[ -x "$bundle/gpu" ]] || { echo "test-rust: cargo reported no gpu test binary" >&2; exit 1; }
# The binaries load libqjit.so by its soname (libqjit.so.0): copy the file itself, no symlinks, under that name.
soname="$(objdump -p "$QJIT_LIB_DIR/libqjit.so" 2>/dev/null | sed -n 's/^ *SONAME *//p')"
cp -L "$QJIT_LIB_DIR/libqjit.so" "$bundle/lib/${soname:-libqjit.so}"
rel="${bundle#"$repo"/}"
cat <<MSG
Staged in $bundle. The binaries' run path names $QJIT_LIB_DIR, which does not exist where the repository lands on
another machine, so point the loader at the staged copy (LD_LIBRARY_PATH is searched before a RUNPATH). From the
repository root there (carry $rel):
  LD_LIBRARY_PATH="\$PWD/$rel/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" $rel/gpu --nocapture --test-threads=1
MSG
