#!/bin/bash
# scripts/test.sh - the whole test suite, from a fresh clone on Debian 12.
#
# Installs every dependency (scripts/deps.sh test), builds drover twice and
# runs `make check` in each: once warning-free with -Werror, once under
# AddressSanitizer + UndefinedBehaviorSanitizer; then the pure-logic tests
# under valgrind (no definite leaks) and `make distcheck` (the tarball builds
# every test and runs the unit tests and fuzz seed replays; the integration
# tests already ran twice above; counted as one result).  Every real server
# a test needs (SQLite files, memcached, ZooKeeper, libvirtd + qemu) is
# started by that test through tests/harness/.  Ends with "N passed, N failed".
#
#   scripts/test.sh [--quick]     --quick: only the -Werror build and its check
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}
# the tests spend most of their time waiting on daemons, timers and guests
# that idle (their CPU is qemu's, a few percent each): one and a half times
# as many at once as there are cores
check_jobs=${CHECK_JOBS:-$(( (3 * $(nproc) + 1) / 2 ))}
quick=0
[ "${1:-}" = --quick ] && quick=1
cd "$top" || exit 2

say() { printf '\n=== %s\n' "$*"; }
t_start=$SECONDS

say "dependencies"
"$top/scripts/deps.sh" test || { echo "dependencies could not be installed"; exit 2; }

say "autoreconf"
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 2; }

phases=()
total_pass=0 total_fail=0 total_skip=0

# count PASS/FAIL/SKIP test points in a build tree's .trs files
count() {
    local dir=$1 p f s
    p=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: PASS' {} + 2>/dev/null | wc -l)
    f=$(find "$dir" -name '*.trs' -exec grep -hE '^:test-result: (FAIL|ERROR|XPASS)' {} + 2>/dev/null | wc -l)
    s=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: SKIP' {} + 2>/dev/null | wc -l)
    echo "$p $f $s"
}

# run_phase NAME BUILD_DIR CONFIGURE_ARGS... : configure, build, make check
run_phase() {
    local name=$1 dir=$2 t0=$SECONDS rc p f s
    shift 2
    say "$name: configure $*"
    rm -rf "$dir"; mkdir -p "$dir"
    ( cd "$dir" && "$top/configure" -q "$@" ) >"$dir.configure.log" 2>&1 ||
        { tail -30 "$dir.configure.log"; record "$name" 0 1 0 "configure failed"; return; }
    say "$name: build"
    if ! make -C "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
        grep -E 'error|warning' "$dir.build.log" | head -40
        record "$name" 0 1 0 "build failed"; return
    fi
    say "$name: make check"
    make -C "$dir" -j"$check_jobs" check "${CHECK_ARGS[@]}" >"$dir.check.log" 2>&1
    rc=$?
    read -r p f s < <(count "$dir")
    grep -aE '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$dir.check.log" | grep -v '^PASS:' | head -60
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a test program crashed before printing
    if [ "$f" -ne 0 ]; then
        for log in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find "$dir" -name '*.trs') 2>/dev/null); do
            echo "--- ${log%.trs}.log (tail)"; tail -25 "${log%.trs}.log"
        done
    fi
    record "$name" "$p" "$f" "$s" "$((SECONDS - t0)) s"
}

record() {
    phases+=("$(printf '%-12s %5s passed, %s failed, %s skipped (%s)' "$1" "$2" "$3" "$4" "$5")")
    total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3)); total_skip=$((total_skip + $4))
}

CHECK_ARGS=()
run_phase "werror" "$top/build/werror" --enable-werror

if [ $quick = 0 ]; then
    CHECK_ARGS=()
    run_phase "sanitizers" "$top/build/asan" --enable-sanitizers --enable-werror

    # valgrind over the C test programs of pure logic and SQLite, and the fuzz
    # targets over their seeds: a definite leak or a memory error fails
    # (the servers' tests run under the sanitizers above instead)
    say "valgrind"
    fuzz_seeds() { case $1 in tests/fuzz/*) echo "$top/tests/fuzz/corpus/${1##*/}" ;; esac; }
    vdir="$top/build/werror"
    t0=$SECONDS
    vp=0 vf=0
    for t in $(cd "$vdir" && ls tests/unit/test_* tests/fuzz/fuzz_* tests/integration/test_db \
                   tests/integration/test_statedb 2>/dev/null | grep -v '\.'); do
        [ -x "$vdir/$t" ] || continue
        if (cd "$vdir" && top_srcdir="$top" top_builddir="$vdir" DROVER_TEST_SECONDS=2 valgrind -q \
                --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=97 \
                --suppressions="$top/tests/valgrind.supp" \
                "./$t" $(fuzz_seeds "$t") >"$vdir/$t.valgrind.log" 2>&1); then
            vp=$((vp + 1))
        else
            vf=$((vf + 1)); echo "valgrind: $t"; tail -20 "$vdir/$t.valgrind.log"
        fi
    done
    record "valgrind" "$vp" "$vf" 0 "$((SECONDS - t0)) s"

    # distcheck configures with DV_DISTCHECK=1 (Makefile.am): it builds every
    # test from the tarball but runs only the fast ones
    say "distcheck"
    t0=$SECONDS
    if make -C "$top/build/werror" distcheck >"$top/build/distcheck.log" 2>&1; then
        record "distcheck" 1 0 0 "$((SECONDS - t0)) s"
    else
        tail -40 "$top/build/distcheck.log"; record "distcheck" 0 1 0 "$((SECONDS - t0)) s"
    fi
fi

say "summary ($((SECONDS - t_start)) s)"
printf '%s\n' "${phases[@]}"
if [ "$total_skip" -gt 0 ]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ] && [ "$total_skip" -eq 0 ]
