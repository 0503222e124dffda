"""The busybox initramfs that kernel-booting drivers (qemu, uml) start non-busybox guests with.

Its /init mounts the root disk, writes there the NIC configuration and hostname the kernel command line
asks for (creature.dhcp=, creature.ip=, creature.hostname=), gives NICs the names creature.ifname=OLD:NEW
asks for (the names persist: they belong to the kernel), and switch_roots into the guest's init. A
driver adds what only it needs (QEMU: module loading, the ACPI power button) as shell fragments.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from creature.errors import CreatureError
from creature.procs import which

# printed just before the guest's init takes over: until then the kernel answers ctrl-alt-del with a restart
HANDOVER = "creature-initramfs: handing over to"

_HEAD = """\
#!/bin/busybox sh
# creature initramfs: mount the root disk, say there what the kernel command line says, hand over to the guest's init.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
"""

_PARSE = """\
root={root} init=/sbin/init rw=rw dhcp= static= hostname= keep_dev= acpi=
for word in $(cat /proc/cmdline); do
  case "$word" in
    root=*) root="${{word#root=}}";;
    init=*) init="${{word#init=}}";;
    ro) rw=ro;;
    creature.hostname=*) hostname="${{word#creature.hostname=}}";;
    creature.dhcp=*) dhcp="$(echo "${{word#creature.dhcp=}}" | tr , ' ')";;
    creature.ip=*) static="$static ${{word#creature.ip=}}";;
    creature.ifname=*) pair="${{word#creature.ifname=}}"; ip link set "${{pair%%:*}}" name "${{pair#*:}}" 2>/dev/null;;
"""

_MOUNT = """\
  esac
done
"""

_CONFIGURE = """\
for i in $(seq 100); do [ -b "$root" ] && break; sleep 0.05; done
if ! mount -t ext4 -o "$rw" "$root" /newroot; then
  echo "creature-initramfs: cannot mount $root; here is a shell"; exec sh
fi
# Debian guests bring NICs up with ifupdown from interfaces.d: say there what the kernel command line says, at
# every boot (the driver cannot write into the copy-on-write disk). Busybox guests' rcS reads the words itself.
conf=/newroot/etc/network/interfaces.d/creature
if [ -d /newroot/etc/network/interfaces.d ] && { [ -e "$conf" ] || [ -n "$dhcp$static" ]; }; then
  { echo "# written at boot by creature's initramfs from the kernel command line: edits are lost"
    for nic in $dhcp; do printf 'auto %s\\niface %s inet dhcp\\n' "$nic" "$nic"; done
    for nic in $static; do printf 'auto %s\\niface %s inet static\\n    address %s\\n' "${nic%%:*}" "${nic%%:*}" "${nic#*:}"; done
  } > "$conf"
fi
# the template's /etc/hostname names the template, and Debian's boot sets the hostname from it (and dhclient
# sends it with its request); rewritten only when it differs, so the copy-on-write disk does not grow each boot
if [ -n "$hostname" ] && [ -f /newroot/etc/hostname ] && [ "$(cat /newroot/etc/hostname)" != "$hostname" ]; then
  echo "$hostname" > /newroot/etc/hostname
fi
"""

_HANDOVER = """\
# A second devtmpfs mount for the guest: a driver's fragment may keep the first (keep_dev=1) for a helper.
mount -t devtmpfs devtmpfs /newroot/dev
[ -n "$keep_dev" ] || umount /dev
umount /proc /sys
echo "{handover} $init"
exec switch_root /newroot "$init"
"""


# For inits that ignore the ACPI power button (busybox's): creature.acpi=SIGNAL makes /init start a busybox
# acpid, kept on a tmpfs outside the root that switch_root empties, which turns the button into that signal.
ACPI_WORD = """\
    creature.acpi=*) acpi="${word#creature.acpi=}";;
"""
ACPI_HANDOVER = """\
if [ -n "$acpi" ]; then
  mkdir -p /acpi && mount -t tmpfs -o mode=0700 acpi /acpi && mkdir -p /acpi/etc/PWRF
  cp /bin/busybox /acpi/busybox
  printf '#!/acpi/busybox sh\\nkill -%s 1\\n' "$acpi" > /acpi/etc/PWRF/00000080
  chmod 0700 /acpi/etc/PWRF/00000080
  # acpid opens only the event devices there when it starts, and another device's may come first: wait for the button's
  for i in $(seq 100); do
    for name in /sys/class/input/event*/device/name; do
      event="${name%/device/name}"
      [ "$(cat "$name" 2>/dev/null)" = "Power Button" ] && [ -e "/dev/input/${event##*/}" ] && break 2
    done
    sleep 0.05
  done
  /acpi/busybox acpid -c /acpi/etc -l /acpi/acpid.log
  keep_dev=1  # acpid keeps its input devices open on the first devtmpfs
fi
"""


def init_script(root: str, prelude: str = "", words: str = "", before_mount: str = "", before_handover: str = "") -> str:
    """/init for root device root; the fragments are a driver's shell lines (words: extra `case` arms for /proc/cmdline)."""
    return (_HEAD + prelude + _PARSE.format(root=root) + words + _MOUNT + before_mount + _CONFIGURE
            + before_handover + _HANDOVER.format(handover=HANDOVER))


def _newc(name: str, mode: int, data: bytes, rdev: tuple[int, int], ino: int) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    out = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
    out += b"\0" * (-len(out) % 4)
    return out + data + b"\0" * (-len(data) % 4)


def base_entries(busybox: Path, init: str) -> list[tuple[str, int, bytes]]:
    """The (name, mode, data) entries every such initramfs has: the folders /init uses, busybox and /init."""
    folders = ("dev", "bin", "proc", "sys", "newroot")
    return [*((name, stat.S_IFDIR | 0o755, b"") for name in folders),
            ("dev/console", stat.S_IFCHR | 0o600, b""),
            ("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
            ("init", stat.S_IFREG | 0o755, init.encode())]


def archive(entries: list[tuple[str, int, bytes]]) -> bytes:
    """entries as an uncompressed newc cpio archive (no compression: it boots fastest under TCG and UML)."""
    out = b""
    for ino, (name, mode, data) in enumerate(entries, start=1):
        # the kernel opens /dev/console for /init before devtmpfs is mounted: the archive brings the node
        rdev = (5, 1) if name == "dev/console" else (0, 0)
        out += _newc(name, mode, data, rdev, ino)
    return out + _newc("TRAILER!!!", 0, b"", (0, 0), 0)


def module_order(modules: Path, names: tuple[str, ...], kernel: str) -> list[str]:
    """The files (relative to the kernel's modules folder) to insmod for names, dependencies first, each once."""
    deps = {}
    for line in (modules / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        # modules.dep lists every transitive dependency; loading them last-first satisfies each in turn
        deps[Path(path).name.removesuffix(".ko").replace("-", "_")] = [*reversed(rest.split()), path]
    order: list[str] = []
    for name in names:
        if name not in deps:
            raise CreatureError(f"{kernel} has no module {name} (is it built in, or is linux-image incomplete?)")
        order += [p for p in deps[name] if p not in order]
    return order


def host_busybox() -> Path:
    """The host's static busybox (Debian package busybox-static): the initramfs's only program."""
    found = which("busybox")
    if found is None:
        raise CreatureError("busybox is not installed (Debian package busybox-static)")
    return Path(os.path.realpath(found))
