#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine: munged (--force, as root) and slurmctld /
# slurmd from Debian's packages on loopback ports, with a generated slurm.conf
# (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, state in a temporary directory).
# The script `focalab sweep slurm` writes for a tiny sweep is submitted with sbatch --wait; its
# shards are merged with `db merge` and must equal a local run of the same sweep, and merging
# again must change nothing. The daemons it started are stopped by PID.
# Exit 77 (ctest: skipped) when the packages are missing or not running as root.
#   slurm_test.sh FOCALAB_BINARY SOURCE_DIR
set -uo pipefail
bin=$1
src=$2
for tool in munged slurmctld slurmd sbatch sinfo scontrol; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool not found (apt-get install slurmctld slurmd slurm-client munge)"; exit 77; }
done
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (munged --force, slurmd)"; exit 77; }

tmp=$(mktemp -d /tmp/focalab-slurm-XXXXXX)
chmod 755 "$tmp"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
stop_daemons() {
  for f in slurmd slurmctld munged; do
    [[ -f $tmp/$f.pid ]] && kill "$(cat "$tmp/$f.pid")" 2>/dev/null
  done
  sleep 1
  for f in slurmd slurmctld munged; do
    [[ -f $tmp/$f.pid ]] && kill -9 "$(cat "$tmp/$f.pid")" 2>/dev/null
  done
}
cleanup() {
  stop_daemons
  if [[ $failures -gt 0 ]]; then
    for log in munged slurmctld slurmd; do
      echo "--- $log.log (last lines)"; tail -15 "$tmp/$log.log" 2>/dev/null
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

node=$(hostname -s)
cpus=$(nproc)
port=$((20000 + RANDOM % 20000))
mkdir -p "$tmp/state" "$tmp/spool"
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge.key"
munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.socket" \
  --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge.seed" ||
  { fail "munged did not start"; exit 1; }
cat >"$tmp/slurm.conf" <<CONF
ClusterName=focalabtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=focalab Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -f "$SLURM_CONF" || { fail "slurmctld did not start"; exit 1; }
slurmd -f "$SLURM_CONF" -N "$node" || { fail "slurmd did not start"; exit 1; }
up=0
for _ in $(seq 1 60); do
  state=$(sinfo -h -o %T 2>/dev/null)
  [[ $state == idle* ]] && { up=1; break; }
  sleep 0.5
done
[[ $up == 1 ]] && ok "one-node Slurm up (node $node, $cpus CPUs, port $port)" ||
  { fail "node never became idle (sinfo: ${state:-nothing})"; exit 1; }

cat >"$tmp/sweep.yaml" <<YAML
name: slurm
base: $src/experiments/configs/tiny.yaml
data: {train_images: 32, val_images: 8}
train: {iterations: 8, batch_size: 2, warmup_iters: 2, lr_steps: [6], log_every: 4}
sweep:
  cases: [{loss.kind: ce}, {loss.kind: focal}]
YAML
"$bin" sweep run "$tmp/sweep.yaml" --threads 1 --db "$tmp/local.db" >/dev/null 2>"$tmp/local.log" ||
  fail "local run: $(tail -3 "$tmp/local.log")"
"$bin" sweep slurm "$tmp/sweep.yaml" --out "$tmp/job.sbatch" --cpus-per-task 1 --time 00:10:00 \
  --partition focalab --db "$tmp/none.db" >/dev/null 2>"$tmp/slurm.log" ||
  fail "sweep slurm: $(cat "$tmp/slurm.log")"
if timeout 600 sbatch --wait "$tmp/job.sbatch" >"$tmp/sbatch.out" 2>&1; then
  ok "sbatch --wait: the array finished ($(head -1 "$tmp/sbatch.out"))"
else
  fail "sbatch: $(cat "$tmp/sbatch.out"); task logs: $(tail -5 "$tmp"/job.sbatch-shards/logs/* 2>/dev/null)"
fi
shards=("$tmp"/job.sbatch-shards/shard-*.db)
[[ ${#shards[@]} == 2 && -f ${shards[0]} ]] && ok "2 shard databases" ||
  fail "shards: ${shards[*]}"
"$bin" db merge "${shards[@]}" --into "$tmp/merged.db" 2>/dev/null || fail "db merge"
for q in \
  "SELECT key, status, config_json FROM DB.trials" \
  "SELECT t.key, s.iteration, s.loss_total, s.num_pos FROM DB.train_steps s JOIN DB.trials t ON t.id = s.trial_id" \
  "SELECT t.key, b.iteration, b.category, b.class_id, b.count, b.loss_sum FROM DB.loss_breakdown b JOIN DB.trials t ON t.id = b.trial_id" \
  "SELECT t.key, e.iteration, e.metric, e.value FROM DB.evaluations e JOIN DB.trials t ON t.id = e.trial_id WHERE e.metric <> 'ms_per_image'"; do
  a=${q//DB./main.}
  b=${q//DB./l.}
  d=$(sqlite3 "$tmp/merged.db" "ATTACH '$tmp/local.db' AS l; SELECT count(*) FROM ($a EXCEPT $b);
    SELECT count(*) FROM ($b EXCEPT $a); SELECT count(*) FROM ($a);" | tr '\n' ' ')
  [[ $d =~ ^0\ 0\ [1-9] ]] || fail "merged != local in: $q ($d)"
done
[[ $failures == 0 ]] && ok "merged shards equal the local run (trials, steps, breakdown, metrics)"
before=$(sqlite3 "$tmp/merged.db" .dump | md5sum)
"$bin" db merge "${shards[@]}" --into "$tmp/merged.db" 2>/dev/null
[[ $(sqlite3 "$tmp/merged.db" .dump | md5sum) == "$before" ]] && ok "merging again changes nothing" ||
  fail "the second merge changed the database"

if [[ $failures -gt 0 ]]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all passed"
