#!/bin/bash
# Build the Xen lab once and cache it: Xen 4.17 (hypervisor + toolstack) and Debian's kernel, fetched
# with `apt-get download` and unpacked with `dpkg -x` (nothing is installed on the host, /boot is
# untouched), a Debian dom0 root image, and the small initramfs that mounts a root disk for dom0 and
# for the PV domUs.
#
# Usage: build-lab.sh            prints the lab directory (its last stdout line) once it is complete
# Cache: $XEN_LAB_CACHE (default /var/cache/creature/xen-lab)/<key>, key = the Debian package
#        versions + a hash of this folder's build inputs; a complete lab has a file named READY.
# Inside: xen (the hypervisor as a multiboot ELF), vmlinuz, initrd.img (mountroot), dom0.img (ext4).
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
CACHE=${XEN_LAB_CACHE:-/var/cache/creature/xen-lab}
MIRROR=${XEN_LAB_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# The hypervisor and its toolstack move together: the tools must be the hypervisor's exact version,
# so all of them come from apt-get download (the candidate, possibly from bookworm-security), not debootstrap.
XEN_PKGS=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils libyajl2
          libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenhypfs1
          libxenmisc4.17 libxenstore4 libxentoolcore1 libxentoollog1)
# dom0's userland from the mirror: python3 for creature and pytest, e2fsprogs for template disks,
# busybox-static for the busybox template, util-linux (losetup) for the block hotplug script.
DOM0_INCLUDE=python3,kmod,iproute2,procps,e2fsprogs,busybox-static,util-linux,libncurses6,bash,coreutils
# Modules the mountroot initramfs loads (with their dependencies): a virtio disk (dom0), a Xen PV
# disk (domU), and ext4 on either.
INITRD_MODULES=(virtio_pci virtio_blk xen-blkfront ext4)

log() { echo "build-lab: $*" >&2; }

kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_pkg" ] || { log "apt-cache knows no linux-image-amd64 (run apt-get update)"; exit 1; }
# every candidate version in one apt-cache call (one call a package costs seconds on a warm run)
declare -A CANDIDATE
while read -r p v; do CANDIDATE[$p]=$v; done < <(apt-cache policy "${XEN_PKGS[@]}" "$kernel_pkg" \
    | awk '/^[^ ]/ {p = $1; sub(/:$/, "", p)} /Candidate:/ {print p, $2}')
candidate() { echo "${CANDIDATE[$1]:-}"; }
versions=""
for p in "${XEN_PKGS[@]}" "$kernel_pkg"; do
    v=$(candidate "$p")
    [ -n "$v" ] && [ "$v" != "(none)" ] || { log "no candidate version for $p (run apt-get update)"; exit 1; }
    versions+="$p=$v"$'\n'
done
xen_version=$(candidate xen-hypervisor-4.17-amd64)
inputs_hash=$( { printf '%s' "$versions" "$DOM0_INCLUDE" "${INITRD_MODULES[*]}" "$MIRROR"; cat "$HERE"/build-lab.sh "$HERE"/image/*; } \
    | sha256sum | cut -c1-12)
key="xen-${xen_version}_${kernel_pkg#linux-image-}-$(candidate "$kernel_pkg")_${inputs_hash}"
LAB=$CACHE/$key
if [ -f "$LAB/READY" ]; then
    log "cached: $LAB"
    echo "$LAB"
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9  # two builds at once (two test runs) would write the same files
if [ -f "$LAB/READY" ]; then echo "$LAB"; exit 0; fi

work=$(mktemp -d "$CACHE/.build.XXXXXX")
dl=
trap 'rm -rf "$work" ${dl:+"$dl"}' EXIT
log "building $key in $work"

# 1. the .debs, kept by file name (apt-get download names them package_version_arch.deb)
debs=$CACHE/debs
mkdir -p "$debs"
need=()
for p in "${XEN_PKGS[@]}" "$kernel_pkg"; do
    v=$(candidate "$p")
    stem="${p}_${v//:/%3a}_"
    # apt's own archive may hold the exact file already (the host installed libxenmisc4.17 or the kernel)
    compgen -G "$debs/$stem*.deb" >/dev/null || cp /var/cache/apt/archives/"$stem"*.deb "$debs/" 2>/dev/null || true
    compgen -G "$debs/$stem*.deb" >/dev/null || need+=("$p=$v")
done
if [ ${#need[@]} -gt 0 ]; then
    log "apt-get download ${need[*]}"
    # _apt cannot write into root's cache folder: download in a folder it may use, then move
    dl=$(mktemp -d /tmp/xen-lab-debs.XXXXXX)
    chmod 0777 "$dl"
    (cd "$dl" && apt-get download -q "${need[@]}" >&2)
    mv "$dl"/*.deb "$debs"/
fi
deb() { ls "$debs/${1}_$(candidate "$1" | sed 's/:/%3a/')_"*.deb; }

# 2. the hypervisor: Debian ships it gzipped; QEMU's -kernel wants the multiboot ELF
dpkg -x "$(deb xen-hypervisor-4.17-amd64)" "$work/hv"
zcat "$work"/hv/boot/xen-4.17-amd64.gz > "$work/xen"

# 3. the kernel (dom0 and domU alike) and its modules
dpkg -x "$(deb "$kernel_pkg")" "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"

# 4. dom0's root: debootstrap minbase, its tarball cached by what it includes
root=$work/root
tarball=$CACHE/debootstrap-$SUITE-minbase-$(printf '%s' "$DOM0_INCLUDE" "$MIRROR" | sha256sum | cut -c1-12).tar
if [ ! -f "$tarball" ]; then
    log "debootstrap --make-tarball (once)"
    debootstrap --variant=minbase --include="$DOM0_INCLUDE" --make-tarball="$tarball.part" "$SUITE" "$work/tb" "$MIRROR" >&2
    mv "$tarball.part" "$tarball"
fi
log "debootstrap --unpack-tarball"
debootstrap --variant=minbase --include="$DOM0_INCLUDE" --unpack-tarball="$tarball" "$SUITE" "$root" "$MIRROR" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# the toolstack unpacked, not installed: its maintainer scripts want services (udev, init scripts)
# that the lab's dom0 starts by hand, exactly as notes/xen-lab.md lists
for p in "${XEN_PKGS[@]}"; do
    [ "$p" = xen-hypervisor-4.17-amd64 ] || dpkg -x "$(deb "$p")" "$root"
done
mkdir -p "$root/lib/modules" "$root/boot"
cp -a "$work/kernel/lib/modules/$kver" "$root/lib/modules/"
depmod -b "$root" "$kver"
cp "$work/vmlinuz" "$root/boot/vmlinuz-$kver"
install -m 0755 "$HERE/image/dom0-init" "$root/sbin/xen-lab-init"
echo xen-lab > "$root/etc/hostname"

# 5. the mountroot initramfs: busybox + the modules in dependency order (modprobe resolves them)
ird=$work/initrd
mkdir -p "$ird"/{bin,dev,proc,sys,newroot}
cp "$(readlink -f "$root/bin/busybox")" "$ird/bin/busybox"
for applet in sh mount umount insmod switch_root sleep cat mkdir poweroff echo; do ln -s busybox "$ird/bin/$applet"; done
# `xl shutdown` makes a running PV kernel run /sbin/poweroff once; a domU still in this initramfs (a stop
# right after a start) had none, so the request was used up and the guest ran on until killed. Here nothing
# needs stopping first: power off (or reboot) at once.
mkdir -p "$ird/sbin"
for action in poweroff reboot; do
    printf '#!/bin/sh\nexec /bin/busybox %s -f\n' "$action" > "$ird/sbin/$action"
    chmod 0755 "$ird/sbin/$action"
done
mknod -m 600 "$ird/dev/console" c 5 1  # the kernel opens it for init's stdio before devtmpfs exists
for m in "${INITRD_MODULES[@]}"; do
    modprobe -d "$root" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
    rel=${ko#"$root"/}
    mkdir -p "$ird/$(dirname "$rel")"
    cp "$ko" "$ird/$rel"
    echo "$rel" >> "$ird/modules.list"
done
install -m 0755 "$HERE/image/mountroot-init" "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.img"
# the xen driver takes a PV guest's kernel and initrd from dom0's /boot (its host_kernel())
cp "$work/initrd.img" "$root/boot/initrd.img-$kver"

# 6. dom0's disk: ext4 made from the folder, no loop mounts; room for templates and machine disks
used_mib=$(du -sm "$root" | cut -f1)
truncate -s $((used_mib * 2 + 3072))M "$work/dom0.img"
mkfs.ext4 -q -F -L dom0 -E root_owner=0:0 -d "$root" "$work/dom0.img" >&2

mkdir -p "$LAB"
mv "$work/xen" "$work/vmlinuz" "$work/initrd.img" "$work/dom0.img" "$LAB/"
printf '%s' "$versions" > "$LAB/versions"
echo "$kver" > "$LAB/kernel-version"
touch "$LAB/READY"
# a lab for older package versions or older build inputs is never used again; 700 MB each
# (a QEMU still running one keeps its open image until it exits)
for old in "$CACHE"/xen-*; do
    [ "$old" = "$LAB" ] || rm -rf "$old"
done
log "ready: $LAB"
echo "$LAB"
