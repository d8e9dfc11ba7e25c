#!/usr/bin/env bash
# The README's test command: install what is missing, build everything (release), and run every test with ctest.
# GPU tests skip with their reason on a machine without a GPU; everything else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release -j "$(nproc)" "$@"
