"""What reaches the nodes through the shared image folder: template disk images and the guest's boot files.

A creature template reaches a Ganeti instance as a file: its ext4 image (creature.sdk.disk_image)
is copied once into the cluster's image folder (shared storage the nodes see), and the `creature` OS
definition (os_definition.py) copies it onto the instance's first disk when Ganeti installs the OS.
kvm instances boot this host's Debian kernel as a vmlinux (PVH, fastest under TCG, as the qemu driver
does) with creature's small initramfs (creature.sdk's initramfs helpers: mounts /dev/vda, sets the hostname and
NICs from the kernel command line, turns the ACPI power button into the template's halt signal),
both written to the same folder and named in the instance's hvparams.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from creature.sdk import (
    ACPI_HANDOVER,
    ACPI_WORD,
    CreatureError,
    base_entries,
    host_busybox,
    init_script,
    module_order,
    run,
    vmlinux_file,
    which,
    write_atomic,
)
from creature.sdk import cpio_archive as archive

MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "ext4", "button", "evdev")
_LOAD = """\
for m in $(cat /modules.order); do insmod "/modules/$m" || echo "creature-initramfs: cannot load $m"; done
"""
INIT = init_script("/dev/vda", words=ACPI_WORD, before_mount=_LOAD, before_handover=ACPI_HANDOVER)


def host_kernel(boot: Path = Path("/boot"), modules: Path = Path("/lib/modules")) -> tuple[str, Path]:
    """(version, bzImage) of this host's newest kernel whose modules are installed (package linux-image-amd64)."""
    found = [(tuple(int(n) for n in re.findall(r"\d+", image.name)), image.name.removeprefix("vmlinuz-"), image)
             for image in boot.glob("vmlinuz-*") if (modules / image.name.removeprefix("vmlinuz-") / "modules.dep").is_file()]
    if not found:
        raise CreatureError(f"no kernel with modules in {boot} and {modules}: install the Debian package linux-image-amd64")
    return max(found)[1:]


def _publish(path: Path, data: bytes) -> Path:
    if not path.exists():
        # public files (a Debian kernel, busybox) read on the nodes, where QEMU may run as another user
        # (Ganeti's kvm security_model=user or pool)
        write_atomic(path, data, 0o644)
    return path


def boot_files(folder: Path, write: bool = True) -> tuple[Path, Path]:
    """(vmlinux, initramfs) in folder, written once per kernel version, /init and busybox (their names say which)."""
    version, bzimage = host_kernel()
    busybox = host_busybox()
    vmlinux = folder / f"vmlinux-{version}"
    key = hashlib.sha256(INIT.encode() + repr(MODULES).encode() + busybox.read_bytes()).hexdigest()[:12]
    initramfs = folder / f"initramfs-{version}-{key}.cpio"
    if write:
        # public: read on the nodes, where QEMU may run as another user (Ganeti's kvm security_model)
        vmlinux_file(bzimage, vmlinux, 0o644)
    if write and not initramfs.exists():
        files = module_order(Path(f"/lib/modules/{version}"), MODULES, f"kernel {version}")
        entries = base_entries(busybox, INIT) + [
            ("modules", stat.S_IFDIR | 0o755, b""),
            ("modules.order", stat.S_IFREG | 0o644, "".join(Path(p).name + "\n" for p in files).encode())]
        entries += [(f"modules/{Path(p).name}", stat.S_IFREG | 0o644, Path(f"/lib/modules/{version}/{p}").read_bytes())
                    for p in files]
        _publish(initramfs, archive(entries))
    return vmlinux, initramfs


def template_image(folder: Path, template, image: Path | None) -> Path:
    """The template's disk image in folder, named by the template and when it was built; copied (sparse) from image
    once, unless image is None (a dry run: only the name)."""
    key = hashlib.sha256(f"{template.path}:{template.created}".encode()).hexdigest()[:12]
    target = folder / f"template-{template.name}-{key}.ext4"
    if image is None or target.exists():
        return target
    partial = folder / f".{target.name}.{os.getpid()}.partial"
    try:
        run([which("cp") or "cp", "--sparse=always", str(image), str(partial)], timeout=600)
        partial.chmod(0o644)
        partial.rename(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def image_size_mib(image: Path) -> int:
    """The image's size in MiB, rounded up: the least disk it fits on."""
    size = image.stat().st_size
    return -(-size // (1024 * 1024))
