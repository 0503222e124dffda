"""The small initramfs creature boots guests with: busybox, the virtio/ext4 modules, and an /init that switch_roots."""

from __future__ import annotations

import stat
from pathlib import Path

from creature.sdk import (
    ACPI_HANDOVER,
    ACPI_WORD,
    base_entries,
    host_busybox,
    init_script,
    initramfs_key,
    module_order,
    write_atomic,
)
from creature.sdk import cpio_archive as cpio

from creature_qemu.kernel import HostKernel, cache_dir

# Module sets by purpose; each is loaded with its dependencies from modules.dep.
BASE_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "virtio_net", "virtio_console", "button", "evdev",
                "pvpanic_mmio")
CDROM_MODULES = ("ahci", "sr_mod", "isofs")

# QEMU's part of the shared /init (creature.builtin.guest.initramfs): load the disk, NIC and ext4 modules (cdrom ones on
# request), and the shared ACPI power button fragment for inits that ignore the button.
_PRELUDE = """\
load() { for m in $(cat "/lib/modules/$1.order"); do insmod "/lib/modules/$m" || echo "creature-initramfs: cannot load $m"; done; }
"""
_WORDS = ACPI_WORD + """\
    creature.cdrom) load cdrom;;
"""
INIT = init_script("/dev/vda", prelude=_PRELUDE, words=_WORDS, before_mount="load base\n", before_handover=ACPI_HANDOVER)


def load_order(kernel: HostKernel, names: tuple[str, ...]) -> list[str]:
    """The module files (relative to the modules folder) to insmod, dependencies first, each once."""
    return module_order(kernel.modules, names, f"kernel {kernel.version}")


def archive(kernel: HostKernel, busybox: Path) -> bytes:
    """The initramfs as an uncompressed newc cpio archive: the shared base plus the module sets and their files."""
    sets = {"base": load_order(kernel, BASE_MODULES), "cdrom": load_order(kernel, CDROM_MODULES)}
    entries = [*base_entries(busybox, INIT), ("lib", stat.S_IFDIR | 0o755, b""), ("lib/modules", stat.S_IFDIR | 0o755, b"")]
    for name, paths in sets.items():
        entries.append((f"lib/modules/{name}.order", stat.S_IFREG | 0o644, "".join(f"{Path(p).name}\n" for p in paths).encode()))
    for path in sorted({p for paths in sets.values() for p in paths}):
        entries.append((f"lib/modules/{Path(path).name}", stat.S_IFREG | 0o644, (kernel.modules / path).read_bytes()))
    return cpio(entries)


def cached_initramfs(kernel: HostKernel, build: bool = True) -> Path:
    """The initramfs for kernel, built once per kernel version, /init and busybox (the cache key)."""
    busybox = host_busybox()
    key = initramfs_key(INIT.encode(), repr(BASE_MODULES + CDROM_MODULES).encode(), busybox.read_bytes())
    path = cache_dir(kernel) / f"initramfs-{key}.cpio"
    if build and not path.exists():
        write_atomic(path, archive(kernel, busybox))
    return path
