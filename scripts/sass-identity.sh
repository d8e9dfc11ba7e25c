#!/usr/bin/env bash
# Proves a template-only change leaves the compiled kernels alone: renders a representative set of kernels with the
# templates of two revisions (every family's heuristic config on sm_80, sm_89 and sm_90a, and the whole candidate
# space of the specs tests/unit/jit_family_pin_test.cpp pins; tests/sass/kernel_space.cpp lists them), compiles each
# with NVRTC as the library does, disassembles with cuobjdump -sass and compares. No GPU needed.
# Usage: scripts/sass-identity.sh [OLD [NEW]]   OLD default HEAD~; NEW default the working tree (else a ref)
#   JOBS parallel compiles (default 2); QJIT_BUILD the build with the tests (default build/release);
#   SASS_IDENTITY_DIR the work directory (default $QJIT_BUILD/sass-identity; kept for a look at a difference).
# The sources are rendered by this build's codegen with each revision's templates in place of its own, so the
# rendering code (codegen/, jit/, autotune/, ops/, runtime/, cmake/) must be the same at both revisions and in the
# working tree: the script refuses otherwise (SASS_IDENTITY_ALLOW_CODE_DIFF=1 goes on anyway, for a change there
# that is known not to touch rendering). It also fails when a template differs between the two but no rendered
# kernel contains it, so every changed template was compiled.
# Compared: the SASS text (addresses, encodings, line info and comments stripped) of every kernel whose source
# differs; also reported: how many have identical encodings (scheduling bits included) and byte-identical cubins.
# Exit codes: 0 every kernel's SASS identical, 1 a difference or a failure, 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -le 2 ] || { sed -n '6,8p' "$0" >&2; exit 2; }
old=${1:-HEAD~}
new=${2:-}
jobs=${JOBS:-2}
B=${QJIT_BUILD:-build/release}
W=${SASS_IDENTITY_DIR:-$B/sass-identity}
K=$PWD/$B/tests/qjit_kernel_space
command -v cuobjdump >/dev/null || { echo "sass-identity: cuobjdump is not in PATH" >&2; exit 1; }
git rev-parse --verify -q "$old^{commit}" >/dev/null || { echo "sass-identity: $old is not a revision" >&2; exit 2; }
[ -z "$new" ] || git rev-parse --verify -q "$new^{commit}" >/dev/null || { echo "sass-identity: $new is not a revision" >&2; exit 2; }
cmake --build "$B" --target qjit_kernel_space >/dev/null

rendering=(codegen jit autotune ops runtime cmake CMakeLists.txt include)
for rev in "$old" ${new:+"$new"}; do
  if ! git diff --quiet "$rev" -- "${rendering[@]}"; then
    echo "sass-identity: the rendering code differs between $rev and the working tree (the build):" >&2
    git diff --stat "$rev" -- "${rendering[@]}" | tail -5 >&2
    [ "${SASS_IDENTITY_ALLOW_CODE_DIFF:-0}" = 1 ] || { echo "(SASS_IDENTITY_ALLOW_CODE_DIFF=1 to go on)" >&2; exit 1; }
  fi
done

rm -rf "$W"
mkdir -p "$W/old/src" "$W/new/src"
git archive "$old" templates | tar -x -C "$W/old"
if [ -n "$new" ]; then git archive "$new" templates | tar -x -C "$W/new"; else cp -r templates "$W/new/"; fi
label_new=${new:-working tree}
for side in old new; do
  "$K" render "$W/$side/src" --templates "$PWD/$W/$side/templates" 2> "$W/$side/render.log" \
    || { cat "$W/$side/render.log" >&2; exit 1; }
done
cmp -s "$W/old/src/manifest.tsv" "$W/new/src/manifest.tsv" \
  || { echo "sass-identity: the two sides rendered different kernel lists" >&2; exit 1; }

# Every template that differs between the two revisions must be in some rendered kernel.
changed=()
for f in "$W/old/templates"/* "$W/new/templates"/*; do
  name=$(basename "$f")
  cmp -s "$W/old/templates/$name" "$W/new/templates/$name" 2>/dev/null || changed+=("$name")
done
mapfile -t changed < <(printf '%s\n' "${changed[@]}" | sort -u | sed '/^$/d')
for name in "${changed[@]}"; do
  # A template only one side has (a new kernel's) has no old kernels to compare with: said, not failed.
  if [ ! -e "$W/old/templates/$name" ] || [ ! -e "$W/new/templates/$name" ]; then
    echo "sass-identity: $name exists on one side only (a new or removed template): not compared"; continue
  fi
  n=$(awk -F'\t' -v t="$name" '$1 == t {print $2}' "$W/new/src/templates.tsv")
  [ "${n:-0}" -gt 0 ] || { echo "sass-identity: $name differs but no rendered kernel contains it" >&2; exit 1; }
done
echo "sass-identity: $old vs $label_new; templates changed: ${changed[*]:-none}"

# Kernels whose source text is the same on both sides compile to the same cubin; the others are compiled twice.
total=$(wc -l < "$W/new/src/manifest.tsv")
: > "$W/jobs.txt"
same_src=0
while IFS=$'\t' read -r id arch entry _; do
  if cmp -s "$W/old/src/$id.cu" "$W/new/src/$id.cu"; then
    same_src=$((same_src + 1))
  else
    printf '%s %s %s %s\n' old "$id" "$arch" "$entry" new "$id" "$arch" "$entry" >> "$W/jobs.txt"
  fi
done < "$W/new/src/manifest.tsv"
compiles=$(wc -l < "$W/jobs.txt")
echo "sass-identity: $total kernels, $same_src with the same source on both sides, $compiles NVRTC compiles" \
  "with $jobs jobs (~$(( (compiles + jobs - 1) / jobs )) s at ~1 s a compile)"
start=$(date +%s)
export K W
# shellcheck disable=SC2016  # expanded by the inner shell
xargs -P "$jobs" -n 4 sh -c '
  d=$W/$0/src
  if "$K" compile "$2" "$d/$1.cu" "$3" "$d/$1.cubin" 2> "$d/$1.log"; then
    cuobjdump -sass "$d/$1.cubin" > "$d/$1.sass" 2>> "$d/$1.log" || echo "$0 $1: cuobjdump failed" >&2
  else
    echo "$0 $1 ($3, sm_$2): compile failed: $(head -c 400 "$d/$1.log")" >&2
  fi' < "$W/jobs.txt" 2> "$W/compile.err" || true
echo "sass-identity: compiled in $(( $(date +%s) - start )) s"

# SASS text: no addresses, no encodings, no line info or comments, no blank lines.
normalize() {
  sed -E -e 's@/\*[0-9a-f]{4,}\*/@@g' -e 's@/\* 0x[0-9a-f]+ \*/@@g' -e '/^[[:space:]]*\/\/##/d' -e 's@//.*$@@' \
    -e 's/[[:space:]]+/ /g' -e 's/^ //; s/ $//' -e '/^$/d' "$1"
}
# With encodings (the control bits too): only the addresses go.
encodings() { sed -E -e 's@/\*[0-9a-f]{4,}\*/@@g' -e '/^[[:space:]]*\/\/##/d' -e 's/[[:space:]]+/ /g' "$1"; }
identical=0 same_enc=0 same_cubin=0 failed=0
: > "$W/differ.txt"
while IFS=$'\t' read -r id arch entry what spec config; do
  cmp -s "$W/old/src/$id.cu" "$W/new/src/$id.cu" && continue
  o=$W/old/src/$id n=$W/new/src/$id
  if [ ! -s "$o.sass" ] || [ ! -s "$n.sass" ]; then
    failed=$((failed + 1))
    printf '%s\tsm_%s\t%s\tno SASS (see %s.log)\n' "$id" "$arch" "$entry" "$o" >> "$W/differ.txt"
  elif cmp -s <(normalize "$o.sass") <(normalize "$n.sass"); then
    identical=$((identical + 1))
    cmp -s <(encodings "$o.sass") <(encodings "$n.sass") && same_enc=$((same_enc + 1))
    cmp -s "$o.cubin" "$n.cubin" && same_cubin=$((same_cubin + 1))
  else
    printf '%s\tsm_%s\t%s\t%s\t%s\t%s\tSASS differs: %s.sass %s.sass\n' "$id" "$arch" "$entry" "$what" "$spec" \
      "$config" "$o" "$n" >> "$W/differ.txt"
  fi
done < "$W/new/src/manifest.tsv"
[ -s "$W/compile.err" ] && head -5 "$W/compile.err"
by_arch=$(cut -f2 "$W/new/src/manifest.tsv" | sort | uniq -c | awk '{printf "sm_%s %d, ", $2, $1}')
printf 'sass-identity: %d kernels (%s%d heuristic / portable, %d candidates): %d same source, %d compiled on both sides: ' \
  "$total" "$by_arch" "$(awk -F'\t' '$4 != "candidate"' "$W/new/src/manifest.tsv" | wc -l)" \
  "$(awk -F'\t' '$4 == "candidate"' "$W/new/src/manifest.tsv" | wc -l)" "$same_src" "$((compiles / 2))"
echo "$identical identical SASS ($same_enc with identical encodings, $same_cubin byte-identical cubins)," \
  "$(( $(wc -l < "$W/differ.txt") - failed )) differ, $failed failed"
if [ -s "$W/differ.txt" ]; then
  head -20 "$W/differ.txt"
  echo "sass-identity: DIFFERENT (the list: $W/differ.txt)"
  exit 1
fi
echo "sass-identity: IDENTICAL"
