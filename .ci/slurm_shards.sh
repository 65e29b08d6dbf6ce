#!/usr/bin/env bash
# The rule filter's shards on a real Slurm: a slurmctld, a slurmd and a munged started by hand
# on this machine (no systemd), a 4-task job array of scripts/slurm/rule_filter_array.sh on a
# tiny config, `synplast merge`, and the outputs compared byte for byte with a single-process
# run; then a second array, one task of it cancelled mid-way with scancel and submitted again
# on its own, merged and compared again. Every daemon it starts is stopped on exit.
#
#   bash .ci/slurm_shards.sh          (as root; after `cargo build -p synplast`)
#
# SYNPLAST=path picks the binary (default target/debug/synplast); KEEP_TMP=1 keeps the temp
# dir (configs, daemon logs, run dirs) for a look afterwards. If the Debian packages cannot be
# installed (or this is not root) it says so and exits 0: CI skips only this step.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
SYNPLAST=${SYNPLAST:-$repo/target/debug/synplast}
ARRAY_SCRIPT=$repo/scripts/slurm/rule_filter_array.sh
SHARDS=4 # not exported: array 1 runs with --shard auto (see the resubmission below)
export -n SHARDS
t_start=$(date +%s)

say() { printf '[slurm %3ds] %s\n' "$(($(date +%s) - t_start))" "$*"; }
skip() {
  say "skipping only the Slurm step: $*"
  exit 0
}

[ -x "$SYNPLAST" ] || { echo "no executable $SYNPLAST: build it first (cargo build -p synplast)"; exit 1; }

# --- packages ----------------------------------------------------------------------------------
pkgs=(slurmctld slurmd slurm-client munge)
installed() {
  local p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}
if installed; then
  say "packages already installed: ${pkgs[*]}"
else
  [ "$(id -u)" = 0 ] || skip "not root, so cannot apt-get install ${pkgs[*]}"
  command -v apt-get >/dev/null || skip "no apt-get to install ${pkgs[*]}"
  aptlog=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -qq >"$aptlog" 2>&1; then
    reason="apt-get update failed: $(tail -n 3 "$aptlog" | tr '\n' ' ')"
    rm -f "$aptlog"
    skip "$reason"
  fi
  if ! apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${pkgs[@]}" >"$aptlog" 2>&1; then
    reason="apt-get install ${pkgs[*]} failed: $(tail -n 3 "$aptlog" | tr '\n' ' ')"
    rm -f "$aptlog"
    skip "$reason"
  fi
  rm -f "$aptlog"
  say "installed: ${pkgs[*]} ($(dpkg-query -W -f='${Version}' slurmd))"
fi
for c in munged mungekey munge unmunge slurmctld slurmd sbatch squeue scancel sinfo scontrol; do
  command -v "$c" >/dev/null || skip "$c is not on PATH after installing ${pkgs[*]}"
done
# slurmd runs its jobs as their user and SlurmUser is root below: it has to be root.
[ "$(id -u)" = 0 ] || skip "not root: slurmd must run as root"

# --- temp dir, cleanup -------------------------------------------------------------------------
work=$(mktemp -d /tmp/synplast-slurm.XXXXXX)
# munged wants every directory above its socket searchable by all.
chmod 755 "$work"
mkdir -p "$work"/{munge,state,spool,log,jobs}
pids=()     # daemons started here, in start order
jobs=()     # Slurm jobs submitted here
bg_sbatch=  # an `sbatch --wait` running in the background

dump() {
  echo "--- daemon logs (last lines) ---"
  local f
  for f in "$work"/log/* "$work"/munge/munged.log; do
    [ -s "$f" ] && { echo "== $f"; tail -n 30 "$f"; }
  done
  for f in "$work"/jobs/*.log; do
    [ -s "$f" ] && { echo "== $f"; tail -n 10 "$f"; }
  done
  true
}
die() {
  say "FAILED: $*"
  dump
  exit 1
}
cleanup() {
  local rc=$? p i
  trap - EXIT
  set +e
  if [ -n "$bg_sbatch" ] && kill -0 "$bg_sbatch" 2>/dev/null; then kill "$bg_sbatch"; fi
  if [ "${#jobs[@]}" -gt 0 ] && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    echo "cancelling the jobs still queued or running: ${jobs[*]}"
    scancel "${jobs[@]}" 2>/dev/null
    for ((i = 0; i < 60; i++)); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 1
    done
  fi
  # Stop in reverse start order (slurmd, slurmctld, munged), each by the pid started here.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill -0 "$p" 2>/dev/null || continue
    kill -TERM "$p"
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && { echo "pid $p did not stop on SIGTERM: SIGKILL"; kill -KILL "$p"; }
    wait "$p" 2>/dev/null
  done
  [ "${#pids[@]}" -gt 0 ] && echo "stopped the daemons started here (pids ${pids[*]})"
  cd /
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
# A signal ends the script through exit, so the EXIT trap stops the daemons then too.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- munge -------------------------------------------------------------------------------------
sock=$work/munge/munge.socket
mungekey --create --keyfile="$work/munge/munge.key" || die "mungekey --create failed"
munged -F --key-file="$work/munge/munge.key" --socket="$sock" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
  --seed-file="$work/munge/munged.seed" >"$work/log/munged.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.2; done
munge -n -S "$sock" | unmunge -S "$sock" >/dev/null || die "munged does not answer on $sock"
say "munged: pid ${pids[0]}, socket $sock, a credential encoded and decoded"

# --- slurm.conf --------------------------------------------------------------------------------
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=synplastci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
# scancel sends SIGTERM, then SIGKILL this many seconds later: more than one rule takes.
KillWait=30
# Finished jobs are forgotten after 16 s; below 17 s, sbatch --wait polls every 8 s, not 32.
MinJobAge=16
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
say "slurm.conf: $SLURM_CONF (node $host, CPUs=$cpus, RealMemory=$mem_mb MB, proctrack/linuxproc, task/none)"

slurmctld -D -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q UP || die "slurmctld is not answering"
slurmd -D -f "$SLURM_CONF" >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
state=
for ((i = 0; i < 60; i++)); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  kill -0 "${pids[2]}" 2>/dev/null || die "slurmd exited"
  sleep 1
done
[ "$state" = idle ] || die "node $host is '$state', not idle, after 60 s"
say "slurmctld pid ${pids[1]}, slurmd pid ${pids[2]}; sinfo:"
sinfo

# --- the config and the single-process run -----------------------------------------------------
# experiments/rule_filter_small.yaml on the tiny network of pipeline/tests/common::tiny_rule_filter
# (64 E + 16 I, 1000 inputs), 24 rules (6 per task), its 10 s of learning kept so that a rule
# that is not stopped early takes a few seconds (a task can be cancelled between two) and 0.5 s
# of scoring. Each replacement must find its text.
n_rules=24
cfg_text=$(cat "$repo/experiments/rule_filter_small.yaml")
for r in "rules: 64=rules: $n_rules" "n_exc: 512=n_exc: 64" "n_inh: 128=n_inh: 16" \
  "inputs: 5000=inputs: 1000" "input_p: 0.05=input_p: 0.25" "score_s: 5=score_s: 0.5"; do
  from=${r%%=*} to=${r#*=}
  grep -qF -- "$from" <<<"$cfg_text" || die "experiments/rule_filter_small.yaml has no '$from': update $0"
  cfg_text=${cfg_text//"$from"/"$to"}
done
CONFIG=$work/rule_filter_slurm.yaml
printf '%s\n' "$cfg_text" >"$CONFIG"

single=$work/single
t0=$(date +%s)
"$SYNPLAST" run "$CONFIG" --out "$single" --quiet
say "single-process run: $(($(date +%s) - t0)) s, $(wc -l <"$single/records/shard-0-of-1.jsonl") records in $single"

# The files a run writes besides records/ (and shards/ for a sharded one). meta.json differs by
# design (command, times, shard or merge fields); every other one must be the same bytes.
compared=(rules.csv accepted.csv params.npy metrics.npy accepted_params.npy metrics.json rounds.svg marginals.svg drift.csv config.yaml)
expected_files=$(printf '%s\n' "${compared[@]}" meta.json | LC_ALL=C sort)
top_files() { find "$1" -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort; }
[ "$(top_files "$single")" = "$expected_files" ] \
  || die "a run writes other files than the ones compared here: $(top_files "$single" | tr '\n' ' ') (update \$compared in $0)"

same_as_single() { # DIR: the merged outputs of DIR against the single-process run
  local d=$1 f
  [ "$(top_files "$d")" = "$expected_files" ] || die "$d holds $(top_files "$d" | tr '\n' ' ')"
  for f in "${compared[@]}"; do
    cmp "$single/$f" "$d/$f" || die "$d/$f differs from the single-process run"
    printf '  %-20s %7d bytes  identical\n' "$f" "$(stat -c %s "$d/$f")"
  done
  # The record lines themselves: the shards' logs hold the lines of the single run's log.
  cmp <(LC_ALL=C sort "$single"/records/*.jsonl) <(LC_ALL=C sort "$d"/records/*.jsonl) \
    || die "the record lines of $d are not those of the single-process run"
  printf '  %-20s %7d lines  the same lines as the single run'"'"'s records (sorted)\n' \
    "records/ (${SHARDS} logs)" "$(cat "$d"/records/*.jsonl | wc -l)"
  echo "  not compared: meta.json (command, times, merge fields), shards/ (status of each task)"
}
records() { # DIR K: lines in shard K's record log
  local f=$1/records/shard-$2-of-$SHARDS.jsonl
  if [ -f "$f" ]; then wc -l <"$f"; else echo 0; fi
}
status() { # DIR K: the status in shard K's meta file
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' \
    "$1/shards/shard-$2-of-$SHARDS.meta.json" 2>/dev/null || echo none
}
task_logs() { # JOBID: each task's log (what synplast printed)
  local f
  for f in "$work"/jobs/synplast-rules-"$1"_*.log; do
    [ -f "$f" ] && sed "s|^|  $(basename "$f"): |" "$f"
  done
  true
}

# `sbatch --wait` runs in the background and the script waits for it with `wait`, which a
# signal interrupts (a foreground sbatch would hold the EXIT trap back until the array ends).
submit() { # NAME SBATCH-ARGS...: submits the array script; sets jid and bg_sbatch
  local out=$work/$1.sbatch i
  shift
  sbatch --parsable --wait "$@" "$ARRAY_SCRIPT" >"$out" 2>&1 &
  bg_sbatch=$!
  for ((i = 0; i < 300; i++)); do [ -s "$out" ] && break; sleep 0.1; done
  jid=$(head -n 1 "$out")
  jid=${jid%%;*}
  [[ $jid =~ ^[0-9]+$ ]] || die "sbatch $* did not submit: $(cat "$out")"
  jobs+=("$jid")
}
ended() { # waits for the sbatch --wait of submit; sets rc to its exit code
  rc=0
  wait "$bg_sbatch" || rc=$?
  bg_sbatch=
}

export CONFIG SYNPLAST
cd "$work/jobs" # where the tasks' logs (--output=%x-%A_%a.log) go

# --- array 1: 4 tasks, merge, compare ----------------------------------------------------------
export RUN_DIR=$work/array1
t0=$(date +%s)
submit array1 --array=0-$((SHARDS - 1))
jid1=$jid
ended
[ "$rc" = 0 ] || die "array 1 (job $jid1): sbatch --wait exit $rc"
say "array 1: job $jid1, tasks 0-$((SHARDS - 1)) (--shard auto), ended after $(($(date +%s) - t0)) s"
task_logs "$jid1"
for ((k = 0; k < SHARDS; k++)); do
  echo "  shard $k/$SHARDS: $(records "$RUN_DIR" "$k") records, status $(status "$RUN_DIR" "$k")"
done
"$SYNPLAST" merge "$RUN_DIR" --quiet || die "synplast merge $RUN_DIR failed"
say "merged $RUN_DIR; against the single-process run:"
same_as_single "$RUN_DIR"

# --- array 2: one task cancelled mid-way, submitted again --------------------------------------
# The task cancelled: the one whose rules after its first simulate the most network time in the
# single run (rule k is shard k mod N's, done in order): the most time is left for scancel.
read -r K share_s < <(python3 - "$single/records/shard-0-of-1.jsonl" "$SHARDS" <<'PY'
import json, sys
n = int(sys.argv[2])
rules = sorted((v["index"], v["metrics"]["simulated_s"])
               for v in (json.loads(line)["value"] for line in open(sys.argv[1])))
after_first = [sum(s for i, s in rules if i % n == k and i >= n) for k in range(n)]
k = max(range(n), key=lambda k: after_first[k])
print(k, round(after_first[k], 1))
PY
) || die "could not read $single/records"
per_task=$((n_rules / SHARDS))
export RUN_DIR=$work/array2
submit array2 --array=0-$((SHARDS - 1))
jid2=$jid
say "array 2: job $jid2, tasks 0-$((SHARDS - 1)); task $K (of $per_task rules) is to be cancelled after its first record (its other rules simulate $share_s s)"
t0=$(date +%s)
while [ "$(records "$RUN_DIR" "$K")" -lt 1 ]; do
  kill -0 "$bg_sbatch" 2>/dev/null || die "array 2 ended before task $K wrote a record"
  [ $(($(date +%s) - t0)) -lt 300 ] || die "task $K wrote no record in 300 s"
  sleep 0.1
done
at_cancel=$(records "$RUN_DIR" "$K")
scancel "${jid2}_$K"
say "scancel ${jid2}_$K: task $K had $at_cancel of its $per_task records"
# Its end as Slurm saw it, read before the job record is forgotten (MinJobAge).
for ((i = 0; i < 600; i++)); do
  [ -z "$(squeue -h -j "${jid2}_$K" 2>/dev/null)" ] && break
  sleep 0.1
done
echo "  $(scontrol show job "${jid2}_$K" 2>/dev/null | grep -oE 'JobState=[A-Z_]+|ExitCode=[0-9:]+' | tr '\n' ' ')"
ended
say "array 2 ended (sbatch --wait exit $rc: a task was cancelled)"
task_logs "$jid2"
kept=$(records "$RUN_DIR" "$K")
st=$(status "$RUN_DIR" "$K")
for ((k = 0; k < SHARDS; k++)); do
  echo "  shard $k/$SHARDS: $(records "$RUN_DIR" "$k") records, status $(status "$RUN_DIR" "$k")"
done
[ "$st" = interrupted ] || die "shard $K's meta says '$st', not interrupted"
if [ "$kept" -lt 1 ] || [ "$kept" -ge "$per_task" ]; then
  die "shard $K kept $kept of $per_task records: the cancel did not land mid-way"
fi
for ((k = 0; k < SHARDS; k++)); do
  [ "$k" = "$K" ] || [ "$(status "$RUN_DIR" "$k")" = ok ] || die "shard $k did not end ok"
done
if out=$("$SYNPLAST" merge "$RUN_DIR" --quiet 2>&1); then
  die "merge succeeded with shard $K incomplete"
fi
say "cancelled mid-way: shard $K kept $kept of $per_task records (status $st); merge refused: $out"

# The same task again, as the same shard: SHARDS makes it shard K/N (without it, --shard auto
# in an --array=K array would be shard 0/1).
t0=$(date +%s)
submit resubmit --array="$K" --export=ALL,SHARDS=$SHARDS
jid3=$jid
ended
[ "$rc" = 0 ] || die "the resubmitted task $K (job $jid3): sbatch --wait exit $rc"
say "resubmitted: job $jid3, task $K (SHARDS=$SHARDS), ended after $(($(date +%s) - t0)) s"
task_logs "$jid3"
after=$(records "$RUN_DIR" "$K")
echo "  shard $K/$SHARDS: $after records (was $kept), status $(status "$RUN_DIR" "$K")"
[ "$after" = "$per_task" ] || die "shard $K has $after records, not $per_task"
[ "$(status "$RUN_DIR" "$K")" = ok ] || die "the resubmitted shard $K did not end ok"
n_logs=$(find "$RUN_DIR/records" -name '*.jsonl' | wc -l)
[ "$n_logs" = "$SHARDS" ] || die "$RUN_DIR/records holds $n_logs logs, not $SHARDS"
"$SYNPLAST" merge "$RUN_DIR" --quiet || die "synplast merge $RUN_DIR failed"
say "merged $RUN_DIR; against the single-process run:"
same_as_single "$RUN_DIR"

say "passed: array $jid1 (4 tasks), array $jid2 (task $K cancelled at $kept/$per_task records) + job $jid3 (task $K again): both merges are the single-process bytes; total $(($(date +%s) - t_start)) s"
