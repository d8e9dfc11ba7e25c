#!/usr/bin/env bash
# The README's main command: install what is missing, build qjit (release), and run `qjit demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake --preset release -DQJIT_BUILD_TESTS=OFF -DQJIT_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release --target qjit_cli
exec build/release/tools/qjit demo "$@"
