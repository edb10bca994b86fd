#!/bin/bash
# test_units.sh - the systemd units (etc/droverd*.service.in) pass
# `systemd-analyze verify` with no complaint at all (systemd only warns
# about a value it cannot parse, so any output is a failure), say what the
# daemon needs (Type=notify, a watchdog, restart on failure), and the units
# make builds for `make install` carry real paths.  systemd-analyze is
# required (scripts/deps.sh test installs systemd): without it, exit 99.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
diag() { echo "# $*"; }

command -v systemd-analyze >/dev/null ||
    { echo "Bail out! systemd-analyze is missing (scripts/deps.sh test installs systemd)"; exit 99; }
[ -x "$top_builddir/cmd/droverd" ] || { echo "Bail out! cmd/droverd is not built"; exit 99; }

tmp=$(mktemp -d /tmp/dv-units.XXXXXX) || { echo "Bail out! mktemp"; exit 99; }
trap 'rm -rf "$tmp"' EXIT

# verify UNIT...: exit status 0 and nothing said
verify() {
    systemd-analyze verify --man=no "$@" >"$tmp/out" 2>&1
    local rc=$?
    [ $rc -eq 0 ] && [ ! -s "$tmp/out" ] && return 0
    sed 's/^/#   /' "$tmp/out"
    return 1
}

# the units as installed, but pointing at the droverd of this build tree
for u in droverd droverd-controller; do
    sed -e "s|@sbindir@|$top_builddir/cmd|g" "$top_srcdir/etc/$u.service.in" >"$tmp/$u.service"
done
verify "$tmp/droverd.service"; ok $? "droverd.service passes systemd-analyze verify, silently"
verify "$tmp/droverd-controller.service"; ok $? "droverd-controller.service passes too"

for u in droverd droverd-controller; do
    f=$tmp/$u.service
    grep -qx "Type=notify" "$f"; ok $? "$u: Type=notify"
    grep -qx "Restart=on-failure" "$f"; ok $? "$u: Restart=on-failure"
    grep -qE "^WatchdogSec=[1-9][0-9]*s$" "$f"; ok $? "$u: a watchdog (WatchdogSec)"
    grep -qx "NotifyAccess=main" "$f"; ok $? "$u: only the main process may notify"
done
grep -qx "ExecStart=$top_builddir/cmd/droverd" "$tmp/droverd.service"; ok $? "the agent runs droverd"
grep -qx "ExecStart=$top_builddir/cmd/droverd --controller" "$tmp/droverd-controller.service"
ok $? "the controller runs droverd --controller"

# what make built for `make install`: every placeholder filled with a path
for u in droverd droverd-controller; do
    f=$top_builddir/etc/$u.service
    [ -f "$f" ] && ! grep -q "@[a-z]*@" "$f" && grep -qE "^ExecStart=/[^ ]*/droverd( --controller)?$" "$f"
    ok $? "etc/$u.service is built with absolute paths for make install"
done

# the check itself catches what it should (else the passes above mean nothing)
sed 's|^Type=notify|Type=notfy|' "$tmp/droverd.service" >"$tmp/typo.service"
! verify "$tmp/typo.service" >/dev/null; ok $? "a misspelt Type= is caught"
sed 's|^WatchdogSec=.*|WatchdogSec=sixty|' "$tmp/droverd.service" >"$tmp/wd.service"
! verify "$tmp/wd.service" >/dev/null; ok $? "a bad WatchdogSec= is caught"
sed "s|^ExecStart=[^ ]*|ExecStart=$tmp/no-such-droverd|" "$tmp/droverd.service" >"$tmp/gone.service"
! verify "$tmp/gone.service" >/dev/null; ok $? "a missing program is caught"

echo "1..$n"
[ $failed -eq 0 ]
