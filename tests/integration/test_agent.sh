#!/bin/bash
# test_agent.sh - droverd end to end on libvirt's test driver and a real
# SQLite file, checked through the drover CLI: the member comes UP, a
# kill -9 makes it DOWN within service_down_time (+ polling), SIGTERM makes
# it leave at once; --once, bad arguments and a bad libvirt URI.
set -u

top_builddir=${top_builddir:-$(pwd)}
droverd=$top_builddir/cmd/droverd
drover=$top_builddir/cmd/drover

n=0 failed=0
ok() {     # ok CONDITION-STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
diag() { echo "# $*"; }
bail() { echo "Bail out! $*"; cleanup; exit 99; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for b in "$droverd" "$drover"; do
    [ -x "$b" ] || { echo "Bail out! $b is not built"; exit 99; }
done

tmp=$(mktemp -d /tmp/dv-agent.XXXXXX) || bail "mktemp"
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

conf=$tmp/drover.conf
cat >"$conf" <<EOF
servicegroup = {
  driver = "db";
  report_interval = 1;
  service_down_time = 3;
  db = { path = "$tmp/drover.db"; busy_timeout_ms = 200; };
};
agent = {
  host = "agent-h1";
  group = "compute";
  libvirt_uri = "test:///default";
  migration_uri = "qemu+tcp://agent-h1/system";
  libvirt_timeout_ms = 2000;
};
log = { level = "info"; target = "stderr"; };
EOF

is_up() { "$drover" -c "$conf" service is-up "$1" >/dev/null 2>&1; }
last_seen() { "$drover" -c "$conf" service show "$1" --json 2>/dev/null | grep -o '"last_seen_ms": [0-9]*'; }
state_of() { "$drover" -c "$conf" service is-up "$1" 2>/dev/null; }

# wait_state HOST UP|DOWN|GONE LIMIT_MS: poll every 50 ms; prints the ms it took
wait_state() {
    local host=$1 want=$2 limit=$3 t0 s
    t0=$(now_ms)
    while :; do
        s=$(state_of "$host")
        case $want in
            GONE) [ "$s" != UP ] && ! is_up "$host" && break ;;   # left, or DOWN
            *) [ "$s" = "$want" ] && break ;;
        esac
        [ $(( $(now_ms) - t0 )) -ge "$limit" ] && { echo -1; return 1; }
        sleep 0.05
    done
    echo $(( $(now_ms) - t0 ))
}

# wait_log PATTERN LOG LIMIT_MS: until LOG has a line matching PATTERN, at
# most LIMIT_MS from t0 (the caller's)
wait_log() {
    until grep -q "$1" "$2" || [ $(( $(now_ms) - t0 )) -ge "$3" ]; do sleep 0.05; done
}

start_agent() {   # start_agent LOG [extra droverd args]
    local log=$1
    shift
    "$droverd" -c "$conf" "$@" 2>"$log" &
    pid=$!
}

# ---------------------------------------------------------------- bad input
"$droverd" --no-such-option >/dev/null 2>"$tmp/err"
ok $(( $? != 2 )) "an unknown option exits 2"
grep -q "unknown option '--no-such-option'" "$tmp/err"; ok $? "  and says which"
grep -q "^Usage: droverd" "$tmp/err"; ok $? "  and shows the usage"
"$droverd" -c "$tmp/missing.conf" --once >/dev/null 2>"$tmp/err"
ok $(( $? != 2 )) "a missing config file exits 2"
grep -q "missing.conf" "$tmp/err"; ok $? "  and names the file"
"$droverd" --help | grep -q -- "--libvirt-uri URI"; ok $? "--help describes the options"
"$droverd" --version | grep -qx "droverd [0-9.]*"; ok $? "--version prints the version"

# ---------------------------------------------------------------- --once
"$droverd" -c "$conf" --once 2>"$tmp/once.log"
ok $? "--once on test:///default exits 0"
ok "$(is_up agent-h1; echo $?)" "  and the member is UP"
"$drover" -c "$conf" service list --json >"$tmp/list.json"
grep -q '"hypervisor_type": "TEST"' "$tmp/list.json"; ok $? "  its report says hypervisor TEST"
grep -q '"migration_uri": "qemu+tcp://agent-h1/system"' "$tmp/list.json"
ok $? "  and carries the configured migration URI"
grep -q '"name": "test"' "$tmp/list.json"; ok $? "  and lists the test domain"

nowhere="qemu+unix:///system?socket=$tmp/nobody-listens-here"
"$droverd" -c "$conf" --once --host agent-h2 --libvirt-uri "$nowhere" 2>"$tmp/bad.log"
ok $(( $? != 1 )) "--once with a libvirt URI nobody serves exits 1"
grep -qF "not publishing liveness: virConnectOpen on $nowhere" "$tmp/bad.log"
ok $? "  and logs why, naming the URI"
s=$("$drover" -c "$conf" service is-up agent-h2 2>/dev/null)
ok $(( $? == 0 )) "  and agent-h2 is not UP (${s:-not a member})"

# ---------------------------------------------------------------- UP, then kill -9
start_agent "$tmp/run1.log" --host agent-k9
ms=$(wait_state agent-k9 UP 5000) || bail "agent-k9 did not come UP within 5 s"
ok 0 "a running droverd makes its member UP (after $ms ms)"
# a later heartbeat moves last_seen; waited for (a loaded machine may delay a
# tick), since what is claimed is that it heartbeats, not the scheduler's timing
first=$(last_seen agent-k9)
t0=$(now_ms)
second=$first
while [ "$second" = "$first" ] && [ $(( $(now_ms) - t0 )) -lt 10000 ]; do
    sleep 0.1
    second=$(last_seen agent-k9)
done
[ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ]
ok $? "it heartbeats again ($first -> $second after $(( $(now_ms) - t0 )) ms, report_interval 1 s)"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=
ms=$(wait_state agent-k9 DOWN 8000)
ok $? "after kill -9 the member turns DOWN"
diag "DOWN $ms ms after kill -9 (service_down_time 3 s, report_interval 1 s)"
[ "$ms" -ge 0 ] && [ "$ms" -le 4000 ]
ok $? "  within 4 s ($ms ms)"

# ---------------------------------------------------------------- backend trouble, SIGHUP
command -v sqlite3 >/dev/null || bail "the sqlite3 command is missing (scripts/deps.sh test)"
start_agent "$tmp/run4.log" --host agent-b
wait_state agent-b UP 5000 >/dev/null || bail "agent-b did not come UP within 5 s"
# another process holds the database's write lock for 2.5 s (busy_timeout 200 ms);
# it waits its turn (.timeout) should droverd be writing at that very moment
printf '.timeout 5000\nBEGIN IMMEDIATE;\n.shell sleep 2.5\nCOMMIT;\n' | sqlite3 "$tmp/drover.db"
ok $? "another writer held the database locked for 2.5 s"
# the next heartbeat after the lock is gone resumes publishing: waited for
t0=$(now_ms)
wait_log "liveness publishing resumed" "$tmp/run4.log" 10000
kill -0 "$pid" 2>/dev/null
ok $? "droverd survives heartbeats that fail"
grep -q "liveness publishing stopped: heartbeat of agent-b in group compute: .*locked" "$tmp/run4.log"
ok $? "  and logs why publishing stopped"
grep -q "liveness publishing resumed" "$tmp/run4.log"
ok $? "  and that it resumed once the lock was gone ($(( $(now_ms) - t0 )) ms after)"
ok "$(is_up agent-b; echo $?)" "  the member is UP again"
grep -E "publishing (stopped|resumed)" "$tmp/run4.log" | sed 's/^/#   /'
kill -HUP "$pid"
t0=$(now_ms)
wait_log "signal 1 (Hangup) ignored" "$tmp/run4.log" 5000
kill -0 "$pid" 2>/dev/null
ok $? "SIGHUP does not stop droverd"
grep -q "signal 1 (Hangup) ignored" "$tmp/run4.log"; ok $? "  it says it ignored it"
kill -TERM "$pid"; wait "$pid"; pid=

# ---------------------------------------------------------------- UP, then SIGTERM
# stop_up_agent SIGNAL LOG HOST: an agent for HOST (its log in LOG), UP,
# then sent SIGNAL; its exit status in rc.
stop_up_agent() {
    start_agent "$2" --host "$3"
    wait_state "$3" UP 5000 >/dev/null || bail "$3 did not come UP within 5 s"
    kill "-$1" "$pid"
    wait "$pid"
    rc=$?
    pid=
}

stop_up_agent TERM "$tmp/run2.log" agent-t
ok $rc "SIGTERM: droverd exits 0"
ms=$(wait_state agent-t GONE 0)
ok $? "  and the member is gone (or DOWN) at once: $(state_of agent-t || echo not a member)"
grep -q "left group compute" "$tmp/run2.log"; ok $? "  and it logged that it left"
grep -q "SIGTERM received" "$tmp/run2.log"; ok $? "  and why"

stop_up_agent INT "$tmp/run3.log" agent-i
ok $rc "SIGINT: droverd exits 0"
wait_state agent-i GONE 0 >/dev/null
ok $? "  and the member is gone (or DOWN)"

if [ $failed -ne 0 ]; then
    for f in "$tmp"/*.log; do diag "--- $f"; sed 's/^/#   /' "$f"; done
fi
echo "1..$n"
[ $failed -eq 0 ]
