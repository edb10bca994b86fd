#!/bin/bash
# bench/agent.sh - what one droverd costs its host.
#
# Runs droverd at report_interval = 1 on libvirt's test driver with the db
# (SQLite) servicegroup driver in a temporary directory, and prints its CPU
# share (utime + stime from /proc/PID/stat over wall time) and its anonymous
# memory (Pss_Anon from /proc/PID/smaps_rollup) after 10 s and at the end.
# Targets: under 0.5 % CPU, under 4 MiB anonymous, no growth between samples.
#
#   bench/agent.sh [SECONDS]        (default 60; run from the build directory,
#                                   or set DROVERD=path/to/droverd)
#   LIBVIRT_URI=...  measure against another libvirt than test:///default
#                    (e.g. a real libvirtd: the RPC cost instead of the
#                    in-process test driver's)
set -eu
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/../tests/harness/lib.sh"

secs=${1:-60}
droverd=${DROVERD:-./cmd/droverd}
[ -x "$droverd" ] || { echo "bench/agent.sh: $droverd is not built (set DROVERD)" >&2; exit 2; }
[ "$secs" -gt 10 ] || { echo "bench/agent.sh: run longer than 10 s" >&2; exit 2; }

tmp=$(mktemp -d /tmp/dv-bench-agent.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"; rm -rf "$tmp"' EXIT
{ dv_conf_db_servicegroup "$tmp/drover.db"; cat <<CONF
agent = { host = "bench-h1"; libvirt_uri = "${LIBVIRT_URI:-test:///default}"; libvirt_timeout_ms = 5000; };
log = { level = "info"; };
CONF
} >"$tmp/drover.conf"

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }   # utime + stime (after "comm")
pss_anon_kib() { awk '/^Pss_Anon:/ { print $2 }' "/proc/$pid/smaps_rollup"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

"$droverd" -c "$tmp/drover.conf" 2>"$tmp/droverd.log" &
pid=$!
t0=$(dv_now_ms)

sample() {   # sample LABEL: cumulative CPU share since start, memory now
    local ticks ms
    ticks=$(cpu_ticks)
    ms=$(( $(dv_now_ms) - t0 ))
    eval "ticks_$1=$ticks ms_$1=$ms anon_$1=$(pss_anon_kib)"
    awk -v l="$1" -v t="$ticks" -v hz="$hz" -v ms="$ms" -v a="$(pss_anon_kib)" -v r="$(rss_kib)" \
        'BEGIN { printf "at %3s s: CPU %.3f %% (%.2f s of %.1f s), Pss_Anon %d KiB (%.2f MiB), RSS %d KiB\n",
                 l, 100 * t / hz / (ms / 1000), t / hz, ms / 1000, a, a / 1024, r }'
}

echo "droverd on ${LIBVIRT_URI:-test:///default}, db driver, report_interval 1 s, ${secs} s"
sleep 10
sample 10
sleep $(( secs - 10 ))
sample "$secs"
eval "dt=\$(( ticks_$secs - ticks_10 )) dms=\$(( ms_$secs - ms_10 )) a0=\$anon_10 a1=\$anon_$secs"
awk -v t="$dt" -v hz="$hz" -v ms="$dms" -v a0="$a0" -v a1="$a1" \
    'BEGIN { printf "from 10 s to the end: CPU %.3f %%, Pss_Anon %+d KiB\n", 100 * t / hz / (ms / 1000), a1 - a0 }'
beats=$(grep -c . "$tmp/droverd.log" || true)
echo "droverd log lines: $beats (warnings: $(grep -c warning "$tmp/droverd.log" || true))"
