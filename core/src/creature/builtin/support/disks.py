"""Disks of a fixed size for drivers that enforce --disk: ext4 images made without loop mounts, and growing them.

Growing happens on the host while the machine is stopped, so no guest needs resize2fs (busybox has none): a
raw ext4 image is extended, checked (e2fsck -f) and resized (resize2fs); a qcow2 overlay is grown with
qemu-img and its filesystem resized through a FUSE export of the qcow2 by qemu-storage-daemon, so the overlay
keeps its backing image and stays small.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from creature import procs
from creature.errors import CommandFailed, CreatureError, InputError
from creature.procs import ProcessRecord, run

MIB = 1024 * 1024


def tool(name: str, package: str) -> str:
    """A host tool's path (looked up at each call), or an error naming its Debian package."""
    path = procs.which(name)
    if path is None:
        raise CreatureError(f"{name} is not installed (Debian package {package})")
    return path


def ext4_image(image: Path, size: int, tree: Path | None = None, label: str = "root", reserved: int | None = None) -> None:
    """A sparse ext4 image of size MiB at image holding tree's files (mkfs.ext4 -d); a tree that does not fit is an InputError.

    reserved: the percentage of blocks kept for root (mkfs's default of 5 when None).
    """
    with open(image, "wb") as f:
        f.truncate(size * MIB)
    os.chmod(image, 0o600)
    argv = [tool("mkfs.ext4", "e2fsprogs"), "-q", "-F", "-L", label, "-E", "root_owner=0:0"]
    argv += ["-m", str(reserved)] if reserved is not None else []
    argv += ["-d", str(tree)] if tree is not None else []
    try:
        run([*argv, str(image)], timeout=600)
    except CommandFailed as exc:
        image.unlink(missing_ok=True)
        if "Could not allocate" in str(exc) or "No space left" in str(exc):
            from creature.templates import tree_size

            need = tree_size(tree) // MIB if tree is not None else 0
            raise InputError(f"a disk of {size} MiB cannot hold the {need} MiB of files it must start with: give --disk more") from None
        raise


def check_growth(current: int, size: int) -> None:
    """Refuse to shrink (exit 2): a filesystem holding a guest's data only grows."""
    if size < current:
        raise InputError(f"the disk is {current} MiB and cannot shrink to {size} MiB (only growing is supported)")


def grow_ext4(image: Path, size: int) -> None:
    """Grow an ext4 image that nothing has mounted to size MiB: extend the file, e2fsck -f, resize2fs."""
    current = image.stat().st_size
    check_growth(current // MIB, size)
    with open(image, "r+b") as f:
        f.truncate(size * MIB)
    _resize_fs(str(image))


def _resize_fs(device: str) -> None:
    # -p repairs what is safe without asking; exit 1 means it fixed something, which is fine before a resize
    check = run([tool("e2fsck", "e2fsprogs"), "-f", "-p", device], check=False, timeout=600)
    if check.returncode not in (0, 1):
        raise CommandFailed(["e2fsck", "-f", "-p", device], check.returncode, check.stderr or check.stdout)
    run([tool("resize2fs", "e2fsprogs"), device], timeout=600)


def qcow2_size(path: Path) -> int:
    """The virtual size of a qcow2 image in bytes, from its header (big-endian, at offset 24)."""
    with open(path, "rb") as f:
        header = f.read(32)
    if header[:4] != b"QFI\xfb":
        raise CreatureError(f"{path} is not a qcow2 image")
    return int.from_bytes(header[24:32], "big")


def grow_qcow2(disk: Path, size: int) -> None:
    """Grow a qcow2 image that nothing has open (over its backing image or not) and the ext4 filesystem in it to size MiB."""
    check_growth(qcow2_size(disk) // MIB, size)
    img = tool("qemu-img", "qemu-utils")
    info = run([img, "snapshot", "-l", str(disk)], timeout=60).stdout
    if info.strip():
        raise CreatureError(f"{disk} has internal snapshots, which qcow2 cannot keep across a resize: remove them first")
    run([img, "resize", "-q", str(disk), f"{size}M"], timeout=60)
    export = disk.with_name(f".{disk.name}.export")
    pidfile = disk.with_name(f".{disk.name}.qsd.pid")
    export.touch(mode=0o600)
    record = None
    try:
        # returns once the export is mounted: --daemonize waits for the exports to be set up
        run([tool("qemu-storage-daemon", "qemu-system-common"),
             "--blockdev", f"driver=file,node-name=file,filename={disk}",
             "--blockdev", "driver=qcow2,node-name=disk,file=file",
             "--export", f"type=fuse,id=export,node-name=disk,mountpoint={export},writable=on",
             "--pidfile", str(pidfile), "--daemonize"], timeout=60)
        record = ProcessRecord.of(int(pidfile.read_text().strip()))
        _resize_fs(str(export))
    finally:
        if record is not None:
            _end(record)
        if _mounted(export):  # a daemon that died without unmounting leaves a dead FUSE mount
            run([tool("umount", "mount"), "-l", str(export)], check=False, timeout=30)
        pidfile.unlink(missing_ok=True)
        export.unlink(missing_ok=True)


def _mounted(path: Path) -> bool:
    # from the mount table: stat() of a dead FUSE mount fails, so os.path.ismount() says no
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def _end(record: ProcessRecord) -> None:
    """Stop qemu-storage-daemon: SIGTERM unmounts the export and flushes the image; wait until it is gone."""
    import signal

    if record.alive():
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while record.alive():
        if time.monotonic() > deadline:
            raise CreatureError(f"qemu-storage-daemon (pid {record.pid}) did not exit after SIGTERM")
        time.sleep(0.02)
