#!/bin/bash
# lvhosts.sh - N independent libvirtd "hosts" on this one machine, for drover's
# scheduler and live-migration tests.  Needs root (namespaces, bind mounts).
#
#   lvhosts.sh start DIR [N]                  start N (2 or 3) hosts under DIR
#   lvhosts.sh stop DIR [--remove]            tear everything down (idempotent)
#   lvhosts.sh guest-xml NAME MEM_MIB [CMDLINE]   print a TCG domain XML for the test guest
#   lvhosts.sh link DIR K up|down             plug / unplug host K from the others
#   lvhosts.sh daemon DIR K kill|stop|cont|start|restart
#                                             host K's libvirtd: SIGKILL (its qemu
#                                             processes keep running), SIGSTOP,
#                                             SIGCONT, start again with the same
#                                             configuration, or kill + start
#   lvhosts.sh poweroff DIR K                 kill host K's libvirtd and every qemu of
#                                             it (a power cut); `daemon DIR K start`
#                                             boots it again with its definitions
#   lvhosts.sh list                           instances registered on this machine
#
# Host K of an instance is a libvirtd (under tini, a child subreaper) in its
# own mount + UTS namespace, with private /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt and /etc/hosts bound
# from DIR/hK, a host name, a host_uuid of its own, and its own network
# namespace.  The hosts' network namespaces hang off a bridge in a "switch"
# namespace, so host K is 10.231.ID.K to its peers and to nobody else.
# ID (1..250) is allocated per instance under $LVH_RUNDIR: several instances
# (tests run in parallel) never share names, addresses or sockets.
#
# After start, DIR/env (for the shell) and DIR/env.conf (KEY=VALUE, for
# programs) describe the instance; see tests/harness/README.md.
#
# Environment: LVH_GUEST     the guest ELF to copy into DIR (default: next to
#                            this script, or under $top_builddir)
#              LVH_RUNDIR    id registry (default /run/drover-lvh)
#              LVH_TIMEOUT   seconds to wait for each daemon (default 20)
#              LV_DIR, LV_GUEST  read by guest-xml (set by sourcing DIR/env)
set -euo pipefail

PROG=lvhosts
SELF=$(readlink -f "$0")
RUNDIR=${LVH_RUNDIR:-/run/drover-lvh}
TIMEOUT=${LVH_TIMEOUT:-20}
SUBNET_PREFIX=10.231
LIBVIRTD=/usr/sbin/libvirtd
QEMU=/usr/bin/qemu-system-x86_64
# a lone host per network namespace owns its ports; ranges still differ per
# host so that a port seen in a log says which host it was
MIG_PORT_BASE=49152

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { say "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# the names of instance ID: switch netns (K=0) and host netns / veths / host name
ns_of() { echo "dvl$1-$2"; }
host_if() { echo "dvl$1h$2"; }      # in host K's netns
switch_if() { echo "dvl$1s$2"; }    # in the switch netns, on the bridge
host_name() { echo "dvl$1h$2"; }
addr_of() { echo "$SUBNET_PREFIX.$1.$2"; }
sock_of() { echo "$1/h$2/run/libvirt-sock"; }
uri_of() { echo "qemu+unix:///system?socket=$(sock_of "$1" "$2")"; }

# alive PID: running and not a zombie waiting for PID 1 to reap it
alive() {
    local st
    [ -n "$1" ] && st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_gone SECONDS PID...: 0 when none of them is alive any more
wait_gone() {
    local until=$(( $(now_ms) + $1 * 1000 )) p left
    shift
    while :; do
        left=""
        for p in "$@"; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && return 0
        [ "$(now_ms)" -ge "$until" ] && return 1
        sleep 0.05
    done
}

virsh_to() { timeout "$1" virsh -q -c "$2" "${@:3}"; }

# ------------------------------------------------------------------ id registry

# Claim the first free id: mkdir is atomic, so two instances starting at the
# same moment cannot both get one.  An id whose namespaces still exist (a
# crashed run) is skipped.
alloc_id() {
    local dir=$1 id
    mkdir -p "$RUNDIR"
    for id in $(seq 1 250); do
        [ -e "/run/netns/$(ns_of "$id" 0)" ] && continue
        [ -e "/run/netns/$(ns_of "$id" 1)" ] && continue
        if mkdir "$RUNDIR/$id" 2>/dev/null; then
            echo "$dir" >"$RUNDIR/$id/dir"
            echo "$id"
            return 0
        fi
    done
    return 1
}

id_of_dir() {
    local d
    for d in "$RUNDIR"/[0-9]*; do
        [ "$(cat "$d/dir" 2>/dev/null)" = "$1" ] && { echo "${d##*/}"; return 0; }
    done
    return 0
}

# ------------------------------------------------------------------ network

net_up() {
    local id=$1 n=$2 k sw
    sw=$(ns_of "$id" 0)
    ip netns add "$sw"
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge forward_delay 0
    ip -n "$sw" link set br0 up
    for k in $(seq 1 "$n"); do
        local ns
        ns=$(ns_of "$id" "$k")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # both ends are created inside their namespaces: they never appear in
        # the machine's own network namespace
        ip link add "$(host_if "$id" "$k")" netns "$ns" type veth \
            peer name "$(switch_if "$id" "$k")" netns "$sw"
        ip -n "$sw" link set "$(switch_if "$id" "$k")" master br0 up
        ip -n "$ns" addr add "$(addr_of "$id" "$k")/24" dev "$(host_if "$id" "$k")"
        ip -n "$ns" link set "$(host_if "$id" "$k")" up
    done
}

# ------------------------------------------------------------------ one host

write_host_config() {
    local dir=$1 id=$2 n=$3 k=$4 h=$1/h$4 port j
    port=$(( MIG_PORT_BASE + 64 * (k - 1) ))
    mkdir -p "$h/etc" "$h/run" "$h/lib" "$h/log" "$h/cache"
    cat /proc/sys/kernel/random/uuid >"$h/uuid"
    cat >"$h/etc/libvirtd.conf" <<EOF
# drover test host $k of instance $id (written by lvhosts.sh)
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0770"
auth_unix_ro = "none"
auth_unix_rw = "none"
# peers reach this host for peer-to-peer migration over plain TCP, inside
# the instance's private network only
listen_tls = 0
listen_tcp = 1
listen_addr = "$(addr_of "$id" "$k")"
auth_tcp = "none"
# libvirt refuses to migrate "to the same host" when the UUIDs match
host_uuid = "$(cat "$h/uuid")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    cat >"$h/etc/qemu.conf" <<EOF
# everything as root, without cgroups, namespaces or labels: this is a test
# host inside a container-like sandbox
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
# incoming migration streams arrive on this host's own address (a loopback
# address is refused here)
migration_host = "$(addr_of "$id" "$k")"
migration_port_min = $port
migration_port_max = $(( port + 63 ))
EOF
    {
        echo "127.0.0.1 localhost"
        for j in $(seq 1 "$n"); do echo "$(addr_of "$id" "$j") $(host_name "$id" "$j")"; done
    } >"$h/hosts"
}

# Runs inside the new mount + UTS namespace (see start_host): make the bind
# mounts, name the host, become tini with libvirtd as its child.
host_main() {
    local dir=$1 k=$2 id h=$1/h$2
    id=$(cat "$dir/id")
    mount --bind "$h/etc" /etc/libvirt
    mount --bind "$h/run" /run/libvirt
    mount --bind "$h/lib" /var/lib/libvirt
    mount --bind "$h/log" /var/log/libvirt
    mount --bind "$h/cache" /var/cache/libvirt
    mount --bind "$h/hosts" /etc/hosts
    host_name "$id" "$k" >/proc/sys/kernel/hostname
    # qemu is double-forked by libvirtd and re-parented when it exits: tini -s
    # reaps it at once (PID 1 here reaps orphans only every second or two,
    # which libvirt waits for on every destroy and migration)
    exec tini -s -g -- "$LIBVIRTD" --listen -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid
}

start_host() {
    local dir=$1 id=$2 k=$3 h=$1/h$3
    # a copy of the qemu capabilities an earlier instance probed: libvirt
    # checks it (qemu and libvirtd binaries, kernel, microcode) and probes
    # again only when it no longer matches
    if [ -d "$RUNDIR/capcache" ]; then
        mkdir -p "$h/cache/qemu/capabilities"
        cp -p "$RUNDIR/capcache/"*.xml "$h/cache/qemu/capabilities/" 2>/dev/null || true
    fi
    # the bind-mount targets must exist in the machine's own tree
    mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
    # nsenter and unshare (without --fork) exec in place: $! is tini's pid
    nsenter --net="/run/netns/$(ns_of "$id" "$k")" -- \
        unshare --mount --uts --propagation private -- \
        /bin/bash "$SELF" _host "$dir" "$k" >"$h/daemon.out" 2>&1 </dev/null &
    echo $! >"$h/pid"
}

# keep host 1's (now valid) capabilities cache for the next instances; each
# file is replaced by a rename, so a concurrent start copies whole files only
save_capcache() {
    local src=$1 f base
    mkdir -p "$RUNDIR/capcache" || return 0
    for f in "$src"/*.xml; do
        [ -f "$f" ] || continue
        base=${f##*/}
        if ! { cp -p "$f" "$RUNDIR/capcache/.$base.$$" && mv -f "$RUNDIR/capcache/.$base.$$" "$RUNDIR/capcache/$base"; }; then
            rm -f "$RUNDIR/capcache/.$base.$$"
        fi
    done
    return 0
}

log_tail() {
    local h=$1
    say "--- tail of $h/log/libvirtd.log"
    tail -n 15 "$h/log/libvirtd.log" >&2 2>/dev/null || true
    say "--- tail of $h/daemon.out"
    tail -n 15 "$h/daemon.out" >&2 2>/dev/null || true
}

# wait until host K answers on its socket, or its daemon dies, or time runs out
wait_ready() {
    local dir=$1 k=$2 until pid
    until=$(( $(now_ms) + TIMEOUT * 1000 ))
    pid=$(cat "$dir/h$k/pid")
    while :; do
        if [ -S "$(sock_of "$dir" "$k")" ] && virsh_to 5 "$(uri_of "$dir" "$k")" uri >/dev/null 2>&1; then
            return 0
        fi
        if ! alive "$pid"; then
            say "host $k: libvirtd exited during start"
            log_tail "$dir/h$k"
            return 1
        fi
        if [ "$(now_ms)" -ge "$until" ]; then
            say "host $k: libvirtd not answering after $TIMEOUT s"
            log_tail "$dir/h$k"
            return 1
        fi
        sleep 0.05
    done
}

# ------------------------------------------------------------------ start / stop

find_guest() {
    local c
    for c in "${LVH_GUEST:-}" "$(dirname "$SELF")/guest/dvguest.elf" \
        "${top_builddir:-.}/tests/harness/guest/dvguest.elf"; do
        [ -n "$c" ] && [ -f "$c" ] && { readlink -f "$c"; return 0; }
    done
    return 1
}

check_tools() {
    local t
    [ "$(id -u)" = 0 ] || die "must run as root (namespaces, bind mounts)"
    for t in ip nsenter unshare tini virsh timeout mount "$LIBVIRTD" "$QEMU"; do
        command -v "$t" >/dev/null || die "$t not found: run scripts/deps.sh test"
    done
    getent passwd libvirt-qemu >/dev/null ||
        die "user libvirt-qemu missing (libvirt's qemu driver needs it): run scripts/deps.sh test"
}

write_env() {
    local dir=$1 id=$2 n=$3 t_ready=$4 t_probe=$5 k
    {
        echo "LV_N=$n"
        echo "LV_ID=$id"
        echo "LV_DIR=$dir"
        echo "LV_GUEST=$dir/guest.elf"
        echo "LV_SUBNET=$SUBNET_PREFIX.$id.0/24"
        echo "LV_SWITCH_NETNS=$(ns_of "$id" 0)"
        for k in $(seq 1 "$n"); do
            echo "LV_$k=$(uri_of "$dir" "$k")"
            echo "LV_${k}_P2P=qemu+tcp://$(addr_of "$id" "$k")/system"
            echo "LV_${k}_NAME=$(host_name "$id" "$k")"
            echo "LV_${k}_ADDR=$(addr_of "$id" "$k")"
            echo "LV_${k}_UUID=$(cat "$dir/h$k/uuid")"
            echo "LV_${k}_NETNS=$(ns_of "$id" "$k")"
            echo "LV_${k}_PID=$(cat "$dir/h$k/pid")"
        done
        echo "LV_READY_MS=$t_ready"
        echo "LV_PROBE_MS=$t_probe"
    } >"$dir/env.conf.tmp"
    # the shell form: values hold no single quote (paths are checked at start)
    sed -e "s/^\([A-Z0-9_]*\)=\(.*\)$/export \1='\2'/" "$dir/env.conf.tmp" >"$dir/env"
    mv "$dir/env.conf.tmp" "$dir/env.conf"   # its presence means "ready"
}

do_start() {
    case $# in 1 | 2) ;; *) die "usage: start DIR [N]" ;; esac
    local dir n=${2:-2} id guest t0 t1 t2 k pids failed
    case $n in 2 | 3) ;; *) die "N must be 2 or 3, not '$n'" ;; esac
    check_tools
    guest=$(find_guest) || die "test guest not found: build it (make check) or set LVH_GUEST"
    mkdir -p "$1"
    dir=$(readlink -f "$1")
    case $dir in *[!A-Za-z0-9/._-]*) die "DIR '$dir': use letters, digits and / . _ - only" ;; esac
    # sun_path holds 108 bytes including the final NUL
    [ ${#dir} -le 80 ] || die "DIR '$dir' is too long for unix socket paths (keep it under 80 bytes)"
    [ -e "$dir/id" ] && die "$dir already holds instance $(cat "$dir/id"): stop it first"

    id=$(alloc_id "$dir") || die "no free instance id in $RUNDIR (1..250 in use): see 'lvhosts.sh list'"
    echo "$id" >"$dir/id"
    echo "$n" >"$dir/n"
    # from here on, any failure tears down what exists (logs stay in DIR)
    trap 'trap - ERR; say "start failed at line $LINENO ($BASH_COMMAND): tearing down instance $id"
          do_stop "$dir" >/dev/null 2>&1 || true' ERR
    set -E

    t0=$(now_ms)
    cp "$guest" "$dir/guest.elf"
    net_up "$id" "$n"
    for k in $(seq 1 "$n"); do
        write_host_config "$dir" "$id" "$n" "$k"
        start_host "$dir" "$id" "$k"
    done
    for k in $(seq 1 "$n"); do wait_ready "$dir" "$k"; done
    t1=$(now_ms)

    # the first capabilities query probes the qemu binaries (over a second):
    # pay it here, all hosts at once, so no test does
    pids=""
    for k in $(seq 1 "$n"); do
        virsh_to 120 "$(uri_of "$dir" "$k")" capabilities >"$dir/h$k/capabilities.xml" 2>"$dir/h$k/probe.err" &
        pids="$pids $!"
    done
    failed=0
    for k in $pids; do wait "$k" || failed=1; done   # not a bare wait: the daemons are our children
    if [ "$failed" = 1 ]; then
        for k in $(seq 1 "$n"); do cat "$dir/h$k/probe.err" >&2; log_tail "$dir/h$k"; done
        false
    fi
    t2=$(now_ms)
    save_capcache "$dir/h1/cache/qemu/capabilities" || true

    write_env "$dir" "$id" "$n" $((t1 - t0)) $((t2 - t1))
    trap - ERR
    say "instance $id: $n hosts on $SUBNET_PREFIX.$id.0/24 ready in $((t1 - t0)) ms, capabilities in $((t2 - t1)) ms; env in $dir/env"
}

# Destroy guests, stop daemons, kill whatever is left in the instance's
# namespaces, delete them.  Every step tolerates "already gone".
do_stop() {
    local dir remove=0 id n k pid ns dom pids=""
    [ $# -ge 1 ] || die "usage: stop DIR [--remove]"
    dir=$1
    [ "${2:-}" = --remove ] && remove=1
    # the id is in DIR, or (DIR deleted by hand) in the registry
    id=$(cat "$dir/id" 2>/dev/null || id_of_dir "$dir")
    if [ -z "$id" ]; then
        [ "$remove" = 1 ] && rm -rf "$dir"
        return 0
    fi
    n=$(cat "$dir/n" 2>/dev/null || echo 3)

    for k in $(seq 1 "$n"); do
        pid=$(cat "$dir/h$k/pid" 2>/dev/null || true)
        alive "$pid" || continue
        for dom in $(virsh_to 5 "$(uri_of "$dir" "$k")" list --name 2>/dev/null || true); do
            virsh_to 10 "$(uri_of "$dir" "$k")" destroy "$dom" >/dev/null 2>&1 || true
        done
        kill -TERM "$pid" 2>/dev/null || true   # tini passes it on to libvirtd
        pids="$pids $pid"
    done
    # shellcheck disable=SC2086
    wait_gone 10 $pids || true

    # anything still inside one of our namespaces (a daemon that ignored
    # TERM, a qemu libvirt left behind) is killed by pid
    for k in $(seq 0 3); do
        ns=$(ns_of "$id" "$k")
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
            # shellcheck disable=SC2086
            wait_gone 10 $pids || say "pids$pids of $ns would not die"
        fi
        ip netns del "$ns" 2>/dev/null || true   # takes its veth ends with it
    done
    rm -f "$dir/env" "$dir/env.conf" "$dir/id"
    rm -rf "${RUNDIR:?}/$id"
    [ "$remove" = 1 ] && rm -rf "$dir"
    return 0
}

do_guest_xml() {
    case $# in 2 | 3) ;; *) die "usage: guest-xml NAME MEM_MIB [CMDLINE]" ;; esac
    local name=$1 mem=$2 cmdline=${3:-wss=16} kernel serial
    case $name in '' | *[!A-Za-z0-9_.-]*) die "guest name '$name': use letters, digits, _ . - only" ;; esac
    case $mem in '' | *[!0-9]*) die "MEM_MIB '$mem' is not a number" ;; esac
    if [ "$mem" -lt 8 ] || [ "$mem" -gt 4096 ]; then die "MEM_MIB $mem out of range 8..4096"; fi
    case $cmdline in *[!A-Za-z0-9=\ ._-]*) die "CMDLINE '$cmdline': use words like wss=16 delay=0 fill=1" ;; esac
    kernel=${LV_GUEST:-}
    [ -n "$kernel" ] || kernel=$(find_guest) || die "test guest not found: set LV_GUEST (source DIR/env)"
    # the serial console goes to a file next to the hosts, when we know where
    if [ -n "${LV_DIR:-}" ]; then
        serial="<serial type='file'><source path='$LV_DIR/$name.serial' append='on'/><target port='0'/></serial>"
    else
        serial="<serial type='null'><target port='0'/></serial>"
    fi
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <cmdline>$cmdline</cmdline>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QEMU</emulator>
    <controller type='usb' model='none'/>
    $serial
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

do_link() {
    [ $# -eq 3 ] || die "usage: link DIR K up|down"
    local id
    id=$(cat "$1/id" 2>/dev/null) || die "$1 holds no running instance"
    case $3 in up | down) ;; *) die "link state must be up or down, not '$3'" ;; esac
    ip -n "$(ns_of "$id" 0)" link set "$(switch_if "$id" "$2")" "$3"
    # forget neighbours that failed while the link was down: the hosts would
    # otherwise answer "no route to host" for a few more seconds
    if [ "$3" = up ]; then
        local k
        for k in $(seq 1 "$(cat "$1/n")"); do
            ip -n "$(ns_of "$id" "$k")" neigh flush dev "$(host_if "$id" "$k")" 2>/dev/null || true
        done
    fi
}

# The libvirtd of host K (tini's child), from its own pid file; "" when none.
daemon_pid() {
    local pid
    pid=$(cat "$1/h$2/run/libvirtd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ]; then
        echo "$pid"
    fi
}

check_host() {
    local dir=$1 k=$2
    [ -e "$dir/id" ] || die "$dir holds no running instance"
    case $k in '' | *[!0-9]*) die "host '$k' is not a number" ;; esac
    { [ "$k" -ge 1 ] && [ "$k" -le "$(cat "$dir/n")" ]; } || die "no host $k in $dir"
}

# SIGKILL host K's libvirtd; tini exits with it and the qemu processes it
# started (re-parented, their own sessions) run on.
daemon_kill() {
    local dir=$1 k=$2 pid tini
    pid=$(daemon_pid "$dir" "$k")
    tini=$(cat "$dir/h$k/pid" 2>/dev/null || true)
    [ -n "$pid" ] || die "host $k has no libvirtd running"
    kill -KILL "$pid"
    wait_gone 10 "$pid" ${tini:+"$tini"} || die "host $k: libvirtd $pid would not die"
}

# Start host K's libvirtd again on the same directories: it finds its
# persistent definitions and reconnects to the guests that still run.
daemon_start() {
    local dir=$1 k=$2 id
    id=$(cat "$dir/id")
    [ -z "$(daemon_pid "$dir" "$k")" ] || die "host $k's libvirtd still runs"
    rm -f "$dir/h$k/run/libvirtd.pid"
    start_host "$dir" "$id" "$k"
    wait_ready "$dir" "$k" || die "host $k: libvirtd did not come back"
    # programs read the tini pid from env.conf (the watchdog, lvh_pid_alive)
    sed -i -e "s/^LV_${k}_PID=.*/LV_${k}_PID=$(cat "$dir/h$k/pid")/" "$dir/env.conf"
    sed -i -e "s/^export LV_${k}_PID=.*/export LV_${k}_PID='$(cat "$dir/h$k/pid")'/" "$dir/env"
}

do_daemon() {
    [ $# -eq 3 ] || die "usage: daemon DIR K kill|stop|cont|start|restart"
    local dir pid
    dir=$(readlink -f "$1")
    check_host "$dir" "$2"
    case $3 in
        kill) daemon_kill "$dir" "$2" ;;
        stop | cont)
            pid=$(daemon_pid "$dir" "$2")
            [ -n "$pid" ] || die "host $2 has no libvirtd running"
            kill "-${3^^}" "$pid" ;;
        start) daemon_start "$dir" "$2" ;;
        restart) daemon_kill "$dir" "$2"; daemon_start "$dir" "$2" ;;
        *) die "daemon: kill, stop, cont, start or restart, not '$3'" ;;
    esac
}

# A power cut: every process of host K (libvirtd, tini, its qemu processes;
# all of them live in its network namespace) gets SIGKILL.  Definitions
# stay on its disk; its runtime state (/run/libvirt: the status files of the
# guests it ran) is lost, as /run is after a real power cut, so a libvirtd
# booted again never lists a dead guest as active while it looks for its qemu.
# `daemon DIR K start` boots the host again.
do_poweroff() {
    [ $# -eq 2 ] || die "usage: poweroff DIR K"
    local dir id pids
    dir=$(readlink -f "$1")
    check_host "$dir" "$2"
    id=$(cat "$dir/id")
    pids=$(ip netns pids "$(ns_of "$id" "$2")" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    # a stopped daemon must die too: SIGKILL works on stopped processes
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    wait_gone 10 $pids || die "host $2: pids$pids would not die"
    find "$dir/h$2/run" -mindepth 1 -delete
}

do_list() {
    local d id
    for d in "$RUNDIR"/[0-9]*; do
        [ -d "$d" ] || continue
        id=${d##*/}
        printf '%s\t%s\n' "$id" "$(cat "$d/dir" 2>/dev/null || echo '?')"
    done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
    start) do_start "$@" ;;
    stop) do_stop "$@" ;;
    guest-xml) do_guest_xml "$@" ;;
    link) do_link "$@" ;;
    daemon) do_daemon "$@" ;;
    poweroff) do_poweroff "$@" ;;
    list) do_list ;;
    _host) host_main "$@" ;;
    *) die "usage: lvhosts.sh start DIR [N] | stop DIR [--remove] | guest-xml NAME MEM_MIB [CMDLINE] | link DIR K up|down | daemon DIR K kill|stop|cont|start|restart | poweroff DIR K | list" ;;
esac
