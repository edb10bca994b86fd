#!/bin/bash
# test_cli.sh - the drover command on a real SQLite file with members that
# real agents (droverd --once on libvirt's test driver) joined: every service
# and host command, table and JSON output, exit codes, help, bad input; and
# the example program that uses only the public library.
set -u

top_builddir=${top_builddir:-$(pwd)}
drover=$top_builddir/cmd/drover
droverd=$top_builddir/cmd/droverd
example=$top_builddir/examples/health

n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
for b in "$drover" "$droverd" "$example"; do
    [ -x "$b" ] || { echo "Bail out! $b is not built"; exit 99; }
done

tmp=$(mktemp -d /tmp/dv-cli.XXXXXX) || { echo "Bail out! mktemp"; exit 99; }
trap 'rm -rf "$tmp"' EXIT
conf=$tmp/drover.conf
cat >"$conf" <<CONF
servicegroup = { driver = "db"; report_interval = 1; service_down_time = 30;
                 db = { path = "$tmp/drover.db"; }; };
agent = { libvirt_uri = "test:///default"; };
state = { path = "$tmp/state.db"; };
log = { level = "warning"; };
CONF
export DROVER_CONF=$conf

# run CMD...: capture stdout, stderr and the exit status in $rc
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
has() { grep -q -- "$1" "$tmp/$2"; }
json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" 2>/dev/null; }
# pyok EXPR: a Python expression over d = the JSON on stdout
pyok() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$tmp/out" 2>/dev/null; }
count() { grep -cE "$1" "$tmp/out"; }

for h in c1 c2 c3; do
    if ! "$droverd" --once --host "$h" 2>>"$tmp/agents.log"; then
        echo "Bail out! droverd --once --host $h failed: $(tail -3 "$tmp/agents.log")"; exit 99
    fi
done

# ---- service list / show / is-up
run "$drover" service list
ok $rc "service list exits 0"
[ "$(count '^c[123] +UP +enabled +no')" = 3 ]; ok $? "service list shows c1..c3 UP, enabled, not forced down"
run "$drover" --json service list
ok $rc "--json service list exits 0"
json_ok; ok $? "--json service list prints valid JSON"
pyok '[m["host"]+":"+m["state"] for m in d] == ["c1:UP","c2:UP","c3:UP"]'; ok $? "JSON lists the members sorted, with their states"
run "$drover" service list --json
json_ok; ok $? "--json is accepted after the command too"
run "$drover" -c "$conf" service show c2
ok $rc "service show exits 0"
has 'hypervisor:   TEST' out; ok $? "service show gives the report's hypervisor"
run "$drover" service is-up c1
ok $rc "is-up of an UP member exits 0"
grep -qx UP "$tmp/out"; ok $? "  and prints UP"
run "$drover" service is-up nosuch
[ $rc = 1 ]; ok $? "is-up of an unknown member exits 1"
has 'nosuch' err; ok $? "  and the message names it"

# ---- admin state
run "$drover" service disable c2 --reason "DIMM swap"
ok $rc "disable --reason exits 0"
run "$drover" --json service show c2
pyok 'd["disabled"] and d["disabled_reason"] == "DIMM swap" and d["state"] == "UP"'; ok $? "c2 disabled with its reason, still UP"
run "$drover" service list
grep -qE '^c2 +UP +disabled +no .*DIMM swap' "$tmp/out"; ok $? "service list shows the disabled member and its reason"
run "$drover" service enable c2
ok $rc "enable exits 0"
run "$drover" --json service show c2
pyok 'not d["disabled"]'; ok $? "enable clears disabled"
run "$drover" service force-down c3
ok $rc "force-down exits 0"
run "$drover" service is-up c3
[ $rc = 1 ]; ok $? "a forced-down member is DOWN (exit 1) despite a fresh heartbeat"
grep -qx DOWN "$tmp/out"; ok $? "  and is-up prints DOWN"
run "$drover" service force-down c3 --off
run "$drover" service is-up c3
ok $rc "force-down --off: UP again"
run "$drover" service disable nosuch
[ $rc = 1 ]; ok $? "disable of an unknown member exits 1"

# ---- host
run "$drover" host list
ok $rc "host list exits 0"
[ "$(count '^c[123] +UP +TEST ')" = 3 ]; ok $? "host list shows each host's hypervisor"
run "$drover" --json host show c1
json_ok; ok $? "--json host show prints valid JSON"
pyok 'd["report"]["host"] == "c1" and d["report"]["memory_total_mib"] > 0 and len(d["report"]["instances"]) >= 1'
ok $? "the report has the host, its memory and its instances"
run "$drover" host show c1
has 'instances:' out; ok $? "host show lists instances"

# ---- help and bad input
for args in "--help" "service --help" "host --help" "service list --help"; do
    # shellcheck disable=SC2086
    run "$drover" $args
    ok $rc "drover $args exits 0"
    has 'Usage: drover' out; ok $? "  and prints the usage"
done
run "$drover" --version
grep -q '^drover [0-9]' "$tmp/out"; ok $? "--version prints the version"
run "$drover"
[ $rc = 2 ]; ok $? "no command: exit 2"
run "$drover" frob
[ $rc = 2 ]; ok $? "unknown command: exit 2"
has "unknown command 'frob'" err; ok $? "  and the message names it"
run "$drover" service is-up
[ $rc = 2 ]; ok $? "is-up without HOST: exit 2"
run "$drover" service disable c1 --reason
[ $rc = 2 ]; ok $? "--reason without a value: exit 2"
run "$drover" service is-up 'bad/name'
[ $rc = 2 ]; ok $? "a host name with '/': exit 2"
has "contains '/'" err; ok $? "  and the message says why"
run "$drover" -c "$tmp/missing.conf" service list
[ $rc = 2 ]; ok $? "missing config: exit 2"
has "$tmp/missing.conf" err; ok $? "  and the message names the path"
printf 'servicegroup = {\n  report_interval = "ten";\n};\n' >"$tmp/bad.conf"
run "$drover" -c "$tmp/bad.conf" service list
[ $rc = 2 ]; ok $? "bad config: exit 2"
has "$tmp/bad.conf:2: servicegroup.report_interval" err; ok $? "  and the message gives file:line and the key"
printf 'servicegroup = { db = { path = "%s/nodir/x.db"; }; };\n' "$tmp" >"$tmp/nodir.conf"
run "$drover" -c "$tmp/nodir.conf" service list
[ $rc != 0 ]; ok $? "a database in a missing directory fails"
has "$tmp/nodir" err; ok $? "  and the message names the path"

# ---- the example program (public API only, shared library)
run "$example" "$conf"
ok $rc "examples/health exits 0 when every member is UP"
[ "$(count '^c[123] +UP')" = 3 ]; ok $? "  and lists the members"
run "$drover" service force-down c1
run "$example" "$conf"
[ $rc = 1 ]; ok $? "examples/health exits 1 when a member is DOWN"
run "$example" "$tmp/bad.conf"
[ $rc = 2 ]; ok $? "examples/health exits 2 on a bad config"
has "bad.conf:2" err; ok $? "  with the library's message"

echo "1..$n"
[ $failed -eq 0 ]
