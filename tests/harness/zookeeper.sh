#!/bin/bash
# zookeeper.sh - throwaway ZooKeeper servers for drover's tests and benchmarks.
#
#   zookeeper.sh start [--nodes N] [--owner PID]
#       Start a standalone server (N=1, the default) or an ensemble of N servers on
#       127.0.0.1, on free ports picked now, in a private directory of its own, and wait
#       until every server serves (an ensemble: a leader is elected).  Prints
#           dir=DIR
#           hosts=127.0.0.1:P1[,127.0.0.1:P2,...]   (the connect string)
#           leader=NODE                              (ensembles)
#       Every other command takes DIR.  --owner PID: when process PID ends, the servers are
#       killed and DIR removed, so a crashed test leaves nothing behind (default: the
#       caller, i.e. our parent; 0 = never).
#   zookeeper.sh stop DIR             stop every server (TERM, KILL after 10 s), remove DIR
#   zookeeper.sh kill DIR NODE        SIGKILL one server (a crash); its data stays for relaunch
#   zookeeper.sh term DIR NODE        stop one server gracefully; its data stays
#   zookeeper.sh pause DIR NODE       SIGSTOP one server (hung: its port still accepts)
#   zookeeper.sh resume DIR NODE      SIGCONT
#   zookeeper.sh relaunch DIR NODE    start a stopped server again on its own data and
#                                     config; wait until it serves (an ensemble: needs quorum)
#   zookeeper.sh wait DIR             wait until every running server serves
#   zookeeper.sh leader DIR           prints leader=NODE and port=PORT of the current leader
#   zookeeper.sh mode DIR NODE        prints mode=standalone|leader|follower ("" = not serving)
#   zookeeper.sh port DIR NODE        prints port=PORT (the node's client port)
#   zookeeper.sh pid DIR NODE         prints pid=PID of a running node
#   zookeeper.sh hosts DIR            prints hosts=CONNECT_STRING
# NODE is a node number (1..N) or that node's client port.
#
# Exit status: 0 done; 1 failed (the reason on stderr); 2 bad usage.  Results go to
# stdout as key=value lines, messages to stderr.
# Environment: DV_HARNESS_TIMEOUT_S (readiness limit, default 60), DV_HARNESS_TMP (where
# directories are made, default $TMPDIR or /tmp), ZK_TICK_MS (default 200), ZK_LOG_LEVEL
# (server log level, default INFO), ZK_JVM_OPTS (replaces the JVM flags), ZK_CLASSPATH, JAVA.
#
# Several tests may run at once: ports come from 20000-31999 (below the kernel's ephemeral
# range, so client sockets never hold them), are skipped when any socket uses them, and are
# reserved with an atomic mkdir under $TMPDIR/drover-ports until stop.  A server that still
# loses a race for a port is detected (it dies, or another server answers on its port) and
# the whole start is retried on fresh ports.
set -u

JAVA=${JAVA:-java}
ZK_CLASSPATH=${ZK_CLASSPATH:-/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar}
# A small serial-collector heap and the C1 compiler only: three JVMs start fast and stay
# cheap on two cores.  ZK_JVM_OPTS replaces these (a benchmark may want the full JIT).
if [[ -n ${ZK_JVM_OPTS:-} ]]; then
    read -r -a JVM_FLAGS <<< "$ZK_JVM_OPTS"
else
    JVM_FLAGS=(-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
               -Djava.net.preferIPv4Stack=true)
fi
TICK_MS=${ZK_TICK_MS:-200}
TIMEOUT_S=${DV_HARNESS_TIMEOUT_S:-60}
PORT_LOCKS=${TMPDIR:-/tmp}/drover-ports
MARKER=.drover-zk-harness

say() { echo "zookeeper.sh: $*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck source=tests/harness/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- processes

running() { dv_running "$@"; }

node_dir() { echo "$1/n$2"; }
node_pid() { local f; f="$(node_dir "$1" "$2")/pid"; [[ -f $f ]] && cat "$f"; }
node_port() { cat "$(node_dir "$1" "$2")/client_port"; }
node_count() { cat "$1/$MARKER"; }

# The pid file is only trusted while that pid is still our JVM on our config (pids get reused).
node_running() {
    local dir pid
    dir=$(node_dir "$1" "$2")
    pid=$(node_pid "$1" "$2") || return 1
    running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/zoo.cfg"
}

# ---------------------------------------------------------------- ports

port_in_use() {
    local hex
    printf -v hex ':%04X ' "$1"
    grep -qF "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# reserve_port DIR -> prints a port reserved for DIR
reserve_port() {
    local owner=$1 p lock i
    mkdir -p "$PORT_LOCKS"
    for ((i = 0; i < 1000; i++)); do
        p=$(( (RANDOM * 32768 + RANDOM) % 12000 + 20000 ))
        port_in_use "$p" && continue
        lock=$PORT_LOCKS/$p
        if ! mkdir "$lock" 2>/dev/null; then
            # a reservation whose owner directory is gone is left over from a crashed test
            [[ -d $(cat "$lock/owner" 2>/dev/null) ]] && continue
            rm -rf "$lock"
            mkdir "$lock" 2>/dev/null || continue
        fi
        echo "$owner" > "$lock/owner"
        echo "$p"
        return 0
    done
    die "no free port found in 20000-31999"
}

release_ports() {
    local dir=$1 lock
    for lock in "$PORT_LOCKS"/*; do
        [[ -f $lock/owner && $(cat "$lock/owner" 2>/dev/null) == "$dir" ]] && rm -rf "$lock"
    done
}

# ---------------------------------------------------------------- four-letter words

# four DIR NODE WORD [TIMEOUT_S]: the server's answer, "" when it does not answer.  bash's
# /dev/tcp, under `timeout` because a stopped server accepts connections but never replies.
four() {
    local port
    port=$(node_port "$1" "$2")
    timeout "${4:-1}" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s" "$2" >&3 && cat <&3' \
        _ "$port" "$3" 2>/dev/null
}

mode() { four "$1" "$2" srvr | sed -n 's/^Mode: //p'; }

# The server answering on the node's port is ours: its data directory is inside DIR.
answers_as_ours() { four "$1" "$2" conf | grep -qF "dataDir=$(node_dir "$1" "$2")/data"; }

# ---------------------------------------------------------------- configuration and launch

write_config() {
    local dir=$1 i=$2 n=$3 servers=$4 nd
    nd=$(node_dir "$dir" "$i")
    mkdir -p "$nd/data"
    ((n > 1)) && echo "$i" > "$nd/data/myid"
    {
        echo "tickTime=$TICK_MS"
        echo "initLimit=10"
        echo "syncLimit=5"
        echo "dataDir=$nd/data"
        echo "clientPort=$(cat "$nd/client_port")"
        echo "clientPortAddress=127.0.0.1"
        # sessions may be as short as two ticks; tests use 0.4-4 s
        echo "minSessionTimeout=$((2 * TICK_MS))"
        echo "maxSessionTimeout=60000"
        # every test client comes from 127.0.0.1: no per-address connection limit
        echo "maxClientCnxns=0"
        # the admin web server would want port 8080
        echo "admin.enableServer=false"
        echo "4lw.commands.whitelist=*"
        # throwaway data: no fsync per transaction
        echo "forceSync=no"
        printf '%s' "$servers"
    } > "$nd/zoo.cfg"
}

launch() {
    local dir=$1 i=$2 nd
    nd=$(node_dir "$dir" "$i")
    # setsid: its own session, so a test runner's Ctrl-C or process-group kill does not
    # reach it before the test stops it; all output goes to its log, never to our stdout
    setsid "$JAVA" "${JVM_FLAGS[@]}" -Dzookeeper.log.dir="$nd" \
        -Dzookeeper.root.logger="${ZK_LOG_LEVEL:-INFO},CONSOLE" \
        -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain "$nd/zoo.cfg" \
        > "$nd/zk.log" 2>&1 < /dev/null &
    echo $! > "$nd/pid"
}

# wait_serving DIR NODE... : every listed node answers in a serving mode, as ours.
# Returns 2 when a node died or someone else answers on its port (a lost port race).
wait_serving() {
    local dir=$1 t0 m i pending
    shift
    t0=$(dv_now_ms)
    pending=("$@")
    while ((${#pending[@]})); do
        local rest=()
        for i in "${pending[@]}"; do
            if ! node_running "$dir" "$i"; then
                say "node $i (port $(node_port "$dir" "$i")) exited; last log lines:"
                tail -n 5 "$(node_dir "$dir" "$i")/zk.log" >&2
                return 2
            fi
            m=$(mode "$dir" "$i")
            case $m in
            standalone | leader | follower)
                answers_as_ours "$dir" "$i" || { say "port $(node_port "$dir" "$i") answers for another server"; return 2; } ;;
            *) rest+=("$i") ;;
            esac
        done
        pending=("${rest[@]+"${rest[@]}"}")
        ((${#pending[@]})) || break
        if (($(dv_now_ms) - t0 > TIMEOUT_S * 1000)); then
            say "node(s) ${pending[*]} not serving after $TIMEOUT_S s (logs in $dir/n*/zk.log)"
            return 1
        fi
        sleep 0.05
    done
    return 0
}

stop_node() {
    local dir=$1 i=$2 sig=${3:-TERM} pid k
    node_running "$dir" "$i" || { rm -f "$(node_dir "$dir" "$i")/pid"; return 0; }
    pid=$(node_pid "$dir" "$i")
    kill -"$sig" "$pid" 2>/dev/null
    kill -CONT "$pid" 2>/dev/null    # a paused server could not act on TERM
    # a JVM takes ~0.4 s to exit on TERM; give it 10 s, then KILL
    for ((k = 0; k < 500; k++)); do running "$pid" || break; sleep 0.02; done
    if running "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        while running "$pid"; do sleep 0.02; done
    fi
    rm -f "$(node_dir "$dir" "$i")/pid"
}

stop_all() {
    local dir=$1 n i
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do stop_node "$dir" "$i" & done
    wait
}

# ---------------------------------------------------------------- commands

start_once() {
    local dir=$1 n=$2 i servers="" p
    for ((i = 1; i <= n; i++)); do
        mkdir -p "$(node_dir "$dir" "$i")"
        p=$(reserve_port "$dir") || return 1
        echo "$p" > "$(node_dir "$dir" "$i")/client_port"
        if ((n > 1)); then
            local peer election
            peer=$(reserve_port "$dir") && election=$(reserve_port "$dir") || return 1
            servers+="server.$i=127.0.0.1:$peer:$election"$'\n'
        fi
    done
    for ((i = 1; i <= n; i++)); do write_config "$dir" "$i" "$n" "$servers"; done
    for ((i = 1; i <= n; i++)); do launch "$dir" "$i"; done
    wait_serving "$dir" $(seq 1 "$n")
}

cmd_start() {
    local n=1 owner=$PPID dir t0 attempt rc
    while (($#)); do
        case $1 in
        --nodes) (($# >= 2)) || usage; n=$2; shift 2 ;;
        --owner) (($# >= 2)) || usage; owner=$2; shift 2 ;;
        *) usage ;;
        esac
    done
    [[ $n =~ ^[1-9]$ ]] || die "--nodes must be 1..9, not \"$n\""
    command -v "$JAVA" >/dev/null || die "no $JAVA: install zookeeper and default-jre-headless (scripts/deps.sh test)"
    [[ -r ${ZK_CLASSPATH%%:*} && -r /usr/share/java/zookeeper.jar ]] ||
        die "ZooKeeper is not installed (Debian package zookeeper; scripts/deps.sh test)"
    dir=$(mktemp -d "${DV_HARNESS_TMP:-${TMPDIR:-/tmp}}/dv-zk.XXXXXX") || die "cannot make a temporary directory"
    chmod 700 "$dir"
    echo "$n" > "$dir/$MARKER"
    t0=$(dv_now_ms)
    for attempt in 1 2 3; do
        start_once "$dir" "$n"
        rc=$?
        ((rc == 0)) && break
        stop_all "$dir"
        release_ports "$dir"
        ((rc == 2)) || break
        say "attempt $attempt lost a port race; retrying on fresh ports"
        find "$dir" -mindepth 1 -maxdepth 1 ! -name "$MARKER" -exec rm -rf {} +
    done
    if ((rc != 0)); then rm -rf "$dir"; die "could not start ZooKeeper"; fi
    [[ $owner != 0 ]] && dv_watch_owner "$dir" "$owner" reap_nodes
    echo "dir=$dir"
    cmd_hosts "$dir"
    if ((n == 1)); then
        say "standalone server on port $(node_port "$dir" 1) serving after $(($(dv_now_ms) - t0)) ms"
    else
        local leader
        leader=$(find_leader "$dir")
        say "ensemble of $n serving after $(($(dv_now_ms) - t0)) ms, leader node ${leader:-?}"
        [[ -n $leader ]] && echo "leader=$leader"
    fi
    return 0
}

# Kill the servers of dir (the owner process ended).
reap_nodes() {
    local dir=$1 n i
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do
        node_running "$dir" "$i" && kill -KILL "$(node_pid "$dir" "$i")" 2>/dev/null
    done
    release_ports "$dir"
}

cmd_hosts() {
    local dir=$1 n i out=""
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do out+="${out:+,}127.0.0.1:$(node_port "$dir" "$i")"; done
    echo "hosts=$out"
}

cmd_stop() {
    local dir=$1
    [[ -f $dir/watcher ]] && kill -KILL "$(cat "$dir/watcher")" 2>/dev/null
    stop_all "$dir"
    release_ports "$dir"
    rm -rf "$dir"
}

signal_node() {
    local dir=$1 i=$2 sig=$3
    node_running "$dir" "$i" || die "node $i is not running"
    kill -"$sig" "$(node_pid "$dir" "$i")" || die "kill -$sig failed"
}

cmd_kill() {
    local dir=$1 i=$2 pid
    node_running "$dir" "$i" || die "node $i is not running"
    pid=$(node_pid "$dir" "$i")
    kill -KILL "$pid"
    while running "$pid"; do sleep 0.01; done
    rm -f "$(node_dir "$dir" "$i")/pid"
}

cmd_relaunch() {
    local dir=$1 i=$2
    node_running "$dir" "$i" && die "node $i is running"
    launch "$dir" "$i"
    wait_serving "$dir" "$i" || die "node $i did not come back"
    echo "port=$(node_port "$dir" "$i")"
}

cmd_wait() {
    local dir=$1 n i nodes=()
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do node_running "$dir" "$i" && nodes+=("$i"); done
    ((${#nodes[@]})) || die "no node is running"
    wait_serving "$dir" "${nodes[@]}" || exit 1
}

find_leader() {
    local dir=$1 n i
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do
        node_running "$dir" "$i" && [[ $(mode "$dir" "$i") == leader ]] && { echo "$i"; return 0; }
    done
    return 1
}

cmd_leader() {
    local node
    node=$(find_leader "$1") || die "no leader"
    echo "leader=$node"
    echo "port=$(node_port "$1" "$node")"
}

# NODE as a number or a client port -> node number
resolve_node() {
    local dir=$1 want=$2 n i
    n=$(node_count "$dir")
    [[ $want =~ ^[0-9]+$ ]] || die "NODE must be a number, not \"$want\""
    ((want >= 1 && want <= n)) && { echo "$want"; return 0; }
    for ((i = 1; i <= n; i++)); do [[ $(node_port "$dir" "$i") == "$want" ]] && { echo "$i"; return 0; }; done
    die "no node $want in $dir"
}

usage() {
    echo "usage: zookeeper.sh start [--nodes N] [--owner PID] | stop DIR | kill|term|pause|resume|relaunch|mode|port|pid DIR NODE | wait|leader|hosts DIR" >&2
    exit 2
}

main() {
    local cmd=${1:-} dir node
    [[ -n $cmd ]] || usage
    shift
    if [[ $cmd == start ]]; then
        cmd_start "$@"
        return
    fi
    dir=${1:-}
    [[ -n $dir ]] || usage
    [[ -f $dir/$MARKER ]] || die "$dir is not a directory made by 'zookeeper.sh start'"
    case $cmd in
    stop) cmd_stop "$dir" ;;
    wait) cmd_wait "$dir" ;;
    leader) cmd_leader "$dir" ;;
    hosts) cmd_hosts "$dir" ;;
    kill | term | pause | resume | relaunch | mode | port | pid)
        [[ -n ${2:-} ]] || usage
        node=$(resolve_node "$dir" "$2") || exit 1
        case $cmd in
        kill) cmd_kill "$dir" "$node" ;;
        term) node_running "$dir" "$node" || die "node $node is not running"; stop_node "$dir" "$node" ;;
        pause) signal_node "$dir" "$node" STOP ;;
        resume) signal_node "$dir" "$node" CONT ;;
        relaunch) cmd_relaunch "$dir" "$node" ;;
        mode) echo "mode=$(mode "$dir" "$node")" ;;
        port) echo "port=$(node_port "$dir" "$node")" ;;
        pid) node_running "$dir" "$node" || die "node $node is not running"; echo "pid=$(node_pid "$dir" "$node")" ;;
        esac ;;
    *) usage ;;
    esac
}

main "$@"
