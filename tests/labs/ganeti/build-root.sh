#!/bin/bash
# Build the Ganeti lab's node root once and cache it: Debian 12 minbase (debootstrap, its tarball cached)
# with ganeti 3.0 and qemu-system-x86 installed by apt in a chroot. Every node of a lab run is an overlay
# of this one read-only root (lab.py); nothing is installed on the host.
#
# Usage: build-root.sh         prints the lab folder (its last stdout line) once it is complete
# Cache: $GANETI_LAB_CACHE (default /var/cache/creature/ganeti-lab)/<key>/root, key = the candidate versions
#        of ganeti and qemu-system-x86 + a hash of this script; a complete lab has a file named READY.
#        apt's downloads are kept in <cache>/apt-archives, so a rebuild after an edit here downloads nothing.
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
CACHE=${GANETI_LAB_CACHE:-/var/cache/creature/ganeti-lab}
MIRROR=${GANETI_LAB_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=(ganeti qemu-system-x86)

log() { echo "build-root: $*" >&2; }

versions=""
while read -r p v; do
    [ -n "$v" ] && [ "$v" != "(none)" ] || { log "no candidate version for $p (run apt-get update)"; exit 1; }
    versions+="$p=$v"$'\n'
done < <(apt-cache policy "${PACKAGES[@]}" | awk '/^[^ ]/ {p = $1; sub(/:$/, "", p)} /Candidate:/ {print p, $2}')
[ "$(printf '%s' "$versions" | grep -c =)" = "${#PACKAGES[@]}" ] || { log "apt-cache knows not all of ${PACKAGES[*]}"; exit 1; }
ganeti=$(printf '%s' "$versions" | sed -n 's/^ganeti=//p')
qemu=$(printf '%s' "$versions" | sed -n 's/^qemu-system-x86=//p')
hash=$( { printf '%s' "$versions" "$MIRROR"; cat "$HERE/build-root.sh"; } | sha256sum | cut -c1-12)
key="ganeti-${ganeti}_qemu-${qemu//:/%3a}_${hash}"
LAB=$CACHE/$key
if [ -f "$LAB/READY" ]; then
    log "cached: $LAB"
    echo "$LAB"
    exit 0
fi

mkdir -p "$CACHE" "$CACHE/apt-archives/partial"
exec 9>"$CACHE/.build.lock"
flock 9  # two test runs at once would build the same root
if [ -f "$LAB/READY" ]; then echo "$LAB"; exit 0; fi

work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
log "building $key in $work"

tarball=$CACHE/debootstrap-$SUITE-minbase-$(printf '%s' "$MIRROR" | sha256sum | cut -c1-12).tar
if [ ! -f "$tarball" ]; then
    log "debootstrap --make-tarball (once)"
    debootstrap --variant=minbase --make-tarball="$tarball.part" "$SUITE" "$work/tb" "$MIRROR" >&2
    mv "$tarball.part" "$tarball"
fi
debootstrap --variant=minbase --unpack-tarball="$tarball" "$SUITE" "$root" "$MIRROR" >&2

cat > "$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
# no package may start a service in the chroot
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# apt in the chroot, in a private mount namespace: its mounts vanish with it, whatever happens
unshare --mount --propagation private --fork bash -ec '
root=$1; archives=$2
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount --bind "$archives" "$root/var/cache/apt/archives"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive bash -ec "
apt-get update -q
apt-get install -y -q --no-install-recommends ganeti qemu-system-x86
"
' _ "$root" "$CACHE/apt-archives" >&2

# what every node of the lab shares: names, storage folders, RAPI on every address, one root ssh key
cat > "$root/etc/hosts" <<EOF
127.0.0.1 localhost
192.0.2.10 cluster.gnt.test cluster
192.0.2.11 node1.gnt.test node1
192.0.2.12 node2.gnt.test node2
EOF
mkdir -p "$root/srv/ganeti/file-storage" "$root/srv/ganeti/shared-file-storage" "$root/srv/ganeti/os/creature" \
         "$root/srv/ganeti/creature-images"
printf '/srv/ganeti/file-storage\n/srv/ganeti/shared-file-storage\n' > "$root/etc/ganeti/file-storage-paths"
# Debian's default binds RAPI to 127.0.0.1 only
sed -i 's/^RAPI_ARGS=.*/RAPI_ARGS="-b 0.0.0.0 --require-authentication"/' "$root/etc/default/ganeti"
grep -q '^RAPI_ARGS="-b 0.0.0.0' "$root/etc/default/ganeti" || echo 'RAPI_ARGS="-b 0.0.0.0 --require-authentication"' >> "$root/etc/default/ganeti"
# every node is a clone of this root: one key lets node1 reach node2 for `gnt-node add` (inside the lab only)
mkdir -p -m 0700 "$root/root/.ssh"
chroot "$root" ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519 -C ganeti-lab
cp "$root/root/.ssh/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
rm -rf "$root"/var/lib/apt/lists/* "$root/etc/resolv.conf"
: > "$root/etc/resolv.conf"

mkdir -p "$LAB"
mv "$root" "$LAB/root"
printf '%s' "$versions" > "$LAB/versions"
touch "$LAB/READY"
# roots of older versions or older build inputs are never used again (about 500 MB each)
for old in "$CACHE"/ganeti-*; do
    [ "$old" = "$LAB" ] || rm -rf "$old"
done
log "ready: $LAB"
echo "$LAB"
