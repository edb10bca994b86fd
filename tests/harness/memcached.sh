#!/bin/bash
# memcached.sh - throwaway memcached servers for drover's tests and benchmarks.
#
#   memcached.sh start [--sasl USER] [--owner PID] [-- MEMCACHED_ARGS...]
#       Start memcached on 127.0.0.1 on a free port chosen now, in a private
#       directory of its own, and wait until it answers.  Prints
#           dir=DIR
#           port=PORT
#           pid=PID
#       (also kept in DIR/port and DIR/pid).  Every other command takes DIR.
#       --sasl USER   require SASL (memcached -S, mechanism PLAIN); the
#                     password is read from $DV_MC_PASSWORD, never from argv.
#       --owner PID   when process PID ends, the server is killed and DIR
#                     removed, so a crashed test leaves nothing behind
#                     (default: the caller, i.e. our parent; 0 = never).
#   memcached.sh kill DIR [SIGNAL]  send SIGNAL (default KILL); for KILL and
#                     TERM, wait until the process is gone.  The data is lost.
#   memcached.sh pause DIR          SIGSTOP: the server hangs, the port stays open.
#   memcached.sh resume DIR         SIGCONT.
#   memcached.sh relaunch DIR       start again on the same port with the same
#                     arguments (an empty cache), wait until it answers.
#   memcached.sh stop DIR           kill the server and its watcher, remove DIR.
#   memcached.sh status DIR         "running", "paused" or "stopped" (exit 0/0/1).
#
# Exit status: 0 done; 1 the server could not start or the command failed;
# 2 bad usage.  Messages go to stderr, results to stdout.
# Environment: DV_HARNESS_TIMEOUT_S (readiness timeout, default 10),
# DV_HARNESS_TMP (where directories are made, default $TMPDIR or /tmp).
set -u

prog=memcached.sh
timeout_s=${DV_HARNESS_TIMEOUT_S:-10}

die() { echo "$prog: $*" >&2; exit 1; }
usage() { echo "usage: $prog start [--sasl USER] [--owner PID] [-- ARGS...] | kill DIR [SIG] | pause DIR | resume DIR | relaunch DIR | stop DIR | status DIR" >&2; exit 2; }
# shellcheck source=tests/harness/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# State of a process from /proc: R, S, T (stopped), Z (zombie), ... or "" when gone.
# A zombie counts as gone: PID 1 here reaps orphans only every second or two.
proc_state() {
    local st
    [[ -r /proc/$1/stat ]] || return 0
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
    echo "${st%% *}"
}
alive() { dv_running "$1"; }

# Ask the server for a binary-protocol NOOP and check the reply's magic byte
# (0x81).  Works with and without SASL: an unauthenticated NOOP still gets an
# answer (an auth error is an answer too), so this proves the server serves.
answers() {
    local port=$1 reply
    reply=$( { exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
               printf '\x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >&3
               timeout 1 head -c 1 <&3 | od -An -tx1; } 2>/dev/null)
    [[ ${reply// /} == 81 ]]
}

# Nothing listens on port (a connect is refused at once).
port_free() { ! { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; }

# A port below the kernel's ephemeral range, so no client socket can take it
# while a test has the server down between kill and relaunch.
pick_port() {
    local lo=20000 hi=32000 p i
    read -r _ eph_lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=32768
    (( hi >= eph_lo )) && hi=$((eph_lo - 1))
    for ((i = 0; i < 50; i++)); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
        port_free "$p" && { echo "$p"; return 0; }
    done
    return 1
}

# launch DIR PORT: start memcached with DIR's saved arguments; wait until it
# answers.  Returns 1 (server died or timed out) or 3 (port taken: try another).
launch() {
    local dir=$1 port=$2 pid t0 user=() env=()
    local -a extra=()
    # shellcheck disable=SC1091
    source "$dir/args"
    [[ $(id -u) == 0 ]] && user=(-u root)    # memcached refuses to run as root otherwise
    [[ -d $dir/sasl ]] && env=(SASL_CONF_PATH="$dir/sasl")
    t0=$(dv_now_ms)
    # setsid: the server has its own session, so a ^C in the test runner does
    # not hit it; no fork (we are not a group leader), so $! is memcached.
    env "${env[@]}" setsid memcached -l 127.0.0.1 -p "$port" -U 0 -m 64 -c 4096 -t 2 \
        "${user[@]}" "${extra[@]}" >>"$dir/memcached.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    echo "$port" >"$dir/port"
    while ! answers "$port"; do
        if ! alive "$pid"; then
            grep -q 'Address already in use' "$dir/memcached.log" && return 3
            echo "$prog: memcached on port $port exited: $(tail -n 3 "$dir/memcached.log")" >&2
            return 1
        fi
        if (( $(dv_now_ms) - t0 > timeout_s * 1000 )); then
            kill -KILL "$pid" 2>/dev/null
            echo "$prog: memcached on port $port did not answer within $timeout_s s" >&2
            return 1
        fi
        sleep 0.01
    done
    echo "$prog: memcached pid $pid serves 127.0.0.1:$port after $(( $(dv_now_ms) - t0 )) ms" >&2
    return 0
}

# Kill the server of dir (the owner process ended).
reap_server() { kill -KILL "$(cat "$1/pid" 2>/dev/null)" 2>/dev/null; }

cmd_start() {
    local sasl_user="" owner=$PPID dir port rc i
    local -a extra=()
    while (($#)); do
        case $1 in
            --sasl) (($# >= 2)) || usage; sasl_user=$2; shift 2 ;;
            --owner) (($# >= 2)) || usage; owner=$2; shift 2 ;;
            --) shift; extra=("$@"); break ;;
            *) usage ;;
        esac
    done
    command -v memcached >/dev/null || die "memcached is not installed (scripts/deps.sh test)"
    dir=$(mktemp -d "${DV_HARNESS_TMP:-${TMPDIR:-/tmp}}/dv-mc.XXXXXX") || die "cannot make a temporary directory"
    chmod 700 "$dir"
    if [[ -n $sasl_user ]]; then
        [[ -n ${DV_MC_PASSWORD:-} ]] || { rm -rf "$dir"; die "--sasl needs the password in \$DV_MC_PASSWORD"; }
        command -v saslpasswd2 >/dev/null || { rm -rf "$dir"; die "saslpasswd2 is missing (Debian package sasl2-bin)"; }
        mkdir -m 700 "$dir/sasl"
        printf 'mech_list: plain\nsasldb_path: %s\n' "$dir/sasl/sasldb2" >"$dir/sasl/memcached.conf"
        printf '%s' "$DV_MC_PASSWORD" | saslpasswd2 -p -c -a memcached -f "$dir/sasl/sasldb2" "$sasl_user" ||
            { rm -rf "$dir"; die "saslpasswd2 failed"; }
        extra=(-S "${extra[@]}")
    fi
    declare -p extra >"$dir/args"
    for ((i = 0; i < 20; i++)); do
        port=$(pick_port) || { rm -rf "$dir"; die "no free port found"; }
        launch "$dir" "$port"; rc=$?
        ((rc == 3)) && { echo "$prog: port $port was taken, trying another" >&2; continue; }
        ((rc == 0)) || { rm -rf "$dir"; exit 1; }
        [[ $owner != 0 ]] && dv_watch_owner "$dir" "$owner" reap_server
        printf 'dir=%s\nport=%s\npid=%s\n' "$dir" "$port" "$(cat "$dir/pid")"
        exit 0
    done
    rm -rf "$dir"
    die "could not find a free port in 20 attempts"
}

need_dir() {
    [[ -n ${1:-} ]] || usage
    [[ -f $1/port && -f $1/args ]] || die "$1 is not a directory made by '$prog start'"
}

cmd_kill() {
    local dir=$1 sig=${2:-KILL} pid i
    pid=$(cat "$dir/pid")
    alive "$pid" || die "memcached of $dir (pid $pid) is not running"
    kill -"$sig" "$pid" || die "kill -$sig $pid failed"
    case $sig in
        KILL|9|TERM|15|INT|2)
            for ((i = 0; i < timeout_s * 100; i++)); do alive "$pid" || return 0; sleep 0.01; done
            die "memcached pid $pid still runs $timeout_s s after SIG$sig" ;;
    esac
}

cmd_relaunch() {
    local dir=$1 port pid rc
    port=$(cat "$dir/port") pid=$(cat "$dir/pid")
    alive "$pid" && die "memcached of $dir (pid $pid) is still running"
    port_free "$port" || die "port $port is taken by another process: cannot relaunch"
    launch "$dir" "$port"; rc=$?
    ((rc == 0)) || die "relaunch on port $port failed"
    printf 'dir=%s\nport=%s\npid=%s\n' "$dir" "$port" "$(cat "$dir/pid")"
}

cmd_stop() {
    local dir=$1 pid
    [[ -f $dir/watcher ]] && kill -KILL "$(cat "$dir/watcher")" 2>/dev/null
    pid=$(cat "$dir/pid" 2>/dev/null)
    if [[ -n $pid ]] && alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        while alive "$pid"; do sleep 0.01; done
    fi
    rm -rf "$dir"
}

cmd_status() {
    local s
    s=$(proc_state "$(cat "$1/pid")")
    case $s in
        ''|Z|X) echo stopped; return 1 ;;
        T|t) echo paused ;;
        *) echo running ;;
    esac
}

(($#)) || usage
cmd=$1; shift
case $cmd in
    start) cmd_start "$@" ;;
    kill) need_dir "${1:-}"; cmd_kill "$@" ;;
    pause) need_dir "${1:-}"; cmd_kill "$1" STOP ;;
    resume) need_dir "${1:-}"; cmd_kill "$1" CONT ;;
    relaunch) need_dir "${1:-}"; cmd_relaunch "$1" ;;
    stop) need_dir "${1:-}"; cmd_stop "$1" ;;
    status) need_dir "${1:-}"; cmd_status "$1" ;;
    *) usage ;;
esac
