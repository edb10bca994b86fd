#!/bin/bash
# test_schedule_cli.sh - `drover schedule`'s command line: help, every bad
# argument (exit 2 with a message naming it), configuration errors (exit 2),
# and an instance nobody reports (exit 1), on a real SQLite file.  The
# placements themselves are tested against real libvirt hosts in
# test_sched_libvirt.
set -u

drover=${top_builddir:-.}/cmd/drover
n=0
failed=0
ok() {   # ok CONDITION-STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

[ -x "$drover" ] || { echo "Bail out! $drover is not built"; exit 99; }
work=$(mktemp -d /tmp/drover-sched-cli.XXXXXX) || { echo "Bail out! mktemp"; exit 99; }
trap 'rm -rf "$work"' EXIT
cat >"$work/drover.conf" <<EOF
servicegroup = { driver = "db"; db = { path = "$work/drover.db"; }; };
state = { path = "$work/state.db"; };
EOF

# run ARGS...: exit status in $rc, stdout in $out, stderr in $err
run() {
    "$drover" -c "$work/drover.conf" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    out=$(cat "$work/out")
    err=$(cat "$work/err")
}

# usage EXPECTED-TEXT ARGS...: exit 2 and stderr says EXPECTED-TEXT
usage() {
    local want=$1
    shift
    run "$@"
    ok $((rc != 2)) "schedule $*: exit 2 (got $rc)"
    case $err in *"$want"*) ok 0 "schedule $*: says '$want'" ;; *) ok 1 "schedule $*: says '$want' (got: $err)" ;; esac
}

run schedule --help
ok $((rc != 0)) "schedule --help: exit 0"
case $out in *"Usage: drover"*"schedule INSTANCE"*"--explain"*) ok 0 "--help prints the usage" ;; *) ok 1 "--help prints the usage" ;; esac
case $out in *"--claim"*"hold the instance's memory"*) ok 0 "--help explains --claim" ;; *) ok 1 "--help explains --claim" ;; esac
case $out in *"A question only"*) ok 0 "--help says schedule is a question only without --claim" ;; *) ok 1 "--help says it is a question only" ;; esac

usage "which instance?" schedule
usage "one instance at a time: 'a' and 'b' given" schedule a b
usage "--to needs a host name" schedule a --to
usage "--to needs a host name" schedule a --to=
usage "--ignore needs a host name" schedule a --ignore
usage "unknown option '--bogus'" schedule a --bogus
usage "--ignore has no effect with --to" schedule a --to x --ignore y
usage "--to given twice" schedule a --to x --to=y
usage "contains '/'" schedule a --ignore rack1/h1
usage "contains '/'" schedule a --to=rack1/h1
usage "Try 'drover schedule --help'" schedule --explain
usage "unknown option '--claims'" schedule a --claims
usage "Try 'drover schedule --help'" schedule --claim

# configuration errors, before anything is opened
"$drover" -c "$work/missing.conf" schedule a >/dev/null 2>"$work/err"
rc=$?
ok $((rc != 2)) "a missing config file: exit 2 (got $rc)"
grep -q "missing.conf" "$work/err"
ok $? "a missing config file: the message names it"
printf 'scheduler = {\n  filters = [ "compute", "numa" ];\n};\n' >"$work/bad.conf"
"$drover" -c "$work/bad.conf" schedule a >/dev/null 2>"$work/err"
rc=$?
ok $((rc != 2)) "an unknown filter in the config: exit 2 (got $rc)"
grep -q 'bad.conf:2: scheduler.filters\[1\]' "$work/err"
ok $? "an unknown filter: file:line and the key"

# an empty group: the instance is nowhere
run schedule vm1
ok $((rc != 1)) "an instance nobody reports: exit 1 (got $rc)"
case $err in *"no host reports an instance named vm1"*) ok 0 "... says so" ;; *) ok 1 "... says so (got: $err)" ;; esac
run --json schedule vm1
ok $((rc != 1)) "--json, an instance nobody reports: exit 1 (got $rc)"
case $out in *'"code": "not-found"'*) ok 0 "--json: the error code in the output" ;; *) ok 1 "--json: the error code (got: $out)" ;; esac
case $out in *'"destination": null'*) ok 0 "--json: no destination" ;; *) ok 1 "--json: no destination (got: $out)" ;; esac
run schedule vm1 --claim
ok $((rc != 1)) "--claim, an instance nobody reports: exit 1 (got $rc)"
case $err in *"no host reports an instance named vm1"*) ok 0 "... says so" ;; *) ok 1 "... says so (got: $err)" ;; esac
run schedule -- --to
ok $((rc != 1)) "after --, '--to' is an instance name: exit 1 (got $rc)"
case $err in *"instance named --to"*) ok 0 "... looked up as an instance" ;; *) ok 1 "... looked up (got: $err)" ;; esac
[ "$(stat -c %a "$work/state.db")" = 600 ]
ok $? "the state db holding the claims is mode 0600"

echo "1..$n"
exit $failed
