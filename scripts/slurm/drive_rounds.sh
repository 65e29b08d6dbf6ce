#!/bin/bash
# The driver loop of a rule filter on a Slurm cluster: submit the job array, wait for it, and
# again, until `synplast merge` succeeds (a round waits for every shard of the previous one, so
# a filter of R rounds takes R arrays, plus one per array that lost tasks).
#
#   CONFIG=experiments/rule_families_rounds.yaml RUN_DIR=runs/rounds-cluster SHARDS=16 \
#     scripts/slurm/drive_rounds.sh
set -euo pipefail
: "${CONFIG:?set CONFIG to the experiment file}"
: "${RUN_DIR:?set RUN_DIR to the run directory the shards share}"
SHARDS=${SHARDS:-16}
MAX_ARRAYS=${MAX_ARRAYS:-50}
SYNPLAST=${SYNPLAST:-synplast}
here=$(cd "$(dirname "$0")" && pwd)
export CONFIG RUN_DIR SYNPLAST
for ((a = 1; a <= MAX_ARRAYS; a++)); do
  echo "array $a: $SHARDS shards"
  # --wait returns when every task has ended (a failed or cancelled task is retried by the
  # next array: running a shard again continues it).
  sbatch --wait --array=0-$((SHARDS - 1)) "$here/rule_filter_array.sh" || true
  if "$SYNPLAST" merge "$RUN_DIR" --quiet; then
    echo "merged: $RUN_DIR"
    exit 0
  fi
done
echo "not complete after $MAX_ARRAYS arrays: see $RUN_DIR/shards/*.meta.json" >&2
exit 1
