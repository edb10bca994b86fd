#!/bin/bash
# test_metrics_agent.sh - droverd's GET /metrics (agent.metrics_listen) on
# libvirt's test driver and a real SQLite file, scraped with curl: the
# Prometheus text format, a heartbeat counter that moves between two
# scrapes, heartbeat failures counted by reason (the database write-locked
# by another process; a libvirt nobody serves), 404/405, a port already in
# use, and the endpoint gone after SIGTERM.
set -u

top_builddir=${top_builddir:-$(pwd)}
droverd=$top_builddir/cmd/droverd

n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
diag() { echo "# $*"; }
bail() { echo "Bail out! $*"; cleanup; exit 99; }

[ -x "$droverd" ] || { echo "Bail out! $droverd is not built"; exit 99; }
command -v curl >/dev/null || { echo "Bail out! curl is missing (scripts/deps.sh test)"; exit 99; }
command -v sqlite3 >/dev/null || { echo "Bail out! sqlite3 is missing (scripts/deps.sh test)"; exit 99; }

tmp=$(mktemp -d /tmp/dv-metrics.XXXXXX) || { echo "Bail out! mktemp"; exit 99; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

write_conf() {   # write_conf FILE HOST LIBVIRT_URI LISTEN
    cat >"$1" <<CONF
servicegroup = {
  driver = "db"; report_interval = 1; service_down_time = 3;
  db = { path = "$tmp/drover.db"; busy_timeout_ms = 200; };
};
agent = { host = "$2"; libvirt_uri = "$3"; libvirt_timeout_ms = 2000; metrics_listen = "$4"; };
log = { level = "info"; target = "stderr"; };
CONF
}

scrape() { curl -sS --max-time 5 "http://$1/metrics"; }
# value METRIC_LINE_PREFIX FILE: the number after the series name
value() { awk -v k="$1" 'index($0, k " ") == 1 { print $2 }' "$2"; }

# start_agent NAME URI: picks a free loopback port (retrying if one is taken
# between the choice and the bind), waits until /metrics answers; sets $addr
start_agent() {
    local name=$1 uri=$2 try port t
    for try in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 30000))
        addr=127.0.0.1:$port
        write_conf "$tmp/$name.conf" "$name" "$uri" "$addr"
        "$droverd" -c "$tmp/$name.conf" 2>"$tmp/$name.log" &
        pid=$!
        for t in $(seq 1 100); do
            curl -s -o /dev/null --max-time 2 "http://$addr/metrics" && { pids+=("$pid"); return 0; }
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        grep -q "Address already in use" "$tmp/$name.log" || break
    done
    sed 's/^/#   /' "$tmp/$name.log"
    return 1
}

# ---------------------------------------------------------------- a healthy agent
start_agent m1 test:///default || bail "droverd with metrics_listen did not serve /metrics"
ok 0 "droverd serves GET /metrics on $addr"
a1=$addr p1=$pid
curl -sS -D "$tmp/headers" -o "$tmp/s1" --max-time 5 "http://$a1/metrics"
ok $? "  scraped with curl"
grep -qi "^content-type: text/plain; version=0.0.4" "$tmp/headers"; ok $? "  Content-Type is the text format 0.0.4"
grep -qx "# TYPE drover_agent_heartbeats_total counter" "$tmp/s1"; ok $? "  # TYPE line of the heartbeat counter"
grep -q "^# HELP drover_agent_heartbeats_total " "$tmp/s1"; ok $? "  # HELP line of the heartbeat counter"
grep -q "^drover_agent_info{host=\"m1\",group=\"compute\",driver=\"db\",version=\"" "$tmp/s1"
ok $? "  drover_agent_info names the host, group and driver"
# wait for the first heartbeat, then two more
for t in $(seq 1 50); do
    scrape "$a1" >"$tmp/s1"
    [ "$(value drover_agent_heartbeats_total "$tmp/s1")" != 0 ] && break
    sleep 0.1
done
b1=$(value drover_agent_heartbeats_total "$tmp/s1")
sleep 2.5
scrape "$a1" >"$tmp/s2"
b2=$(value drover_agent_heartbeats_total "$tmp/s2")
[ -n "$b1" ] && [ -n "$b2" ] && [ "$b2" -gt "$b1" ]
ok $? "the heartbeat counter moves between two scrapes ($b1 -> $b2)"
[ "$(value drover_agent_publishing "$tmp/s2")" = 1 ]; ok $? "  drover_agent_publishing is 1"
last=$(value drover_agent_last_heartbeat_timestamp_seconds "$tmp/s2")
now=$(date +%s)
awk -v l="${last:-0}" -v n="$now" 'BEGIN { exit !(l > n - 10 && l <= n + 1) }'
ok $? "  the last heartbeat time is now ($last, now $now)"
[ "$(value 'drover_agent_heartbeat_failures_total{reason="backend"}' "$tmp/s2")" = 0 ]
ok $? "  no backend failures yet"

# another process holds the database's write lock for 2.5 s: heartbeats fail
printf 'BEGIN IMMEDIATE;\n.shell sleep 2.5\nCOMMIT;\n' | sqlite3 "$tmp/drover.db"
scrape "$a1" >"$tmp/s3"
f=$(value 'drover_agent_heartbeat_failures_total{reason="backend"}' "$tmp/s3")
[ -n "$f" ] && [ "$f" -gt 0 ]; ok $? "a write-locked database counts backend failures ($f)"
for t in $(seq 1 100); do      # the next tick after the lock is gone publishes again
    scrape "$a1" >"$tmp/s3"
    [ "$(value drover_agent_publishing "$tmp/s3")" = 1 ] && break
    sleep 0.1
done
[ "$(value drover_agent_publishing "$tmp/s3")" = 1 ]; ok $? "  and publishing resumed afterwards"

# ---------------------------------------------------------------- what else the endpoint says
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$a1/other")
[ "$code" = 404 ]; ok $? "another path is 404 ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -d x=1 "http://$a1/metrics")
[ "$code" = 405 ]; ok $? "POST is 405 ($code)"
write_conf "$tmp/dup.conf" m-dup test:///default "$a1"
"$droverd" -c "$tmp/dup.conf" 2>"$tmp/dup.log"
rc=$?
[ $rc -eq 1 ]; ok $? "a second droverd on the same address exits 1 ($rc)"
grep -q "cannot serve metrics on $a1: Address already in use" "$tmp/dup.log"; ok $? "  and says why"

# ---------------------------------------------------------------- libvirt away
start_agent m2 "qemu+unix:///system?socket=$tmp/nobody-listens-here" ||
    bail "the agent without libvirt did not serve /metrics"
a2=$addr
sleep 2.5
scrape "$a2" >"$tmp/l1"
f=$(value 'drover_agent_libvirt_read_failures_total{kind="error"}' "$tmp/l1")
[ -n "$f" ] && [ "$f" -gt 0 ]; ok $? "a libvirt nobody serves counts libvirt read errors ($f)"
f=$(value 'drover_agent_heartbeat_failures_total{reason="libvirt"}' "$tmp/l1")
[ -n "$f" ] && [ "$f" -gt 0 ]; ok $? "  and heartbeat failures for libvirt ($f)"
[ "$(value drover_agent_heartbeats_total "$tmp/l1")" = 0 ]; ok $? "  and no heartbeat"
[ "$(value drover_agent_publishing "$tmp/l1")" = 0 ]; ok $? "  drover_agent_publishing is 0"

# ---------------------------------------------------------------- libvirt hung
silent=$top_builddir/tests/harness/silent_socket
[ -x "$silent" ] || bail "$silent is not built"
"$silent" "$tmp/silent.sock" >"$tmp/silent.out" &
pids+=("$!")
for t in $(seq 100); do grep -q ready "$tmp/silent.out" 2>/dev/null && break; sleep 0.02; done
grep -q ready "$tmp/silent.out" || bail "the silent socket did not come up"
start_agent m3 "qemu+unix:///system?socket=$tmp/silent.sock" ||
    bail "the agent with a hung libvirt did not serve /metrics"
a3=$addr
for t in $(seq 1 100); do      # the first read gives up after libvirt_timeout_ms (2 s)
    scrape "$a3" >"$tmp/h1"
    f=$(value 'drover_agent_libvirt_read_failures_total{kind="timeout"}' "$tmp/h1")
    [ -n "$f" ] && [ "$f" -gt 0 ] && break
    sleep 0.1
done
[ -n "$f" ] && [ "$f" -gt 0 ]; ok $? "a libvirt that never answers counts read timeouts ($f)"
[ "$(value 'drover_agent_libvirt_read_failures_total{kind="error"}' "$tmp/h1")" = 0 ]
ok $? "  and no errors (it did not answer at all)"
[ "$(value drover_agent_heartbeats_total "$tmp/h1")" = 0 ]; ok $? "  and no heartbeat"

# ---------------------------------------------------------------- SIGTERM
kill -TERM "$p1"
wait "$p1"
ok $? "SIGTERM: droverd exits 0"
curl -s -o /dev/null --max-time 2 "http://$a1/metrics"
[ $? -ne 0 ]; ok $? "  and /metrics is gone"

if [ $failed -ne 0 ]; then
    for f in "$tmp"/*.log; do diag "--- $f"; sed 's/^/#   /' "$f"; done
fi
echo "1..$n"
[ $failed -eq 0 ]
