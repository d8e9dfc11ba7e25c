#!/bin/bash
# Submits the tuning array (deploy/slurm/tune.sbatch, SHARDS tasks) and the merge job that waits for all of it
# (deploy/slurm/merge.sbatch, --dependency=afterok). Usage: SHARDS=8 deploy/slurm/submit.sh [extra sbatch options]
# Environment passed on to both jobs: QJIT, SHAPES, M_LIST, PLANS, ARCH, TUNE_DIR (see deploy/README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SHARDS=${SHARDS:-8}
export SHARDS TUNE_DIR=${TUNE_DIR:-$PWD/qjit-tune}
array=$(sbatch --parsable --export=ALL --array="0-$((SHARDS - 1))" "$@" "$here/tune.sbatch")
array=${array%%;*}  # --parsable prints "jobid[;cluster]"
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --kill-on-invalid-dep=yes "$@" "$here/merge.sbatch")
echo "tuning array $array ($SHARDS shards), merge job ${merge%%;*} after it; results in $TUNE_DIR/ship"
