#!/usr/bin/env bash
# A one-node SLURM on this machine, for the cluster tests and for trying the
# recipes of docs/cluster.md: munged, slurmctld and slurmd, 2 CPUs, everything
# bound to 127.0.0.1 (the daemons listen on the loopback address only; munge
# talks over a unix socket).
#
#   scripts/local_slurm.sh start    # idempotent: starts what is not running
#   scripts/local_slurm.sh stop     # stops the daemons this script started
#   scripts/local_slurm.sh status   # exit 0 when jobs can be submitted
#
# Needs root. Installs the Debian packages `slurm-wlm munge` with apt-get when
# they are missing (after one `apt-get update`). Writes /etc/slurm/slurm.conf
# (only if absent or written by this script before) and keeps its state under
# /var/spool/renp-slurm. Exit status: 0 ready / stopped, 1 it cannot run here
# (one line on stderr says why).
set -euo pipefail
# The daemons and runuser live in sbin, which a non-login or `env -i` PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

MARK="# written by renp_scan scripts/local_slurm.sh"
CONF=/etc/slurm/slurm.conf
STATE=/var/spool/renp-slurm
RUN=/run/renp-slurm
CPUS=${LOCAL_SLURM_CPUS:-2}
PARTITION=debug
NODE=localhost

say() { echo "local_slurm: $*"; }
fail() { echo "local_slurm: cannot run SLURM here: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: the recorded process exists
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null && command -v sbatch >/dev/null && return 0
    command -v apt-get >/dev/null || fail "slurm-wlm/munge are not installed and there is no apt-get"
    say "installing slurm-wlm munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || fail "apt-get update failed (no network or mirror?)"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 \
        || fail "apt-get install slurm-wlm munge failed"
}

write_conf() {
    if [[ -e "$CONF" ]] && ! grep -qF "$MARK" "$CONF"; then
        fail "$CONF exists and was not written by this script; not touching a real SLURM setup"
    fi
    local mem_mb
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$RUN"
    cat > "$CONF.tmp" <<EOF
$MARK
ClusterName=renp-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
# Bind to the loopback address, never to every interface.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No cgroups: works in containers.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=2
MinJobAge=60
SlurmdTimeout=60
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

start_munge() {
    if alive /run/munge/munged.pid && munge -n </dev/null >/dev/null 2>&1; then return 0; fi
    [[ -s /etc/munge/munge.key ]] || {
        if command -v mungekey >/dev/null; then mungekey --create >/dev/null
        else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; fi
        chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if id munge >/dev/null 2>&1 && command -v runuser >/dev/null; then
        runuser -u munge -- munged || fail "munged did not start (see /var/log/munge/munged.log)"
    else
        munged --force || fail "munged did not start (see /var/log/munge/munged.log)"
    fi
    for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "munged started but does not answer"
}

ready() {  # the node takes jobs
    local state
    state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1) || return 1
    [[ "$state" == idle* || "$state" == mix* || "$state" == alloc* ]]
}

start() {
    [[ $(id -u) -eq 0 ]] || fail "needs root (to install packages and run the daemons)"
    install_packages
    write_conf
    start_munge
    alive "$RUN/slurmctld.pid" || slurmctld || fail "slurmctld did not start (see $STATE/slurmctld.log)"
    for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
    scontrol ping >/dev/null 2>&1 || fail "slurmctld does not answer (see $STATE/slurmctld.log)"
    alive "$RUN/slurmd.pid" || slurmd -N "$NODE" || fail "slurmd did not start (see $STATE/slurmd.log)"
    for _ in $(seq 150); do
        ready && { say "ready: partition $PARTITION, node $NODE, $CPUS CPUs (127.0.0.1)"; return 0; }
        # A node left down by an earlier stop comes back.
        scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        sleep 0.2
    done
    fail "the node did not become idle: $(sinfo -h -o '%t %E' 2>&1 | head -1)"
}

stop_one() {  # stop_one NAME PIDFILE
    if alive "$2"; then
        local pid; pid=$(cat "$2")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        say "stopped $1 (pid $pid)"
    fi
    rm -f "$2"
}

stop() {
    [[ $(id -u) -eq 0 ]] || fail "needs root"
    if [[ -e "$CONF" ]] && grep -qF "$MARK" "$CONF" && alive "$RUN/slurmctld.pid"; then
        scancel --full --quiet --user=root 2>/dev/null || true  # jobs left by tests
    fi
    stop_one slurmd "$RUN/slurmd.pid"
    stop_one slurmctld "$RUN/slurmctld.pid"
    stop_one munged /run/munge/munged.pid
}

status() {
    local ok=0
    for d in "munged /run/munge/munged.pid" "slurmctld $RUN/slurmctld.pid" "slurmd $RUN/slurmd.pid"; do
        set -- $d
        if alive "$2"; then say "$1 running (pid $(cat "$2"))"; else say "$1 not running"; ok=1; fi
    done
    if ready; then say "node $NODE takes jobs"; else say "node $NODE does not take jobs"; ok=1; fi
    return $ok
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
