"""Direct kernel boot for libvirt QEMU domains: Debian's kernel as a PVH vmlinux plus a tiny initramfs.

The initramfs holds the host's static busybox, the virtio disk and ext4 modules, and core's shared /init
(creature.builtin.guest.initramfs): it mounts /dev/vda, sets the hostname, starts a busybox acpid so that the ACPI
power button (libvirt's graceful shutdown) reaches a busybox init, which ignores it by itself, and switch_roots.
Both files are made once per kernel version under the shared cache.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from creature.sdk import (
    ACPI_HANDOVER,
    ACPI_WORD,
    CreatureError,
    base_entries,
    init_script,
    initramfs_key,
    module_order,
    shared_cache,
    vmlinux_file,
    which,
    write_atomic,
)
from creature.sdk import cpio_archive as archive

MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "virtio_net", "virtio_console", "button", "evdev")

# libvirt's part of the shared /init (creature.builtin.guest.initramfs): load the disk and ext4 modules, and the
# shared ACPI power button fragment (libvirt's graceful shutdown presses the button; busybox's init ignores it).
_LOAD = """\
for m in $(cat /modules.order); do insmod "/modules/$m" || echo "creature-initramfs: cannot load $m"; done
"""
INIT = init_script("/dev/vda", words=ACPI_WORD, before_mount=_LOAD, before_handover=ACPI_HANDOVER)


def newest_kernel() -> tuple[str, Path]:
    """(version, bzImage) of the newest /boot kernel whose modules are installed (package linux-image-amd64)."""
    found = []
    for image in Path("/boot").glob("vmlinuz-*"):
        version = image.name.removeprefix("vmlinuz-")
        if Path(f"/lib/modules/{version}/modules.dep").is_file():
            found.append((tuple(int(n) for n in re.findall(r"\d+", version)), version, image))
    if not found:
        raise CreatureError("no kernel with modules in /boot and /lib/modules: install the Debian package linux-image-amd64")
    return max(found)[1:]


def _initramfs(version: str, busybox: Path) -> bytes:
    files = module_order(Path(f"/lib/modules/{version}"), MODULES, f"kernel {version}")
    entries = base_entries(busybox, INIT) + [("modules", stat.S_IFDIR | 0o755, b""),
                                              ("modules.order", stat.S_IFREG | 0o644, "".join(Path(p).name + "\n" for p in files).encode())]
    entries += [(f"modules/{Path(p).name}", stat.S_IFREG | 0o644, Path(f"/lib/modules/{version}/{p}").read_bytes())
                for p in files]
    return archive(entries)


def boot_files() -> tuple[Path, Path]:
    """(vmlinux, initramfs) for direct boot, made once per kernel version and busybox."""
    version, bzimage = newest_kernel()
    found = which("busybox")
    if found is None:
        raise CreatureError("busybox is not installed (Debian package busybox-static)")
    busybox = Path(os.path.realpath(found))
    folder = shared_cache() / "libvirt" / version
    folder.mkdir(parents=True, exist_ok=True)
    key = initramfs_key(INIT.encode(), repr(MODULES).encode(), busybox.read_bytes())
    initramfs = folder / f"initramfs-{key}.cpio"
    if not initramfs.exists():
        write_atomic(initramfs, _initramfs(version, busybox), 0o644)  # readable by libvirt's QEMU user
    return vmlinux_file(bzimage, folder / "vmlinux", 0o644), initramfs
