#!/usr/bin/env bash
# Runs one libFuzzer target (tests/fuzz/<name>_fuzz.cpp) for a time budget, starting from its corpus, then merges
# what it found into tests/fuzz/corpus/<name>/ (-merge=1 keeps only inputs that add coverage). Prints libFuzzer's
# final stats (number_of_executed_units = the runs docs/SECURITY.md records). Crashes are left in the work dir.
#   scripts/fuzz.sh NAME SECONDS [BUILD_DIR]      (build the fuzz tree first: docs/SECURITY.md, "Fuzzing")
set -euo pipefail
name=$1
secs=$2
build=${3:-build/fuzz}
bin=$build/tests/fuzz/${name}_fuzz
corpus=tests/fuzz/corpus/$name
work=$(mktemp -d "/tmp/qjit_fuzz_${name}_XXXXXX")
mkdir -p "$work/new" "$work/artifacts" "$corpus"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
echo "fuzz $name: ${secs}s, work dir $work"
set +e
nice -n 19 "$bin" -max_total_time="$secs" -print_final_stats=1 -max_len=16384 -timeout=20 -rss_limit_mb=2560 \
  -artifact_prefix="$work/artifacts/" "$work/new" "$corpus" > "$work/log" 2>&1
rc=$?
set -e
grep -E "^stat::|ERROR|SUMMARY|Test unit written" "$work/log" || true
echo "fuzz $name: exit $rc"
nice -n 19 "$bin" -merge=1 -max_len=16384 "$corpus" "$work/new" > "$work/merge.log" 2>&1 || true
echo "fuzz $name: corpus now $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
exit $rc
