# libvirtd_session.sh - a throwaway unprivileged libvirtd for tests (source it).
#
# A libvirtd started as user "nobody" runs in session mode: it needs no
# namespaces, touches nothing outside its own directory, and serves libvirt's
# test driver over a real unix socket (URI test+unix:///default?socket=...).
# A test can then hang it for real (kill -STOP) and let it go (kill -CONT).
#
#   lvs_start DIR     start one under DIR (a short path: unix sockets < 108 bytes;
#                     its parents must let user nobody through);
#                     sets LVS_PID, LVS_SOCK and LVS_URI; returns 1 if it did not come up
#   lvs_stop          stop it (SIGCONT first, in case the test left it stopped),
#                     and any QEMU guest it started: libvirtd leaves them running

lvs_start() {
    local dir=$1 i
    mkdir -p "$dir/home" "$dir/run" "$dir/config" "$dir/cache" || return 1
    chown -R nobody: "$dir" || return 1
    chmod 0755 "$dir"
    if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -w "$dir/run"; then
        echo "# user nobody cannot reach $dir (every parent directory needs o+x)"
        return 1
    fi
    LVS_DIR=$dir
    LVS_SOCK=$dir/run/libvirt/libvirt-sock
    LVS_URI="test+unix:///default?socket=$LVS_SOCK"
    # setpriv execs: the PID we get is libvirtd's own.  --timeout 0: never
    # exit for being idle.
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env -i PATH=/usr/sbin:/usr/bin HOME="$dir/home" XDG_RUNTIME_DIR="$dir/run" \
        XDG_CONFIG_HOME="$dir/config" XDG_CACHE_HOME="$dir/cache" \
        /usr/sbin/libvirtd --timeout 0 >"$dir/libvirtd.log" 2>&1 &
    LVS_PID=$!
    for i in $(seq 100); do
        if [ -S "$LVS_SOCK" ] && virsh -q -c "$LVS_URI" uri >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$LVS_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# libvirtd in $dir did not come up; its log:"
    sed 's/^/#   /' "$dir/libvirtd.log" | tail -20
    lvs_stop
    return 1
}

lvs_stop() {
    [ -n "${LVS_PID:-}" ] || return 0
    kill -CONT "$LVS_PID" 2>/dev/null
    kill -TERM "$LVS_PID" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$LVS_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$LVS_PID" 2>/dev/null
    wait "$LVS_PID" 2>/dev/null
    LVS_PID=
    # guests of the session QEMU driver: their pid files live in our run dir
    local f p
    for f in "$LVS_DIR"/run/libvirt/qemu/run/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f" 2>/dev/null)
        [ -n "$p" ] || continue
        # only a QEMU of user nobody: a pid file can outlive its process
        [ "$(stat -c %U "/proc/$p" 2>/dev/null)" = nobody ] || continue
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q qemu-system || continue
        kill -KILL "$p" 2>/dev/null
        for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    done
}
