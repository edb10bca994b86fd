#!/bin/bash
# test_migrate_cli.sh - `drover migrate` end to end as an operator runs it:
# two real libvirt hosts (tests/harness/lvhosts.sh), a real agent (droverd)
# on each publishing its reports into a db-driver file, and drover on a
# terminal (script(1)): the progress bar is drawn in place, the guest moves
# and keeps running, the agents' next reports show it on the destination,
# `migration show` / `list` agree; then the usage errors (exit 2) and
# --help of each command.
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
drover=$top_builddir/cmd/drover
droverd=$top_builddir/cmd/droverd
lvhosts=$top_srcdir/tests/harness/lvhosts.sh
n=0
failed=0
ok() {   # ok CONDITION-STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
bail() { echo "Bail out! $*"; exit 99; }

[ -x "$drover" ] && [ -x "$droverd" ] || bail "drover/droverd are not built"
export LVH_GUEST=${LVH_GUEST:-$top_builddir/tests/harness/guest/dvguest.elf}
[ -f "$LVH_GUEST" ] || bail "the test guest $LVH_GUEST is not built"
lv=$(mktemp -d /tmp/dvmc.XXXXXX) || bail mktemp
agents=()
cleanup() {
    for p in "${agents[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    "$lvhosts" stop "$lv" --remove >/dev/null 2>&1
}
trap cleanup EXIT
rmdir "$lv"
"$lvhosts" start "$lv" 2 >/dev/null 2>"$lv.log" || { cat "$lv.log"; bail "libvirt hosts did not start"; }
rm -f "$lv.log"
# shellcheck disable=SC1091
. "$lv/env"
work=$lv/drover
mkdir -p "$work"

cat >"$work/drover.conf" <<EOF
servicegroup = { driver = "db"; report_interval = 1; service_down_time = 10;
  db = { path = "$work/drover.db"; }; };
controller = { libvirt_uris = [ "$LV_1_NAME=$LV_1", "$LV_2_NAME=$LV_2" ]; };
scheduler = { reserved_host_memory_mb = 256; };
migration = { poll_interval_ms = 200; };
state = { path = "$work/state.db"; };
EOF
for k in 1 2; do
    name_var=LV_${k}_NAME uri_var=LV_$k p2p_var=LV_${k}_P2P
    "$droverd" -c "$work/drover.conf" --host "${!name_var}" --libvirt-uri "${!uri_var}" \
        --migration-uri "${!p2p_var}" --log-level warning 2>"$work/agent$k.log" &
    agents+=($!)
done

# wait_for SECONDS COMMAND...: until it succeeds
wait_for() {
    local t=$1
    shift
    for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
reports() {   # reports HOST GUEST: HOST's last report lists GUEST
    "$drover" -c "$work/drover.conf" --json host show "$1" | grep -q "\"name\": \"$2\""
}

"$lvhosts" guest-xml cli1 64 "wss=4" >"$work/cli1.xml"
virsh -q -c "$LV_1" create "$work/cli1.xml" >/dev/null || bail "the guest did not start"
wait_for 30 reports "$LV_1_NAME" cli1
ok $? "the agent on host 1 reports the guest"
wait_for 30 "$drover" -c "$work/drover.conf" service is-up "$LV_2_NAME"
ok $? "host 2 is UP"
sleep 2    # the guest fills its memory: progress to show

# on a terminal, capped so the bar is drawn a few times
TERM=dumb script -qec "$drover -c $work/drover.conf migrate cli1 --bandwidth 32" "$work/tty.out" \
    >/dev/null 2>&1
rc=$?
ok $((rc != 0)) "drover migrate on a terminal: exit 0 (got $rc)"
grep -q $'\r\[#*\.*\] *[0-9]*%' "$work/tty.out"
ok $? "the progress bar is redrawn in place (carriage return, bar, percent)"
grep -q "MiB/s" "$work/tty.out" && grep -q "ETA" "$work/tty.out"
ok $? "... with the rates and the ETA"
grep -q "state: *completed" "$work/tty.out"
ok $? "the final record says completed"
[ "$(virsh -q -c "$LV_2" domstate cli1 2>/dev/null)" = running ]
ok $? "the guest runs on host 2"
virsh -q -c "$LV_1" dominfo cli1 >/dev/null 2>&1
ok $((!$?)) "host 1 no longer has it"
wait_for 30 reports "$LV_2_NAME" cli1
ok $? "host 2's agent now reports it"

out=$("$drover" -c "$work/drover.conf" --json migration show cli1)
case $out in *'"state": "completed"'*'"downtime_ms": '[0-9]*) ok 0 "migration show --json: completed, with libvirt's downtime" ;;
    *) ok 1 "migration show --json: completed, with libvirt's downtime (got $out)" ;; esac
out=$("$drover" -c "$work/drover.conf" migration list --all)
case $out in *ID*STATE*completed*cli1*) ok 0 "migration list --all shows it" ;; *) ok 1 "migration list --all (got $out)" ;; esac

# what cannot be asked before anything starts: exit 3, no record
records() { "$drover" -c "$work/drover.conf" --json migration list --all | grep -c '"id":'; }
before=$(records)
"$lvhosts" guest-xml cli2 64 "wss=4" >"$work/cli2.xml"
virsh -q -c "$LV_2" create "$work/cli2.xml" >/dev/null || bail "the second guest did not start"
wait_for 30 reports "$LV_2_NAME" cli2
sed "s|\"$LV_2_NAME=$LV_2\"|\"$LV_2_NAME=qemu+unix:///system?socket=$work/nobody-listens\"|" \
    "$work/drover.conf" >"$work/deaf.conf"
"$drover" -c "$work/deaf.conf" migrate cli2 >/dev/null 2>"$work/err"
rc=$?
ok $((rc != 3)) "the source's libvirt cannot be reached: exit 3 (got $rc: $(cat "$work/err"))"
sed "s|path = \"$work/state.db\"|path = \"$work/no/such/dir/state.db\"|" "$work/drover.conf" >"$work/nostate.conf"
"$drover" -c "$work/nostate.conf" migrate cli2 >/dev/null 2>"$work/err"
rc=$?
ok $((rc != 3)) "the state db cannot be opened: exit 3 (got $rc: $(cat "$work/err"))"
[ "$(records)" = "$before" ]
ok $? "no record was made"
[ "$(virsh -q -c "$LV_2" domstate cli2 2>/dev/null)" = running ]
ok $? "the guest still runs on its host"

# usage errors: exit 2, nothing started
usage() {
    local want=$1
    shift
    "$drover" -c "$work/drover.conf" "$@" >/dev/null 2>"$work/err"
    local rc=$?
    ok $((rc != 2)) "$*: exit 2 (got $rc)"
    grep -qF -- "$want" "$work/err"
    ok $? "$*: says '$want'"
}
usage "which instance?" migrate
usage "unknown option '--fast'" migrate cli1 --fast
usage "--bandwidth: expected MiB/s" migrate cli1 --bandwidth -3
usage "--to needs a value" migrate cli1 --to
usage "one instance at a time" migrate a b
usage "unknown migration command 'frob'" migration frob
usage "which migration?" migration show
usage "unexpected argument" migration show 1 2
for c in "migrate" "migration" "migration list" "migration show"; do
    # shellcheck disable=SC2086
    "$drover" $c --help >"$work/help" 2>&1
    rc=$?
    ok $((rc != 0)) "$c --help: exit 0"
    grep -q "Usage: drover" "$work/help"
    ok $? "$c --help: prints the usage"
done
echo "1..$n"
exit $failed
