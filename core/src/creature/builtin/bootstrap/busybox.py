"""The busybox bootstrap method: a tiny root filesystem from the host's static busybox."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from creature.errors import CreatureError
from creature.procs import run, which
from creature.templates import Bootstrapper

INITTAB = """\
::sysinit:/etc/init.d/rcS
tty1::respawn:/sbin/getty -L 115200 tty1 vt100
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/sbin/poweroff
::shutdown:/bin/umount -a -r
"""

RCS = """\
#!/bin/sh
# creature busybox guest: mount what a container or VM lacks, name the host, bring up the network.
# a container arrives with /proc, /sys (and cgroups below it) and /dev/pts mounted: keep them
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mkdir -p /dev/pts /run /tmp /var/run
[ -e /dev/pts/ptmx ] || mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=0755 tmpfs /run 2>/dev/null
[ -f /etc/hostname ] && hostname -F /etc/hostname
# VM drivers cannot write into a copy-on-write disk: they pass the name and the NICs' configuration
# (creature.dhcp=eth0,eth1 creature.ip=eth2:10.79.0.5/24) on the kernel command line, and the names
# their hypervisor's NICs should have in the guest (creature.ifname=vec0:eth0)
dhcp= static=
for word in $(cat /proc/cmdline 2>/dev/null); do
  case "$word" in
    creature.hostname=*) hostname "${word#creature.hostname=}";;
    creature.ifname=*) pair="${word#creature.ifname=}"; ip link set "${pair%%:*}" name "${pair#*:}" 2>/dev/null;;
    creature.dhcp=*) dhcp="$dhcp $(echo "${word#creature.dhcp=}" | tr , ' ')";;
    creature.ip=*) static="$static ${word#creature.ip=}";;
  esac
done
[ -f /etc/network/interfaces ] && ifup -a -f >/dev/null 2>&1 &
[ -n "$dhcp$static" ] && ip link set lo up
for nic in $static; do ip addr add "${nic#*:}" dev "${nic%%:*}" && ip link set "${nic%%:*}" up; done
# in the background, like ifup above: a lease must not hold up the boot; a discover a second, since one
# sent while the tap is still joining the bridge is lost and the default waits 3 s to repeat it
for nic in $dhcp; do
  udhcpc -b -t 20 -T 1 -A 5 -i "$nic" -x "hostname:$(hostname)" -s /etc/udhcpc/default.script -p "/run/udhcpc.$nic.pid" >/dev/null 2>&1 &
done
for script in /etc/rc.d/S*; do [ -x "$script" ] && "$script" start; done
echo "creature: $(hostname) is up"
"""

# busybox udhcpc only obtains a lease: this script (its Debian default path) puts it on the interface
UDHCPC_SCRIPT = """\
#!/bin/sh
# creature: apply what udhcpc was given ($1 is deconfig, bound, renew, leasefail or nak)
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    [ "$1" = bound ] && ip -4 addr flush dev "$interface"
    ip addr replace "$ip/${mask:-24}" broadcast "${broadcast:-+}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    if [ -n "$dns" ]; then for s in $dns; do echo "nameserver $s"; done > /etc/resolv.conf; fi ;;
esac
exit 0
"""


def is_static_elf(path: Path) -> bool:
    """True if path is an ELF executable without a program interpreter (runs in an empty rootfs)."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, = struct.unpack("<I", f.read(4))
            if p_type == 3:  # PT_INTERP
                return False
    return True


class BusyboxBootstrapper(Bootstrapper):
    """A tiny root filesystem from the host's static busybox: boots in a second, for tests and demos."""

    name = "busybox"
    description = "static busybox from the host (package busybox-static): tiny, boots at once"

    def build(self, rootfs: Path, options: dict[str, Any]) -> dict[str, Any]:
        busybox = which("busybox")
        if busybox is None:
            raise CreatureError("busybox is not installed (Debian package busybox-static)")
        busybox = os.path.realpath(busybox)
        if not is_static_elf(Path(busybox)):
            raise CreatureError(f"{busybox} is dynamically linked; install the busybox-static package")
        for d, mode in (("bin", 0o755), ("sbin", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755), ("etc/init.d", 0o755),
                        ("etc/network", 0o755), ("etc/udhcpc", 0o755), ("etc/rc.d", 0o755), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755),
                        ("run", 0o755), ("root", 0o700), ("tmp", 0o1777), ("var/log", 0o755), ("mnt", 0o755)):
            (rootfs / d).mkdir(parents=True, exist_ok=True)
            os.chmod(rootfs / d, mode)
        target = rootfs / "bin" / "busybox"
        target.write_bytes(Path(busybox).read_bytes())
        target.chmod(0o755)
        applets = run([busybox, "--list-full"]).stdout.split()
        for applet in applets:
            link = rootfs / applet
            if applet == "bin/busybox" or link.exists() or link.is_symlink():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
        files = {
            "etc/inittab": (INITTAB, 0o644),
            "etc/init.d/rcS": (RCS, 0o755),
            "etc/udhcpc/default.script": (UDHCPC_SCRIPT, 0o755),
            "etc/passwd": ("root::0:0:root:/root:/bin/sh\n", 0o644),
            "etc/group": ("root:x:0:\n", 0o644),
            "etc/hostname": ("busybox\n", 0o644),
            "etc/hosts": ("127.0.0.1\tlocalhost\n", 0o644),
            "etc/fstab": ("", 0o644),
            "etc/shells": ("/bin/sh\n", 0o644),
        }
        for rel, (text, mode) in files.items():
            (rootfs / rel).write_text(text)
            os.chmod(rootfs / rel, mode)
        version = run([busybox], check=False).stdout.splitlines()[:1]
        return {"os": "busybox", "version": version[0] if version else "", "init": "/sbin/init", "halt_signal": "SIGUSR2"}
