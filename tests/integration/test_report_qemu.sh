#!/bin/bash
# test_report_qemu.sh - the host report read from a real libvirtd running the
# QEMU driver (unprivileged, session mode, TCG guests), checked by report_qemu.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
. "$top_srcdir/tests/harness/libvirtd_session.sh"

prog=$top_builddir/tests/harness/report_qemu
[ -x "$prog" ] || { echo "Bail out! $prog is not built"; exit 99; }
tmp=$(mktemp -d /tmp/dv-qemu.XXXXXX) || { echo "Bail out! mktemp"; exit 99; }
trap 'lvs_stop; rm -rf "$tmp"' EXIT
chmod 0711 "$tmp"      # the unprivileged libvirtd lives below it
lvs_start "$tmp/lv" || { echo "Bail out! cannot start an unprivileged libvirtd"; exit 99; }
"$prog" "qemu+unix:///session?socket=$LVS_SOCK"
