#!/bin/sh
# Install what drover needs from Debian's repositories (idempotent).
#   scripts/deps.sh build   compiler, autotools, libraries (enough to build and run on SQLite)
#   scripts/deps.sh test    all of the above + every server the test suite starts
set -eu
what=${1:-test}
build_pkgs="gcc make autoconf automake libtool pkg-config
  libconfig-dev libjson-c-dev libsqlite3-dev libvirt-dev libmemcached-dev libzookeeper-mt-dev
  libmicrohttpd-dev libsystemd-dev
  libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu"
# curl scrapes GET /metrics; systemd brings systemd-analyze (tests/integration/test_units.sh)
test_pkgs="clang libclang-rt-14-dev valgrind memcached sasl2-bin libsasl2-modules zookeeper default-jre-headless
  qemu-system-x86 tini iproute2 util-linux binutils procps sqlite3 xz-utils curl systemd"
pkgs=$build_pkgs
[ "$what" = test ] && pkgs="$build_pkgs $test_pkgs"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # no recommends: libvirt-daemon-system's postinst would start a system libvirtd
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 $missing >/dev/null
fi
# libvirt's qemu driver resolves its default user/group before reading qemu.conf
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g kvm -d /var/lib/libvirt -M -s /usr/sbin/nologin libvirt-qemu
echo "deps: ready ($what)"
