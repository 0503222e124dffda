"""The initramfs UML boots non-busybox guests with: creature.builtin.guest.initramfs's /init plus the kernel's modules.

UML's disk (ubd) and ext4 are built into linux.uml, so unlike QEMU's there are no modules to load before
the root is mounted. The guest's own /lib/modules belongs to some other kernel: when the command line
says creature.modules=DEVICE, /init mounts that read-only disk (creature_uml.modules, the booted
kernel's module trees) there, so modprobe in the guest finds modules that match `uname -r`. Busybox
guests boot without it: their rcS reads creature.dhcp= and creature.hostname= itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from creature.sdk import base_entries, host_busybox, init_script, shared_cache, write_atomic
from creature.sdk import cpio_archive as archive

MODULES_WORD = """\
    creature.modules=*) modules="${word#creature.modules=}";;
"""
MODULES = """\
# the booted kernel's modules: a read-only disk the driver attaches (creature_uml.modules)
if [ -n "$modules" ]; then
  for i in $(seq 100); do [ -b "$modules" ] && break; sleep 0.05; done
  release="$(uname -r)"
  if { [ -d /newroot/lib/modules ] || mkdir -p /newroot/lib/modules; } \\
      && mount -t ext4 -o ro "$modules" /newroot/lib/modules && [ -d "/newroot/lib/modules/$release" ]; then
    echo "creature-initramfs: modules of $release mounted from $modules"
  else
    echo "creature-initramfs: no modules of $release on $modules"
  fi
fi
"""
MODULES_LINE = "creature-initramfs: modules of {release} mounted from {device}"

INIT = init_script("/dev/ubda", prelude="modules=\n", words=MODULES_WORD, before_handover=MODULES)


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
