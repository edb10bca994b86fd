#!/bin/bash
# zookeeper.sh - throwaway ZooKeeper servers for drover's tests and benchmarks.
#
#   zookeeper.sh start DIR [NODES]   start a standalone server (NODES=1, the default) or an
#                                    ensemble of NODES servers on 127.0.0.1, on free ports picked
#                                    now; DIR is created and holds everything (configs, data, logs).
#                                    Prints the connect string ("127.0.0.1:P1,127.0.0.1:P2,...").
#   zookeeper.sh hosts DIR           print the connect string again
#   zookeeper.sh stop DIR            stop every server (TERM, KILL after a grace), remove DIR
#   zookeeper.sh kill DIR NODE       SIGKILL one server (a crash); its data stays for relaunch
#   zookeeper.sh term DIR NODE       stop one server gracefully; its data stays for relaunch
#   zookeeper.sh relaunch DIR NODE   start a stopped server again on its own data and config,
#                                    wait until it serves (needs a quorum in an ensemble)
#   zookeeper.sh wait DIR            wait until every running server serves
#   zookeeper.sh leader DIR          node number of the current leader
#   zookeeper.sh leader-port DIR     client port of the current leader
#   zookeeper.sh mode DIR NODE       standalone | leader | follower, or "" when it does not serve
#   zookeeper.sh port DIR NODE       client port of a node
#   zookeeper.sh pid DIR NODE        process id of a running node (for SIGSTOP/SIGCONT)
# NODE is a node number (1..NODES) or that node's client port.
#
# Exit status: 0 done, 1 failed (the reason on stderr), 2 usage.
# Environment: ZK_HARNESS_TIMEOUT_S (readiness limit, default 60), ZK_TICK_MS (default 200),
# ZK_LOG_LEVEL (server log level, default INFO), ZK_CLASSPATH, JAVA.
#
# Several tests may run at once: ports come from 20000-31999 (below the kernel's ephemeral
# range, so client sockets never hold them), are skipped when any socket uses them, and are
# reserved with an atomic mkdir under $TMPDIR/drover-ports until stop.  A server that still
# loses a race for its port is detected (it dies, or another process answers on the port) and
# the whole start is retried on fresh ports.
set -u

JAVA=${JAVA:-java}
ZK_CLASSPATH=${ZK_CLASSPATH:-/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar}
# A small serial-collector heap and the C1 compiler only: three JVMs stay cheap on two cores.
JVM_FLAGS=(-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
           -Djava.net.preferIPv4Stack=true)
TICK_MS=${ZK_TICK_MS:-200}
TIMEOUT_S=${ZK_HARNESS_TIMEOUT_S:-60}
PORT_LOCKS=${TMPDIR:-/tmp}/drover-ports
MARKER=.drover-zk-harness

say() { echo "zookeeper.sh: $*" >&2; }
die() { say "$*"; exit 1; }
now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- processes

# Running and not a zombie.  PID 1 of a container may reap orphans late, so a dead server
# can linger as a zombie; `kill -0` would call it alive.
running() {
    local pid=$1 state
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
    state=${state%% *}
    [[ -n $state && $state != Z && $state != X ]]
}

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
    t0=$(now_ms)
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
        if (($(now_ms) - t0 > TIMEOUT_S * 1000)); then
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
    local dir=${1:?DIR} n=${2:-1} t0 attempt rc
    [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 9)) || die "NODES must be 1..9, not \"$n\""
    [[ -e $dir ]] && die "$dir exists; start wants a new directory"
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    echo "$n" > "$dir/$MARKER"
    t0=$(now_ms)
    for attempt in 1 2 3; do
        start_once "$dir" "$n"
        rc=$?
        ((rc == 0)) && break
        stop_all "$dir"
        release_ports "$dir"
        ((rc == 2)) || { rm -rf "$dir"; exit 1; }
        say "attempt $attempt lost a port race; retrying on fresh ports"
        find "$dir" -mindepth 1 -maxdepth 1 ! -name "$MARKER" -exec rm -rf {} +
    done
    if ((rc != 0)); then rm -rf "$dir"; die "could not start ZooKeeper"; fi
    if ((n == 1)); then say "standalone server on port $(node_port "$dir" 1) serving after $(($(now_ms) - t0)) ms"
    else say "ensemble of $n serving after $(($(now_ms) - t0)) ms, leader node $(cmd_leader "$dir")"; fi
    cmd_hosts "$dir"
}

cmd_hosts() {
    local dir=$1 n i out=""
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do out+="${out:+,}127.0.0.1:$(node_port "$dir" "$i")"; done
    echo "$out"
}

cmd_stop() {
    local dir=$1
    stop_all "$dir"
    release_ports "$dir"
    rm -rf "$dir"
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
}

cmd_wait() {
    local dir=$1 n i nodes=()
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do node_running "$dir" "$i" && nodes+=("$i"); done
    ((${#nodes[@]})) || die "no node is running"
    wait_serving "$dir" "${nodes[@]}" || exit 1
}

cmd_leader() {
    local dir=$1 n i
    n=$(node_count "$dir")
    for ((i = 1; i <= n; i++)); do
        node_running "$dir" "$i" && [[ $(mode "$dir" "$i") == leader ]] && { echo "$i"; return 0; }
    done
    die "no leader"
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

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

main() {
    local cmd=${1:-} dir=${2:-} node
    [[ -n $cmd && -n $dir ]] || usage
    if [[ $cmd != start ]]; then
        [[ -f $dir/$MARKER ]] || die "$dir was not made by zookeeper.sh start"
    fi
    case $cmd in
    start) cmd_start "$dir" "${3:-1}" ;;
    hosts) cmd_hosts "$dir" ;;
    stop) cmd_stop "$dir" ;;
    wait) cmd_wait "$dir" ;;
    leader) cmd_leader "$dir" ;;
    leader-port) node=$(cmd_leader "$dir") && node_port "$dir" "$node" ;;
    kill | term | relaunch | mode | port | pid)
        [[ -n ${3:-} ]] || usage
        node=$(resolve_node "$dir" "$3") || exit 1
        case $cmd in
        kill) cmd_kill "$dir" "$node" ;;
        term) node_running "$dir" "$node" || die "node $node is not running"; stop_node "$dir" "$node" ;;
        relaunch) cmd_relaunch "$dir" "$node" ;;
        mode) mode "$dir" "$node"; true ;;
        port) node_port "$dir" "$node" ;;
        pid) node_running "$dir" "$node" || die "node $node is not running"; node_pid "$dir" "$node" ;;
        esac ;;
    *) usage ;;
    esac
}

main "$@"
