"""The initramfs UML boots non-busybox guests with: creature.guest_initramfs's /init, nothing added.

UML's disk (ubd) and ext4 are built into linux.uml, so unlike QEMU's there are no modules to load. Busybox
guests boot without it: their rcS reads creature.dhcp= and creature.hostname= itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from creature.guest_initramfs import archive, base_entries, host_busybox, init_script
from creature.home import shared_cache, write_atomic

INIT = init_script("/dev/ubda")


def cached_initramfs(build: bool = True) -> Path:
    """shared_cache()/uml/initramfs-KEY.cpio, built once per /init and host busybox (the key), shared by every home."""
    busybox = host_busybox()
    key = hashlib.sha256(INIT.encode() + busybox.read_bytes()).hexdigest()[:12]
    folder = shared_cache() / "uml"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"initramfs-{key}.cpio"
    if build and not path.exists():
        write_atomic(path, archive(base_entries(busybox, INIT)))
    return path
