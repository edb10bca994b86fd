#!/bin/bash
# test_state_cli.sh - `drover state show|migrate` and `drover lease list` against a
# real ZooKeeper (tests/harness/zookeeper.sh) and a real agent (cmd/droverd on
# libvirt's test driver): admin state set the per-machine way (the sqlite state db)
# is carried into the zk store by `state migrate --to zk`, a second run changes
# nothing, and the zk store then shows it.  Prints TAP.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}

# shellcheck source=tests/harness/lib.sh
. "$top_srcdir/tests/harness/lib.sh"
dv_zk_cli_setup state-cli
conf=$tmp/drover.conf
write_conf() {   # write_conf BACKEND
    { dv_conf_zk_servicegroup "$hosts"; cat <<EOF
agent = { group = "compute"; };
state = { backend = "$1"; path = "$tmp/state.db"; };
EOF
    } > "$conf"
}
write_conf sqlite
dv_agent_start "$droverd" "$conf" st1 "$tmp/agent.log"

"$drover" -c "$conf" service disable st1 --reason "PSU swap" > /dev/null 2>&1
ok $? "service disable st1 (admin state in the per-machine state db)"
got=$("$drover" -c "$conf" state show 2>&1); rc=$?
ok $rc "state show exits 0 on the sqlite store"
grep -q '^backend:  sqlite' <<< "$got"; ok $? "it names the backend sqlite"
grep -q '^admin:    1 ' <<< "$got"; ok $? "and counts one member with admin state"
grep -q 'other machines will not see' <<< "$got"; ok $? "and warns that sqlite with the zk driver is not shared"

got=$("$drover" -c "$conf" --json state migrate --to zk 2>&1); rc=$?
ok $rc "state migrate --to zk exits 0"
grep -q '"admin": 1' <<< "$got"; ok $? "it carried one member's admin state ($(tr -d '\n ' <<< "$got"))"
got=$("$drover" -c "$conf" --json state migrate --to zk 2>&1)
grep -q '"admin": 0' <<< "$got" && grep -q '"unchanged": 1' <<< "$got"
ok $? "a second run changes nothing"

write_conf auto
got=$("$drover" -c "$conf" --json state show 2>&1); rc=$?
ok $rc "state show on the default store of the zk driver"
grep -q '"backend": "zk"' <<< "$got" && grep -q '"admin": 1' <<< "$got"
ok $? "it is the zk store, holding the carried admin state"
got=$("$drover" -c "$conf" lease list 2>&1); rc=$?
ok $rc "lease list exits 0"
grep -q '^NAME ' <<< "$got"; ok $? "and prints its table"
"$drover" -c "$conf" state --help > /dev/null; ok $? "state --help exits 0"
"$drover" -c "$conf" state migrate > /dev/null 2>&1; rc=$?
[[ $rc == 2 ]]; ok $? "migrate without --to zk is a usage error (exit $rc)"
"$harness" stop "$zkdir" > /dev/null 2>&1; zkdir=""
"$drover" -c "$conf" state show > /dev/null 2>&1; rc=$?
[[ $rc == 3 ]]; ok $? "ZooKeeper stopped: state show exits 3 (unreachable), got $rc"

echo "1..$n"
[[ $failed == 0 ]]
