"""SSH keys and a root password hash for guests that boot through creature's initramfs (qemu, uml, libvirt-qemu).

Such a guest's disk is a copy-on-write layer the driver cannot write into at create, so what --ssh-key and
--root-password give reaches it at boot, like its hostname and NICs do. Not on the kernel command line:
/proc/cmdline is readable by every user of the guest and sits in the hypervisor's argv on the host. The
driver keeps a small cpio archive (0600, access.cpio in the machine's folder) and boots an initramfs that is
the shared one with that archive appended (the kernel unpacks concatenated archives in turn): /init
(creature.builtin.guest.initramfs) writes authorized_keys and the hash into the guest's disk once, and the
running guest never sees an extra device holding them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from creature.builtin.guest.initramfs import archive
from creature.home import write_atomic

ARCHIVE = "access.cpio"
_PREFIX = "initramfs-"


def access_entries(access) -> list[tuple[str, int, bytes]]:
    """The archive's entries for access (a creature.sdk.Access): creature/access/{id, authorized_keys, root-hash}."""
    files = {}
    access = access.hashed() if access is not None else None
    if access is not None and access.ssh_keys:
        files["authorized_keys"] = ("\n".join(access.ssh_keys) + "\n").encode()
    if access is not None and access.root_password_hash:
        files["root-hash"] = access.root_password_hash.encode()
    if not files:
        return []
    import hashlib  # here: every start of these drivers imports this module, only create writes an archive

    # the id marks the archive applied inside the guest: a new one per machine, whatever it holds
    files["id"] = hashlib.sha256(os.urandom(16) + b"".join(files.values())).hexdigest().encode()
    return [("creature", stat.S_IFDIR | 0o700, b""), ("creature/access", stat.S_IFDIR | 0o700, b""),
            *((f"creature/access/{name}", stat.S_IFREG | 0o600, data) for name, data in files.items())]


def write_access(folder: Path, access) -> Path | None:
    """folder/access.cpio for access (0600), or None when it asks for nothing."""
    entries = access_entries(access)
    if not entries:
        return None
    path = folder / ARCHIVE
    write_atomic(path, archive(entries), 0o600)
    return path


def boot_initramfs(base: Path, machine_dir: Path, build: bool = True) -> Path:
    """The initramfs a machine boots: base, or base with the machine's access.cpio appended (in its folder, 0600).

    Made again whenever base changes (its name carries its cache key); build=False only names it (plans).
    """
    extra = machine_dir / ARCHIVE
    if not extra.exists():
        return base
    path = machine_dir / f"{_PREFIX}{base.name.removeprefix(_PREFIX)}"
    if build and not path.exists():
        for old in machine_dir.glob(f"{_PREFIX}*"):
            old.unlink()
        write_atomic(path, base.read_bytes() + extra.read_bytes(), 0o600)
    return path
