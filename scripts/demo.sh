#!/bin/bash
# scripts/demo.sh - drover's main job on the embedded default, from a fresh clone.
#
# Installs what is missing (scripts/deps.sh), builds drover, starts two real
# local libvirt hosts (libvirtd + qemu/TCG, each in its own namespaces, by
# tests/harness/lvhosts.sh) with a guest on the first, runs one agent
# (droverd) per host on the SQLite backend, and prints what `drover` sees:
# the liveness table and the host reports.  Then it kills one agent with
# SIGKILL and shows that host going DOWN, brings it back, migrates the guest
# live to the second host with `drover migrate` (a progress bar on a
# terminal, plain lines otherwise), shows the migration record, drains the
# second host with `drover host drain`.  Then the controller (droverd
# --controller): an agent killed while its libvirt lives -> that host is
# drained live; a host powered off -> fenced (the fence command powers it off
# through the harness and confirms) -> its guests rebuilt on the other host
# from their definitions on the "shared storage".  It stops everything it
# started.
#
#   scripts/demo.sh [--keep] [--no-deps]
#     --keep:    leave the cluster running, print how to stop it
#     --no-deps: do not run scripts/deps.sh (everything is installed already)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$top/tests/harness/lib.sh"
build=$top/build/demo
keep=0
deps=1
for a in "$@"; do
    case $a in
        --keep) keep=1 ;;
        --no-deps) deps=0 ;;
        *) echo "usage: scripts/demo.sh [--keep] [--no-deps]" >&2; exit 2 ;;
    esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ $deps = 1 ]; then
    say "installing what is missing"
    "$top/scripts/deps.sh" test
fi

say "building drover"
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p "$build"
[ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" -q)
make -C "$build" -j"$(nproc)" >"$build/make.log" 2>&1 || { tail -30 "$build/make.log"; exit 1; }
make -C "$build" tests/harness/guest/dvguest.elf >>"$build/make.log" 2>&1
export LVH_GUEST=$build/tests/harness/guest/dvguest.elf

work=$(mktemp -d /tmp/dvdemo.XXXXXX)
metrics_port=$(( 29000 + $$ % 1000 ))
agents=()
ctl=
cleanup() {
    for p in "${agents[@]}" $ctl; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${agents[@]}" $ctl; do wait "$p" 2>/dev/null || true; done
    "$top/tests/harness/lvhosts.sh" stop "$work/lv" --remove >/dev/null 2>&1 || true
    rm -rf "$work"
}
if [ $keep = 0 ]; then trap cleanup EXIT; fi

say "starting two libvirt hosts (libvirtd + qemu TCG, private namespaces)"
"$top/tests/harness/lvhosts.sh" start "$work/lv" 2
# shellcheck disable=SC1091
. "$work/lv/env"
"$top/tests/harness/lvhosts.sh" guest-xml web1 128 "wss=8" >"$work/web1.xml"
virsh -q -c "$LV_1" create "$work/web1.xml" >/dev/null
echo "guest web1 (128 MiB) running on host 1"

say "one agent per host, liveness on SQLite ($work/drover.db)"
{ dv_conf_db_servicegroup "$work/drover.db"; cat <<CONF
state = { path = "$work/state.db"; };
# each agent keeps its guests' definitions here (the "shared storage")
agent = { definitions_dir = "$work/defs"; };
# the agents report the URIs peers use (on the hosts' private network);
# this controller reaches each host's libvirt through its local socket
controller = { libvirt_uris = [ "lvhost-1=$LV_1", "lvhost-2=$LV_2" ];
  metrics_listen = "127.0.0.1:$metrics_port"; };
# droverd --controller: act on a host 2 s after it is DOWN; of two hosts one
# may be down (0.5) before the breaker stops everything
evacuator = { enabled = true; interval = 1; grace = 2; max_down_fraction = 0.5;
  mode = "rebuild"; fence_command = [ "$work/fence.sh", "%h" ]; };
log = { level = "warning"; };
CONF
} >"$work/drover.conf"
# the fence: power the host off (the harness's power cut) and say so; exit 0
# tells drover the host is confirmed off
cat >"$work/fence.sh" <<FENCE
#!/bin/sh
echo "fence: powering \$1 off" >&2
exec "$top/tests/harness/lvhosts.sh" poweroff "$work/lv" "\${1#lvhost-}"
FENCE
chmod 0700 "$work/fence.sh"
mkdir -m 0700 "$work/defs"
export DROVER_CONF=$work/drover.conf
drover=$build/cmd/drover
start_agent() {
    local k=$1 uri_var=LV_$1 p2p_var=LV_${1}_P2P
    "$build/cmd/droverd" --host "lvhost-$k" --libvirt-uri "${!uri_var}" \
        --migration-uri "${!p2p_var}" 2>>"$work/agent-$k.log" &
    agents[k - 1]=$!
}
for k in 1 2; do start_agent "$k"; done
for _ in $(seq 1 50); do
    [ "$("$drover" --json service list 2>/dev/null | grep -c '"state": "UP"')" = 2 ] && break
    sleep 0.2
done

say "drover service list"
"$drover" service list
say "drover host list"
"$drover" host list
say "drover host show lvhost-1"
"$drover" host show lvhost-1 | sed -n '1,12p'
say "drover schedule web1 --explain   (where can web1 go? asks host 2's own libvirt)"
"$drover" schedule web1 --explain

say "kill -9 the agent of lvhost-2; it goes DOWN after service_down_time (3 s)"
{ kill -KILL "${agents[1]}"; wait "${agents[1]}"; } 2>/dev/null || true
t0=$(date +%s%N)
until [ "$("$drover" service is-up lvhost-2 2>/dev/null)" = DOWN ]; do sleep 0.1; done
echo "lvhost-2 DOWN after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$drover" service list

say "lvhost-2's agent comes back"
start_agent 2
until [ "$("$drover" service is-up lvhost-2 2>/dev/null)" = UP ]; do sleep 0.1; done
"$drover" service list

say "drover migrate web1 --to lvhost-2 --bandwidth 32   (live, peer-to-peer)"
"$drover" migrate web1 --to lvhost-2 --bandwidth 32
say "drover migration show web1"
"$drover" migration show web1

say "a second guest on lvhost-2, then: drover host drain lvhost-2"
"$top/tests/harness/lvhosts.sh" guest-xml web2 64 "wss=4" >"$work/web2.xml"
virsh -q -c "$LV_2" create "$work/web2.xml" >/dev/null
# both agents report every second: wait until lvhost-2's report lists web1 and web2
for _ in $(seq 1 50); do
    "$drover" --json host show lvhost-2 2>/dev/null | grep -q '"web2"' && break
    sleep 0.2
done
"$drover" host drain lvhost-2
say "drover service list   (lvhost-2 disabled: drain)"
"$drover" service list
say "drover migration list --all"
"$drover" migration list --all

say "the controller: droverd --controller (the evacuator lease, a sweep every second)"
"$drover" service enable lvhost-2 >/dev/null
"$build/cmd/droverd" --controller 2>>"$work/controller.log" &
ctl=$!
for _ in $(seq 1 50); do
    "$drover" --json evacuation status 2>/dev/null | grep -q '"epoch": [1-9]' && break
    sleep 0.2
done
"$drover" evacuation status
wait_for() {   # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local t=$1
    shift
    for _ in $(seq 1 $(( t * 5 ))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "gave up after $t s: $*" >&2
    return 1
}
runs_on() { virsh -q -c "$1" list --name | grep -qx "$2"; }
evacuation_in() { "$drover" --json evacuation list | grep -q "\"state\": \"$1\""; }
host_up() { [ "$("$drover" service is-up "$1" 2>/dev/null)" = UP ]; }
both_on_1() { runs_on "$LV_1" web1 && runs_on "$LV_1" web2; }

say "kill -9 lvhost-1's agent; its libvirt lives: the controller drains it live"
{ kill -KILL "${agents[0]}"; wait "${agents[0]}"; } 2>/dev/null || true
t0=$(date +%s%N)
wait_for 90 evacuation_in drained
echo "drained $(( ($(date +%s%N) - t0) / 1000000 )) ms after the agent died"
"$drover" evacuation list
"$drover" service list
echo "on lvhost-2 now: $(virsh -q -c "$LV_2" list --name | xargs)"

say "an operator enables lvhost-1 and restarts its agent"
start_agent 1
"$drover" service enable lvhost-1 >/dev/null
wait_for 30 host_up lvhost-1
"$drover" service list

say "power lvhost-2 off (its libvirtd and qemu killed): fenced, its guests rebuilt on lvhost-1"
{ kill -KILL "${agents[1]}"; wait "${agents[1]}"; } 2>/dev/null || true
"$top/tests/harness/lvhosts.sh" poweroff "$work/lv" 2
t0=$(date +%s%N)
wait_for 120 both_on_1
echo "web1 and web2 run on lvhost-1 $(( ($(date +%s%N) - t0) / 1000000 )) ms after the power cut"
wait_for 30 evacuation_in rebuilt
"$drover" evacuation list
id=$("$drover" --json evacuation list | sed -n 's/.*"id": "\(lvhost-2[^"]*\)".*/\1/p' | tail -1)
say "drover evacuation show $id"
"$drover" evacuation show "$id"
say "the controller's metrics (curl http://127.0.0.1:$metrics_port/metrics)"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^drover_(evacuations_total|evacuation_guests_total|fences_total|evacuator_leader|members)' || true

if [ $keep = 1 ]; then
    say "left running: DROVER_CONF=$work/drover.conf; stop with:"
    echo "  kill ${agents[*]} $ctl; $top/tests/harness/lvhosts.sh stop $work/lv --remove"
fi
