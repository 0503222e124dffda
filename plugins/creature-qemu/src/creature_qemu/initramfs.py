"""The small initramfs creature boots guests with: busybox, the virtio/ext4 modules, and an /init that switch_roots."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from creature.errors import CreatureError
from creature.procs import which

from creature_qemu.kernel import HostKernel, cache_dir, write_atomic

# Module sets by purpose; each is loaded with its dependencies from modules.dep.
BASE_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "virtio_net", "button", "evdev", "pvpanic_mmio")
CDROM_MODULES = ("ahci", "sr_mod", "isofs")

INIT = """\
#!/bin/busybox sh
# creature initramfs: load the disk drivers, mount the root disk, hand over to the guest's init.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
load() { for m in $(cat "/lib/modules/$1.order"); do insmod "/lib/modules/$m" || echo "creature-initramfs: cannot load $m"; done; }
root=/dev/vda init=/sbin/init acpi= rw=rw dhcp= static=
for word in $(cat /proc/cmdline); do
  case "$word" in
    root=*) root="${word#root=}";;
    init=*) init="${word#init=}";;
    ro) rw=ro;;
    creature.acpi=*) acpi="${word#creature.acpi=}";;
    creature.cdrom) load cdrom;;
    creature.dhcp=*) dhcp="$(echo "${word#creature.dhcp=}" | tr , ' ')";;
    creature.ip=*) static="$static ${word#creature.ip=}";;
  esac
done
load base
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
if [ -n "$acpi" ]; then
  # This guest's init ignores the ACPI power button: a busybox acpid, kept outside the root
  # that switch_root empties, turns the button into the init's power-off signal.
  mkdir -p /acpi && mount -t tmpfs -o mode=0700 acpi /acpi && mkdir -p /acpi/etc/PWRF
  cp /bin/busybox /acpi/busybox
  printf '#!/acpi/busybox sh\\nkill -%s 1\\n' "$acpi" > /acpi/etc/PWRF/00000080
  chmod 0700 /acpi/etc/PWRF/00000080
  for i in $(seq 40); do [ -e /dev/input/event0 ] && break; sleep 0.05; done
  /acpi/busybox acpid -c /acpi/etc -l /acpi/acpid.log
fi
# A second devtmpfs mount for the guest: the first stays where acpid (if any) opens its input devices.
mount -t devtmpfs devtmpfs /newroot/dev
[ -n "$acpi" ] || umount /dev
umount /proc /sys
exec switch_root /newroot "$init"
"""


def _dependencies(kernel: HostKernel) -> dict[str, list[str]]:
    """modules.dep as {name: [relative paths, module last, in load order]}."""
    deps = {}
    for line in (kernel.modules / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        name = Path(path).name.removesuffix(".ko").replace("-", "_")
        # modules.dep lists every transitive dependency; loading them last-first satisfies each in turn
        deps[name] = [*reversed(rest.split()), path]
    return deps


def load_order(kernel: HostKernel, names: tuple[str, ...]) -> list[str]:
    """The module files (relative to the modules folder) to insmod, dependencies first, each once."""
    deps = _dependencies(kernel)
    order: list[str] = []
    for name in names:
        if name not in deps:
            raise CreatureError(f"kernel {kernel.version} has no module {name} (is it built in, or is linux-image incomplete?)")
        order += [p for p in deps[name] if p not in order]
    return order


def _newc(name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0), ino: int = 0) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    return out + data + b"\0" * (-len(data) % 4)


def archive(kernel: HostKernel, busybox: Path) -> bytes:
    """The initramfs as an uncompressed newc cpio archive (no compression: it boots fastest under TCG)."""
    sets = {"base": load_order(kernel, BASE_MODULES), "cdrom": load_order(kernel, CDROM_MODULES)}
    entries = [("dev", stat.S_IFDIR | 0o755, b""), ("dev/console", stat.S_IFCHR | 0o600, b""),
               ("bin", stat.S_IFDIR | 0o755, b""), ("proc", stat.S_IFDIR | 0o755, b""), ("sys", stat.S_IFDIR | 0o755, b""),
               ("newroot", stat.S_IFDIR | 0o755, b""), ("lib", stat.S_IFDIR | 0o755, b""),
               ("lib/modules", stat.S_IFDIR | 0o755, b""),
               ("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
               ("init", stat.S_IFREG | 0o755, INIT.encode())]
    files = sorted({p for paths in sets.values() for p in paths})
    for name, paths in sets.items():
        entries.append((f"lib/modules/{name}.order", stat.S_IFREG | 0o644, "".join(f"{Path(p).name}\n" for p in paths).encode()))
    for path in files:
        entries.append((f"lib/modules/{Path(path).name}", stat.S_IFREG | 0o644, (kernel.modules / path).read_bytes()))
    out = b""
    for ino, (name, mode, data) in enumerate(entries, start=1):
        rdev = (5, 1) if name == "dev/console" else (0, 0)
        out += _newc(name, mode, data, rdev, ino)
    return out + _newc("TRAILER!!!", 0)


def host_busybox() -> Path:
    """The host's static busybox (Debian package busybox-static): the initramfs's only program."""
    found = which("busybox")
    if found is None:
        raise CreatureError("busybox is not installed (Debian package busybox-static)")
    return Path(os.path.realpath(found))


def cached_initramfs(kernel: HostKernel, build: bool = True) -> Path:
    """The initramfs for kernel, built once per kernel version, /init and busybox (the cache key)."""
    busybox = host_busybox()
    key = hashlib.sha256(INIT.encode() + repr(BASE_MODULES + CDROM_MODULES).encode() + busybox.read_bytes()).hexdigest()[:12]
    path = cache_dir(kernel) / f"initramfs-{key}.cpio"
    if build and not path.exists():
        write_atomic(path, archive(kernel, busybox))
    return path
