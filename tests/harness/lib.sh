# shellcheck shell=bash
# lib.sh - shell functions shared by the harness scripts (memcached.sh,
# zookeeper.sh), the shell tests, bench/agent.sh and scripts/demo.sh.
# Source it (. "$top_srcdir/tests/harness/lib.sh"); it defines functions
# only, and sets no option.

# ---------------------------------------------------------------- time

dv_now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- processes

# Running and not a zombie.  PID 1 of a container may reap orphans late, so
# a dead process can linger as a zombie; `kill -0` would call it alive.
dv_running() {
    local pid=$1 state
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
    state=${state%% *}
    [[ -n $state && $state != Z && $state != X ]]
}

# dv_watch_owner DIR OWNER REAP: once process OWNER ends (checked every
# second), run the caller's function `REAP DIR` (kill the servers DIR
# holds) and remove DIR; nothing once DIR is gone.  The watcher's pid goes
# to DIR/watcher.
dv_watch_owner() {
    local dir=$1 owner=$2 reap=$3
    (
        trap '' HUP INT
        while dv_running "$owner" && [[ -d $dir ]]; do sleep 1; done
        [[ -d $dir ]] || exit 0
        "$reap" "$dir"
        rm -rf "$dir"
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watcher"
}

# ---------------------------------------------------------------- TAP

# ok STATUS DESCRIPTION: "ok N" when STATUS is 0; counts in n and failed
# (the test sets both to 0 first).
ok() {
    n=$((n + 1))
    if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
diag() { echo "# $*"; }
# A test that cannot reach what it needs fails (99), never skips.
bail() { echo "Bail out! $*"; exit 99; }

# ---------------------------------------------------------------- drover.conf

# The servicegroup section of a config on the db driver at file DB that
# heartbeats every second (a member is DOWN 3 s after its last beat).
dv_conf_db_servicegroup() {
    cat <<CONF
servicegroup = {
  driver = "db";
  report_interval = 1;
  service_down_time = 3;
  db = { path = "$1"; };
};
CONF
}

# The servicegroup section of a config on the zk driver at HOSTS (a
# connect string) that heartbeats every second, under /drover.
dv_conf_zk_servicegroup() {
    cat <<CONF
servicegroup = {
  driver = "zk"; report_interval = 1; service_down_time = 3;
  zk = { hosts = "$1"; session_timeout_ms = 2000; prefix = "/drover"; };
};
CONF
}

# ---------------------------------------------------------------- servers and agents

# dv_zk_start HARNESS: a standalone ZooKeeper (tests/harness/zookeeper.sh
# HARNESS) that dies with this script; sets zkdir and hosts, or bails out.
# shellcheck disable=SC2034  # zkdir and hosts are the caller's
dv_zk_start() {
    local out
    out=$("$1" start --owner $$) || bail "cannot start ZooKeeper"
    zkdir=$(sed -n 's/^dir=//p' <<< "$out")
    hosts=$(sed -n 's/^hosts=//p' <<< "$out")
}

# dv_zk_cli_setup NAME: the start of a shell test of drover and droverd
# against a ZooKeeper of its own.  Sets drover, droverd and harness (from
# top_srcdir and top_builddir), n and failed; bails out unless both
# programs are built; makes the scratch directory tmp (drover-NAME.XXXXXX);
# on exit kills the agent (pid in agent, also when stopped) and ZooKeeper
# and removes tmp; starts ZooKeeper (zkdir, hosts).
# shellcheck disable=SC2034,SC2154  # the variables are the caller's
dv_zk_cli_setup() {
    harness=$top_srcdir/tests/harness/zookeeper.sh
    drover=$top_builddir/cmd/drover
    droverd=$top_builddir/cmd/droverd
    n=0 failed=0
    [[ -x $drover && -x $droverd ]] || bail "build cmd/drover and cmd/droverd first"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/drover-$1.XXXXXX") || bail "mktemp"
    zkdir="" agent=""
    trap dv_zk_cli_cleanup EXIT
    dv_zk_start "$harness"
}

dv_zk_cli_cleanup() {
    [[ -n $agent ]] && { kill -CONT "$agent"; kill -KILL "$agent"; wait "$agent"; } 2>/dev/null
    [[ -n $zkdir ]] && "$harness" stop "$zkdir"
    rm -rf "$tmp"
}

# dv_agent_start DROVERD CONF HOST LOG: droverd for HOST on libvirt's test
# driver in the background (its pid in agent, its stderr in LOG), waited
# for (15 s) until it heartbeats; bails out with its log otherwise.
# shellcheck disable=SC2034  # agent is the caller's
dv_agent_start() {
    local i
    "$1" -c "$2" --host "$3" --libvirt-uri test:///default --log-level info \
        < /dev/null > /dev/null 2> "$4" &
    agent=$!
    for ((i = 0; i < 300; i++)); do grep -q 'publishing liveness' "$4" && return 0; sleep 0.05; done
    bail "the agent did not join: $(cat "$4")"
}
