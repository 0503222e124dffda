"""UML disks of a given size (--disk) and growing them: a UML COW file cannot outgrow its backing image.

At create, the COW goes over the template's image made in exactly the machine's size (sdk.disk_image). A
COW file records its backing file's size (and mtime), so growing means a new backing: uml_moo merges the COW
and its backing into a machine-private image, which is grown on the host (e2fsck, resize2fs: the guest needs
no tool of its own) and gets a fresh, empty COW file. The machine's disk then no longer shares the template's
image; later resizes grow its private image the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from creature.sdk import Machine, check_growth, grow_ext4, run

from creature_uml import command


def private_image(machine: Machine, size: int) -> Path:
    """The machine's own backing image after a resize to size MiB (the size in the name: old and new never collide)."""
    return machine.dir / f"disk-{size}M.img"


def grow(machine: Machine, size: int) -> str:
    """Grow the stopped machine's disk to size MiB; return its new backing image (the caller stores it as data["image"])."""
    cow, old = command.cow_file(machine), Path(machine.data["image"])
    check_growth(old.stat().st_size // (1024 * 1024), size)  # before the merge, which copies the whole disk
    image = private_image(machine, size)
    partial = image.with_name(image.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        # -b: the backing image as the machine data names it (the header's path is the one it had at create)
        run([command.tool("uml_moo", "uml-utilities"), "-b", str(old), str(cow), str(partial)], timeout=3600)
        os.chmod(partial, 0o600)
        grow_ext4(partial, size)
        os.rename(partial, image)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fresh = cow.with_name(cow.name + ".new")
    fresh.unlink(missing_ok=True)
    run([command.tool("uml_mkcow", "uml-utilities"), str(fresh), str(image)], timeout=60)
    os.chmod(fresh, 0o600)
    os.rename(fresh, cow)
    if old.parent == machine.dir and old != image:
        old.unlink(missing_ok=True)  # the previous private image: the new one holds all of it
    return str(image)
