"""The booted kernel's modules for non-busybox guests: a read-only ext4 image, the machine's second UML disk.

Not hostfs: hostfs= only prefixes the host path a guest asks for, and `..` walks out of that prefix
(measured with UML 7.2: `mount -t hostfs none /mnt -o ../..` showed the folder two levels above). So
the driver points hostfs= at a folder that does not exist, where every hostfs path fails to resolve,
and hands the modules over as a disk. The image is made once per kernel (mkfs.ext4 -d, no loop
mount), shared read-only by every machine, and the guest's initramfs mounts it on /lib/modules.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from creature.sdk import CreatureError, file_lock, run, tree_size, which

from creature_uml.kernels import Kernel, uml_cache


def image_path(kernel: Kernel, release: str) -> Path | None:
    """Where the image of kernel's modules for release lives (None when the kernel ships no modules for it)."""
    folder = kernel.modules
    tree = folder / release if folder and release else None
    if tree is None or not tree.is_dir():
        return None
    st = tree.stat()
    key = hashlib.sha256(f"{tree.resolve()}:{st.st_mtime_ns}:{st.st_ino}".encode()).hexdigest()[:12]
    return uml_cache() / "modules" / f"{release}-{key}.ext4"


def modules_image(kernel: Kernel, release: str) -> Path | None:
    """The image of kernel's module folder (RELEASE/ at its root), made on first use; None when it has none."""
    image = image_path(kernel, release)
    if image is None or image.exists():
        return image
    mkfs = which("mkfs.ext4")
    if mkfs is None:
        raise CreatureError("mkfs.ext4 is not installed (Debian package e2fsprogs)")
    image.parent.mkdir(mode=0o700, exist_ok=True)
    with file_lock(image.parent / ".lock"):
        if image.exists():
            return image  # made by another start while we waited
        partial = image.with_name(f".{image.name}.{os.getpid()}")
        try:
            # the kernel's modules folder holds one tree per release (usually one): all go in, at the root
            size_mib = tree_size(kernel.modules) * 5 // 4 // (1 << 20) + 32
            with open(partial, "wb") as f:
                f.truncate(size_mib << 20)
            run([mkfs, "-F", "-q", "-L", "modules", "-E", "root_owner=0:0", "-d", str(kernel.modules), str(partial)],
                timeout=600)
            os.chmod(partial, 0o644)  # read by every UML process, holds nothing private
            os.rename(partial, image)
        finally:
            partial.unlink(missing_ok=True)
    return image
