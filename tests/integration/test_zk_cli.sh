#!/bin/bash
# test_zk_cli.sh - the drover command on the zk driver, against a real ZooKeeper
# (tests/harness/zookeeper.sh) and a real agent (cmd/droverd on libvirt's test driver):
# is-up says UP (exit 0); with ZooKeeper killed it says UNKNOWN (exit 3) and
# `service list` fails UNREACHABLE (exit 3: the admin state lives in the zk
# state store), never DOWN; with ZooKeeper back the same
# agent is UP again; a stopped agent is DOWN (exit 1).  Prints TAP.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}

# shellcheck source=tests/harness/lib.sh
. "$top_srcdir/tests/harness/lib.sh"
dv_zk_cli_setup zk-cli
diag "ZooKeeper at $hosts"
conf=$tmp/drover.conf
{ dv_conf_zk_servicegroup "$hosts"; cat <<EOF
agent = { group = "compute"; };
state = { path = "$tmp/state.db"; };
EOF
} > "$conf"

dv_agent_start "$droverd" "$conf" cli1 "$tmp/agent.log"

is_up() { "$drover" -c "$conf" service is-up "$1" 2> "$tmp/err"; }

got=$(is_up cli1); rc=$?
ok $((rc != 0)) "is-up of a live agent exits 0 (got $rc)"
[[ $got == UP ]]; ok $? "and prints UP (got \"$got\")"
got=$("$drover" -c "$conf" service list 2>&1)
grep -Eq '^cli1 +UP ' <<< "$got"; ok $? "service list shows cli1 UP"
is_up nobody > /dev/null; rc=$?
ok $((rc == 0 || rc == 3)) "is-up of a host that never joined fails, and not as UNKNOWN (exit $rc)"

"$harness" kill "$zkdir" 1 || bail "cannot kill ZooKeeper"
t0=$(dv_now_ms)
got=$(is_up cli1); rc=$?
ok $((rc != 3)) "ZooKeeper killed: is-up exits 3 (got $rc, after $(($(dv_now_ms) - t0)) ms)"
[[ $got == UNKNOWN ]]; ok $? "and prints UNKNOWN, not DOWN (got \"$got\")"
# the admin state lives in the zk state store, on the same ensemble: the
# listing fails (exit 3) rather than show members without it
got=$("$drover" -c "$conf" service list 2>&1); rc=$?
ok $((rc != 3)) "service list fails UNREACHABLE, exit 3 (got $rc)"
grep -q 'state store' <<< "$got"; ok $? "saying the state store cannot be reached"
! grep -Eq ' DOWN ' <<< "$got"; ok $? "and nobody DOWN"

"$harness" relaunch "$zkdir" 1 > /dev/null || bail "cannot relaunch ZooKeeper"
t0=$(dv_now_ms) rc=9 downs=0
while (($(dv_now_ms) - t0 < 15000)); do
    got=$(is_up cli1); rc=$?
    [[ $got == DOWN ]] && downs=$((downs + 1))
    ((rc == 0)) && break
    sleep 0.1
done
ok $((rc != 0)) "ZooKeeper back: cli1 UP again after $(($(dv_now_ms) - t0)) ms, same agent"
ok $((downs != 0)) "never DOWN on the way ($downs)"
kill -0 "$agent" 2> /dev/null; ok $? "the agent process was not restarted"

kill -STOP "$agent"
t0=$(dv_now_ms) rc=9
while (($(dv_now_ms) - t0 < 15000)); do
    got=$(is_up cli1); rc=$?
    ((rc == 1)) && break
    sleep 0.1
done
ok $((rc != 1)) "agent stopped: is-up exits 1 after $(($(dv_now_ms) - t0)) ms (session 2000 ms)"
[[ $got == DOWN ]]; ok $? "and prints DOWN"
kill -CONT "$agent"

echo "1..$n"
((failed == 0))
