#!/bin/bash
# test_agent_hung.sh - a hung libvirt stops droverd's heartbeat, for real.
#
#  1. An endpoint that never answers (a unix socket nobody reads): droverd
#     does not block, never heartbeats, logs why (URI and timeout), and still
#     stops at once on SIGTERM.
#  2. A real libvirtd (unprivileged, test driver over its unix socket) stopped
#     with SIGSTOP while droverd heartbeats: the heartbeats stop, the member
#     turns DOWN, the log says why; after SIGCONT publishing resumes.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
droverd=$top_builddir/cmd/droverd
drover=$top_builddir/cmd/drover
silent=$top_builddir/tests/harness/silent_socket
. "$top_srcdir/tests/harness/libvirtd_session.sh"
# shellcheck source=tests/harness/lib.sh
. "$top_srcdir/tests/harness/lib.sh"

n=0 failed=0

for b in "$droverd" "$drover" "$silent"; do
    [ -x "$b" ] || bail "$b is not built"
done

tmp=$(mktemp -d /tmp/dv-hung.XXXXXX) || bail "mktemp"
pid= spid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    lvs_stop
    rm -rf "$tmp"
}
trap cleanup EXIT

write_conf() {   # write_conf URI
    { dv_conf_db_servicegroup "$tmp/drover.db"
      cat <<EOF
agent = { host = "hung-h1"; libvirt_uri = "$1"; libvirt_timeout_ms = 500; };
log = { level = "info"; };
EOF
    } >"$tmp/drover.conf"
}
conf=$tmp/drover.conf
state() { "$drover" -c "$conf" service is-up hung-h1 2>/dev/null || true; }
last_seen() { "$drover" -c "$conf" service show hung-h1 --json 2>/dev/null | grep -o '"last_seen_ms": [0-9]*'; }
wait_state() {   # wait_state UP|DOWN LIMIT_MS; prints the ms it took
    local t0
    t0=$(dv_now_ms)
    until [ "$(state)" = "$1" ]; do
        [ $(( $(dv_now_ms) - t0 )) -ge "$2" ] && { echo -1; return 1; }
        sleep 0.05
    done
    echo $(( $(dv_now_ms) - t0 ))
}

# ---------------------------------------------------------------- 1. never answers
sock=$tmp/silent.sock
"$silent" "$sock" >"$tmp/silent.out" &
spid=$!
for _ in $(seq 100); do grep -q ready "$tmp/silent.out" 2>/dev/null && break; sleep 0.02; done
grep -q ready "$tmp/silent.out" || bail "the silent socket did not come up"
uri="qemu+unix:///system?socket=$sock"
write_conf "$uri"

t0=$(dv_now_ms)
"$droverd" -c "$conf" --once 2>"$tmp/once.log"
rc=$?
took=$(( $(dv_now_ms) - t0 ))
ok $(( rc != 1 )) "--once against a libvirt that never answers exits 1"
diag "--once gave up after $took ms (libvirt_timeout_ms 500)"
ok $(( took >= 10000 )) "  without hanging ($took ms)"
grep -qF "not publishing liveness: libvirt at $uri did not answer within 500 ms" "$tmp/once.log"
ok $? "  and logs why, with the URI and the timeout"

"$droverd" -c "$conf" 2>"$tmp/silent.log" &
pid=$!
sleep 3.2
kill -0 "$pid" 2>/dev/null
ok $? "droverd keeps running while libvirt does not answer"
s=$(state)
[ "$s" != UP ]
ok $? "  and its member does not show UP (${s:-not a member})"
[ "$(state)" != UP ] && ! "$drover" -c "$conf" service list --json 2>/dev/null | grep -q '"hung-h1"'
ok $? "  it never even joined the group"
grep -q "did not answer within 500 ms" "$tmp/silent.log"
ok $? "  the log says libvirt did not answer within 500 ms"
c=$(grep -c "warning" "$tmp/silent.log")
ok $(( c > 2 )) "  once, not on every tick ($c warning lines in 3 s)"
t0=$(dv_now_ms)
kill -TERM "$pid"
wait "$pid"
rc=$?
took=$(( $(dv_now_ms) - t0 ))
pid=
ok $rc "SIGTERM while a libvirt call is stuck: exit 0"
ok $(( took >= 2000 )) "  promptly ($took ms)"
kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=

# ---------------------------------------------------------------- 2. real libvirtd, SIGSTOP
chmod 0711 "$tmp"     # the unprivileged libvirtd lives below it
lvs_start "$tmp/lv" || bail "cannot start an unprivileged libvirtd"
write_conf "$LVS_URI"
"$droverd" -c "$conf" 2>"$tmp/stop.log" &
pid=$!
ms=$(wait_state UP 5000) || bail "droverd on $LVS_URI did not come UP within 5 s"
ok 0 "droverd on a real libvirtd ($LVS_URI) is UP after $ms ms"

kill -STOP "$LVS_PID"
t_stop=$(dv_now_ms)
ms=$(wait_state DOWN 10000)
ok $? "libvirtd stopped (SIGSTOP): the member turns DOWN"
diag "DOWN $ms ms after SIGSTOP (service_down_time 3 s, libvirt_timeout_ms 500)"
a=$(last_seen)
sleep 2.1
b=$(last_seen)
[ -n "$a" ] && [ "$a" = "$b" ]
ok $? "  no heartbeat while libvirtd is stopped ($a, 2 s later $b)"
grep -qF "liveness publishing stopped: libvirt at $LVS_URI did not answer within 500 ms" "$tmp/stop.log"
ok $? "  the log says publishing stopped because libvirt did not answer within 500 ms"
diag "stopped for $(( $(dv_now_ms) - t_stop )) ms"

kill -CONT "$LVS_PID"
ms=$(wait_state UP 15000)
ok $? "libvirtd continued (SIGCONT): the member is UP again"
diag "UP again $ms ms after SIGCONT"
grep -q "liveness publishing resumed" "$tmp/stop.log"
ok $? "  and the log says publishing resumed"

# ---------------------------------------------------------------- 3. libvirtd dies, comes back
kill -KILL "$LVS_PID"; wait "$LVS_PID" 2>/dev/null; LVS_PID=
ms=$(wait_state DOWN 10000)
ok $? "libvirtd killed: the member turns DOWN ($ms ms)"
grep -qF "liveness publishing stopped: " "$tmp/stop.log" &&
    [ "$(grep -c "liveness publishing stopped: " "$tmp/stop.log")" -ge 2 ]
ok $? "  and the log says publishing stopped again"
lvs_start "$tmp/lv" || bail "cannot restart the unprivileged libvirtd"
ms=$(wait_state UP 10000)
ok $? "libvirtd restarted: droverd connects again and the member is UP ($ms ms)"
[ "$(grep -c "liveness publishing resumed" "$tmp/stop.log")" -ge 2 ]
ok $? "  and the log says publishing resumed again"

kill -TERM "$pid"
wait "$pid"
ok $? "droverd exits 0 on SIGTERM"
pid=
diag "droverd's log while libvirtd was stopped, continued, killed and restarted:"
sed 's/^/#   /' "$tmp/stop.log"

if [ $failed -ne 0 ]; then
    for f in "$tmp"/*.log; do diag "--- $f"; sed 's/^/#   /' "$f"; done
fi
echo "1..$n"
[ $failed -eq 0 ]
