#!/bin/bash
# One Slurm job array of a rule filter: task i is shard i of N, in the run directory every task
# shares. Submit it once per round (drive_rounds.sh does that):
#
#   CONFIG=experiments/rule_families_rounds.yaml RUN_DIR=runs/rounds-cluster \
#     sbatch --array=0-15 scripts/slurm/rule_filter_array.sh
#
# Each task simulates its share (rule positions i mod N) of the first round that is not
# complete and appends one JSON line per rule to RUN_DIR/records/shard-i-of-N.jsonl; a task
# that finds the round complete goes on to the next one. Running a task again continues it
# (requeue-safe). SIGTERM (scancel, preemption, or --signal before the time limit) stops it at
# the next rule boundary with status `interrupted` in RUN_DIR/shards/shard-i-of-N.meta.json.
#
# To run some tasks again as the same shards (tasks 2 and 5 of 16 were lost), give the shard
# count: `SHARDS=16 sbatch --array=2,5 ...`. Without SHARDS, `--shard auto` takes N from the
# array itself, which is right only for --array=0-(N-1): `--array=2` alone would be shard 0/1
# (one task doing every missing rule of the round), and in `--array=2,5` task 2 would be shard
# 0/2 and task 5 refused (3/2).
#
#SBATCH --job-name=synplast-rules
#SBATCH --cpus-per-task=1
# Peak resident memory of one shard of the 512 E + 128 I network was about 60 MB here, of the
# full 4096 E + 1024 I network (rule_families_cluster.yaml) 190 MB (docs/pipeline.md#shards);
# 256M leaves room for the small network, ask for 512M for the full one.
#SBATCH --mem=256M
#SBATCH --time=04:00:00
# SIGTERM to the batch shell 120 s before the time limit; `exec` below makes synplast that
# shell, so it stops cleanly and a requeued task continues from its records.
#SBATCH --signal=B:TERM@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%A_%a.log
set -euo pipefail
: "${CONFIG:?set CONFIG to the experiment file}"
: "${RUN_DIR:?set RUN_DIR to the run directory the shards share}"
SYNPLAST=${SYNPLAST:-synplast}
shard=auto
if [ -n "${SHARDS:-}" ]; then
  shard="${SLURM_ARRAY_TASK_ID:?SHARDS is set but this is not a job array task}/$SHARDS"
fi
exec "$SYNPLAST" run "$CONFIG" --out "$RUN_DIR" --shard "$shard" --threads 1 --quiet
