#!/bin/sh
# Build drover's fuzz targets with clang + libFuzzer (ASan, UBSan) in a
# scratch tree and run each for a while over its seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs are names like fuzz_config
# (default: every target of Makefile.am's fuzz block).  Environment:
#   FUZZ_BUILD   the build tree (default /tmp/drover-fuzz), reused if present
#   FUZZ_JOBS    make -j (default 2)
#   FUZZ_ARGS    more libFuzzer options, e.g. "-max_len=4096"
# New inputs go to $FUZZ_BUILD/corpus/<target> (the committed seeds in
# tests/fuzz/corpus/ are only read); crashes to $FUZZ_BUILD/artifacts/.
# To keep an interesting crash, minimise it and copy it into
# tests/fuzz/corpus/<target>/ once fixed.  Exit status: 0 when no target
# found a crash, leak or failed invariant.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-/tmp/drover-fuzz}
jobs=${FUZZ_JOBS:-2}

case $secs in
    ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "fuzz.sh: clang is required (scripts/deps.sh test)" >&2; exit 2; }

[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi)
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
    "$src/configure" -q --enable-fuzz CC=clang
fi

if [ $# -gt 0 ]; then
    targets=$*
else
    targets=$(make -s fuzz-targets | tr ' ' '\n' | sed -n 's|^tests/fuzz/||p')
fi
[ -n "$targets" ] || { echo "fuzz.sh: no fuzz targets" >&2; exit 2; }

progs=
for t in $targets; do progs="$progs tests/fuzz/$t"; done
# shellcheck disable=SC2086
make -s -j"$jobs" $progs

# libconfig 1.5 leaks a string on some syntax errors: see tests/lsan.supp
LSAN_OPTIONS="suppressions=$src/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

status=0
for t in $targets; do
    seeds=$src/tests/fuzz/corpus/$t
    work=$build/corpus/$t
    mkdir -p "$work" "$build/artifacts"
    set -- -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-"
    [ -f "$src/tests/fuzz/$t.dict" ] && set -- "$@" -dict="$src/tests/fuzz/$t.dict"
    echo "== $t: $secs s, seeds $seeds, corpus $work"
    # shellcheck disable=SC2086
    if ! "./tests/fuzz/$t" "$@" ${FUZZ_ARGS:-} "$work" "$seeds" 2>"$build/$t.log"; then
        status=1
        echo "== $t: FAILED, see $build/$t.log and $build/artifacts/"
    fi
    grep -E '^(stat::|#[0-9]+[[:space:]]+(INITED|DONE))|^(SUMMARY|==[0-9]+==ERROR)' "$build/$t.log" || true
done
exit $status
